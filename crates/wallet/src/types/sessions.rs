//! `wallet_createSession` as domain values.

use alloy::dyn_abi::TypedData;
use alloy::primitives::{Address, B256};
use keyward_primitives::mav2::{Permission, SessionKey};

/// A session key to grant on an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateSession {
    /// The account granting the session.
    pub account: Address,
    /// The chain asked for.
    pub chain_id: u64,
    /// Unix expiry in seconds; 0 = never.
    pub expiry: u64,
    /// The session key: a secp256k1 key's address, or a P-256 public key.
    pub session_key: SessionKey,
    /// What the key may do.
    pub permissions: Vec<Permission>,
}

/// A created (or found again) session and what its owner signs.
#[derive(Debug, Clone, PartialEq)]
pub struct CreatedSession {
    /// The session id.
    pub id: [u8; 16],
    /// The chain served.
    pub chain_id: u64,
    /// The `DeferredAction` typed data the owner signs.
    pub typed_data: TypedData,
    /// Its EIP-712 digest.
    pub digest: B256,
}
