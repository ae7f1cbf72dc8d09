//! Gas sponsorship for Keyward: the verifying paymaster's signer, sponsorship policies (from a
//! TOML file or the store), the spend ledger (reserve at prepare, settle from the receipt, release
//! on failure or expiry; atomic under concurrency). Its JSON-RPC face (ERC-7677 `pm_*`) lives in
//! `keyward-server`.
//!
//! ```text
//!  wallet (prepare) ─▶ wallet::WalletSponsor ─┐
//!  server (pm_*)     ─────────────────────────┴▶ Sponsor ─ policy (checks) ─▶ ledger reserve (store)
//!                                                   └─▶ VerifyingPaymaster signature ─▶ paymasterAndData
//!  bundler::watch::ChainWatcher (events from its cursor) ─▶ Sponsor (EventSink) ─▶ ledger settle / release
//! ```
//!
//! - [`policy`]: a policy and the checks an operation must pass.
//! - [`config`]: policies from TOML.
//! - [`sponsor`]: [`Sponsor`], the API the wallet and the RPC call.
//! - [`deposit`]: the contract's EntryPoint deposit and signer.
//! - [`amount`]: wei amounts as configuration writes them; [`targets`]: the contracts an account
//!   call reaches (what allowed-target policies check).
//! - [`dev`]: the sponsorship `keyward dev` starts with; [`wallet`]: the wallet's `Sponsor` seam.

// The unit-test build also sees the dev-dependencies of the integration tests.
#![cfg_attr(test, allow(unused_crate_dependencies))]
// Policy errors carry the amounts that explain them (a few U256); they are rare and cold.
#![allow(clippy::result_large_err)]

pub mod amount;
pub mod config;
pub mod deposit;
pub mod dev;
pub mod policy;
pub mod sponsor;
pub mod targets;
pub mod wallet;

pub use amount::Wei;
pub use policy::{Policy, PolicyError};
pub use sponsor::{Quote, Sponsor, SponsorConfig, SponsorError, SponsoredFields};
