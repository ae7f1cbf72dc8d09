//! Wire types and JSON-RPC traits of Keyward's APIs, exactly as clients send and expect them.
//!
//! The ERC-4337 bundler RPC (ERC-7769) in [`bundler`]; the Wallet API (`wallet_*`) in [`wallet`];
//! ERC-7677 paymaster methods (`pm_*`) in [`paymaster`].
//!
//! ```text
//!  client JSON ─serde─▶ api types ─▶ jsonrpsee #[rpc] trait ─┬─ server (…Server impls) ─▶ domain
//!                                                            └─ sdk (…Client) ◀─ Rust callers
//! ```
//!
//! Only `keyward-server` and `keyward-sdk` use these types (and the `keyward` binary, which
//! assembles the server's modules): the domain crates know none of them (the server converts).
//! Conversions to domain values that need no service live here as `From` impls (e.g. the Wallet
//! API's permissions to `keyward_primitives::mav2::Permission`).

pub mod bundler;
pub mod paymaster;
pub mod wallet;
