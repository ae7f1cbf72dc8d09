//! Session permissions (wallet-api.md §6.2) and their compilation to the `installValidation`
//! arguments of a session key (account-formats.md §11), byte-compatible with Alchemy's
//! `PermissionBuilder`, plus Keyward's stricter checks (§11.4, §13 R16–R18).
//!
//! ```text
//! kinds    Permission (domain values; the Wallet API's JSON is keyward-api's)
//!   │ rules: PermissionCompiler::check ── PermissionError
//!   ▼
//! CheckedPermissions { selectors, SessionHooks by kind }      (entity-independent)
//!   │ compile: SessionValidation::compile (hook placement, selectors)   ◄── SDK builder
//!   ▼
//! CompiledSession { InstallValidation, is_global, deadline } ──► DeferredAction, uninstall
//! ```
//!
//! [`PermissionsContext`] (context) is the `permissions.context` codec of a prepare.

mod compile;
mod context;
mod kinds;
mod rules;

pub use compile::{
    CompiledSession, PermissionCompiler, PermissionDeferredError, SessionHooks, SessionRequest, SessionValidation,
    TimeRange, offset_entity_id,
};
pub use context::{ContextError, PermissionsContext};
pub use kinds::{ArgumentCondition, ConditionOp, ERC20_APPROVE_SELECTOR, ERC20_TRANSFER_SELECTOR, Period, Permission};
pub use rules::{CheckedPermissions, PermissionError, forbidden_account_selectors, forbidden_wildcard_selectors};
