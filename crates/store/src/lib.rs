//! Persistence for Keyward with sqlx: SQLite by default (a file, WAL, one writer connection, group
//! commit), PostgreSQL by URL, one code path through sqlx's `Any` driver and portable SQL; migrations
//! embedded and run on open.
//!
//! ```text
//!  bundler ─▶ mempool (ops, statuses) · bundles (sent transactions)  ┐
//!  wallet  ─▶ wallet (accounts, sessions, prepared ops, call ids)    ├─▶ Store ─▶ sqlx Any ─┬─ SQLite file
//!           · leases (nonce keys held between prepare and send)      │                      └─ PostgreSQL
//!  paymaster ─▶ sponsorship (reservations, spend per policy/sender)  ┘
//! ```
//!
//! - [`db`]: [`Store`], opening by URL and running the migrations, then the data conversions a
//!   migration leaves to Rust (`upgrade`: 0012's hex text → bytes, 0015's hex totals → limbs); its
//!   read and write pools.
//! - `durability`: the group commit behind [`Store::durable`] (one fsync of the SQLite WAL for
//!   every write finished before the call).
//! - `script`: the hot writes on SQLite (an admission, a sponsored prepare, a bundle sent and
//!   mined) in two trips to the writer's thread — every statement of the usual case in the first,
//!   checked, then the commit — instead of one trip per statement; any other case rolls back and
//!   takes the general path, the only path on PostgreSQL.
//! - [`mempool`], [`bundles`]: the bundler's durable mempool and its sent bundles.
//! - [`wallet`], [`leases`]: the wallet service's records and nonce leases.
//! - [`sponsorship`]: the sponsorship ledger; `amounts`: the wei amounts its totals add up in SQL.
//! - [`roles`]: leases of the roles one replica at a time performs, their fencing tokens, the
//!   chain cursors those roles read from, and replica heartbeats.
//! - [`error`]: each repository's error, all wrapping one [`DbError`] for a failed statement.
//! - `codec`, `packed`: how values are stored (bytes or hex text; JSON documents packed).

// The unit-test build also sees the dev-dependencies of the integration tests.
#![cfg_attr(test, allow(unused_crate_dependencies))]

mod amounts;
pub mod api_keys;
pub mod bundles;
pub mod claims;
mod codec;
pub mod db;
mod durability;
pub mod error;
pub mod leases;
pub mod mempool;
mod packed;
pub mod reputation;
pub mod roles;
mod script;
pub mod sponsorship;
mod upgrade;
pub mod wallet;

pub use api_keys::ApiKeyRecord;
pub use bundles::{BundleRecord, BundleStatus};
pub use db::{Backend, SQLITE_FILE_NAME, Store};
pub use durability::WAL_SYNCS;
pub use error::{DbError, MempoolError, StoreError};
pub use leases::NonceLease;
pub use mempool::{Admission, InsertOutcome, MinedOp, OpProgress, OpRecord, OpStatus};
pub use reputation::ReputationRecord;
pub use roles::{Acquire, Fence, RoleLease};
