//! Why the bundler refuses an operation, with its ERC-7769 JSON-RPC code.

use alloy::primitives::Address;
use keyward_chain::ChainError;

/// A refusal of `eth_sendUserOperation` / `eth_estimateUserOperationGas`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RejectReason {
    /// The operation is malformed or a field is out of range (`-32602`).
    #[error("{0}")]
    InvalidFields(String),
    /// Simulation failed with an account or factory `FailedOp` (`-32500`); the message is the AA reason.
    #[error("{0}")]
    SimulationFailed(String),
    /// The paymaster refused or failed validation (`-32501`).
    #[error("{reason}")]
    PaymasterRejected {
        /// The paymaster.
        paymaster: Address,
        /// What it said.
        reason: String,
    },
    /// The operation is outside its validity window, or too close to its end (`-32503`).
    #[error("{0}")]
    OutOfTimeRange(String),
    /// The sender or an entity is throttled: too many pending operations (`-32504`).
    #[error("{0}")]
    Throttled(String),
    /// Validation breaks an ERC-7562 opcode or storage rule (`-32502`).
    #[error("{0}")]
    RuleViolation(String),
    /// The operation needs an aggregator, which this bundler does not support (`-32506`).
    #[error("unsupported signature aggregator {0}")]
    UnsupportedAggregator(Address),
    /// The operation's execution reverts in simulation (`-32521`).
    #[error("execution reverted: {0}")]
    ExecutionReverted(String),
    /// The account reported a signature failure (`-32507`).
    #[error("invalid account signature (validateUserOp returned SIG_VALIDATION_FAILED)")]
    InvalidSignature,
    /// The chain could not be asked (`-32603`): not the operation's fault.
    #[error("chain error: {0}")]
    Chain(String),
}

impl RejectReason {
    /// The ERC-7769 JSON-RPC error code.
    pub fn code(&self) -> i32 {
        match self {
            Self::InvalidFields(_) => -32602,
            Self::SimulationFailed(_) => -32500,
            Self::PaymasterRejected { .. } => -32501,
            Self::RuleViolation(_) => -32502,
            Self::OutOfTimeRange(_) => -32503,
            Self::Throttled(_) => -32504,
            Self::UnsupportedAggregator(_) => -32506,
            Self::InvalidSignature => -32507,
            Self::ExecutionReverted(_) => -32521,
            Self::Chain(_) => -32603,
        }
    }
}

impl From<ChainError> for RejectReason {
    fn from(e: ChainError) -> Self {
        Self::Chain(e.to_string())
    }
}
