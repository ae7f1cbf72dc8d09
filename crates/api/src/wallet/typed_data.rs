//! EIP-712 typed data in the Wallet API's wire form (wallet-api.md §2.3): `domain.chainId` is a JSON
//! number, integers in `message` may be numbers or (hex) strings.

use std::collections::BTreeMap;

use alloy::primitives::{Address, B256};
use alloy_dyn_abi::TypedData as AlloyTypedData;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

use super::hex::strict_opt;

/// Why typed data cannot be hashed.
#[derive(Debug, thiserror::Error)]
#[error("typed data cannot be hashed: {0}")]
pub struct TypedDataError(pub String);

/// The EIP-712 domain; every field optional, `chainId` a JSON number.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypedDataDomain {
    /// Domain name.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub name: Option<String>,
    /// Domain version.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub version: Option<String>,
    /// Chain id, a JSON number (a numeric string is tolerated in requests).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "chain_id_number")]
    pub chain_id: Option<u64>,
    /// Verifying contract.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "strict_opt",
        serialize_with = "super::checksum_opt"
    )]
    pub verifying_contract: Option<Address>,
    /// Salt.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "strict_opt")]
    pub salt: Option<B256>,
}

fn chain_id_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumOrStr {
        Num(u64),
        Str(String),
    }
    match Option::<NumOrStr>::deserialize(d)? {
        None => Err(D::Error::custom("domain.chainId must be a number, not null")),
        Some(NumOrStr::Num(n)) => Ok(Some(n)),
        Some(NumOrStr::Str(s)) => {
            let parsed = match s.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16).ok(),
                None => s.parse().ok(),
            };
            parsed.map(Some).ok_or_else(|| D::Error::custom(format!("domain.chainId {s:?} is not a chain id")))
        }
    }
}

/// One member of a struct type: `{ name, type }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypedDataField {
    /// Member name.
    pub name: String,
    /// Solidity type of the member.
    #[serde(rename = "type")]
    pub ty: String,
}

/// EIP-712 typed data as it travels in requests and responses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypedData {
    /// The domain (omitted when empty).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub domain: Option<TypedDataDomain>,
    /// Struct types by name (may include `EIP712Domain`).
    pub types: BTreeMap<String, Vec<TypedDataField>>,
    /// The struct type of `message`.
    pub primary_type: String,
    /// The message, free-form JSON.
    pub message: serde_json::Value,
}

impl TypedData {
    /// The same typed data as alloy's dynamic EIP-712 value (for hashing and signing).
    pub fn to_alloy(&self) -> Result<AlloyTypedData, TypedDataError> {
        let mut value = serde_json::to_value(self).map_err(|e| TypedDataError(e.to_string()))?;
        if value.get("domain").is_none() {
            value["domain"] = serde_json::json!({});
        }
        serde_json::from_value(value).map_err(|e| TypedDataError(e.to_string()))
    }

    /// The EIP-712 digest (`keccak256(0x1901 ‖ domainSeparator ‖ hashStruct(message))`), as viem and
    /// `eth_signTypedData_v4` compute it.
    pub fn signing_hash(&self) -> Result<B256, TypedDataError> {
        self.to_alloy()?.eip712_signing_hash().map_err(|e| TypedDataError(e.to_string()))
    }
}
