//! How chain errors become JSON-RPC errors (the codes geth and anvil use, so clients decode them).

use alloy::hex;
use jsonrpsee::types::ErrorObjectOwned;
use keyward_chain::ChainError;

/// JSON-RPC code of an execution revert (geth): message "execution reverted", data = revert bytes.
pub const EXECUTION_REVERTED: i32 = 3;
/// Invalid method parameters.
pub const INVALID_PARAMS: i32 = -32602;
/// Internal error.
pub const INTERNAL_ERROR: i32 = -32603;
/// Generic server error (geth uses it for rejected transactions).
pub const SERVER_ERROR: i32 = -32000;

/// Converts a chain error into its JSON-RPC error object.
pub fn chain_error(e: ChainError) -> ErrorObjectOwned {
    match &e {
        ChainError::Reverted { data, .. } => {
            ErrorObjectOwned::owned(EXECUTION_REVERTED, e.to_string(), Some(hex::encode_prefixed(data)))
        }
        ChainError::InvalidParams(_) => ErrorObjectOwned::owned::<()>(INVALID_PARAMS, e.to_string(), None),
        ChainError::InvalidTransaction(_) | ChainError::Halted(_) | ChainError::BlockNotAvailable(_) => {
            ErrorObjectOwned::owned::<()>(SERVER_ERROR, e.to_string(), None)
        }
        ChainError::Transport(_) | ChainError::Storage(_) | ChainError::Internal(_) => {
            ErrorObjectOwned::owned::<()>(INTERNAL_ERROR, e.to_string(), None)
        }
    }
}

/// An invalid-params error with a precise message.
pub fn invalid_params(msg: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned::<()>(INVALID_PARAMS, msg.into(), None)
}
