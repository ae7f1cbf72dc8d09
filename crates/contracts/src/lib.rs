//! Keyward's compiled contracts: artifacts committed under `contracts/artifacts`, their bindings,
//! and the plan that places them on a development chain.
//!
//! Building the Rust code never needs Node: the artifacts are read at compile time.

pub mod artifacts;
pub mod bindings;
pub mod deployment;
pub mod plan;

pub use artifacts::Artifact;
pub use deployment::{DETERMINISTIC_DEPLOYER, Deployment};
pub use plan::{Placement, dev_placements};
