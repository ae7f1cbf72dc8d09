//! A `keyward dev` in process, wired like crates/cli/src/dev.rs: the embedded chain with the account
//! stack, the bundler (auto bundling, SQLite mempool) and the JSON-RPC server on a free port.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use alloy::primitives::{Address, U256};
use alloy::signers::local::PrivateKeySigner;
use keyward_bundler::{Bundler, BundlerConfig};
use keyward_chain::deploy::deploy_account_stack;
use keyward_chain::dev_keys::dev_signer;
use keyward_chain::{Chain, DevChain, EmbeddedChain, EmbeddedConfig};
use keyward_primitives::ENTRY_POINT_V07;
use keyward_sdk::{AccountContracts, BundlerClient};
use keyward_store::Store;
use keyward_testkit::harness::Harness;
use keyward_testkit::mav2::Mav2;

/// One ether.
pub(crate) const ETH: u128 = 1_000_000_000_000_000_000;

/// The running service and what a client needs to talk to it.
pub(crate) struct Dev {
    /// The account stack (and the harness over the same chain).
    pub mav2: Mav2,
    /// The chain.
    pub chain: Arc<EmbeddedChain>,
    /// RPC URL (eth_* and the bundler).
    pub url: String,
    /// Where the contracts are.
    pub contracts: AccountContracts,
    /// Chain id.
    pub chain_id: u64,
    handle: jsonrpsee::server::ServerHandle,
    _bundling: tokio::task::JoinHandle<()>,
    dir: std::path::PathBuf,
}

impl Dev {
    /// Starts everything.
    pub(crate) async fn start(name: &str) -> Self {
        let chain = EmbeddedChain::open(EmbeddedConfig::default()).expect("embedded chain");
        chain.spawn_miner();
        // The account stack as keyward dev deploys it (deterministic addresses, staked factory).
        let deployer = dev_signer(keyward_chain::dev_keys::DEPLOYER_KEY_INDEX).unwrap();
        chain.set_balance(deployer.address(), U256::from(100u64) * U256::from(ETH)).await.unwrap();
        let deployment = deploy_account_stack(chain.as_ref(), &deployer, U256::from(ETH)).await.unwrap();
        let contracts = AccountContracts {
            entry_point: deployment.entry_point,
            factory: deployment.factory,
            semi_modular_account_impl: deployment.sma_impl,
            modules: deployment.modules,
        };
        let h = Harness::on(chain.clone());
        let chain_id = h.chain_id().await;
        let mav2 = Mav2 {
            h,
            factory: deployment.factory,
            sma_impl: deployment.sma_impl,
            ma_impl: deployment.ma_impl,
            modules: deployment.modules,
            chain_id,
            beneficiary: Address::with_last_byte(0xbe),
        };
        let dir = std::env::temp_dir().join(format!("keyward-sdk-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let key = dev_signer(keyward_chain::dev_keys::BUNDLER_KEY_INDEX).unwrap();
        chain.set_balance(key.address(), U256::from(1_000u64) * U256::from(ETH)).await.unwrap();
        let store = Store::open_sqlite_file(&dir).await.unwrap();
        let bundler =
            Bundler::new(chain.clone() as Arc<dyn Chain>, store, key, BundlerConfig::default()).await.unwrap();
        let dev: Arc<dyn DevChain> = chain.clone();
        let module = keyward_server::services::Services {
            chain: Some(chain.clone() as Arc<dyn Chain>),
            dev: Some(dev),
            bundler: Some(bundler.clone()),
            ..Default::default()
        }
        .into_module()
        .unwrap();
        let bundling = bundler.spawn();
        let (bound, handle) =
            keyward_server::serve(SocketAddr::from(([127, 0, 0, 1], 0)), module, Some(bundler.store().clone()))
                .await
                .expect("serve");
        let chain_id = mav2.chain_id;
        Self { mav2, chain, url: format!("http://{bound}"), contracts, chain_id, handle, _bundling: bundling, dir }
    }

    /// A bundler client for this service.
    pub(crate) fn client(&self) -> BundlerClient {
        BundlerClient::new(&self.url, ENTRY_POINT_V07).unwrap()
    }

    /// Sends `value` wei from dev key 0.
    pub(crate) async fn fund(&self, to: Address, value: u128) {
        self.mav2.fund(to, U256::from(value)).await;
    }

    /// A fresh random key.
    pub(crate) fn key() -> PrivateKeySigner {
        PrivateKeySigner::random()
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.handle.stop();
        self._bundling.abort();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
