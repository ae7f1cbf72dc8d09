//! The two ERC-4337 bundlers of scenario 3 as processes over one anvil: `keyward serve` (after
//! `keyward deploy`, SQLite store, four bundler keys) and Pimlico's Alto (npm `@pimlico/alto`
//! 0.0.20 from `bench/alto`, four executor keys).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use alloy::hex;
use alloy::signers::local::PrivateKeySigner;
use anyhow::{Context, bail};
use keyward_primitives::ENTRY_POINT_V07;

use crate::procs::{Server, free_port};
use crate::rpc::Rpc;

/// anvil dev keys (mnemonic `test … junk`) the bundlers sign with: indices 1–4.
pub(crate) const BUNDLER_KEYS: [u32; 4] = [1, 2, 3, 4];
/// The key `keyward deploy` deploys Keyward's stack from.
const DEPLOYER_KEY: u32 = 5;
/// Alto's utility key (it deploys its simulation contracts with it).
const ALTO_UTILITY_KEY: u32 = 6;

/// Which bundler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Which {
    /// `keyward serve`.
    Keyward,
    /// Pimlico's Alto.
    Alto,
}

impl Which {
    /// Its name in tables.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Which::Keyward => "Keyward",
            Which::Alto => "Alto",
        }
    }
}

/// Where the bundler programs are.
pub(crate) struct Programs {
    /// The `keyward` binary.
    pub(crate) keyward: PathBuf,
    /// `node`.
    pub(crate) node: PathBuf,
    /// Alto's CLI script (`…/@pimlico/alto/esm/cli/alto.js`).
    pub(crate) alto: PathBuf,
}

/// A running bundler: its process and its ERC-4337 endpoint.
pub(crate) struct Running {
    /// The process (its CPU time is the bundler's).
    pub(crate) server: Server,
    /// The bundler's JSON-RPC endpoint.
    pub(crate) rpc: Arc<Rpc>,
}

fn key_hex(index: u32) -> anyhow::Result<String> {
    let k: PrivateKeySigner =
        keyward_chain::dev_keys::dev_signer(index).map_err(|e| anyhow::anyhow!("dev key {index}: {e}"))?;
    Ok(hex::encode_prefixed(k.to_bytes()))
}

/// Starts `which` over the anvil at `anvil_url` (chain 31337), logs and files in `work`.
pub(crate) async fn start(which: Which, p: &Programs, anvil_url: &str, work: &Path) -> anyhow::Result<Running> {
    match which {
        Which::Keyward => start_keyward(p, anvil_url, work).await,
        Which::Alto => start_alto(p, anvil_url, work).await,
    }
}

/// `keyward deploy` (Keyward's stack, through the deterministic deployer), then `keyward serve`
/// with a SQLite store, no API keys (loopback only) and four bundler keys; waits for `/ready`.
async fn start_keyward(p: &Programs, anvil_url: &str, work: &Path) -> anyhow::Result<Running> {
    let deployer_key = key_hex(DEPLOYER_KEY)?;
    let deploy_log = work.join("keyward-deploy.log");
    let out = Command::new(&p.keyward)
        .args(["deploy", "--rpc-url", anvil_url, "--private-key-env", "KEYWARD_BENCH_DEPLOYER_KEY"])
        .env("KEYWARD_BENCH_DEPLOYER_KEY", &deployer_key)
        .output()
        .with_context(|| format!("running {} deploy", p.keyward.display()))?;
    std::fs::write(&deploy_log, [out.stdout.as_slice(), out.stderr.as_slice()].concat())
        .with_context(|| format!("writing {}", deploy_log.display()))?;
    if !out.status.success() {
        bail!("keyward deploy failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
    }
    let deployer = keyward_chain::dev_keys::dev_signer(DEPLOYER_KEY)
        .map_err(|e| anyhow::anyhow!("dev key {DEPLOYER_KEY}: {e}"))?
        .address();
    let port = free_port()?;
    let keys: Vec<String> = (1..=BUNDLER_KEYS.len()).map(|i| format!("\"env:KEYWARD_BENCH_BUNDLER_{i}\"")).collect();
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\nrequire_api_keys = false\n\n[store]\nurl = \"sqlite://{}\"\n\n\
         [[chain]]\nid = 31337\nrpc_url = \"{anvil_url}\"\nstack = \"keyward\"\ndeployer = \"{deployer}\"\n\
         bundler_keys = [{}]\n",
        work.join("keyward.db").display(),
        keys.join(", ")
    );
    let config_path = work.join("keyward.toml");
    std::fs::write(&config_path, config).with_context(|| format!("writing {}", config_path.display()))?;
    let mut cmd = Command::new(&p.keyward);
    cmd.arg("serve").arg("--config").arg(&config_path);
    for (i, &k) in BUNDLER_KEYS.iter().enumerate() {
        cmd.env(format!("KEYWARD_BENCH_BUNDLER_{}", i + 1), key_hex(k)?);
    }
    cmd.env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()));
    let mut server = Server::spawn("keyward serve", cmd, &work.join("keyward-serve.log"))?;
    let base = format!("http://127.0.0.1:{port}");
    let rpc = Rpc::new(&format!("{base}/chain/31337"))?;
    server.wait_ready(&rpc, &format!("{base}/ready"), Duration::from_secs(60)).await?;
    Ok(Running { server, rpc: Arc::new(rpc) })
}

/// Alto with the flags of the issue; waits until it answers `eth_supportedEntryPoints`.
async fn start_alto(p: &Programs, anvil_url: &str, work: &Path) -> anyhow::Result<Running> {
    if !p.alto.exists() {
        bail!("Alto is not installed at {} (run: npm ci --prefix bench/alto)", p.alto.display());
    }
    let executors: Vec<String> = BUNDLER_KEYS.iter().map(|&k| key_hex(k)).collect::<anyhow::Result<_>>()?;
    let port = free_port()?;
    let mut cmd = Command::new(&p.node);
    cmd.arg(&p.alto)
        .args(["--entrypoints", &ENTRY_POINT_V07.to_string()])
        .args(["--executor-private-keys", &executors.join(",")])
        .args(["--utility-private-key", &key_hex(ALTO_UTILITY_KEY)?])
        .args(["--rpc-url", anvil_url])
        .args(["--port", &port.to_string()])
        .args(["--safe-mode", "false"])
        .args(["--mempool-max-queued-ops", "4"])
        .args(["--max-bundle-interval", "100"])
        .args(["--block-time", "100"])
        .args(["--log-level", "warn"]);
    let mut server = Server::spawn("alto", cmd, &work.join("alto.log"))?;
    let rpc = Rpc::new(&format!("http://127.0.0.1:{port}"))?;
    server.wait_rpc(&rpc, "eth_supportedEntryPoints", Duration::from_secs(90)).await?;
    Ok(Running { server, rpc: Arc::new(rpc) })
}

/// Alto's CLI script under `bench/alto` (installed by `npm ci --prefix bench/alto`).
pub(crate) fn default_alto() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("alto/node_modules/@pimlico/alto/esm/cli/alto.js")
}
