//! `keyward serve --config keyward.toml`: production mode. One process serves every configured
//! chain over its node (any Ethereum JSON-RPC node), with the store at a URL (PostgreSQL, or a
//! SQLite file for one node), API keys, and the HTTP edge of `keyward-server`.
//!
//! ```text
//!  keyward.toml ─▶ config (checked) ─▶ store ─▶ per chain: RpcChain (id checked) ─▶ stack present?
//!                                                 ├─ Bundler (key) ─▶ bundling loop
//!                                                 ├─ Sponsor (paymaster signer, policies) ─▶ settler
//!                                                 └─ Wallet (chain, store, bundler, sponsor)
//!               edge: / → wallet_* (chain from request) · /chain/ID → bundler, pm_*, node reads
//!  SIGTERM/Ctrl-C ─▶ stop accepting ─▶ requests in flight finish ─▶ bundling loops finish their round
//! ```

pub(crate) mod config;
mod routes;
pub(crate) mod stack;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::Address;
use anyhow::Context;
use async_trait::async_trait;
use keyward_bundler::lease::Replica;
use keyward_bundler::watch::{ChainWatcher, EventSink, WatchConfig};
use keyward_bundler::{Bundler, BundlerConfig};
use keyward_chain::{Chain, RpcChain};
use keyward_paymaster::sponsor::{Sponsor, SponsorConfig};
use keyward_server::http::auth::ApiKeyGate;
use keyward_server::http::{Edge, HttpConfig, Readiness};
use keyward_store::Store;
use keyward_wallet::{Wallet, WalletConfig};

use config::{ChainSection, ServeConfig, load_secret};

/// Options of `keyward serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// The configuration file.
    #[arg(long, value_name = "FILE", default_value = "keyward.toml")]
    config: PathBuf,
}

/// One chain's running services.
pub(crate) struct ChainServices {
    /// The chain id.
    pub(crate) id: u64,
    /// The node.
    pub(crate) chain: Arc<RpcChain>,
    /// Its bundler for admission and queries (the first key's).
    pub(crate) bundler: Arc<Bundler>,
    /// One bundler per key, each bundling in parallel from the one mempool.
    pub(crate) bundlers: Vec<Arc<Bundler>>,
    /// Its sponsor, when the chain has a paymaster.
    pub(crate) sponsor: Option<Arc<Sponsor>>,
    /// Its Wallet API.
    pub(crate) wallet: Arc<Wallet>,
}

/// Runs `keyward serve` until SIGTERM or Ctrl-C.
pub(crate) async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let shutdown = ShutdownSignal::listen()?;
    let config = config::load(&args.config)?;
    // The metrics recorder first: every series recorded from here on is exported.
    let _ = keyward_server::http::metrics::prometheus();
    let base = args.config.parent().map(Path::to_path_buf).unwrap_or_default();
    let store = Store::open(&config.store_url()).await.context("opening the store")?;
    // This process among the replicas sharing the store: counted before it takes any role.
    let replica = Arc::new(Replica::new());
    replica.heartbeat(&store, REPLICA_ALIVE).await.context("writing this replica's heartbeat")?;
    tracing::info!(replica = replica.id(), "replica up");
    let mut chains = Vec::new();
    for (i, section) in config.chain.iter().enumerate() {
        let services = start_chain(i, section, &store, &base, &args.config, &replica)
            .await
            .with_context(|| format!("starting chain {} ({})", section.id, section.rpc_url))?;
        chains.push(services);
    }
    let (stop_bundling, bundling) = tokio::sync::watch::channel(false);
    let bundling_loops: Vec<_> =
        chains.iter().flat_map(|c| c.bundlers.iter().map(|b| b.spawn_until(bundling.clone()))).collect();
    let watchers: Vec<_> = chains
        .iter()
        .map(|c| {
            let sinks = c.sponsor.iter().map(|s| s.clone() as Arc<dyn EventSink>).collect();
            let watcher = Arc::new(ChainWatcher::new(c.bundler.watch_source(), WatchConfig::default(), sinks));
            watcher.spawn_until(Duration::from_millis(500), bundling.clone())
        })
        .collect();
    let heartbeat = spawn_heartbeat(replica.clone(), store.clone());
    let gauges = routes::spawn_gauges(&chains, Duration::from_secs(15));
    let edge = Edge {
        config: http_config(&config),
        routes: routes::routes(&chains, config.server.test_controls)?,
        gate: config.server.require_api_keys.then(|| Arc::new(ApiKeyGate::new(store.clone()))),
        readiness: Some(Arc::new(Ready {
            store: store.clone(),
            chains: chains.iter().map(|c| (c.id, c.chain.clone())).collect(),
        })),
        durable: Some(store.clone()),
    };
    let (bound, handle) =
        keyward_server::http::serve_edge(edge).await.with_context(|| format!("binding {}", config.server.listen))?;
    let ids: Vec<u64> = chains.iter().map(|c| c.id).collect();
    tracing::info!(listen = %bound, chains = ?ids, "keyward serve ready");
    println!("keyward serve listening on http://{bound} (chains {ids:?})");
    if config.server.test_controls {
        tracing::warn!(
            "server.test_controls is on: /chain/ID serves debug_bundler_* (clear the mempool and reputation, \
             manual bundling); for conformance tests only, never in production"
        );
        println!(
            "WARNING: test controls on (server.test_controls): debug_bundler_* served on /chain/ID; never in production"
        );
    }

    shutdown.recv().await;
    tracing::info!("stopping: no new requests; finishing those in flight");
    let _ = handle.stop();
    handle.stopped().await;
    // Bundling loops finish the round they are in (a bundle being sent is recorded and tracked on
    // the next start); the settlers and gauges hold nothing that a restart does not redo.
    let _ = stop_bundling.send(true);
    for l in bundling_loops.into_iter().chain(watchers) {
        let _ = l.await;
    }
    // Handed over at once rather than after the lease term: another replica goes on now.
    for b in chains.iter().flat_map(|c| c.bundlers.iter()) {
        b.release_lease().await;
    }
    for t in [gauges, heartbeat] {
        t.abort();
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// A replica not heard from for this long no longer counts when the roles are shared out.
const REPLICA_ALIVE: Duration = Duration::from_secs(10);

/// Writes this replica's heartbeat every 2 s.
fn spawn_heartbeat(replica: Arc<Replica>, store: Store) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        loop {
            tick.tick().await;
            if let Err(e) = replica.heartbeat(&store, REPLICA_ALIVE).await {
                tracing::warn!(error = %e, "writing the replica heartbeat failed");
            }
        }
    })
}

/// The edge's settings from `[server]`.
fn http_config(config: &ServeConfig) -> HttpConfig {
    HttpConfig {
        listen: config.server.listen,
        cors_origins: config.server.cors_origins.clone(),
        max_body_bytes: config.server.max_body_bytes,
        request_timeout: Duration::from_secs(config.server.request_timeout_secs),
        max_connections: config.server.max_connections,
    }
}

/// Connects to chain `i`'s node, checks its id and account stack, and builds its services.
async fn start_chain(
    i: usize,
    section: &ChainSection,
    store: &Store,
    base: &Path,
    file: &Path,
    replica: &Arc<Replica>,
) -> anyhow::Result<ChainServices> {
    let refuse = |key: &str, reason: String| config::ConfigError {
        file: file.display().to_string(),
        key: format!("chain[{i}].{key}"),
        reason,
    };
    let chain = Arc::new(RpcChain::connect(&section.rpc_url).map_err(|e| refuse("rpc_url", e.to_string()))?);
    let reported = chain.chain_id().await.map_err(|e| refuse("rpc_url", format!("the node does not answer: {e}")))?;
    if reported != section.id {
        return Err(
            refuse("id", format!("is {} but the node at {} is chain {reported}", section.id, section.rpc_url)).into()
        );
    }
    let deployment = stack::deployment(section).map_err(|r| refuse("stack", r))?;
    stack::check_present(chain.as_ref(), section.stack, &deployment).await.map_err(|r| refuse("stack", r))?;
    let as_chain: Arc<dyn Chain> = chain.clone();
    let mut bundlers = Vec::new();
    for (j, reference) in section.bundler_keys.iter().enumerate() {
        let key = load_secret(reference, base).map_err(|r| refuse(&format!("bundler_keys[{j}]"), r))?;
        if bundlers.iter().any(|b: &Arc<Bundler>| b.address() == key.address()) {
            return Err(refuse(&format!("bundler_keys[{j}]"), format!("{} is given twice", key.address())).into());
        }
        let mut config = BundlerConfig {
            replica: replica.clone(),
            trusted: trusted_entities(section, &deployment),
            ..BundlerConfig::default()
        };
        config.validation.stake = section.stake();
        let bundler = Bundler::new(as_chain.clone(), store.clone(), key, config)
            .await
            .map_err(|e| anyhow::anyhow!("starting the bundler: {e}"))?;
        bundlers.push(bundler);
    }
    // Admission is the same whichever key later bundles: the first instance admits.
    let bundler = bundlers[0].clone();
    report_stake(section, &bundler, &trusted_entities(section, &deployment)).await;
    let sponsor = match &section.paymaster {
        None => None,
        Some(pm) => Some(start_sponsor(pm, &deployment, section.id, &as_chain, store, base, &refuse).await?),
    };
    let mut wallet_config = WalletConfig::new(deployment);
    wallet_config.sponsor = sponsor
        .clone()
        .map(|s| Arc::new(keyward_paymaster::wallet::WalletSponsor(s)) as Arc<dyn keyward_wallet::Sponsor>);
    let wallet = Wallet::new(as_chain, store.clone(), bundler.clone(), wallet_config)
        .await
        .map_err(|e| anyhow::anyhow!("starting the Wallet API: {e}"))?;
    Ok(ChainServices { id: section.id, chain, bundler, bundlers, sponsor, wallet })
}

/// The entities this deployment operates on the chain: its account factory, and its paymaster
/// when it sponsors (exempt from reputation limits).
fn trusted_entities(section: &ChainSection, deployment: &keyward_contracts::Deployment) -> Vec<Address> {
    let mut trusted = vec![deployment.factory];
    if section.paymaster.is_some() {
        trusted.push(deployment.verifying_paymaster);
    }
    trusted
}

/// Logs the chain's stake requirement (a warning when it is below production's) and warns about
/// each of the deployment's own entities that does not meet it: ERC-7562 then holds them to the
/// unstaked rules (their own storage only in the account's validation, reputation limits).
async fn report_stake(section: &ChainSection, bundler: &Bundler, entities: &[Address]) {
    let stake = section.stake();
    let production = keyward_bundler::erc7562::StakeRequirement::default();
    if stake.min_stake < production.min_stake || stake.min_unstake_delay < production.min_unstake_delay {
        tracing::warn!(
            chain = section.id,
            min_stake_wei = %stake.min_stake,
            min_unstake_delay_secs = stake.min_unstake_delay,
            "staked entities: below the production requirement ({} wei, {} s) on this chain",
            production.min_stake,
            production.min_unstake_delay
        );
    } else {
        tracing::info!(chain = section.id, min_stake_wei = %stake.min_stake, min_unstake_delay_secs = stake.min_unstake_delay, "staked entities");
    }
    for entity in entities {
        match bundler.stake_status(*entity).await {
            Ok((_, _, true)) => {}
            Ok((amount, delay, false)) => tracing::warn!(
                chain = section.id,
                %entity,
                stake_wei = %amount,
                unstake_delay_secs = delay,
                "the deployment's entity is not staked by [chain.bundler]'s requirement: run `keyward deploy --stake ETH`"
            ),
            Err(e) => {
                tracing::warn!(chain = section.id, %entity, error = %e, "reading the stake of the deployment's entity")
            }
        }
    }
}

/// The chain's sponsor: its signer must be the one the paymaster contract honours.
async fn start_sponsor(
    pm: &config::PaymasterSection,
    deployment: &keyward_contracts::Deployment,
    chain_id: u64,
    chain: &Arc<dyn Chain>,
    store: &Store,
    base: &Path,
    refuse: &dyn Fn(&str, String) -> config::ConfigError,
) -> anyhow::Result<Arc<Sponsor>> {
    let signer = load_secret(&pm.signer, base).map_err(|r| refuse("paymaster.signer", r))?;
    let honoured = keyward_paymaster::deposit::signer_of(chain.as_ref(), deployment.verifying_paymaster)
        .await
        .map_err(|e| refuse("paymaster.signer", format!("reading the paymaster's signer: {e}")))?;
    if honoured != signer.address() {
        return Err(refuse(
            "paymaster.signer",
            format!(
                "is {} but the paymaster {} honours {honoured}: run `keyward deploy --paymaster-signer {}`",
                signer.address(),
                deployment.verifying_paymaster,
                signer.address()
            ),
        )
        .into());
    }
    let policies = match &pm.policies {
        Some(path) => keyward_paymaster::config::load_policies(&base.join(path))
            .await
            .map_err(|e| refuse("paymaster.policies", e.to_string()))?,
        None => Vec::new(),
    };
    let config = SponsorConfig::new(deployment.verifying_paymaster, deployment.entry_point, chain_id);
    Ok(Arc::new(Sponsor::new(signer, config, policies, store.clone(), chain.clone())))
}

/// `/ready`: the store answers a query and every node its block number.
struct Ready {
    store: Store,
    chains: BTreeMap<u64, Arc<RpcChain>>,
}

#[async_trait]
impl Readiness for Ready {
    async fn ready(&self) -> Result<(), String> {
        self.store.ping().await.map_err(|e| format!("store: {e}"))?;
        for (id, chain) in &self.chains {
            chain.block_number().await.map_err(|e| format!("chain {id}: {e}"))?;
        }
        Ok(())
    }
}

/// SIGTERM and Ctrl-C (SIGINT), listened for from creation on: create it before announcing
/// readiness, so a signal sent right after the announcement stops the process cleanly instead of
/// meeting the default action.
pub(crate) struct ShutdownSignal {
    term: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

impl ShutdownSignal {
    /// Installs the handlers for both signals.
    pub(crate) fn listen() -> anyhow::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            term: signal(SignalKind::terminate()).context("listening for SIGTERM")?,
            interrupt: signal(SignalKind::interrupt()).context("listening for Ctrl-C")?,
        })
    }

    /// Resolves on the first SIGTERM or Ctrl-C.
    pub(crate) async fn recv(mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}
