//! Modular Account V2 (ERC-6900 v0.8) formats over ERC-4337 v0.7 (`shared/spec/account-formats.md`).
//!
//! - [`ids`]: `ModuleEntity`, `ValidationConfig`, `HookConfig`, the validation locator.
//! - [`nonce`]: the nonce key that selects the validation.
//! - [`signature`]: user-op, runtime and ERC-1271 signature layouts, the ReplaySafeHash.
//! - [`abi`]: `sol!` bindings of the account, factory and module functions.
//! - [`modules`]: module addresses and `onInstall` data; hook entries.
//! - [`install`]: `installValidation` / `uninstallValidation` calldata.
//! - [`permissions`]: session permissions (kinds, rules, compilation to `installValidation`, context).
//! - [`deferred`]: deferred actions (EIP-712 typed data, signature prefix, SDK hand-off blobs).
//! - [`factory`]: the Semi-Modular Account factory call and `initCode`.
//! - [`session_key`]: a session's key, secp256k1 or P-256 (passkey), and the P-256 signature rules.
//! - [`scope`]: the scope precheck of calls against a session's permissions.

pub mod abi;
pub mod deferred;
pub mod factory;
pub mod ids;
pub mod install;
pub mod modules;
pub mod nonce;
pub mod permissions;
pub mod scope;
pub mod session_key;
pub mod signature;

pub use deferred::{DeferredAction, DeferredActionPrefix};
pub use ids::{HookConfig, ModuleEntity, ValidationConfig, ValidationLocator};
pub use install::{InstallValidation, Selector, UninstallValidation};
pub use modules::{HookInstall, ModuleAddresses};
pub use nonce::NonceKey;
pub use permissions::{CompiledSession, Permission, PermissionError, SessionRequest};
pub use session_key::{P256PublicKey, SessionKey};
pub use signature::{HookSegment, ReplaySafeDomain, SignerType};
