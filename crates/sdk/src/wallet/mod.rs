//! The Wallet API client: [`SmartWalletClient`] mirrors the official TypeScript SDK
//! (`request_account`, `grant_permissions`, `prepare_calls`, `sign_prepared_calls`,
//! `send_prepared_calls`, `send_calls`, `wait_for_calls_status`, `sign_message`,
//! `sign_typed_data`) over the `keyward_api::wallet` jsonrpsee client.

pub mod client;
pub mod error;

pub use client::{Call, DEFAULT_STATUS_POLL, DEFAULT_STATUS_TIMEOUT, GrantPermissions, SessionKey, SmartWalletClient};
pub use error::WalletClientError;
