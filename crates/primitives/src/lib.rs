//! Pure building blocks of Keyward: no I/O (reading the clock in [`time`] aside), only types,
//! encodings and hashes.
//!
//! ```text
//!  Permission[] ─ mav2::permissions (check, compile) ─▶ CompiledSession ─▶ installValidation call
//!                                                            └─▶ DeferredAction ─▶ EIP-712 digest
//!  UserOperation ─ user_operation (pack) ─▶ PackedUserOperation ─▶ userOpHash (EntryPoint, chain)
//!        ▲ nonce (key ‖ sequence)     mav2::signature (owner / session key / deferred prefix)
//!  paymaster (VerifyingPaymaster hash, paymasterData)       eip7702 (designator, authority)
//! ```
//!
//! Everything above is used by the chain, the bundler, the wallet and the SDK alike; nothing here
//! knows a transport or a wire format.
//!
//! - [`user_operation`]: the ERC-4337 v0.7 user operation in its RPC and packed forms, and its hash.
//! - [`entry_point`]: the EntryPoint v0.7 ABI (functions, events, errors) and its constants.
//! - [`validation_data`]: the packed `validationData` word returned by accounts and paymasters.
//! - [`nonce`]: the 192-bit key / 64-bit sequence split of an ERC-4337 nonce.
//! - [`eip7702`]: the EIP-7702 delegation designator and authorization signer recovery.
//! - [`time`]: the wall clock in Unix seconds ([`unix_now`]).
//! - [`mav2`]: Modular Account V2 formats (ids, nonce keys, signatures, deferred actions, the
//!   permission compiler, account addresses).
//! - [`paymaster`]: the VerifyingPaymaster's signed hash, its `paymasterData` and estimation stub.
//! - [`entry_point_revert`]: what the EntryPoint reverts with (`FailedOp`, …), decoded.

// The unit-test build also sees the dev-dependencies of the integration tests.
#![cfg_attr(test, allow(unused_crate_dependencies))]

pub mod eip7702;
pub mod entry_point;
pub mod entry_point_revert;
pub mod mav2;
pub mod nonce;
pub mod paymaster;
pub mod time;
pub mod user_operation;
pub mod validation_data;

pub use entry_point::{ENTRY_POINT_V07, SENDER_CREATOR_V07};
pub use entry_point_revert::EntryPointRevert;
pub use time::unix_now;
pub use user_operation::{FactoryInit, PackedUserOperation, PaymasterInit, UserOperation};
pub use validation_data::ValidationData;
