//! `wallet_getCapabilities`: what this server supports, keyed by the chain it serves.

use std::collections::BTreeMap;

use alloy::primitives::Address;
use keyward_api::wallet::{HexNumber, WalletCapabilities};

use crate::error::{WalletError, WalletResult};
use crate::service::Wallet;

impl Wallet {
    /// `wallet_getCapabilities`; `chain_ids`, when given, must include the chain served.
    pub async fn get_capabilities(
        &self,
        _address: Address,
        chain_ids: Option<Vec<HexNumber>>,
    ) -> WalletResult<WalletCapabilities> {
        let chain = HexNumber::try_from(self.chain_id).map_err(|e| WalletError::Internal(e.to_string()))?;
        if let Some(ids) = &chain_ids
            && !ids.contains(&chain)
        {
            return Ok(BTreeMap::new());
        }
        let supported = |yes: bool| serde_json::json!({ "supported": yes });
        let caps: BTreeMap<String, serde_json::Value> = [
            ("atomic".to_string(), serde_json::json!({ "status": "supported" })),
            ("paymasterService".to_string(), supported(self.config.sponsor.is_some())),
            ("eip7702Auth".to_string(), supported(true)),
            ("permissions".to_string(), supported(true)),
        ]
        .into_iter()
        .collect();
        Ok([(chain, caps)].into_iter().collect())
    }
}
