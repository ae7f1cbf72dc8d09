//! Every namespace of one Keyward endpoint in one JSON-RPC module: what a process (`keyward dev`,
//! `keyward serve`) hands the server.

use std::sync::Arc;

use jsonrpsee::RpcModule;
use keyward_api::bundler::BundlerApiServer;
use keyward_api::paymaster::PaymasterApiServer;
use keyward_bundler::Bundler;
use keyward_chain::{Chain, DevChain};
use keyward_paymaster::Sponsor;
use keyward_wallet::Wallet;

use crate::bundler::BundlerRpc;
use crate::paymaster::PaymasterRpc;
use crate::wallet::WalletRpc;

/// The domain services one endpoint serves; each present one adds its namespace.
#[derive(Default)]
pub struct Services {
    /// `eth_*`, `net_*`, `web3_*` of the chain.
    pub chain: Option<Arc<dyn Chain>>,
    /// anvil-compatible dev methods (`anvil_*`, `evm_*`), for a dev chain.
    pub dev: Option<Arc<dyn DevChain>>,
    /// ERC-4337 bundler and `debug_bundler_*` methods.
    pub bundler: Option<Arc<Bundler>>,
    /// ERC-7677 `pm_*` methods.
    pub sponsor: Option<Arc<Sponsor>>,
    /// The Wallet API: the wallet of each chain served (requests are routed by their chain id).
    pub wallets: Vec<Arc<Wallet>>,
}

/// A namespace whose method names clash with another's (a programming error).
#[derive(Debug, thiserror::Error)]
#[error("wiring the {namespace} methods: {source}")]
pub struct WiringError {
    /// The namespace being merged.
    pub namespace: &'static str,
    /// jsonrpsee's complaint.
    #[source]
    pub source: jsonrpsee::core::RegisterMethodError,
}

impl Services {
    /// The JSON-RPC module serving every present service.
    pub fn into_module(self) -> Result<RpcModule<()>, WiringError> {
        let mut module = match self.chain {
            Some(chain) => crate::eth::chain_module(chain, self.dev),
            None => RpcModule::new(()),
        };
        let merge = |module: &mut RpcModule<()>, namespace, other: jsonrpsee::Methods| {
            module.merge(other).map_err(|source| WiringError { namespace, source })
        };
        if let Some(sponsor) = self.sponsor {
            merge(&mut module, "pm_*", PaymasterRpc::new(sponsor).into_rpc().into())?;
        }
        if let Some(bundler) = self.bundler {
            merge(&mut module, "bundler", BundlerRpc::new(bundler).into_rpc().into())?;
        }
        if !self.wallets.is_empty() {
            let wallets = self.wallets.into_iter().map(|w| (w.chain_id(), w)).collect();
            merge(&mut module, "wallet_*", WalletRpc::new(wallets).into_module().into())?;
        }
        Ok(module)
    }
}
