//! `wallet_getCallsStatus` (wallet-api.md §3.6, §7): status codes, receipts, details.

use alloy::primitives::{Address, B256, Bytes, U64};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::calls::Call;
use super::hex::{HexBigInt, HexNumber};

/// A call status code, serialized as a JSON number (§7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusCode {
    /// 100: received, not yet executed onchain.
    Pending,
    /// 110: pre-confirmed.
    PreConfirmed,
    /// 115: pre-confirmation reverted completely.
    PreConfirmationReverted,
    /// 116: pre-confirmation reverted partially.
    PreConfirmationPartiallyReverted,
    /// 120: cross-chain, destination pending.
    CrossChainInProgress,
    /// 200: included without revert.
    Confirmed,
    /// 400: failed offchain, will not be retried.
    OffchainFailure,
    /// 410: cross-chain failed and refunded.
    CrossChainRefunded,
    /// 500: reverted completely (only gas effects onchain).
    Reverted,
    /// 600: reverted partially.
    PartiallyReverted,
}

impl StatusCode {
    /// Every code.
    pub const ALL: [StatusCode; 10] = [
        Self::Pending,
        Self::PreConfirmed,
        Self::PreConfirmationReverted,
        Self::PreConfirmationPartiallyReverted,
        Self::CrossChainInProgress,
        Self::Confirmed,
        Self::OffchainFailure,
        Self::CrossChainRefunded,
        Self::Reverted,
        Self::PartiallyReverted,
    ];

    /// The numeric code.
    pub const fn code(self) -> u16 {
        match self {
            Self::Pending => 100,
            Self::PreConfirmed => 110,
            Self::PreConfirmationReverted => 115,
            Self::PreConfirmationPartiallyReverted => 116,
            Self::CrossChainInProgress => 120,
            Self::Confirmed => 200,
            Self::OffchainFailure => 400,
            Self::CrossChainRefunded => 410,
            Self::Reverted => 500,
            Self::PartiallyReverted => 600,
        }
    }

    /// The code of a number, if it is one.
    pub fn from_code(code: u64) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() as u64 == code)
    }

    /// Whether `waitForCallsStatus` stops on it (200, or ≥ 300).
    pub const fn is_final(self) -> bool {
        let c = self.code();
        c == 200 || c >= 300
    }

    /// Whether it is a success (200–299).
    pub const fn is_success(self) -> bool {
        let c = self.code();
        c >= 200 && c < 300
    }
}

impl Serialize for StatusCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u16(self.code())
    }
}

impl<'de> Deserialize<'de> for StatusCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u64::deserialize(d)?;
        Self::from_code(n).ok_or_else(|| D::Error::custom(format!("unknown call status code {n}")))
    }
}

/// A log of a receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptLog {
    /// Emitter.
    #[serde(serialize_with = "super::checksum")]
    pub address: Address,
    /// Data.
    pub data: Bytes,
    /// Topics.
    pub topics: Vec<B256>,
}

/// A receipt of the transaction that included the calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallReceipt {
    /// Logs (may be filtered to the user operation).
    pub logs: Vec<ReceiptLog>,
    /// `0x1` success, `0x0` reverted.
    pub status: U64,
    /// Block hash.
    pub block_hash: B256,
    /// Block number.
    pub block_number: U64,
    /// Gas used.
    pub gas_used: HexBigInt,
    /// Transaction hash.
    pub transaction_hash: B256,
}

/// The bundle transaction a pending operation rides in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingBundle {
    /// Bundle transaction hash.
    pub tx_hash: B256,
    /// Block number when it was sent.
    pub sent_at_block: HexNumber,
}

/// `details.data` of a user-operation status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserOperationStatusData {
    /// The userOpHash.
    pub hash: B256,
    /// The calls.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub calls: Option<Vec<Call>>,
    /// The bundle it is in, while pending.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub pending_bundle: Option<PendingBundle>,
    /// Why the operation failed off chain (status 400): a Keyward extension the official SDK
    /// passes through untouched.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub failure: Option<String>,
}

/// `details` of a status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum StatusDetails {
    /// A user operation.
    #[serde(rename = "user-operation")]
    UserOperation {
        /// Hash, calls, pending bundle.
        data: UserOperationStatusData,
    },
    /// An authorization-only submission.
    #[serde(rename = "delegation", rename_all = "camelCase")]
    Delegation {
        /// The type-4 transaction.
        #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
        tx_hash: Option<B256>,
    },
}

/// `wallet_getCallsStatus` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallsStatus {
    /// The call id.
    pub id: Bytes,
    /// Chain.
    pub chain_id: HexNumber,
    /// `true` for user operations.
    pub atomic: bool,
    /// Status code.
    pub status: StatusCode,
    /// Receipts once onchain.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub receipts: Option<Vec<CallReceipt>>,
    /// What was submitted.
    pub details: StatusDetails,
    /// EIP-5792 version.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub version: Option<String>,
}
