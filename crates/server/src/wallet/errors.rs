//! Wallet errors as JSON-RPC errors (wallet-api.md §9): the code of each refusal, its message (a
//! bundler's refusal worded here, the custom error inside its revert data named), and its `data`.

use jsonrpsee::types::ErrorObjectOwned;
use keyward_api::wallet::codes;
use keyward_wallet::WalletError;
use keyward_wallet::error::simulation_prefix;

use crate::bundler::reject_code;

/// The JSON-RPC code of a wallet error (wallet-api.md §9).
pub fn error_code(e: &WalletError) -> i32 {
    match e {
        WalletError::InvalidParams(_) => codes::INVALID_PARAMS,
        WalletError::UnsupportedChain { .. } => codes::UNSUPPORTED_CHAIN,
        WalletError::UnsupportedCapability(_) => codes::UNSUPPORTED_CAPABILITY,
        WalletError::UnknownCallId(_) => codes::UNKNOWN_BUNDLE_ID,
        WalletError::Rejected(_)
        | WalletError::Bundler { .. }
        | WalletError::PolicyRejected { .. }
        | WalletError::Busy(_) => codes::INVALID_INPUT,
        WalletError::Internal(_) => codes::INTERNAL,
    }
}

/// The message of a wallet error: a bundler's refusal with the custom error inside its revert
/// data named (`… (revert data 0x…: Name(args))`), every other error as it reads.
pub fn message(e: &WalletError) -> String {
    match e {
        WalletError::Bundler { reason, simulation } => {
            format!("{}{}", simulation_prefix(simulation), super::revert::explain(reason))
        }
        other => other.to_string(),
    }
}

/// A wallet error as its JSON-RPC error object: the bundler's code in `data.bundlerCode` when the
/// bundler refused, `data: {policyId, reason}` for a gas policy's refusal.
pub fn rpc_error(e: &WalletError) -> ErrorObjectOwned {
    let data = match e {
        WalletError::Bundler { reason, .. } => Some(serde_json::json!({ "bundlerCode": reject_code(reason) })),
        WalletError::PolicyRejected { policy_id, reason, .. } => {
            Some(serde_json::json!({ "policyId": policy_id, "reason": reason }))
        }
        _ => None,
    };
    ErrorObjectOwned::owned(error_code(e), message(e), data)
}
