//! What the wallet service is configured with: the account stack's addresses, the estimation
//! limits, and the (optional) gas sponsor.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use keyward_bundler::ValidationConfig;
use keyward_contracts::Deployment;
use keyward_primitives::{PaymasterInit, UserOperation};
use keyward_store::sponsorship::{Reservation, SponsorshipError, SponsorshipRecord};

/// Why a sponsor did not pay for an operation (its message is shown to the client).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SponsorError {
    /// The policy refuses this operation (unknown, exhausted, target not allowed, …).
    #[error("{message}")]
    Refused {
        /// Machine-readable reason, as in the `pm_*` methods' `data.reason`.
        reason: String,
        /// What the policy says.
        message: String,
    },
    /// The request itself is malformed (a policy id that is not a UUID, a field out of range).
    #[error("{0}")]
    Invalid(String),
    /// The sponsor could not decide (ledger or chain unreachable): retrying may succeed.
    #[error("{0}")]
    Unavailable(String),
}

/// Gas sponsorship behind `paymasterService` (a policy-driven paymaster; issue #6). The wallet asks
/// it for the paymaster fields of an operation whose gas limits are already estimated, and stores
/// the sponsorship's reservation in the same transaction as the prepared operation
/// (`Store::insert_prepared_reserving`) before it answers.
#[async_trait]
pub trait Sponsor: Send + Sync + std::fmt::Debug {
    /// Paymaster fields that make `op` sponsored under `policy_id` (a UUID v4), signed, and the
    /// reservation the ledger must hold before they are handed out; or a refusal.
    async fn quote(&self, op: &UserOperation, policy_id: &str) -> Result<SponsorQuote, SponsorError>;

    /// The paymaster fields of `op` (which carries its quote's) under the reservation `existing`
    /// the ledger already held for it (a retried prepare): signed over that reservation's window.
    fn resign(&self, op: &UserOperation, existing: &SponsorshipRecord) -> Result<PaymasterInit, SponsorError>;

    /// The ledger's refusal of a quote's reservation under `policy_id` (a limit reached), or its
    /// failure, as the sponsor reports it.
    fn ledger_error(&self, policy_id: &str, e: SponsorshipError) -> SponsorError;

    /// Placeholder paymaster fields of the final size for gas estimation (nothing reserved), so
    /// `preVerificationGas` covers the real paymaster data; `None` estimates without them. Always
    /// followed by [`Sponsor::quote`] in the same request, whose reservation checks the spend
    /// exactly.
    async fn stub(&self, _op: &UserOperation, _policy_id: &str) -> Result<Option<PaymasterInit>, SponsorError> {
        Ok(None)
    }
}

/// Signed paymaster fields and the reservation they stand for ([`Sponsor::quote`]).
#[derive(Clone, Debug)]
pub struct SponsorQuote {
    /// The paymaster fields to put in the operation.
    pub paymaster: PaymasterInit,
    /// What the ledger must hold before they are handed out.
    pub reservation: Reservation,
}

/// Configuration of one wallet service (one chain).
#[derive(Debug, Clone)]
pub struct WalletConfig {
    /// Where the EntryPoint, the factory, the implementations and the modules live.
    pub deployment: Deployment,
    /// The bundler's validation limits, reused by gas estimation.
    pub validation: ValidationConfig,
    /// Gas sponsor for `paymasterService`; `None` answers that capability with 5700.
    pub sponsor: Option<Arc<dyn Sponsor>>,
    /// How long a prepare waits for an earlier operation of the account it depends on (a
    /// session's install, an EIP-7702 delegation) before refusing.
    pub in_flight_wait: Duration,
    /// How long a prepared operation holds its nonce key for its send.
    pub nonce_lease: Duration,
    /// How long a prepared operation that deploys or delegates the account, or installs a
    /// session, makes concurrent prepares of that account wait for its send.
    pub setup_lease: Duration,
    /// How many parallel nonce keys an account's concurrent prepares spread over.
    pub parallel_keys: u64,
}

impl WalletConfig {
    /// A configuration over `deployment` with the default limits and no sponsor.
    pub fn new(deployment: Deployment) -> Self {
        let validation = ValidationConfig { entry_point: deployment.entry_point, ..ValidationConfig::default() };
        Self {
            deployment,
            validation,
            sponsor: None,
            in_flight_wait: Duration::from_secs(30),
            nonce_lease: Duration::from_secs(60),
            setup_lease: Duration::from_secs(5),
            parallel_keys: 64,
        }
    }
}
