//! The Wallet API served over HTTP on the embedded chain with the real account stack and bundler:
//! every method's happy path with its effect onchain, sessions in and out of scope, malformed
//! requests (precise error, no row left behind), idempotent retries.
//!
//! Here, at the edge, because it goes through the wire: `keyward_server::serve` and a jsonrpsee
//! HTTP client.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

mod backends;
mod concurrency;
mod durability;
mod env;
mod in_flight;
mod latency;
mod malformed;
mod manage;
mod owner;
mod passkeys;
mod restart;
mod rules;
mod sessions;
mod sign;
