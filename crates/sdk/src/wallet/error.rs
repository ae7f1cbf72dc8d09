//! Errors of the Wallet API client.

use std::time::Duration;

use alloy::primitives::{B256, Bytes};
use jsonrpsee::core::client::Error as RpcClientError;

use crate::bundler_client::rpc_error_parts;

/// What went wrong talking to a Wallet API server or signing what it asked for.
#[derive(Debug, thiserror::Error)]
pub enum WalletClientError {
    /// The URL is not a valid http(s) URL.
    #[error("invalid Wallet API url {url:?}: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// The server answered with a JSON-RPC error (-32602 bad params, -32000 refused, 5710 chain,
    /// 5730 unknown call id, …).
    #[error("wallet error {code}: {message}")]
    Rpc {
        /// JSON-RPC error code.
        code: i32,
        /// Error message.
        message: String,
        /// Error data, when present.
        data: Option<serde_json::Value>,
    },
    /// The request did not reach the server or its answer was unreadable.
    #[error("wallet transport: {0}")]
    Transport(String),
    /// The signer failed.
    #[error("signer: {0}")]
    Signer(String),
    /// What the server asks to sign does not match what the client computes from the same data
    /// (a wrong `rawPayload`, or a user-operation hash that is not the operation's).
    #[error("the server's signature request does not match its data: {0}")]
    Mismatch(String),
    /// A prepared call this client cannot sign (e.g. `paymaster-permit` outside `send_calls`, a user
    /// operation without a signature request).
    #[error("cannot sign: {0}")]
    NotSignable(String),
    /// The calls did not reach a final status in time.
    #[error("call {id} not final after {waited:?}")]
    Timeout {
        /// The call id.
        id: Bytes,
        /// How long it waited.
        waited: Duration,
    },
}

impl WalletClientError {
    /// The JSON-RPC error code, when the server answered with an error.
    pub fn code(&self) -> Option<i32> {
        match self {
            Self::Rpc { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub(crate) fn mismatch_digest(what: &str, expected: B256, got: B256) -> Self {
        Self::Mismatch(format!("{what}: rawPayload {got} but the data hashes to {expected}"))
    }
}

impl From<RpcClientError> for WalletClientError {
    fn from(e: RpcClientError) -> Self {
        match rpc_error_parts(e) {
            Ok((code, message, data)) => Self::Rpc { code, message, data },
            Err(transport) => Self::Transport(transport),
        }
    }
}

impl From<alloy::signers::Error> for WalletClientError {
    fn from(e: alloy::signers::Error) -> Self {
        Self::Signer(e.to_string())
    }
}
