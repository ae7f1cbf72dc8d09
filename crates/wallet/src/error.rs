//! Why a Wallet API request fails (each variant names the spec's JSON-RPC code, wallet-api.md §9,
//! which `keyward-server` maps it to).

use keyward_bundler::RejectReason;
use keyward_store::StoreError;

/// A refused or failed Wallet API request.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WalletError {
    /// Malformed or inconsistent parameters (`-32602`).
    #[error("{0}")]
    InvalidParams(String),
    /// A chain id this server does not serve (`5710`).
    #[error("chain id {requested} is not supported: this server serves {}", served_chains(.served))]
    UnsupportedChain {
        /// The chain asked for.
        requested: u64,
        /// The chains served.
        served: Vec<u64>,
    },
    /// A capability (or capability value) this server does not support (`5700`).
    #[error("{0}")]
    UnsupportedCapability(String),
    /// A call id this server never issued (`5730`).
    #[error("unknown bundle id {0}")]
    UnknownCallId(String),
    /// Refused by the wallet: an expired session, the scope precheck, a call it cannot record
    /// (`-32000`).
    #[error("{0}")]
    Rejected(String),
    /// Refused by the bundler, in the prepare's simulation or at submission (`-32000`); the server
    /// words the message (naming the custom error inside revert data) and adds the bundler's
    /// ERC-7769 code to `data`.
    #[error("{}{reason}", simulation_prefix(.simulation))]
    Bundler {
        /// The bundler's refusal.
        reason: RejectReason,
        /// Whether it refused the prepare's gas estimation (`simulation failed: …`).
        simulation: bool,
    },
    /// A gas policy refused to sponsor the operation (`-32000`, `data: {policyId, reason}` as the
    /// `pm_*` methods answer).
    #[error("paymasterService: {message}")]
    PolicyRejected {
        /// The policy asked for.
        policy_id: String,
        /// The machine-readable reason (`exhausted`, `unknown`, …).
        reason: String,
        /// What went wrong.
        message: String,
    },
    /// The account has an earlier operation in flight that this one depends on (a session's
    /// install, an EIP-7702 delegation, a nonce key held by a concurrent prepare): the prepare
    /// waits for it, and answers `-32000` with this text when it is still in flight at the deadline.
    #[error("{0}")]
    Busy(String),
    /// A transient failure (store or chain unreachable) before any side effect (`-32603`): retrying
    /// the same request is safe.
    #[error("internal error: {0}")]
    Internal(String),
}

impl WalletError {
    /// A `-32602` error.
    pub fn params(message: impl Into<String>) -> Self {
        Self::InvalidParams(message.into())
    }

    /// A `-32000` error.
    pub fn rejected(message: impl Into<String>) -> Self {
        Self::Rejected(message.into())
    }
}

impl From<StoreError> for WalletError {
    fn from(e: StoreError) -> Self {
        Self::Internal(format!("store: {e}"))
    }
}

impl From<keyward_chain::ChainError> for WalletError {
    fn from(e: keyward_chain::ChainError) -> Self {
        Self::Internal(format!("chain: {e}"))
    }
}

impl From<RejectReason> for WalletError {
    fn from(e: RejectReason) -> Self {
        match e {
            RejectReason::Chain(e) => Self::Internal(format!("chain: {e}")),
            RejectReason::Storage(m) => Self::Internal(format!("bundler storage: {m}")),
            other => Self::Bundler { reason: other, simulation: false },
        }
    }
}

/// `chain 1`, `chains 1, 10`: the chains a server serves, for [`WalletError::UnsupportedChain`].
fn served_chains(served: &[u64]) -> String {
    match served {
        [] => "no chain".into(),
        [one] => format!("chain {one}"),
        many => format!("chains {}", many.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")),
    }
}

/// What a bundler's refusal message starts with: `simulation failed: ` for the prepare's estimate.
pub fn simulation_prefix(simulation: &bool) -> &'static str {
    if *simulation { "simulation failed: " } else { "" }
}

/// Result of the wallet service.
pub type WalletResult<T> = Result<T, WalletError>;
