//! `wallet_createSession`.

use alloy::primitives::B128;
use keyward_api::wallet::{
    CreateSessionParams, CreateSessionResult, Permission, SessionId, SessionKey as WireKey, SessionSignatureRequest,
    TypedData,
};
use keyward_primitives::mav2::SessionKey;
use keyward_wallet::types::{CreateSession, CreatedSession};
use keyward_wallet::{WalletError, WalletResult};

/// The session a request asks for; refuses key types this server cannot serve.
pub(in crate::wallet) fn request(p: CreateSessionParams) -> WalletResult<CreateSession> {
    let session_key = match p.key {
        WireKey::Secp256k1(a) | WireKey::Ecdsa(a) => SessionKey::Secp256k1(a),
        WireKey::P256(k) => SessionKey::P256(k),
        WireKey::Contract(_) => {
            return Err(WalletError::params(
                "key.type \"contract\" is not supported: use a secp256k1 or p256 session key",
            ));
        }
    };
    Ok(CreateSession {
        account: p.account,
        chain_id: p.chain_id.into(),
        expiry: p.expiry_sec.unwrap_or(0),
        session_key,
        permissions: Permission::to_domain_list(&p.permissions),
    })
}

/// The `wallet_createSession` answer: the session id and the typed data its owner signs.
pub(in crate::wallet) fn created(s: CreatedSession) -> WalletResult<CreateSessionResult> {
    let data = TypedData::from_alloy(&s.typed_data).map_err(|e| WalletError::Internal(e.to_string()))?;
    Ok(CreateSessionResult {
        session_id: SessionId(B128::from(s.id)),
        chain_id: super::hex_number(s.chain_id)?,
        signature_request: SessionSignatureRequest::TypedData { data, raw_payload: s.digest },
    })
}
