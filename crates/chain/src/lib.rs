//! Chains Keyward runs on.
//!
//! - [`Chain`]: the Ethereum JSON-RPC surface the bundler and the wallet need.
//! - [`EmbeddedChain`]: a real EVM (revm, Prague rules) in process, with Keyward's contracts at
//!   their canonical addresses, funded dev keys, receipts, logs and optional persistence.
//! - [`RpcChain`]: the same trait over an alloy provider to any node (anvil, geth, reth, …).

pub mod anvil;
pub mod deploy;
pub mod dev_keys;
pub mod embedded;
pub mod error;
pub mod rpc_chain;
pub mod send;
pub mod traits;

pub use embedded::{EmbeddedChain, EmbeddedConfig, Mining};
pub use error::{ChainError, ChainResult};
pub use rpc_chain::RpcChain;
pub use traits::{Chain, DevChain};
