//! The Wallet API client: [`SmartWalletClient`] mirrors the official TypeScript SDK
//! (`request_account`, `grant_permissions`, `prepare_calls`, `sign_prepared_calls`,
//! `send_prepared_calls`, `send_calls`, `wait_for_calls_status`, `sign_message`,
//! `sign_typed_data`) over the `keyward_api::wallet` jsonrpsee client; [`PasskeySessionClient`]
//! sends a P-256 (passkey) session's calls (Keyward extension).

pub mod client;
mod endpoint;
pub mod error;
pub mod passkey;

pub use client::{
    Call, DEFAULT_STATUS_POLL, DEFAULT_STATUS_TIMEOUT, GrantPasskeyPermissions, GrantPermissions, SessionKey,
    SmartWalletClient,
};
pub use error::WalletClientError;
pub use passkey::{P256Signer, PasskeySessionClient};
