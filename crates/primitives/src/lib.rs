//! Pure building blocks of Keyward: no I/O, only types, encodings and hashes.
//!
//! - [`user_operation`]: the ERC-4337 v0.7 user operation in its RPC and packed forms, and its hash.
//! - [`entry_point`]: the EntryPoint v0.7 ABI (functions, events, errors) and its constants.
//! - [`validation_data`]: the packed `validationData` word returned by accounts and paymasters.

#![warn(missing_docs)]

pub mod entry_point;
pub mod entry_point_revert;
pub mod mav2;
pub mod paymaster;
pub mod user_operation;
pub mod validation_data;

pub use entry_point::{ENTRY_POINT_V07, SENDER_CREATOR_V07};
pub use entry_point_revert::EntryPointRevert;
pub use user_operation::{FactoryInit, PackedUserOperation, PaymasterInit, UserOperation};
pub use validation_data::ValidationData;
