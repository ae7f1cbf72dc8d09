//! What the wallet service is configured with: the account stack's addresses, the estimation
//! limits, and the (optional) gas sponsor.

use std::sync::Arc;

use async_trait::async_trait;
use keyward_bundler::ValidationConfig;
use keyward_contracts::Deployment;
use keyward_primitives::{PaymasterInit, UserOperation};

/// Why a sponsor refused to pay for an operation (its message is shown to the client).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SponsorError(pub String);

/// Gas sponsorship behind `paymasterService` (a policy-driven paymaster; issue #6). The wallet asks
/// it for the paymaster fields of an operation whose gas limits are already estimated.
#[async_trait]
pub trait Sponsor: Send + Sync + std::fmt::Debug {
    /// Paymaster fields that make `op` sponsored under `policy_id` (a UUID v4), or a refusal.
    async fn sponsor(&self, op: &UserOperation, policy_id: &str) -> Result<PaymasterInit, SponsorError>;

    /// Placeholder paymaster fields of the final size for gas estimation (nothing reserved), so
    /// `preVerificationGas` covers the real paymaster data; `None` estimates without them.
    async fn stub(&self, _op: &UserOperation, _policy_id: &str) -> Result<Option<PaymasterInit>, SponsorError> {
        Ok(None)
    }
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
}

impl WalletConfig {
    /// A configuration over `deployment` with the default limits and no sponsor.
    pub fn new(deployment: Deployment) -> Self {
        let validation = ValidationConfig { entry_point: deployment.entry_point, ..ValidationConfig::default() };
        Self { deployment, validation, sponsor: None }
    }
}
