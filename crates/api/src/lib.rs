//! Wire types and JSON-RPC traits of Keyward's APIs, exactly as clients send and expect them.
//!
//! The ERC-4337 bundler RPC (ERC-7769) in [`bundler`]; the Wallet API (`wallet_*`) in [`wallet`].

pub mod bundler;
pub mod paymaster;
pub mod wallet;
