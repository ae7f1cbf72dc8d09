//! Decoding what the EntryPoint reverts with: `FailedOp`, `FailedOpWithRevert`, `Error(string)`.

use alloy::primitives::{Bytes, U256};
use alloy::sol_types::{SolError, SolInterface};

use crate::entry_point::IEntryPoint::IEntryPointErrors;

/// An EntryPoint revert, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryPointRevert {
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

impl EntryPointRevert {
    /// Decodes revert data returned by an EntryPoint call.
    pub fn decode(data: &[u8]) -> Self {
        if let Ok(e) = IEntryPointErrors::abi_decode(data) {
            return match e {
                IEntryPointErrors::FailedOp(f) => Self::FailedOp { index: f.opIndex, reason: f.reason },
                IEntryPointErrors::FailedOpWithRevert(f) => {
                    Self::FailedOpWithRevert { index: f.opIndex, reason: f.reason, inner: f.inner }
                }
                other => Self::Other(other),
            };
        }
        if let Ok(msg) = alloy::sol_types::Revert::abi_decode(data) {
            return Self::Message(msg.reason);
        }
        Self::Unknown(Bytes::copy_from_slice(data))
    }

    /// The AA reason string, when this is a failed op.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::FailedOp { reason, .. } | Self::FailedOpWithRevert { reason, .. } => Some(reason),
            _ => None,
        }
    }

    /// A one-line description for error messages.
    pub fn describe(&self) -> String {
        match self {
            Self::FailedOp { reason, .. } => reason.clone(),
            Self::FailedOpWithRevert { reason, inner, .. } => {
                if inner.is_empty() {
                    return reason.clone();
                }
                match alloy::sol_types::Revert::abi_decode(inner) {
                    Ok(r) => format!("{reason}: {}", r.reason),
                    Err(_) => format!("{reason} (revert data {inner})"),
                }
            }
            Self::Message(m) => m.clone(),
            Self::Other(e) => format!("{e:?}"),
            Self::Unknown(d) if d.is_empty() => "reverted without data".to_string(),
            Self::Unknown(d) => format!("reverted with {d}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry_point::IEntryPoint;

    #[test]
    fn decodes_failed_op_and_error_string() {
        let data =
            IEntryPoint::FailedOp { opIndex: U256::from(2), reason: "AA25 invalid account nonce".into() }.abi_encode();
        let d = EntryPointRevert::decode(&data);
        assert_eq!(d.reason(), Some("AA25 invalid account nonce"));
        assert!(matches!(d, EntryPointRevert::FailedOp { index, .. } if index == U256::from(2)));
        let data = alloy::sol_types::Revert::from("AA90 invalid beneficiary").abi_encode();
        assert_eq!(EntryPointRevert::decode(&data), EntryPointRevert::Message("AA90 invalid beneficiary".into()));
        assert_eq!(EntryPointRevert::decode(&[]).describe(), "reverted without data");
    }
}
