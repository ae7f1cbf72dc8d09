//! The Wallet API service (../shared/spec/wallet-api.md) over Keyward's modular accounts.
//!
//! ```text
//!  prepare: account → session (scope, install?) → nonce (lease) → op → pool.estimate → sponsor
//!           → PreparedRecord (store)
//!  send:    PreparedRecord + signatures → account signature → pool.submit → CallRecord (store)
//!  status:  CallRecord → pool.state (its stored outcome)
//! ```
//!
//! It sees the chain through `keyward_chain::Chain`, keeps its records in `keyward_store`, hands
//! operations to a bundler only through `keyward_bundler::pool::OperationPool`, and asks for gas
//! sponsorship only through its own [`Sponsor`] trait. It takes and answers the domain values of
//! [`types`]; its JSON-RPC face, and the conversion from and to the Wallet API's JSON, are
//! `keyward-server`'s.
//!
//! - [`accounts`] — `wallet_requestAccount`, `wallet_listAccounts` (counterfactual accounts, 7702).
//! - [`sessions`] — `wallet_createSession` and the `permissions` capability (deferred install,
//!   owner signature, expiry, scope precheck, first use).
//! - [`prepare`] — `wallet_prepareCalls` (user operation or `[authorization, user operation]`);
//!   `nonces` — which nonce it gets, so calls work back to back and in parallel.
//! - [`send`] — `wallet_sendPreparedCalls` (signature assembly, submission to the bundler).
//! - [`status`] — `wallet_getCallsStatus`.
//! - [`sign`] — `wallet_prepareSign`, `wallet_formatSign` (ERC-1271, ERC-6492).
//! - [`capabilities`] — `wallet_getCapabilities`.
//! - [`types`] — the requests and answers of those methods.
//! - [`error`] — why a request fails (its JSON-RPC face is `keyward-server`'s).
//! - `records` — the JSON of the wallet's stored records.

// The unit-test build also sees the dev-dependencies of the integration tests.
#![cfg_attr(test, allow(unused_crate_dependencies))]

pub mod accounts;
mod calls;
pub mod capabilities;
pub mod config;
pub mod error;
pub mod manage;
mod memo;
mod nonces;
pub mod prepare;
mod records;
pub mod send;
pub mod service;
pub mod sessions;
pub mod sign;
pub mod status;
pub mod types;

pub use config::{Sponsor, SponsorError, SponsorQuote, WalletConfig};
pub use error::{WalletError, WalletResult};
pub use service::{ResolvedAccount, Wallet};
