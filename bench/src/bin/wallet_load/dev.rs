//! `keyward dev` as a separate process: started on a free port (optionally with `--data-dir`),
//! with a JSON-RPC client, a chain handle for set-up transactions and its CPU clock.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, U256};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use anyhow::{Context, bail};
use keyward_chain::RpcChain;
use keyward_chain::send::send_and_wait;

use crate::procs::{Server, cpu_seconds};
use crate::rpc::Rpc;

/// Index of the dev key that deploys the counter and funds accounts (keyward dev's bundler,
/// deployer and paymaster keys are other indices).
const FUNDER_KEY: u32 = 3;

/// A running `keyward dev`.
pub(crate) struct Dev {
    /// The process.
    pub(crate) server: Server,
    /// Its JSON-RPC endpoint.
    pub(crate) rpc: Arc<Rpc>,
    /// The same endpoint as a chain, for set-up transactions.
    pub(crate) chain: RpcChain,
    /// Its chain id.
    pub(crate) chain_id: u64,
    /// The key set-up transactions are sent from.
    pub(crate) funder: PrivateKeySigner,
    /// Clock ticks per second of its CPU times.
    pub(crate) tck: u64,
}

impl Dev {
    /// Starts `keyward dev` from `bin` on a free port, its output in `log`, its state in
    /// `data_dir` when given; waits until it answers.
    pub(crate) async fn start(bin: &Path, data_dir: Option<&Path>, log: &Path, tck: u64) -> anyhow::Result<Self> {
        if !bin.exists() {
            bail!(
                "no keyward binary at {} (build it: cargo build --release -p keyward, or pass --keyward)",
                bin.display()
            );
        }
        let port = crate::procs::free_port()?;
        let mut cmd = Command::new(bin);
        cmd.args(["dev", "--host", "127.0.0.1", "--port", &port.to_string()]);
        if let Some(dir) = data_dir {
            cmd.arg("--data-dir").arg(dir);
        }
        cmd.env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()));
        let mut server = Server::spawn("keyward dev", cmd, log)?;
        let url = format!("http://127.0.0.1:{port}");
        let rpc = Arc::new(Rpc::new(&url)?);
        server.wait_rpc(&rpc, "eth_chainId", Duration::from_secs(120)).await?;
        let chain = RpcChain::connect(&url).map_err(|e| anyhow::anyhow!("connecting to {url}: {e}"))?;
        let id = rpc.call("eth_chainId", serde_json::json!([])).await?;
        let chain_id = u64::from_str_radix(id.as_str().unwrap_or("0x0").trim_start_matches("0x"), 16)
            .context("eth_chainId is not a hex number")?;
        let funder = keyward_chain::dev_keys::dev_signer(FUNDER_KEY).map_err(|e| anyhow::anyhow!("dev key: {e}"))?;
        Ok(Self { server, rpc, chain, chain_id, funder, tck })
    }

    /// User + system CPU seconds the process has used so far.
    pub(crate) fn cpu(&self) -> anyhow::Result<f64> {
        cpu_seconds(self.server.pid(), self.tck)
    }

    /// Context switches of the process's threads so far ([`crate::procs::context_switches`]).
    pub(crate) fn context_switches(&self) -> anyhow::Result<u64> {
        crate::procs::context_switches(self.server.pid())
    }

    /// Deploys a `TestCounter` from the funder key.
    pub(crate) async fn deploy_counter(&self) -> anyhow::Result<Address> {
        let code = keyward_contracts::artifacts::test_counter().bytecode.clone();
        let tx = TransactionRequest::default().with_deploy_code(code);
        let receipt = send_and_wait(&self.chain, &self.funder, tx).await.context("deploying TestCounter")?;
        if !receipt.status() {
            bail!("TestCounter deployment reverted");
        }
        receipt.contract_address.context("TestCounter deployment has no contract address")
    }

    /// Sends `wei` to `to` from the funder key and waits for it.
    pub(crate) async fn fund(&self, to: Address, wei: U256) -> anyhow::Result<()> {
        let tx = TransactionRequest::default().with_to(to).with_value(wei);
        let receipt = send_and_wait(&self.chain, &self.funder, tx).await.with_context(|| format!("funding {to}"))?;
        if !receipt.status() {
            bail!("funding {to} reverted");
        }
        Ok(())
    }

    /// The chain id as the Wallet API writes it.
    pub(crate) fn chain_hex(&self) -> String {
        format!("{:#x}", self.chain_id)
    }
}

/// `--keyward`'s default: `$CARGO_TARGET_DIR/release/keyward`, else `target/release/keyward` of
/// the workspace.
pub(crate) fn default_keyward() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir).join("release/keyward"),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/keyward"),
    }
}
