//! The Wallet API's sponsorship seam (`paymasterService: { policyId }` in `wallet_prepareCalls`)
//! served by a [`Sponsor`].

use std::sync::Arc;

use async_trait::async_trait;
use keyward_primitives::{PaymasterInit, UserOperation};

use keyward_store::sponsorship::{SponsorshipError, SponsorshipRecord};

use crate::policy::{PolicyError, parse_policy_id};
use crate::sponsor::{Sponsor, SponsorError};

/// A [`Sponsor`] as the wallet service's `keyward_wallet::Sponsor`.
#[derive(Clone)]
pub struct WalletSponsor(pub Arc<Sponsor>);

impl std::fmt::Debug for WalletSponsor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalletSponsor").field("paymaster", &self.0.config().paymaster).finish()
    }
}

#[async_trait]
impl keyward_wallet::Sponsor for WalletSponsor {
    async fn quote(
        &self,
        op: &UserOperation,
        policy_id: &str,
    ) -> Result<keyward_wallet::SponsorQuote, keyward_wallet::SponsorError> {
        let quote = self.0.quote(op, policy_id).await.map_err(wallet_error)?;
        Ok(keyward_wallet::SponsorQuote { paymaster: quote.fields.paymaster, reservation: quote.reservation })
    }

    fn resign(
        &self,
        op: &UserOperation,
        existing: &SponsorshipRecord,
    ) -> Result<PaymasterInit, keyward_wallet::SponsorError> {
        self.0.resign(op, existing).map_err(wallet_error)
    }

    fn ledger_error(&self, policy_id: &str, e: SponsorshipError) -> keyward_wallet::SponsorError {
        match parse_policy_id(policy_id) {
            Ok(id) => wallet_error(self.0.ledger_error(id, e)),
            Err(p) => wallet_error(SponsorError::Policy(p)),
        }
    }

    async fn stub(
        &self,
        op: &UserOperation,
        policy_id: &str,
    ) -> Result<Option<PaymasterInit>, keyward_wallet::SponsorError> {
        // The wallet sponsors right after estimating: the reservation checks the spend then.
        self.0.stub_before_sponsoring(op, policy_id).await.map(|fields| Some(fields.paymaster)).map_err(wallet_error)
    }
}

/// The wallet's view of a sponsor error: a policy's refusal keeps its reason, a malformed request
/// stays one, and a ledger, chain or signing failure is a transient one (never a refusal).
fn wallet_error(e: SponsorError) -> keyward_wallet::SponsorError {
    match e {
        SponsorError::Policy(p @ PolicyError::InvalidId(_)) => keyward_wallet::SponsorError::Invalid(p.to_string()),
        SponsorError::Policy(p) => {
            keyward_wallet::SponsorError::Refused { reason: p.reason().to_string(), message: p.to_string() }
        }
        SponsorError::Data(d) => keyward_wallet::SponsorError::Invalid(format!("cannot build paymaster data: {d}")),
        other => keyward_wallet::SponsorError::Unavailable(other.to_string()),
    }
}
