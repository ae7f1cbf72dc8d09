//! Errors of chain access, shared by the embedded and the RPC backends.

use alloy::primitives::Bytes;

/// What went wrong talking to a chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The call or estimate reverted; `data` is the raw revert data.
    #[error("execution reverted{}", reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default())]
    Reverted {
        /// ABI-encoded revert data, possibly empty.
        data: Bytes,
        /// Decoded `Error(string)` reason, when there is one.
        reason: Option<String>,
    },
    /// The execution halted (out of gas, invalid opcode, …) without revert data.
    #[error("execution halted: {0}")]
    Halted(String),
    /// The transaction is not valid for the current state (nonce, funds, fees, signature, …).
    #[error("invalid transaction: {0}")]
    InvalidTransaction(String),
    /// A request parameter is malformed or out of range.
    #[error("invalid params: {0}")]
    InvalidParams(String),
    /// The requested block is not one this chain can serve state for.
    #[error("block not available: {0}")]
    BlockNotAvailable(String),
    /// The node or transport failed.
    #[error("transport error: {0}")]
    Transport(String),
    /// Persistence of the embedded chain failed.
    #[error("storage error: {0}")]
    Storage(String),
    /// Anything else inside the EVM (database errors, bugs).
    #[error("internal error: {0}")]
    Internal(String),
}

impl ChainError {
    /// Builds a `Reverted` error, decoding an `Error(string)` reason when present.
    pub fn reverted(data: Bytes) -> Self {
        let reason = alloy::sol_types::decode_revert_reason(&data);
        Self::Reverted { data, reason }
    }
}

impl From<std::convert::Infallible> for ChainError {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

/// A chain error met while the EVM reads state (a node's transport error on the RPC chain) ends
/// the execution, and comes out of it unchanged.
impl revm::database::DBErrorMarker for ChainError {}

/// Result of chain access.
pub type ChainResult<T> = Result<T, ChainError>;
