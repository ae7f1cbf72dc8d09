//! The Wallet API's sponsorship seam (`paymasterService: { policyId }` in `wallet_prepareCalls`)
//! served by a [`Sponsor`].

use std::sync::Arc;

use async_trait::async_trait;
use keyward_primitives::{PaymasterInit, UserOperation};

use crate::sponsor::Sponsor;

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
    async fn sponsor(
        &self,
        op: &UserOperation,
        policy_id: &str,
    ) -> Result<PaymasterInit, keyward_wallet::SponsorError> {
        match self.0.sponsor(op, policy_id).await {
            Ok(fields) => Ok(fields.paymaster),
            Err(e) => Err(keyward_wallet::SponsorError(e.to_string())),
        }
    }

    async fn stub(
        &self,
        op: &UserOperation,
        policy_id: &str,
    ) -> Result<Option<PaymasterInit>, keyward_wallet::SponsorError> {
        match self.0.stub(op, policy_id).await {
            Ok(fields) => Ok(Some(fields.paymaster)),
            Err(e) => Err(keyward_wallet::SponsorError(e.to_string())),
        }
    }
}
