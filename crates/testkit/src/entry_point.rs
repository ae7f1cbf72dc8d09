//! Decoding what the EntryPoint says: its custom errors and its events.

use alloy::primitives::{Bytes, U256};
use alloy::rpc::types::TransactionReceipt;
use alloy::sol_types::{SolError, SolEventInterface, SolInterface};
use keyward_primitives::entry_point::IEntryPoint::{IEntryPointErrors, IEntryPointEvents};

/// An EntryPoint revert, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EpError {
    /// `FailedOp(opIndex, reason)`.
    FailedOp {
        /// Index of the failing op in the bundle.
        index: U256,
        /// The AAxx reason.
        reason: String,
    },
    /// `FailedOpWithRevert(opIndex, reason, inner)`.
    FailedOpWithRevert {
        /// Index of the failing op in the bundle.
        index: U256,
        /// The AAxx reason.
        reason: String,
        /// Revert data of the account or paymaster (at most 2048 bytes).
        inner: Bytes,
    },
    /// `Error(string)` (AA90–AA96 and the stake/deposit messages).
    Message(String),
    /// Another EntryPoint error (e.g. `PostOpReverted`, `SenderAddressResult`).
    Other(IEntryPointErrors),
    /// Data no EntryPoint error matches.
    Unknown(Bytes),
}

impl EpError {
    /// The AA reason string, when this is a failed op.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::FailedOp { reason, .. } | Self::FailedOpWithRevert { reason, .. } => Some(reason),
            _ => None,
        }
    }
}

/// Decodes revert data returned by an EntryPoint call.
pub fn decode_ep_error(data: &[u8]) -> EpError {
    if let Ok(e) = IEntryPointErrors::abi_decode(data) {
        return match e {
            IEntryPointErrors::FailedOp(f) => EpError::FailedOp { index: f.opIndex, reason: f.reason },
            IEntryPointErrors::FailedOpWithRevert(f) => {
                EpError::FailedOpWithRevert { index: f.opIndex, reason: f.reason, inner: f.inner }
            }
            other => EpError::Other(other),
        };
    }
    if let Ok(msg) = alloy::sol_types::Revert::abi_decode(data) {
        return EpError::Message(msg.reason);
    }
    EpError::Unknown(Bytes::copy_from_slice(data))
}

/// Every EntryPoint event in `receipt`, in log order (logs of other contracts skipped).
pub fn ep_events(receipt: &TransactionReceipt, ep: alloy::primitives::Address) -> Vec<IEntryPointEvents> {
    receipt
        .inner
        .logs()
        .iter()
        .filter(|l| l.address() == ep)
        .filter_map(|l| IEntryPointEvents::decode_log(&l.inner).ok().map(|d| d.data))
        .collect()
}
