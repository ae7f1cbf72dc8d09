//! `wallet_getCapabilities`: what this wallet supports on the chain it serves.

use crate::service::Wallet;
use crate::types::Capabilities;

impl Wallet {
    /// `wallet_getCapabilities` of the chain served.
    pub fn capabilities(&self) -> Capabilities {
        Capabilities {
            chain_id: self.chain_id,
            atomic: true,
            paymaster_service: self.config.sponsor.is_some(),
            eip7702_auth: true,
            permissions: true,
        }
    }
}
