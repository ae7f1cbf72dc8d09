//! Capabilities of `wallet_prepareCalls` / `wallet_sendPreparedCalls` (wallet-api.md §5) and the
//! result of `wallet_getCapabilities` (§3.9).

use std::collections::BTreeMap;

use alloy::primitives::{Address, B256, Bytes, address};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::hex::{
    HexBigInt, HexError, HexNumber, UuidV4, parse_strict, strict, strict_opt, strict_opt_keys, strict_opt_words,
};
use super::session::PermissionsCapability;

/// `paymasterService`: one policy id or several, plus prepare-time options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "RawPaymasterService")]
pub struct PaymasterService {
    /// A single policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_id: Option<UuidV4>,
    /// Several policies (the first that sponsors wins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_ids: Option<Vec<UuidV4>>,
    /// Estimate only: no sponsorship, no signature request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_estimation: Option<bool>,
    /// ERC-20 gas payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erc20: Option<Erc20Settings>,
    /// Opaque data forwarded to the policy's webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_data: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPaymasterService {
    #[serde(default, deserialize_with = "super::some")]
    policy_id: Option<UuidV4>,
    #[serde(default, deserialize_with = "super::some")]
    policy_ids: Option<Vec<UuidV4>>,
    #[serde(default, deserialize_with = "super::some")]
    only_estimation: Option<bool>,
    #[serde(default, deserialize_with = "super::some")]
    erc20: Option<Erc20Settings>,
    #[serde(default, deserialize_with = "super::some")]
    webhook_data: Option<String>,
}

impl TryFrom<RawPaymasterService> for PaymasterService {
    type Error = &'static str;
    fn try_from(r: RawPaymasterService) -> Result<Self, &'static str> {
        match (&r.policy_id, &r.policy_ids) {
            (Some(_), Some(_)) => return Err("paymasterService takes policyId or policyIds, not both"),
            (None, None) => return Err("paymasterService needs policyId or policyIds"),
            (None, Some(ids)) if ids.is_empty() => return Err("paymasterService.policyIds is empty"),
            _ => {}
        }
        Ok(Self {
            policy_id: r.policy_id,
            policy_ids: r.policy_ids,
            only_estimation: r.only_estimation,
            erc20: r.erc20,
            webhook_data: r.webhook_data,
        })
    }
}

impl PaymasterService {
    /// The policy ids in order of preference.
    pub fn policies(&self) -> Vec<UuidV4> {
        match (&self.policy_id, &self.policy_ids) {
            (Some(id), _) => vec![id.clone()],
            (None, Some(ids)) => ids.clone(),
            (None, None) => Vec::new(),
        }
    }
}

/// `paymasterService.erc20` (strict: unknown keys refused).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Erc20Settings {
    /// Token paying for gas.
    #[serde(serialize_with = "super::checksum", deserialize_with = "strict")]
    pub token_address: Address,
    /// Most tokens that may be charged.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub max_token_amount: Option<HexBigInt>,
    /// Permit before the operation.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub pre_op_settings: Option<PreOpSettings>,
    /// Approval after the operation.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub post_op_settings: Option<PostOpSettings>,
}

/// `preOpSettings`: an automatic permit or a caller-described one (strict).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum PreOpSettings {
    /// Permit `amount` when the allowance is below `below`.
    AutoPermit {
        /// Threshold.
        below: HexBigInt,
        /// Amount to permit.
        amount: HexBigInt,
        /// Permit lifetime.
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            rename = "durationSeconds",
            deserialize_with = "super::some"
        )]
        duration_seconds: Option<HexNumber>,
    },
    /// A permit the caller signs.
    PermitDetails {
        /// Permit deadline.
        deadline: HexNumber,
        /// Permit value.
        value: HexBigInt,
    },
}

/// `postOpSettings` (strict).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PostOpSettings {
    /// Approve automatically: `true`, or when below a threshold.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub auto_approve: Option<AutoApprove>,
    /// `false` skips the prepare-time balance check.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub balance_check: Option<bool>,
}

/// `autoApprove`: `true` or `{ below, amount }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AutoApprove {
    /// Always approve.
    Always(super::account::True),
    /// Approve `amount` when the allowance is below `below`.
    Below {
        /// Threshold.
        below: HexBigInt,
        /// Amount to approve.
        amount: HexBigInt,
    },
}

/// One gas parameter override: an absolute value or a multiplier of the estimate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum GasParam {
    /// Absolute value.
    Absolute(HexBigInt),
    /// Scale the estimate.
    Multiplier {
        /// Factor (a JSON number).
        multiplier: f64,
    },
}

/// `gasParamsOverride`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GasParamsOverride {
    /// Pre-verification gas.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub pre_verification_gas: Option<GasParam>,
    /// Verification gas limit.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub verification_gas_limit: Option<GasParam>,
    /// Call gas limit.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub call_gas_limit: Option<GasParam>,
    /// Paymaster verification gas limit.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub paymaster_verification_gas_limit: Option<GasParam>,
    /// Paymaster postOp gas limit.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub paymaster_post_op_gas_limit: Option<GasParam>,
    /// Fee cap.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub max_fee_per_gas: Option<GasParam>,
    /// Priority fee.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub max_priority_fee_per_gas: Option<GasParam>,
}

/// The schema's Modular Account v2 7702 implementation (`delegation` accepts this or its name).
pub const MAV2_7702_DELEGATION: Address = address!("0x69007702764179f14F51cdce752f4f775d74E139");

/// `eip7702Auth.delegation`: the MAv2 7702 implementation (by name or address), or undelegation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delegation {
    /// `"ModularAccountV2"`.
    ModularAccountV2,
    /// `"0x69007702764179f14F51cdce752f4f775d74E139"`: the same, by address.
    ModularAccountV2Address,
    /// The zero address: undelegate.
    Undelegate,
}

impl Serialize for Delegation {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::ModularAccountV2 => s.serialize_str("ModularAccountV2"),
            Self::ModularAccountV2Address => s.serialize_str(&MAV2_7702_DELEGATION.to_checksum(None)),
            Self::Undelegate => s.serialize_str(&Address::ZERO.to_checksum(None)),
        }
    }
}

impl<'de> Deserialize<'de> for Delegation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s == "ModularAccountV2" {
            return Ok(Self::ModularAccountV2);
        }
        match parse_strict::<Address>(&s) {
            Ok(a) if a == MAV2_7702_DELEGATION => Ok(Self::ModularAccountV2Address),
            Ok(a) if a == Address::ZERO => Ok(Self::Undelegate),
            // An address without its prefix is named as such, not as an unknown delegation.
            Err(e @ HexError::MissingPrefix { .. }) if s.parse::<Address>().is_ok() => Err(D::Error::custom(e)),
            _ => Err(D::Error::custom(format!(
                "eip7702Auth.delegation {s:?} is not ModularAccountV2, {MAV2_7702_DELEGATION} or the zero address"
            ))),
        }
    }
}

/// `eip7702Auth`: `true` (delegate to MAv2) or `{ account?, delegation }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Eip7702AuthCapability {
    /// `true`.
    Default,
    /// `{ account?, delegation }`.
    Explicit {
        /// The EOA (default: `from`).
        account: Option<Address>,
        /// Target of the delegation.
        delegation: Delegation,
    },
}

#[derive(Serialize, Deserialize)]
struct Eip7702AuthObject {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "strict_opt",
        serialize_with = "super::checksum_opt"
    )]
    account: Option<Address>,
    delegation: Delegation,
}

impl Serialize for Eip7702AuthCapability {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Default => s.serialize_bool(true),
            Self::Explicit { account, delegation } => {
                Eip7702AuthObject { account: *account, delegation: *delegation }.serialize(s)
            }
        }
    }
}

impl<'de> Deserialize<'de> for Eip7702AuthCapability {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        match value {
            serde_json::Value::Bool(true) => Ok(Self::Default),
            serde_json::Value::Object(_) => {
                let o: Eip7702AuthObject =
                    serde_json::from_value(value).map_err(|e| D::Error::custom(format!("eip7702Auth: {e}")))?;
                Ok(Self::Explicit { account: o.account, delegation: o.delegation })
            }
            _ => Err(D::Error::custom("eip7702Auth must be true or {account?, delegation}")),
        }
    }
}

/// `nonceOverride`: use this 192-bit nonce key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NonceOverride {
    /// The nonce key.
    pub nonce_key: HexBigInt,
}

/// One account of `stateOverride` (strict; `state` and `stateDiff` exclusive).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, try_from = "RawAccountOverride")]
pub struct AccountOverride {
    /// Balance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<HexBigInt>,
    /// Nonce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<HexNumber>,
    /// Code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<Bytes>,
    /// Full storage replacement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<BTreeMap<B256, B256>>,
    /// Storage slots changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_diff: Option<BTreeMap<B256, B256>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawAccountOverride {
    #[serde(default, deserialize_with = "super::some")]
    balance: Option<HexBigInt>,
    #[serde(default, deserialize_with = "super::some")]
    nonce: Option<HexNumber>,
    #[serde(default, deserialize_with = "strict_opt")]
    code: Option<Bytes>,
    #[serde(default, deserialize_with = "strict_opt_words")]
    state: Option<BTreeMap<B256, B256>>,
    #[serde(default, deserialize_with = "strict_opt_words")]
    state_diff: Option<BTreeMap<B256, B256>>,
}

impl TryFrom<RawAccountOverride> for AccountOverride {
    type Error = &'static str;
    fn try_from(r: RawAccountOverride) -> Result<Self, &'static str> {
        if r.state.is_some() && r.state_diff.is_some() {
            return Err("stateOverride: state and stateDiff are mutually exclusive");
        }
        Ok(Self { balance: r.balance, nonce: r.nonce, code: r.code, state: r.state, state_diff: r.state_diff })
    }
}

/// `experimental_dataSuffix`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataSuffix {
    /// Bytes appended to the call data.
    #[serde(deserialize_with = "strict")]
    pub value: Bytes,
}

/// Capabilities of `wallet_prepareCalls` (all optional; unknown keys ignored).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrepareCallsCapabilities {
    /// Act through a session key.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub permissions: Option<PermissionsCapability>,
    /// Gas sponsorship / ERC-20 gas.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub paymaster_service: Option<PaymasterService>,
    /// Gas overrides.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub gas_params_override: Option<GasParamsOverride>,
    /// Request a 7702 delegation (or undelegation).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub eip7702_auth: Option<Eip7702AuthCapability>,
    /// Use another nonce key.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub nonce_override: Option<NonceOverride>,
    /// Simulation state overrides.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "strict_opt_keys")]
    pub state_override: Option<BTreeMap<Address, AccountOverride>>,
    /// ERC-8021 attribution suffix.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::some",
        rename = "experimental_dataSuffix"
    )]
    pub experimental_data_suffix: Option<DataSuffix>,
}

/// Capabilities of `wallet_sendPreparedCalls`: only `permissions` and `paymasterService`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendCallsCapabilities {
    /// Act through a session key.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub permissions: Option<PermissionsCapability>,
    /// Policy id(s) and webhook data used at prepare time.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub paymaster_service: Option<PaymasterService>,
}

/// `wallet_getCapabilities` result: hex chain id (or `0x0` = all) → capability name → free-form.
pub type WalletCapabilities = BTreeMap<HexNumber, BTreeMap<String, serde_json::Value>>;
