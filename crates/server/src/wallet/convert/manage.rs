//! Session management (Keyward's extensions): `wallet_listSessions`, `wallet_getSession` and
//! `wallet_revokeSessions` between the wire and the wallet's domain values.

use alloy::primitives::B128;
use keyward_api::wallet::{
    BudgetInfo, HexBigInt, Permission, RevokeSessionsParams, RevokeSessionsResult, SessionId, SessionInfo,
    SessionKey as WireKey, SessionStateName,
};
use keyward_primitives::mav2::SessionKey;
use keyward_wallet::WalletResult;
use keyward_wallet::manage::{Budget, BudgetKind, Revocation, RevokeSessions, SessionState, SessionView};

use super::hex_number;

/// A listed session on the wire.
pub(in crate::wallet) fn session(v: SessionView) -> WalletResult<SessionInfo> {
    Ok(SessionInfo {
        session_id: SessionId(B128::from(v.id)),
        account: v.account,
        chain_id: hex_number(v.chain_id)?,
        key: match v.session_key {
            SessionKey::Secp256k1(a) => WireKey::Secp256k1(a),
            SessionKey::P256(k) => WireKey::P256(k),
        },
        permissions: v.permissions.into_iter().map(Permission::from).collect(),
        expiry_sec: (v.expiry != 0).then_some(v.expiry),
        entity_id: v.entity_id,
        installed: v.installed,
        state: match v.state {
            SessionState::Active => SessionStateName::Active,
            SessionState::Expired => SessionStateName::Expired,
            SessionState::Revoked => SessionStateName::Revoked,
        },
        budgets: v.budgets.into_iter().map(budget).collect(),
        created_at: v.created_at,
    })
}

fn budget(b: Budget) -> BudgetInfo {
    let (ty, address) = match b.kind {
        BudgetKind::Native => ("native-token-transfer", None),
        BudgetKind::Erc20 { token } => ("erc20-token-transfer", Some(token)),
        BudgetKind::Gas => ("gas-limit", None),
        BudgetKind::NativePeriodic => ("native-token-periodic", None),
        BudgetKind::Erc20Periodic { token } => ("erc20-token-periodic", Some(token)),
        BudgetKind::Calls => ("call-limit", None),
    };
    BudgetInfo { ty: ty.into(), address, allowance: HexBigInt(b.allowance), remaining: HexBigInt(b.remaining) }
}

/// The revocation a request asks for.
pub(in crate::wallet) fn revoke(p: RevokeSessionsParams) -> WalletResult<RevokeSessions> {
    let pm = p.capabilities.as_ref().and_then(|c| c.paymaster_service.as_ref());
    Ok(RevokeSessions {
        account: p.account,
        chain_id: p.chain_id.into(),
        session_ids: p.session_ids.iter().map(|id| id.0.0).collect(),
        gas_payment: super::prepare::gas_payment(pm)?,
    })
}

/// The `wallet_revokeSessions` answer.
pub(in crate::wallet) fn revocation(r: Revocation) -> WalletResult<RevokeSessionsResult> {
    Ok(RevokeSessionsResult {
        already_revoked: r.already_revoked.into_iter().map(|id| SessionId(B128::from(id))).collect(),
        prepared_calls: r.prepared.map(super::prepare::prepared).transpose()?,
    })
}
