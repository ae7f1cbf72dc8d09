//! Why the bundler refuses an operation (each variant names its ERC-7769 JSON-RPC code, which
//! `keyward-server` maps it to).

use alloy::primitives::{Address, Bytes};
use keyward_chain::ChainError;
use keyward_primitives::EntryPointRevert;

/// A refusal of `eth_sendUserOperation` / `eth_estimateUserOperationGas`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RejectReason {
    /// The operation is malformed or a field is out of range (`-32602`).
    #[error("{0}")]
    InvalidFields(String),
    /// Simulation refused the operation for a reason of its own (`-32500`), e.g. a stale nonce.
    #[error("{0}")]
    SimulationFailed(String),
    /// The EntryPoint refused the operation in simulation (`-32500`): its `FailedOp`, with the
    /// account's or factory's revert data.
    #[error("{}", .0.describe())]
    FailedOp(EntryPointRevert),
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
    /// An entity is not staked enough for what the operation asks (`-32505`), e.g. an unstaked
    /// paymaster over its mempool allowance (ERC-7562 UREP-020).
    #[error("{0}")]
    InsufficientStake(String),
    /// The paymaster's deposit cannot cover its pending operations and this one (`-32508`,
    /// ERC-7562 EREP-010).
    #[error("{0}")]
    PaymasterDepositTooLow(String),
    /// Validation breaks an ERC-7562 opcode or storage rule (`-32502`).
    #[error("{0}")]
    RuleViolation(String),
    /// The operation needs an aggregator, which this bundler does not support (`-32506`).
    #[error("unsupported signature aggregator {0}")]
    UnsupportedAggregator(Address),
    /// The operation's execution reverts in simulation (`-32521`).
    #[error("execution reverted: {0}")]
    ExecutionReverted(ExecutionRevert),
    /// The account reported a signature failure (`-32507`).
    #[error("invalid account signature (validateUserOp returned SIG_VALIDATION_FAILED)")]
    InvalidSignature,
    /// The bundler's key cannot pay for a bundle carrying the operation (`-32603`): the operator
    /// must fund it. Not the operation's fault.
    #[error(
        "this bundler cannot pay for the operation: its key {bundler} holds {balance} wei and a \
         bundle carrying it may cost up to {needed} wei up front; the operator must fund the key"
    )]
    BundlerUnfunded {
        /// The bundler key.
        bundler: Address,
        /// Its balance.
        balance: alloy::primitives::U256,
        /// The operation's gas limits times its max fee.
        needed: alloy::primitives::U256,
    },
    /// The chain could not be asked (`-32603`): not the operation's fault.
    #[error("chain error: {0}")]
    Chain(ChainError),
    /// The bundler's storage failed or holds something unreadable (`-32603`).
    #[error("bundler storage: {0}")]
    Storage(String),
}

/// How the execution of an operation reverted in simulation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutionRevert {
    /// The call reverted with this data (possibly empty).
    Reverted(Bytes),
    /// The simulation's record of the execution could not be read (the raw answer).
    Unreadable(Bytes),
}

impl std::fmt::Display for ExecutionRevert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreadable(raw) => write!(f, "the execution outcome could not be read ({raw})"),
            Self::Reverted(data) => match alloy::sol_types::decode_revert_reason(data) {
                Some(reason) => f.write_str(&reason),
                None if data.is_empty() => f.write_str("the call reverted without data"),
                None => write!(f, "revert data {data}"),
            },
        }
    }
}

impl RejectReason {
    /// The raw revert data inside the refusal that no `Error(string)` explains (a custom error
    /// of the account, a module or the factory), for a caller that can name it.
    pub fn revert_data(&self) -> Option<&Bytes> {
        let data = match self {
            Self::FailedOp(EntryPointRevert::FailedOpWithRevert { inner, .. }) => inner,
            Self::ExecutionReverted(ExecutionRevert::Reverted(data)) => data,
            _ => return None,
        };
        (!data.is_empty() && alloy::sol_types::decode_revert_reason(data).is_none()).then_some(data)
    }
}

impl From<ChainError> for RejectReason {
    fn from(e: ChainError) -> Self {
        Self::Chain(e)
    }
}
