//! Session management, Keyward's extensions of the Wallet API (not in Alchemy's API; the official
//! SDK's flows never call them): `wallet_listSessions`, `wallet_getSession` and
//! `wallet_revokeSessions`.

use alloy::primitives::Address;
use serde::{Deserialize, Serialize};

use super::calls::PrepareCallsResult;
use super::capabilities::PaymasterService;
use super::hex::{HexBigInt, HexNumber, SessionId, strict};
use super::permissions::Permission;
use super::session::SessionKey;

/// `wallet_listSessions` params: an account's sessions on one chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListSessionsParams {
    /// The account.
    #[serde(serialize_with = "super::checksum", deserialize_with = "strict")]
    pub account: Address,
    /// The chain.
    pub chain_id: HexNumber,
}

/// `wallet_listSessions` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListSessionsResult {
    /// The sessions, oldest first.
    pub sessions: Vec<SessionInfo>,
}

/// `wallet_getSession` params: one session of an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetSessionParams {
    /// The account the session must belong to.
    #[serde(serialize_with = "super::checksum", deserialize_with = "strict")]
    pub account: Address,
    /// The chain.
    pub chain_id: HexNumber,
    /// The session.
    pub session_id: SessionId,
}

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionStateName {
    /// Usable.
    Active,
    /// Past its expiry.
    Expired,
    /// Uninstalled, or its grant burnt.
    Revoked,
}

/// One budget of a session and what is left of it onchain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BudgetInfo {
    /// The permission type it comes from: `native-token-transfer`, `erc20-token-transfer` or
    /// `gas-limit`.
    #[serde(rename = "type")]
    pub ty: String,
    /// The token, for `erc20-token-transfer`.
    #[serde(default, skip_serializing_if = "Option::is_none", serialize_with = "super::checksum_opt")]
    pub address: Option<Address>,
    /// The budget granted.
    pub allowance: HexBigInt,
    /// What is left.
    pub remaining: HexBigInt,
}

/// A session as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    /// The session id.
    pub session_id: SessionId,
    /// The account.
    #[serde(serialize_with = "super::checksum")]
    pub account: Address,
    /// The chain.
    pub chain_id: HexNumber,
    /// The session key.
    pub key: SessionKey,
    /// The permissions granted.
    pub permissions: Vec<Permission>,
    /// Unix expiry in seconds; absent = never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_sec: Option<u64>,
    /// The session's validation entity id on the account.
    pub entity_id: u32,
    /// Whether its validation is installed on the account now.
    pub installed: bool,
    /// `active`, `expired` or `revoked`.
    pub state: SessionStateName,
    /// Each budget and what is left of it.
    pub budgets: Vec<BudgetInfo>,
    /// When it was created (unix seconds).
    pub created_at: u64,
}

/// `wallet_revokeSessions` capabilities: who pays for the revoking operation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevokeCapabilities {
    /// Gas sponsorship, as in `wallet_prepareCalls`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub paymaster_service: Option<PaymasterService>,
}

/// `wallet_revokeSessions` params: sessions of one account to revoke in one owner operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevokeSessionsParams {
    /// The account.
    #[serde(serialize_with = "super::checksum", deserialize_with = "strict")]
    pub account: Address,
    /// The chain.
    pub chain_id: HexNumber,
    /// The sessions (1 to 64).
    pub session_ids: Vec<SessionId>,
    /// Who pays.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub capabilities: Option<RevokeCapabilities>,
}

/// `wallet_revokeSessions` result: the owner operation to sign and send with
/// `wallet_sendPreparedCalls` (absent when every session named is revoked already).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevokeSessionsResult {
    /// Sessions revoked already (nothing to do for them).
    pub already_revoked: Vec<SessionId>,
    /// The prepared owner operation, as `wallet_prepareCalls` answers it.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub prepared_calls: Option<PrepareCallsResult>,
}
