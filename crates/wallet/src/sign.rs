//! `wallet_prepareSign` / `wallet_formatSign`: ERC-1271 signing by the account. The owner signs the
//! account-domain `ReplaySafeHash` of the message's digest; the final signature is the account's
//! 1271 layout (owner validation, `0xFF`, EOA validation data), wrapped per ERC-6492 while the
//! account is not deployed.

use alloy::dyn_abi::TypedData;
use alloy::primitives::{B256, Bytes, b256};
use alloy::sol_types::SolValue;
use keyward_primitives::mav2::ids::OWNER_ENTITY_ID;
use keyward_primitives::mav2::signature::{ReplaySafeDomain, erc1271_eoa_signature};

use crate::error::{WalletError, WalletResult};
use crate::service::{ResolvedAccount, Wallet};
use crate::types::{FormatSign, PrepareSign};

/// ERC-6492 magic suffix of a signature by a counterfactual account.
pub const ERC6492_MAGIC: B256 = b256!("0x6492649264926492649264926492649264926492649264926492649264926492");

fn refuse_session(by_session_key: bool) -> WalletResult<()> {
    if by_session_key {
        return Err(WalletError::params(
            "capabilities.permissions: session keys cannot sign ERC-1271 messages here — their validation is \
             installed without the signature-validation flag, so the account would reject the signature; sign as \
             the owner",
        ));
    }
    Ok(())
}

impl Wallet {
    /// `wallet_prepareSign`: the `ReplaySafeHash` typed data the owner signs for the account.
    pub async fn prepare_sign(&self, p: PrepareSign) -> WalletResult<TypedData> {
        self.check_chain(p.chain_id)?;
        refuse_session(p.by_session_key)?;
        let account = self.resolve_account(p.from).await?;
        let data: TypedData = serde_json::from_value(serde_json::json!({
            "domain": { "chainId": self.chain_id, "verifyingContract": account.address() },
            "types": { "ReplaySafeHash": [{ "name": "hash", "type": "bytes32" }] },
            "primaryType": "ReplaySafeHash",
            "message": { "hash": p.digest },
        }))
        .map_err(|e| WalletError::Internal(format!("the ReplaySafeHash typed data: {e}")))?;
        let expected = ReplaySafeDomain::Account { chain_id: self.chain_id, account: account.address() }
            .replay_safe_hash(p.digest);
        if data.eip712_signing_hash().ok() != Some(expected) {
            return Err(WalletError::Internal(
                "the ReplaySafeHash typed data does not hash as the account does".into(),
            ));
        }
        Ok(data)
    }

    /// `wallet_formatSign`.
    pub async fn format_sign(&self, p: FormatSign) -> WalletResult<Bytes> {
        self.check_chain(p.chain_id)?;
        refuse_session(p.by_session_key)?;
        let account = self.resolve_account(p.from).await?;
        let inner = erc1271_eoa_signature(OWNER_ENTITY_ID, &p.signature);
        let signature = match &account {
            ResolvedAccount::Sma { address, owner, salt } if self.code(*address).await?.is_empty() => {
                let init = self.sma_init(*owner, *salt);
                let mut wrapped = (init.factory, init.factory_data(), inner).abi_encode_params();
                wrapped.extend_from_slice(ERC6492_MAGIC.as_slice());
                Bytes::from(wrapped)
            }
            ResolvedAccount::Eip7702 { address } if self.delegate_of(*address).await?.is_none() => {
                return Err(WalletError::params(format!(
                    "{address} is not delegated yet: its ERC-1271 signature needs the account code; send a call first"
                )));
            }
            _ => inner,
        };
        Ok(signature)
    }
}
