//! The JSON the wallet keeps in its records (`calls_json`, `authorization_json`,
//! `permissions_json`): the same text it has always stored, so existing records still read.

use alloy::eips::eip7702::Authorization;
use alloy::primitives::{Address, Bytes, U64, U256};
use keyward_primitives::mav2::permissions::{ArgumentCondition, ConditionOp, Period};
use keyward_primitives::mav2::{P256PublicKey, Permission, Selector, SessionKey};
use keyward_store::wallet::{SessionKeyRecord, SessionRecord};
use serde::{Deserialize, Serialize};

use crate::error::{WalletError, WalletResult};
use crate::types::Call;

fn checksum<S: serde::Serializer>(a: &Address, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&a.to_checksum(None))
}

#[derive(Serialize, Deserialize)]
struct StoredCall {
    #[serde(serialize_with = "checksum")]
    to: Address,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data: Option<Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<U256>,
}

/// The stored text of `calls`.
pub(crate) fn calls_json(calls: &[Call]) -> WalletResult<String> {
    let stored: Vec<StoredCall> =
        calls.iter().map(|c| StoredCall { to: c.to, data: c.data.clone(), value: c.value }).collect();
    serde_json::to_string(&stored).map_err(|e| WalletError::Internal(e.to_string()))
}

/// The calls of a stored text.
pub(crate) fn calls(json: &str) -> WalletResult<Vec<Call>> {
    let stored: Vec<StoredCall> =
        serde_json::from_str(json).map_err(|e| WalletError::Internal(format!("stored calls: {e}")))?;
    Ok(stored.into_iter().map(|c| Call { to: c.to, data: c.data, value: c.value }).collect())
}

#[derive(Serialize, Deserialize)]
struct StoredAuthorization {
    #[serde(serialize_with = "checksum")]
    address: Address,
    nonce: U64,
}

/// The stored text of an authorization (its target and nonce; the chain is the record's).
pub(crate) fn authorization_json(a: &Authorization) -> WalletResult<String> {
    serde_json::to_string(&StoredAuthorization { address: a.address, nonce: U64::from(a.nonce) })
        .map_err(|e| WalletError::Internal(e.to_string()))
}

/// The authorization of a stored text, on `chain_id`.
pub(crate) fn authorization(json: &str, chain_id: u64) -> WalletResult<Authorization> {
    let a: StoredAuthorization =
        serde_json::from_str(json).map_err(|e| WalletError::Internal(format!("stored authorization: {e}")))?;
    Ok(Authorization { chain_id: U256::from(chain_id), address: a.address, nonce: a.nonce.to() })
}

/// A permission as stored: `{ type, data }` with kebab-case types and minimal-hex amounts.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "kebab-case")]
enum StoredPermission {
    Root,
    NativeTokenTransfer {
        allowance: U256,
    },
    #[serde(rename = "erc20-token-transfer")]
    Erc20TokenTransfer {
        address: Address,
        allowance: U256,
    },
    GasLimit {
        limit: U256,
    },
    ContractAccess {
        address: Address,
    },
    AccountFunctions {
        functions: Vec<Selector>,
    },
    FunctionsOnAllContracts {
        functions: Vec<Selector>,
    },
    FunctionsOnContract {
        address: Address,
        functions: Vec<Selector>,
    },
    NativeTokenPeriodic {
        allowance: U256,
        period: u64,
        start: Option<u64>,
    },
    #[serde(rename = "erc20-token-periodic")]
    Erc20TokenPeriodic {
        address: Address,
        allowance: U256,
        period: u64,
        start: Option<u64>,
    },
    CallLimit {
        count: u32,
        period: Option<u64>,
        start: Option<u64>,
    },
    FunctionArguments {
        address: Address,
        function: Selector,
        conditions: Vec<StoredCondition>,
    },
}

/// An argument condition as stored.
#[derive(Serialize, Deserialize)]
struct StoredCondition {
    arg: u8,
    op: u8,
    values: Vec<alloy::primitives::B256>,
}

fn op_of(code: u8) -> ConditionOp {
    match code {
        0 => ConditionOp::Eq,
        1 => ConditionOp::OneOf,
        2 => ConditionOp::Lte,
        _ => ConditionOp::Gte,
    }
}

impl From<&Permission> for StoredPermission {
    fn from(p: &Permission) -> Self {
        match p.clone() {
            Permission::Root => Self::Root,
            Permission::NativeTokenTransfer { allowance } => Self::NativeTokenTransfer { allowance },
            Permission::Erc20TokenTransfer { address, allowance } => Self::Erc20TokenTransfer { address, allowance },
            Permission::GasLimit { limit } => Self::GasLimit { limit },
            Permission::ContractAccess { address } => Self::ContractAccess { address },
            Permission::AccountFunctions { functions } => Self::AccountFunctions { functions },
            Permission::FunctionsOnAllContracts { functions } => Self::FunctionsOnAllContracts { functions },
            Permission::FunctionsOnContract { address, functions } => Self::FunctionsOnContract { address, functions },
            Permission::NativeTokenPeriodic { allowance, period } => {
                Self::NativeTokenPeriodic { allowance, period: period.length, start: period.start }
            }
            Permission::Erc20TokenPeriodic { address, allowance, period } => {
                Self::Erc20TokenPeriodic { address, allowance, period: period.length, start: period.start }
            }
            Permission::CallLimit { count, period } => {
                Self::CallLimit { count, period: period.map(|p| p.length), start: period.and_then(|p| p.start) }
            }
            Permission::FunctionArguments { address, function, conditions } => Self::FunctionArguments {
                address,
                function,
                conditions: conditions
                    .into_iter()
                    .map(|c| StoredCondition { arg: c.arg, op: c.op.code(), values: c.values })
                    .collect(),
            },
        }
    }
}

impl From<StoredPermission> for Permission {
    fn from(p: StoredPermission) -> Self {
        match p {
            StoredPermission::Root => Self::Root,
            StoredPermission::NativeTokenTransfer { allowance } => Self::NativeTokenTransfer { allowance },
            StoredPermission::Erc20TokenTransfer { address, allowance } => {
                Self::Erc20TokenTransfer { address, allowance }
            }
            StoredPermission::GasLimit { limit } => Self::GasLimit { limit },
            StoredPermission::ContractAccess { address } => Self::ContractAccess { address },
            StoredPermission::AccountFunctions { functions } => Self::AccountFunctions { functions },
            StoredPermission::FunctionsOnAllContracts { functions } => Self::FunctionsOnAllContracts { functions },
            StoredPermission::FunctionsOnContract { address, functions } => {
                Self::FunctionsOnContract { address, functions }
            }
            StoredPermission::NativeTokenPeriodic { allowance, period, start } => {
                Self::NativeTokenPeriodic { allowance, period: Period { length: period, start } }
            }
            StoredPermission::Erc20TokenPeriodic { address, allowance, period, start } => {
                Self::Erc20TokenPeriodic { address, allowance, period: Period { length: period, start } }
            }
            StoredPermission::CallLimit { count, period, start } => {
                Self::CallLimit { count, period: period.map(|length| Period { length, start }) }
            }
            StoredPermission::FunctionArguments { address, function, conditions } => Self::FunctionArguments {
                address,
                function,
                conditions: conditions
                    .into_iter()
                    .map(|c| ArgumentCondition { arg: c.arg, op: op_of(c.op), values: c.values })
                    .collect(),
            },
        }
    }
}

/// The stored text of a session's permissions.
pub(crate) fn permissions_json(permissions: &[Permission]) -> WalletResult<String> {
    let stored: Vec<StoredPermission> = permissions.iter().map(StoredPermission::from).collect();
    serde_json::to_string(&stored).map_err(|e| WalletError::Internal(format!("permissions: {e}")))
}

/// The permissions of a stored text.
pub(crate) fn permissions(json: &str) -> WalletResult<Vec<Permission>> {
    let stored: Vec<StoredPermission> =
        serde_json::from_str(json).map_err(|e| WalletError::Internal(format!("stored permissions: {e}")))?;
    Ok(stored.into_iter().map(Permission::from).collect())
}

/// A session key as the store keeps it.
pub(crate) fn key_record(key: &SessionKey) -> SessionKeyRecord {
    match key {
        SessionKey::Secp256k1(a) => SessionKeyRecord::Secp256k1(*a),
        SessionKey::P256(k) => SessionKeyRecord::P256(k.xy()),
    }
}

/// The key of a stored session (a stored P-256 key must still be a point of the curve).
pub(crate) fn session_key(session: &SessionRecord) -> WalletResult<SessionKey> {
    match &session.key {
        SessionKeyRecord::Secp256k1(a) => Ok(SessionKey::Secp256k1(*a)),
        SessionKeyRecord::P256(xy) => P256PublicKey::from_slice(xy)
            .map(SessionKey::P256)
            .map_err(|e| WalletError::Internal(format!("stored session {}: {e}", Bytes::from(session.id.to_vec())))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_text_is_the_one_always_stored() {
        let calls = vec![
            Call { to: Address::with_last_byte(0xab), data: None, value: None },
            Call { to: Address::with_last_byte(1), data: Some(Bytes::from(vec![1, 2])), value: Some(U256::from(10)) },
        ];
        let json = calls_json(&calls).unwrap();
        assert_eq!(
            json,
            r#"[{"to":"0x00000000000000000000000000000000000000AB"},{"to":"0x0000000000000000000000000000000000000001","data":"0x0102","value":"0xa"}]"#
        );
        assert_eq!(super::calls(&json).unwrap(), calls);
        let permissions = vec![
            Permission::Root,
            Permission::GasLimit { limit: U256::from(255) },
            Permission::FunctionsOnContract {
                address: Address::with_last_byte(1),
                functions: vec![Selector::new([1, 2, 3, 4])],
            },
        ];
        let json = permissions_json(&permissions).unwrap();
        assert_eq!(
            json,
            r#"[{"type":"root"},{"type":"gas-limit","data":{"limit":"0xff"}},{"type":"functions-on-contract","data":{"address":"0x0000000000000000000000000000000000000001","functions":["0x01020304"]}}]"#
        );
        assert_eq!(super::permissions(&json).unwrap(), permissions);
        let auth = Authorization { chain_id: U256::from(7), address: Address::with_last_byte(2), nonce: 5 };
        let json = authorization_json(&auth).unwrap();
        assert_eq!(json, r#"{"address":"0x0000000000000000000000000000000000000002","nonce":"0x5"}"#);
        assert_eq!(authorization(&json, 7).unwrap(), auth);
    }
}
