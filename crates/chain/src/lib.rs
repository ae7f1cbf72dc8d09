//! Chains Keyward runs on.
//!
//! ```text
//!  bundler, wallet, server (eth_*) ──▶ dyn Chain ─┬─ EmbeddedChain: revm (Prague, EIP-7702) ─▶ blocks,
//!                                                 │    receipts, logs, journal (optional file)
//!                                                 └─ RpcChain: alloy provider ─▶ any node
//!  deploy: the account stack (contracts' plan) ─▶ Chain       send: signed transactions ─▶ Chain
//! ```
//!
//! - [`Chain`]: the Ethereum JSON-RPC surface the bundler and the wallet need.
//! - [`EmbeddedChain`]: a real EVM (revm, Prague rules) in process, with Keyward's contracts at
//!   their canonical addresses, funded dev keys, receipts, logs and optional persistence.
//! - [`RpcChain`]: the same trait over an alloy provider to any node (anvil, geth, reth, …).
//! - [`deploy`]: puts the account stack on a chain at its deterministic addresses.
//! - [`dev_keys`], [`anvil`], [`send`]: the dev mnemonic's keys, an anvil process for tests, and
//!   transaction sending with a local key.
//! - [`recover_memo`]: revm's `ecrecover` remembered process-wide (installed by both chains): an
//!   operation's signature is recovered by several EVM runs with the same input.
//!
//! Both run ERC-7562 validation the same way: [`Chain::traced_call`] executes the call in revm
//! under the [`ValidationTracer`](embedded::trace::ValidationTracer) (`evm_call` builds the EVM
//! for both). The RPC chain does so over the node's state read with plain `eth_get*` requests,
//! pinned to one block and cached per block ([`remote_state`]), because nodes have no common
//! tracer: anvil has no JavaScript tracer, providers disable `debug_*`, and native tracers differ by
//! client.

pub mod anvil;
pub mod deploy;
pub mod dev_keys;
pub mod embedded;
pub mod error;
pub(crate) mod evm_call;
mod override_code;
pub mod recover_memo;
pub mod remote_state;
pub mod rpc_chain;
pub mod send;
pub mod traits;

pub use embedded::{EmbeddedChain, EmbeddedConfig, Mining};
pub use error::{ChainError, ChainResult};
pub use rpc_chain::RpcChain;
pub use traits::{Chain, DevChain};
