//! The methods behind each path of `keyward serve`, and the gauges `/metrics` shows per chain.

use std::sync::Arc;
use std::time::Duration;

use jsonrpsee::RpcModule;
use keyward_api::bundler::BundlerApiServer;
use keyward_api::paymaster::PaymasterApiServer;
use keyward_chain::Chain;
use keyward_server::bundler::BundlerRpc;
use keyward_server::http::Routes;
use keyward_server::paymaster::PaymasterRpc;
use keyward_server::wallet::WalletRpc;

use super::ChainServices;

/// Whether `method` is kept from clients: node writes (`eth_sendRawTransaction`: bundles are the
/// bundler's to send) always, and the bundler's test controls (`debug_*`, which would let one
/// client clear the mempool or stop bundling) unless `[server] test_controls` is on.
pub(crate) fn is_hidden(method: &str, test_controls: bool) -> bool {
    method == "eth_sendRawTransaction" || (!test_controls && method.starts_with("debug_"))
}

/// `/` serves the Wallet API; `/chain/ID` serves chain ID's bundler, `pm_*` and node reads (and,
/// with `test_controls`, the bundler's `debug_bundler_*` test controls).
pub(crate) fn routes(chains: &[ChainServices], test_controls: bool) -> anyhow::Result<Routes> {
    let mut routes = Routes::default();
    // The Wallet API at the root: each request goes to the wallet of the chain it names.
    let wallets = chains.iter().map(|c| (c.wallet.chain_id(), c.wallet.clone())).collect();
    routes.root = WalletRpc::new(wallets).into_module().into();
    for c in chains {
        let mut module: RpcModule<()> = keyward_server::eth::chain_module(c.chain.clone() as Arc<dyn Chain>, None);
        module.merge(BundlerRpc::new(c.bundler.clone()).into_rpc())?;
        if let Some(sponsor) = &c.sponsor {
            module.merge(PaymasterRpc::new(sponsor.clone()).into_rpc())?;
        }
        let hidden: Vec<&'static str> = module.method_names().filter(|m| is_hidden(m, test_controls)).collect();
        for method in hidden {
            module.remove_method(method);
        }
        routes.chains.insert(c.id, module.into());
    }
    Ok(routes)
}

/// Gauge: the bundler key's balance in wei, by `chain` and `key`.
pub(crate) const BUNDLER_BALANCE: &str = "keyward_bundler_balance_wei";
/// Gauge: operations waiting or in flight, by `chain` and `status`.
pub(crate) const MEMPOOL_DEPTH: &str = "keyward_mempool_operations";

/// Refreshes the per-chain gauges every `every`.
pub(crate) fn spawn_gauges(chains: &[ChainServices], every: Duration) -> tokio::task::JoinHandle<()> {
    let watched: Vec<_> = chains.iter().map(|c| (c.id, c.chain.clone(), c.bundlers.clone())).collect();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            for (id, chain, bundlers) in &watched {
                for bundler in bundlers {
                    let key = bundler.address().to_string();
                    match chain.balance(bundler.address()).await {
                        Ok(b) => {
                            metrics::gauge!(BUNDLER_BALANCE, "chain" => id.to_string(), "key" => key).set(f64::from(b))
                        }
                        Err(e) => tracing::warn!(chain = id, error = %e, "reading the bundler balance"),
                    }
                }
                let Some(bundler) = bundlers.first() else { continue };
                match bundler.depth().await {
                    Ok(depth) => {
                        for (status, n) in depth {
                            metrics::gauge!(MEMPOOL_DEPTH, "chain" => id.to_string(), "status" => status).set(n as f64);
                        }
                    }
                    Err(e) => tracing::warn!(chain = id, error = %e, "reading the mempool depth"),
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::is_hidden;

    #[test]
    fn test_controls_are_served_only_when_on_and_raw_transactions_never() {
        for method in ["debug_bundler_clearState", "debug_bundler_setBundlingMode", "debug_bundler_sendBundleNow"] {
            assert!(is_hidden(method, false), "{method}");
            assert!(!is_hidden(method, true), "{method}");
        }
        assert!(is_hidden("eth_sendRawTransaction", false));
        assert!(is_hidden("eth_sendRawTransaction", true));
        for method in ["eth_sendUserOperation", "eth_getBalance", "pm_getPaymasterData", "eth_chainId"] {
            assert!(!is_hidden(method, false), "{method}");
        }
    }
}
