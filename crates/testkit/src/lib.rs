//! Test harness shared by Keyward's test suites and benchmarks: a chain with funded keys, contract
//! deployment, plain transactions, and `handleOps` with decoded EntryPoint errors and events.
//!
//! Not part of the product: tests and benches only. Panics on failure are the point here.
//!
//! ```text
//!  Harness (EmbeddedChain | anvil, funded keys) ─▶ deploy contracts ─▶ ops (build, sign) ─▶ handleOps
//!       └─▶ entry_point (decoded errors, events)   mav2 (sessions, permissions)   wallet (sign_prepared)
//! ```
//!
//! - [`harness`]: the chain and its keys; [`ops`]: user operations; [`entry_point`]: `handleOps`.
//! - [`mav2`]: account and session-key helpers; [`conformance`]: the canonical EntryPoint as an
//!   oracle for the conformance suites.
//! - `wallet` (feature `wallet-api`): signing Wallet API answers as the official SDK does. The
//!   feature also brings the sessions compiled from Wallet-API permission JSON (`mav2::permissions`,
//!   `Mav2::compile`, `Mav2::session`); it pulls in keyward-api, so only the suites of the edge and
//!   of the contracts turn it on.

// The unit-test build also sees the dev-dependencies of the integration tests.
#![cfg_attr(test, allow(unused_crate_dependencies))]

pub mod conformance;
pub mod entry_point;
pub mod harness;
pub mod mav2;
pub mod ops;
#[cfg(feature = "sponsorship")]
pub mod sponsorship;
#[cfg(feature = "wallet-api")]
pub mod wallet;

pub use entry_point::{EpError, decode_ep_error, ep_events};
pub use harness::Harness;
