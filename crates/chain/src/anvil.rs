//! Starting a local anvil node (npm `@foundry-rs/anvil`) for tests and benchmarks.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{ChainError, ChainResult};
use crate::rpc_chain::RpcChain;
use crate::traits::Chain;

/// A running anvil process on loopback, killed when dropped.
#[derive(Debug)]
pub struct Anvil {
    child: Child,
    url: String,
}

/// Where the anvil binary is: `$KEYWARD_ANVIL`, else the one `npm ci --prefix tools` installs.
pub fn anvil_path() -> PathBuf {
    if let Some(p) = std::env::var_os("KEYWARD_ANVIL") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
}

fn free_port() -> ChainResult<u16> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| ChainError::Transport(e.to_string()))?;
    l.local_addr().map(|a| a.port()).map_err(|e| ChainError::Transport(e.to_string()))
}

impl Anvil {
    /// Starts anvil with Prague rules and chain id `chain_id` on a free loopback port, and waits
    /// until it answers.
    pub async fn start(chain_id: u64) -> ChainResult<Self> {
        Self::start_with(chain_id, "prague").await
    }

    /// [`Anvil::start`] with another hardfork (e.g. `osaka`, which has the P-256 precompile).
    pub async fn start_with(chain_id: u64, hardfork: &str) -> ChainResult<Self> {
        let path = anvil_path();
        if !path.exists() {
            return Err(ChainError::Transport(format!(
                "anvil not found at {} (run `npm ci --prefix tools`, or set KEYWARD_ANVIL)",
                path.display()
            )));
        }
        let port = free_port()?;
        let child = Command::new(&path)
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--hardfork", hardfork, "--silent"])
            .args(["--chain-id", &chain_id.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| ChainError::Transport(format!("starting {}: {e}", path.display())))?;
        let anvil = Self { child, url: format!("http://127.0.0.1:{port}") };
        let chain = RpcChain::connect(&anvil.url)?;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if chain.chain_id().await.is_ok() {
                return Ok(anvil);
            }
            if Instant::now() > deadline {
                return Err(ChainError::Transport("anvil did not answer within 20 s".into()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The node's HTTP URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// An `RpcChain` connected to this node.
    pub fn chain(&self) -> ChainResult<RpcChain> {
        RpcChain::connect(&self.url)
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
