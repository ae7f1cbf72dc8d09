//! The Wallet API's permission objects `{ type, data }` (wallet-api.md §6.2): the wire form of
//! [`keyward_primitives::mav2::Permission`], with conversions both ways.
//!
//! Read as the SDK writes them: `type` kebab-case, `data` absent only for `root` (`null`
//! tolerated), unknown fields refused, `HexBigInt` amounts `0x` + at least one digit (written in
//! minimal lowercase). Addresses and selectors are read by alloy's serde; `wallet_createSession`
//! checks them strictly first (see `session.rs`).

use alloy::primitives::B256;
use alloy::primitives::{Address, U256};
use keyward_primitives::mav2::permissions::{ArgumentCondition, ConditionOp, Period};
use keyward_primitives::mav2::{Permission as DomainPermission, Selector};
use serde::{Deserialize, Serialize};

/// Wallet-API `HexBigInt`: `0x` + at least one hex digit on the wire, minimal lowercase when written.
mod hex_quantity {
    use alloy::primitives::U256;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(v: &U256, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v:#x}"))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<U256, D::Error> {
        let s = String::deserialize(d)?;
        let digits =
            s.strip_prefix("0x").ok_or_else(|| D::Error::custom("hex quantity must start with lowercase 0x"))?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(D::Error::custom("hex quantity needs at least one hex digit after 0x"));
        }
        U256::from_str_radix(digits, 16).map_err(|_| D::Error::custom("hex quantity exceeds 256 bits"))
    }
}

/// One Wallet-API permission object `{ type, data }`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Permission {
    /// Full access: the validation is global. Has no `data`.
    Root,
    /// Cumulative native value the key may send.
    NativeTokenTransfer {
        /// Budget in wei.
        #[serde(with = "hex_quantity")]
        allowance: U256,
    },
    /// Cumulative `transfer` + `approve` amount of one ERC-20 token.
    #[serde(rename = "erc20-token-transfer")]
    Erc20TokenTransfer {
        /// The token.
        address: Address,
        /// Budget in token units.
        #[serde(with = "hex_quantity")]
        allowance: U256,
    },
    /// Wei budget for user-operation gas (`gas × maxFeePerGas`).
    GasLimit {
        /// Budget in wei.
        #[serde(with = "hex_quantity")]
        limit: U256,
    },
    /// Any function of one contract.
    ContractAccess {
        /// The contract.
        address: Address,
    },
    /// Listed selectors on the account itself.
    AccountFunctions {
        /// Selectors (at least one).
        functions: Vec<Selector>,
    },
    /// Listed selectors on any target.
    FunctionsOnAllContracts {
        /// Selectors (at least one).
        functions: Vec<Selector>,
    },
    /// Listed selectors on one contract.
    FunctionsOnContract {
        /// The contract.
        address: Address,
        /// Selectors (at least one).
        functions: Vec<Selector>,
    },
    /// Keyward: native value per period (the budget refills every period).
    NativeTokenPeriodic {
        /// Budget per period, in wei.
        #[serde(with = "hex_quantity")]
        allowance: U256,
        /// The period, in seconds.
        #[serde(rename = "periodSec")]
        period_sec: u64,
        /// Start of the first period (unix seconds; default: when the session is created).
        #[serde(rename = "startSec", default, skip_serializing_if = "Option::is_none")]
        start_sec: Option<u64>,
    },
    /// Keyward: `transfer` + `approve` amount of one ERC-20 token per period.
    #[serde(rename = "erc20-token-periodic")]
    Erc20TokenPeriodic {
        /// The token.
        address: Address,
        /// Budget per period, in token units.
        #[serde(with = "hex_quantity")]
        allowance: U256,
        /// The period, in seconds.
        #[serde(rename = "periodSec")]
        period_sec: u64,
        /// Start of the first period (unix seconds; default: when the session is created).
        #[serde(rename = "startSec", default, skip_serializing_if = "Option::is_none")]
        start_sec: Option<u64>,
    },
    /// Keyward: at most `count` calls per period (or in total without `periodSec`).
    CallLimit {
        /// Calls allowed per period.
        count: u32,
        /// The period, in seconds; absent: a lifetime count.
        #[serde(rename = "periodSec", default, skip_serializing_if = "Option::is_none")]
        period_sec: Option<u64>,
        /// Start of the first period (unix seconds; default: when the session is created).
        #[serde(rename = "startSec", default, skip_serializing_if = "Option::is_none")]
        start_sec: Option<u64>,
    },
    /// Keyward: conditions on the static arguments of one function of one contract.
    FunctionArguments {
        /// The contract.
        address: Address,
        /// The function's selector.
        function: Selector,
        /// Every condition must hold.
        conditions: Vec<Condition>,
    },
}

/// A condition of `function-arguments`: argument `arg` (its 32-byte word after the selector)
/// compared with `values` (each at most 32 bytes, left-padded: an address or a uint).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// Index of the argument.
    pub arg: u8,
    /// `eq`, `one-of`, `lte` or `gte`.
    pub op: ConditionOpName,
    /// The value(s).
    pub values: Vec<alloy::primitives::Bytes>,
}

/// The operator of a [`Condition`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConditionOpName {
    /// Equal to the one value.
    Eq,
    /// One of the values.
    OneOf,
    /// At most the one value (uint256).
    Lte,
    /// At least the one value (uint256).
    Gte,
}

impl ConditionOpName {
    fn to_domain(self) -> ConditionOp {
        match self {
            Self::Eq => ConditionOp::Eq,
            Self::OneOf => ConditionOp::OneOf,
            Self::Lte => ConditionOp::Lte,
            Self::Gte => ConditionOp::Gte,
        }
    }

    fn from_domain(op: ConditionOp) -> Self {
        match op {
            ConditionOp::Eq => Self::Eq,
            ConditionOp::OneOf => Self::OneOf,
            ConditionOp::Lte => Self::Lte,
            ConditionOp::Gte => Self::Gte,
        }
    }
}

/// A value of at most 32 bytes as an ABI word (left-padded); longer values keep their last 32
/// bytes (refused earlier by [`check_rule_values`]).
fn word(v: &[u8]) -> B256 {
    let mut w = [0u8; 32];
    let n = v.len().min(32);
    w[32 - n..].copy_from_slice(&v[v.len() - n..]);
    B256::from(w)
}

/// Refuses condition values longer than 32 bytes (they cannot be an ABI word).
pub fn check_rule_values(permissions: &[Permission]) -> Result<(), String> {
    for (i, p) in permissions.iter().enumerate() {
        if let Permission::FunctionArguments { conditions, .. } = p {
            for c in conditions {
                if let Some(v) = c.values.iter().find(|v| v.len() > 32) {
                    return Err(format!("permission {i} (function-arguments): value {v} is longer than 32 bytes"));
                }
            }
        }
    }
    Ok(())
}

fn period(length: u64, start: Option<u64>) -> Period {
    Period { length, start }
}

impl Permission {
    /// The wire `type` string.
    pub fn type_name(&self) -> &'static str {
        self.to_domain().type_name()
    }

    /// The domain permission.
    pub fn to_domain(&self) -> DomainPermission {
        self.clone().into()
    }

    /// The domain permissions of a wire list, in order.
    pub fn to_domain_list(list: &[Self]) -> Vec<DomainPermission> {
        list.iter().map(Self::to_domain).collect()
    }
}

impl From<Permission> for DomainPermission {
    fn from(p: Permission) -> Self {
        match p {
            Permission::Root => Self::Root,
            Permission::NativeTokenTransfer { allowance } => Self::NativeTokenTransfer { allowance },
            Permission::Erc20TokenTransfer { address, allowance } => Self::Erc20TokenTransfer { address, allowance },
            Permission::GasLimit { limit } => Self::GasLimit { limit },
            Permission::ContractAccess { address } => Self::ContractAccess { address },
            Permission::AccountFunctions { functions } => Self::AccountFunctions { functions },
            Permission::FunctionsOnAllContracts { functions } => Self::FunctionsOnAllContracts { functions },
            Permission::FunctionsOnContract { address, functions } => Self::FunctionsOnContract { address, functions },
            Permission::NativeTokenPeriodic { allowance, period_sec, start_sec } => {
                Self::NativeTokenPeriodic { allowance, period: period(period_sec, start_sec) }
            }
            Permission::Erc20TokenPeriodic { address, allowance, period_sec, start_sec } => {
                Self::Erc20TokenPeriodic { address, allowance, period: period(period_sec, start_sec) }
            }
            Permission::CallLimit { count, period_sec, start_sec } => {
                Self::CallLimit { count, period: period_sec.map(|l| period(l, start_sec)) }
            }
            Permission::FunctionArguments { address, function, conditions } => Self::FunctionArguments {
                address,
                function,
                conditions: conditions
                    .into_iter()
                    .map(|c| ArgumentCondition {
                        arg: c.arg,
                        op: c.op.to_domain(),
                        values: c.values.iter().map(|v| word(v)).collect(),
                    })
                    .collect(),
            },
        }
    }
}

impl From<DomainPermission> for Permission {
    fn from(p: DomainPermission) -> Self {
        match p {
            DomainPermission::Root => Self::Root,
            DomainPermission::NativeTokenTransfer { allowance } => Self::NativeTokenTransfer { allowance },
            DomainPermission::Erc20TokenTransfer { address, allowance } => {
                Self::Erc20TokenTransfer { address, allowance }
            }
            DomainPermission::GasLimit { limit } => Self::GasLimit { limit },
            DomainPermission::ContractAccess { address } => Self::ContractAccess { address },
            DomainPermission::AccountFunctions { functions } => Self::AccountFunctions { functions },
            DomainPermission::FunctionsOnAllContracts { functions } => Self::FunctionsOnAllContracts { functions },
            DomainPermission::FunctionsOnContract { address, functions } => {
                Self::FunctionsOnContract { address, functions }
            }
            DomainPermission::NativeTokenPeriodic { allowance, period } => {
                Self::NativeTokenPeriodic { allowance, period_sec: period.length, start_sec: period.start }
            }
            DomainPermission::Erc20TokenPeriodic { address, allowance, period } => {
                Self::Erc20TokenPeriodic { address, allowance, period_sec: period.length, start_sec: period.start }
            }
            DomainPermission::CallLimit { count, period } => {
                Self::CallLimit { count, period_sec: period.map(|p| p.length), start_sec: period.and_then(|p| p.start) }
            }
            DomainPermission::FunctionArguments { address, function, conditions } => Self::FunctionArguments {
                address,
                function,
                conditions: conditions
                    .into_iter()
                    .map(|c| Condition {
                        arg: c.arg,
                        op: ConditionOpName::from_domain(c.op),
                        values: c
                            .values
                            .iter()
                            .map(|v| alloy::primitives::Bytes::copy_from_slice(v.as_slice()))
                            .collect(),
                    })
                    .collect(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form() {
        let p: Vec<Permission> = serde_json::from_str(
            r#"[{"type":"gas-limit","data":{"limit":"0x00FF"}},{"type":"account-functions","data":{"functions":["0xAbCdEf01"]}}]"#,
        )
        .unwrap();
        assert_eq!(p[0], Permission::GasLimit { limit: U256::from(255) });
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"[{"type":"gas-limit","data":{"limit":"0xff"}},{"type":"account-functions","data":{"functions":["0xabcdef01"]}}]"#
        );
        for bad in [
            r#"{"type":"gas-limit","data":{"limit":"0x"}}"#,
            r#"{"type":"gas-limit","data":{"limit":"255"}}"#,
            r#"{"type":"gas-limit","data":{"limit":"0X1"}}"#,
            r#"{"type":"gas-limit"}"#,
            r#"{"type":"unknown-type","data":{}}"#,
            r#"{"type":"root","data":{"x":1}}"#,
            r#"{"type":"account-functions","data":{"functions":["0x1234"]}}"#,
        ] {
            assert!(serde_json::from_str::<Permission>(bad).is_err(), "{bad} must be rejected");
        }
        assert_eq!(serde_json::to_string(&Permission::Root).unwrap(), r#"{"type":"root"}"#);
        // Lenient on one point: `"data": null` on root is read as absent (any other value is rejected).
        assert_eq!(serde_json::from_str::<Permission>(r#"{"type":"root","data":null}"#).unwrap(), Permission::Root);
    }

    #[test]
    fn every_kind_round_trips_through_the_domain_with_its_type_name() {
        let a = Address::with_last_byte(1);
        let f = vec![Selector::new([1, 2, 3, 4])];
        let all = [
            (Permission::Root, r#"{"type":"root"}"#),
            (
                Permission::NativeTokenTransfer { allowance: U256::from(10) },
                r#"{"type":"native-token-transfer","data":{"allowance":"0xa"}}"#,
            ),
            (
                Permission::Erc20TokenTransfer { address: a, allowance: U256::ZERO },
                r#"{"type":"erc20-token-transfer","data":{"address":"0x0000000000000000000000000000000000000001","allowance":"0x0"}}"#,
            ),
            (Permission::GasLimit { limit: U256::from(1) }, r#"{"type":"gas-limit","data":{"limit":"0x1"}}"#),
            (
                Permission::ContractAccess { address: a },
                r#"{"type":"contract-access","data":{"address":"0x0000000000000000000000000000000000000001"}}"#,
            ),
            (
                Permission::AccountFunctions { functions: f.clone() },
                r#"{"type":"account-functions","data":{"functions":["0x01020304"]}}"#,
            ),
            (
                Permission::FunctionsOnAllContracts { functions: f.clone() },
                r#"{"type":"functions-on-all-contracts","data":{"functions":["0x01020304"]}}"#,
            ),
            (
                Permission::FunctionsOnContract { address: a, functions: f },
                r#"{"type":"functions-on-contract","data":{"address":"0x0000000000000000000000000000000000000001","functions":["0x01020304"]}}"#,
            ),
        ];
        for (wire, json) in all {
            assert_eq!(serde_json::to_string(&wire).unwrap(), json);
            assert_eq!(serde_json::from_str::<Permission>(json).unwrap(), wire);
            let domain = wire.to_domain();
            assert_eq!(Permission::from(domain.clone()), wire);
            assert_eq!(wire.type_name(), domain.type_name());
            assert!(json.contains(&format!(r#""type":"{}""#, wire.type_name())));
        }
    }
}
