//! Keyward's ERC-4337 bundler (EntryPoint v0.7).
//!
//! Today: [`simulation`] (the EntryPoint's simulation entry points through a state override on any
//! [`keyward_chain::Chain`]) and [`validation`] (the checks an operation must pass before it enters
//! the mempool), with [`RejectReason`] carrying the ERC-7769 error codes.

pub mod bundle;
pub mod erc7562;
pub mod error;
pub mod estimate;
pub mod gas;
pub mod pool;
pub mod queries;
pub mod receipt;
pub mod service;
pub mod simulation;
pub mod submission;
pub mod submit;
pub mod tracker;
pub mod validation;

pub use error::{ExecutionRevert, RejectReason};
pub use service::{Bundler, BundlerConfig};
pub use submission::{BundlingMode, Submission};
pub use validation::{ValidationConfig, ValidationOutcome, validate_user_op};
