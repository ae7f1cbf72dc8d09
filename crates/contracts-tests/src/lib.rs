//! Tests only: the contract suites live in `tests/` (EntryPoint flows and failures, the differential
//! run against the canonical EntryPoint, accounts and modules, the verifying paymaster), built on
//! the `keyward-testkit` harness. This library is empty.

// The unit-test build also sees the dev-dependencies of the integration tests.
#![cfg_attr(test, allow(unused_crate_dependencies))]
