//! Wire types and JSON-RPC traits of Keyward's APIs, exactly as clients send and expect them.
//!
//! Today: the ERC-4337 bundler RPC (ERC-7769) in [`bundler`].

#![warn(missing_docs)]

pub mod bundler;
