//! `wallet_prepareSign`, `wallet_formatSign` and `wallet_getCapabilities` as domain values.

use alloy::primitives::{Address, B256, Signature};

/// What an account is asked to sign (ERC-1271).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrepareSign {
    /// The signing account.
    pub from: Address,
    /// The chain asked for.
    pub chain_id: u64,
    /// The digest of the message or typed data (EIP-191 or EIP-712).
    pub digest: B256,
    /// Whether a session key is to sign (refused: see [`crate::sign`]).
    pub by_session_key: bool,
}

/// The owner's signature to turn into the account's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatSign {
    /// The signing account.
    pub from: Address,
    /// The chain asked for.
    pub chain_id: u64,
    /// The owner's signature over the prepared `ReplaySafeHash`.
    pub signature: Signature,
    /// Whether a session key signed (refused: see [`crate::sign`]).
    pub by_session_key: bool,
}

/// What the wallet of one chain supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// The chain served.
    pub chain_id: u64,
    /// Whether the calls of one request run atomically.
    pub atomic: bool,
    /// Whether gas sponsorship is configured.
    pub paymaster_service: bool,
    /// Whether EOAs can be delegated (EIP-7702).
    pub eip7702_auth: bool,
    /// Whether session keys are served.
    pub permissions: bool,
}
