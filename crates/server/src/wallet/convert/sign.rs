//! `wallet_prepareSign` and `wallet_formatSign`.

use alloy::dyn_abi::TypedData as AlloyTypedData;
use keyward_api::wallet::{
    FormatSignParams, HexNumber, PrepareSignParams, PrepareSignResult, SignableRequest, TypedData,
};
use keyward_wallet::types::{FormatSign, PrepareSign};
use keyward_wallet::{WalletError, WalletResult};

/// What a `wallet_prepareSign` asks the account to sign: the digest of its message or typed data.
pub(in crate::wallet) fn prepare(p: PrepareSignParams) -> WalletResult<PrepareSign> {
    let digest = p.signature_request.digest().map_err(|e| WalletError::params(format!("signatureRequest: {e}")))?;
    Ok(PrepareSign { from: p.from, chain_id: p.chain_id.into(), digest, by_session_key: p.capabilities.is_some() })
}

/// The `wallet_prepareSign` answer: the typed data the owner signs.
pub(in crate::wallet) fn prepared(chain_id: HexNumber, data: &AlloyTypedData) -> WalletResult<PrepareSignResult> {
    let data = TypedData::from_alloy(data).map_err(|e| WalletError::Internal(e.to_string()))?;
    Ok(PrepareSignResult { chain_id, signature_request: SignableRequest::TypedData { data } })
}

/// The owner's signature a `wallet_formatSign` turns into the account's.
pub(in crate::wallet) fn format(p: FormatSignParams) -> WalletResult<FormatSign> {
    let signature = super::ecdsa_signature(&p.signature, "signature")?;
    Ok(FormatSign { from: p.from, chain_id: p.chain_id.into(), signature, by_session_key: p.capabilities.is_some() })
}
