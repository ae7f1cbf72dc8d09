//! Keyward's ERC-4337 bundler (EntryPoint v0.7): one chain, one EntryPoint, one bundler key.
//!
//! ```text
//!  Submission ─▶ admit: check_authorization, nonce assumption, validation (simulation, ERC-7562)
//!                  │                                   └─ refusal: RejectReason (typed)
//!                  ▼
//!            durable mempool (keyward_store) ─▶ bundle: re-validate, whole-bundle eth_call
//!                                                  ▼
//!                                            submit: sign, record, send ─▶ tracker: receipts,
//!                                            replacements, reorgs ─▶ OpOutcome per operation
//! ```
//!
//! - [`submission`]: what is handed in and stored ([`Submission`]), the [`BundlingMode`].
//! - [`validation`], [`simulation`], [`erc7562`], [`gas`]: the checks before admission.
//! - [`estimate`]: gas limits by simulation.
//! - [`service`]: [`Bundler`] — admission and bundling; [`bundle`], [`submit`], [`tracker`].
//! - [`mempool_rules`], [`reputation`]: the ERC-7562 rules across operations (STO-040/041,
//!   COD-010, EREP-010) and the entities' reputation (GREP, UREP, EREP).
//! - [`receipt`]: an operation's receipt and stored outcome.
//! - [`queries`]: what the bundler answers about its operations (for the RPC edge).
//! - [`pool`]: [`pool::OperationPool`], the boundary the wallet service talks to.
//! - [`lease`]: the roles one replica at a time performs (bundling with a key, watching a chain),
//!   held through fenced leases and shared between replicas.
//! - [`watch`]: [`watch::ChainWatcher`] — reads the chain forward from a stored cursor: inclusions,
//!   reorgs, and the events the sponsorship ledger settles from.
//!
//! The JSON-RPC face (ERC-7769 methods, codes) lives in `keyward-server`.

// The unit-test build also sees the dev-dependencies of the integration tests.
#![cfg_attr(test, allow(unused_crate_dependencies))]

pub mod bundle;
pub mod erc7562;
pub mod error;
pub mod estimate;
pub mod fees;
pub mod gas;
pub mod lease;
pub mod mempool_rules;
pub mod pool;
pub mod queries;
pub mod receipt;
pub mod reputation;
pub mod service;
pub mod simulation;
pub mod submission;
pub mod submit;
pub mod tracker;
pub mod validation;
pub mod watch;

pub use error::{ExecutionRevert, RejectReason};
pub use service::{Bundler, BundlerConfig};
pub use submission::{BundlingMode, Submission};
pub use validation::{ValidationConfig, ValidationOutcome, validate_user_op};
