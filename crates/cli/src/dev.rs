//! `keyward dev`: the embedded chain and the JSON-RPC server in one process.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use alloy::hex;
use alloy::primitives::{Address, U256};
use anyhow::Context;
use keyward_bundler::erc7562::StakeRequirement;
use keyward_bundler::watch::{ChainWatcher, WatchConfig};
use keyward_bundler::{Bundler, BundlerConfig};
use keyward_chain::deploy::deploy_account_stack;
use keyward_chain::dev_keys::{BUNDLER_KEY_INDEX, DEPLOYER_KEY_INDEX, dev_signer};
use keyward_chain::{Chain, DevChain, EmbeddedChain, EmbeddedConfig, Mining};
use keyward_contracts::Deployment;
use keyward_store::Store;

/// Options of `keyward dev`.
#[derive(Debug, clap::Args)]
pub(crate) struct DevArgs {
    /// Address to bind the JSON-RPC server to.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port of the JSON-RPC server.
    #[arg(long, default_value_t = 4337)]
    port: u16,
    /// Keep the chain's state in this directory across restarts (ephemeral without it).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Mine a block every N seconds instead of one block per transaction.
    #[arg(long, value_name = "SECONDS")]
    block_time: Option<u64>,
    /// Chain id of the dev chain.
    #[arg(long, default_value_t = 31337)]
    chain_id: u64,
    /// Gas-sponsorship policies (TOML, see the README), served next to the default dev policy.
    #[arg(long, value_name = "FILE")]
    policies: Option<PathBuf>,
}

/// Runs the dev chain until Ctrl-C.
pub(crate) async fn run(args: DevArgs) -> anyhow::Result<()> {
    let shutdown = crate::serve::ShutdownSignal::listen()?;
    let mining = match args.block_time {
        Some(0) => anyhow::bail!("--block-time must be at least 1 second"),
        Some(s) => Mining::Interval(Duration::from_secs(s)),
        None => Mining::Instant,
    };
    let config =
        EmbeddedConfig { chain_id: args.chain_id, mining, data_dir: args.data_dir.clone(), ..Default::default() };
    let chain = EmbeddedChain::open(config).context("starting the embedded chain")?;
    chain.spawn_miner();
    let dev: Arc<dyn DevChain> = chain.clone();
    // Without --data-dir the mempool lives in a throwaway directory removed on exit.
    let scratch = match &args.data_dir {
        Some(_) => None,
        None => Some(std::env::temp_dir().join(format!("keyward-dev-{}", std::process::id()))),
    };
    let store_dir = args.data_dir.clone().or_else(|| scratch.clone()).context("no directory for the mempool")?;
    let deployment = deploy_stack(&chain).await?;
    let bundler = start_bundler(&chain, &store_dir, &deployment).await?;
    let sponsorship = start_sponsorship(&dev, &bundler, &deployment, args.policies.as_deref()).await?;
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let sinks = vec![sponsorship.sponsor.clone() as Arc<dyn keyward_bundler::watch::EventSink>];
    let watcher = Arc::new(ChainWatcher::new(bundler.watch_source(), WatchConfig::default(), sinks));
    let watching = watcher.spawn_until(Duration::from_millis(500), stopping.clone());
    let mut wallet_config = keyward_wallet::WalletConfig::new(deployment);
    wallet_config.sponsor = Some(Arc::new(keyward_paymaster::wallet::WalletSponsor(sponsorship.sponsor.clone())));
    let wallet = keyward_wallet::Wallet::new(
        chain.clone() as Arc<dyn Chain>,
        bundler.store().clone(),
        bundler.clone(),
        wallet_config,
    )
    .await
    .map_err(|e| anyhow::anyhow!("starting the Wallet API: {e}"))?;
    let module = keyward_server::services::Services {
        chain: Some(chain.clone() as Arc<dyn Chain>),
        dev: Some(dev),
        bundler: Some(bundler.clone()),
        sponsor: Some(sponsorship.sponsor.clone()),
        wallets: vec![wallet],
    }
    .into_module()?;
    let bundling = bundler.spawn_until(stopping);
    let addr = SocketAddr::new(args.host, args.port);
    let (bound, handle) = keyward_server::serve(addr, module, Some(bundler.store().clone()))
        .await
        .with_context(|| format!("binding the JSON-RPC server to {addr}"))?;

    print_banner(&chain, &args, bound, &deployment, &sponsorship.banner()).await?;

    shutdown.recv().await;
    tracing::info!("shutting down");
    let _ = handle.stop();
    handle.stopped().await;
    let _ = stop.send(true);
    let _ = tokio::join!(bundling, watching);
    bundler.release_lease().await;
    if let Some(dir) = scratch {
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok(())
}

/// Creates the account stack (factory, implementations, modules) unless the chain already has it.
async fn deploy_stack(chain: &Arc<EmbeddedChain>) -> anyhow::Result<Deployment> {
    let key = dev_signer(DEPLOYER_KEY_INDEX).context("deriving the deployer key")?;
    top_up(chain, key.address(), 10, 100).await?;
    deploy_account_stack(chain.as_ref(), &key, U256::from(ETH)).await.context("deploying the account stack")
}

/// One ether in wei.
const ETH: u64 = 1_000_000_000_000_000_000;

/// Sets `address`'s balance to `to_eth` ether when it holds less than `min_eth`.
async fn top_up(chain: &EmbeddedChain, address: Address, min_eth: u64, to_eth: u64) -> anyhow::Result<()> {
    if chain.balance(address).await? < U256::from(min_eth) * U256::from(ETH) {
        chain.set_balance(address, U256::from(to_eth) * U256::from(ETH)).await?;
    }
    Ok(())
}

/// Gas sponsorship: the paymaster signer (mnemonic index 12) installed, the deposit funded, the
/// default policy plus those of `--policies`.
async fn start_sponsorship(
    dev: &Arc<dyn DevChain>,
    bundler: &Bundler,
    deployment: &Deployment,
    policies: Option<&Path>,
) -> anyhow::Result<keyward_paymaster::dev::DevSponsorship> {
    let policies = match policies {
        Some(path) => keyward_paymaster::config::load_policies(path).await?,
        None => Vec::new(),
    };
    let owner = dev_signer(DEPLOYER_KEY_INDEX).context("deriving the deployer key")?;
    keyward_paymaster::dev::start(
        dev.clone(),
        bundler.store().clone(),
        deployment.verifying_paymaster,
        deployment.entry_point,
        &owner,
        policies,
    )
    .await
    .context("starting gas sponsorship")
}

/// The bundler: its key funded on the dev chain, its mempool in `dir/keyward.db`, the stack's
/// own entities trusted.
async fn start_bundler(
    chain: &Arc<EmbeddedChain>,
    dir: &Path,
    deployment: &Deployment,
) -> anyhow::Result<Arc<Bundler>> {
    let key = dev_signer(BUNDLER_KEY_INDEX).context("deriving the bundler key")?;
    top_up(chain, key.address(), 1, 1_000).await?;
    let store = Store::open_sqlite_file(dir).await.context("opening the mempool store")?;
    // One process owns the dev store: a restart takes the bundling lease straight back.
    let replica = Arc::new(keyward_bundler::lease::Replica::named("keyward-dev"));
    // The dev stack's own factory and paymaster are never reputation-throttled.
    let trusted = vec![deployment.factory, deployment.verifying_paymaster];
    let mut config = BundlerConfig { replica, trusted, ..BundlerConfig::default() };
    config.validation.stake = DEV_STAKE;
    let bundler = Bundler::new(chain.clone() as Arc<dyn Chain>, store, key, config)
        .await
        .map_err(|e| anyhow::anyhow!("starting the bundler: {e}"))?;
    Ok(bundler)
}

/// What counts as staked on the dev chain (ERC-7562 `MIN_STAKE_VALUE`, `MIN_UNSTAKE_DELAY`): any
/// stake with an unstake delay of a second or more, so that test entities staked for a few
/// seconds (the ERC-4337 conformance suite stakes with a 2 s delay) count as staked.
const DEV_STAKE: StakeRequirement =
    StakeRequirement { min_stake: U256::from_limbs([1, 0, 0, 0]), min_unstake_delay: 1 };

async fn print_banner(
    chain: &EmbeddedChain,
    args: &DevArgs,
    bound: SocketAddr,
    deployment: &Deployment,
    sponsorship: &str,
) -> anyhow::Result<()> {
    let block = chain.block_number().await?;
    let mut out = String::new();
    out.push_str(&format!("Keyward dev chain\n\n  RPC URL     http://{bound}\n  Chain id    {}\n", args.chain_id));
    out.push_str(&format!("  Block       {block}\n"));
    out.push_str(&format!(
        "  Mining      {}\n",
        match args.block_time {
            Some(s) => format!("every {s} s"),
            None => "one block per transaction".to_string(),
        }
    ));
    out.push_str(&format!(
        "  State       {}\n\nContracts\n",
        match &args.data_dir {
            Some(d) => format!("kept in {}", d.display()),
            None => "ephemeral (use --data-dir to keep it)".to_string(),
        }
    ));
    for p in keyward_contracts::dev_placements() {
        out.push_str(&format!("  {:<26} {}\n", p.name, p.address));
    }
    for (name, address) in deployment.named() {
        out.push_str(&format!("  {name:<26} {address}\n"));
    }
    out.push_str("\nDev keys (10,000 ETH each at genesis; mnemonic \"test test … junk\")\n");
    for (i, k) in chain.dev_signers().iter().enumerate() {
        out.push_str(&format!("  ({i}) {}  {}\n", k.address(), hex::encode_prefixed(k.to_bytes())));
    }
    out.push_str(&format!(
        "\nBundler (ERC-4337 RPC on the same URL)\n  EntryPoint  {}\n  Key         {} (mnemonic index {BUNDLER_KEY_INDEX})\n",
        keyward_primitives::ENTRY_POINT_V07,
        dev_signer(BUNDLER_KEY_INDEX).map(|k| k.address().to_string()).unwrap_or_default()
    ));
    out.push_str(&format!(
        "  Staked      >= {} wei locked with an unstake delay >= {} s (production: {} wei, {} s)\n",
        DEV_STAKE.min_stake,
        DEV_STAKE.min_unstake_delay,
        StakeRequirement::default().min_stake,
        StakeRequirement::default().min_unstake_delay
    ));
    out.push_str(sponsorship);
    out.push_str("\nReady. Ctrl-C to stop.\n");
    // A closed stdout (piped into `head`, a parent that stopped reading) must not stop the chain.
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_all(out.as_bytes()).and_then(|_| stdout.flush()) {
        tracing::warn!(error = %e, "could not print the banner");
    }
    Ok(())
}
