//! Keyward's compiled contracts: artifacts committed under `contracts/artifacts`, their bindings,
//! and the plan that places them on a development chain.
//!
//! Building the Rust code never needs Node: the artifacts are read at compile time.
//!
//! ```text
//!  contracts/*.sol ─solc (npm, pinned)─▶ contracts/artifacts/*.json ─include─▶ artifacts (ABI, code)
//!                                                                           ├─▶ bindings (sol!)
//!  deployment: CREATE2 through the deterministic deployer ─▶ Deployment (addresses) ─▶ chain::deploy
//!  plan: the same stack placed in a dev chain's genesis
//! ```
//!
//! - [`artifacts`]: the compiled contracts (ABI, creation and runtime code).
//! - [`bindings`]: their `sol!` bindings.
//! - [`deployment`]: the account stack's deterministic addresses on any chain.
//! - [`plan`]: where the contracts live on a development chain, and the code placed there.

pub mod artifacts;
pub mod bindings;
pub mod deployment;
pub mod plan;

pub use artifacts::Artifact;
pub use deployment::{DETERMINISTIC_DEPLOYER, Deployment};
pub use plan::{Placement, dev_placements};
