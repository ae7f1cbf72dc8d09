//! Test harness shared by Keyward's test suites and benchmarks: a chain with funded keys, contract
//! deployment, plain transactions, and `handleOps` with decoded EntryPoint errors and events.
//!
//! Not part of the product: tests and benches only. Panics on failure are the point here.

// The unit-test build also sees the dev-dependencies of the integration tests.
#![cfg_attr(test, allow(unused_crate_dependencies))]

pub mod conformance;
pub mod entry_point;
pub mod harness;
pub mod mav2;
pub mod ops;
pub mod wallet;

pub use entry_point::{EpError, decode_ep_error, ep_events};
pub use harness::Harness;
