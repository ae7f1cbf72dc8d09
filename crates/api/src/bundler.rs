//! The ERC-4337 bundler RPC (ERC-7769), for EntryPoint v0.7: wire types and the server trait.

use alloy::primitives::{Address, B256, Bytes, U64, U256};
use alloy::rpc::types::{Log, TransactionReceipt};
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;
use keyward_primitives::UserOperation;
use serde::{Deserialize, Serialize};

use crate::wallet::hex::{require_strict, strict, strict_or_null, with_field_path};

/// An EIP-7702 authorization carried with a user operation (`eip7702Auth`), all fields hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcAuthorization {
    /// Chain id the authorization is valid on (0 = any).
    pub chain_id: U256,
    /// The implementation the EOA delegates to.
    #[serde(deserialize_with = "strict")]
    pub address: Address,
    /// The EOA's account nonce at signing.
    pub nonce: U64,
    /// Signature parity.
    pub y_parity: U64,
    /// Signature r.
    pub r: U256,
    /// Signature s.
    pub s: U256,
}

/// A user operation as `eth_sendUserOperation` receives it: the v0.7 RPC form plus `eip7702Auth`.
/// Its `Hex`/`Address` fields must carry the `0x` prefix (the flattened [`UserOperation`]'s own
/// serde, in `keyward-primitives`, would read them without).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", remote = "Self")]
pub struct RpcUserOperation {
    /// The operation.
    #[serde(flatten)]
    pub op: UserOperation,
    /// EIP-7702 authorization delegating the sender, for its first operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eip7702_auth: Option<RpcAuthorization>,
}

/// The `Hex` fields of an ERC-7769 user operation.
const USER_OPERATION_HEX_FIELDS: &[&str] = &["factoryData", "callData", "paymasterData", "signature"];
/// The `Address` fields of an ERC-7769 user operation.
const USER_OPERATION_ADDRESS_FIELDS: &[&str] = &["sender", "factory", "paymaster"];

impl Serialize for RpcUserOperation {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        RpcUserOperation::serialize(self, s)
    }
}

impl<'de> Deserialize<'de> for RpcUserOperation {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        with_field_path(d, |v| {
            require_strict::<Address>(v, USER_OPERATION_ADDRESS_FIELDS).map_err(serde::de::Error::custom)?;
            require_strict::<Bytes>(v, USER_OPERATION_HEX_FIELDS).map_err(serde::de::Error::custom)?;
            RpcUserOperation::deserialize(v)
        })
    }
}

/// A user operation as `eth_estimateUserOperationGas` receives it: gas and fee fields optional
/// (ERC-7769), absent ones taken as zero.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", remote = "Self")]
pub struct UserOperationRequest {
    /// The account.
    #[serde(deserialize_with = "strict")]
    pub sender: Address,
    /// The full nonce.
    pub nonce: U256,
    /// Factory of a counterfactual sender.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "strict_or_null")]
    pub factory: Option<Address>,
    /// Factory calldata.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "strict_or_null")]
    pub factory_data: Option<Bytes>,
    /// Calldata for the account.
    #[serde(deserialize_with = "strict")]
    pub call_data: Bytes,
    /// Optional call gas limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_gas_limit: Option<U256>,
    /// Optional verification gas limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_gas_limit: Option<U256>,
    /// Optional pre-verification gas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_verification_gas: Option<U256>,
    /// Optional fee cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_fee_per_gas: Option<U256>,
    /// Optional priority fee.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_priority_fee_per_gas: Option<U256>,
    /// Paymaster.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "strict_or_null")]
    pub paymaster: Option<Address>,
    /// Optional paymaster validation gas limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paymaster_verification_gas_limit: Option<U256>,
    /// Optional paymaster postOp gas limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paymaster_post_op_gas_limit: Option<U256>,
    /// Paymaster data.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "strict_or_null")]
    pub paymaster_data: Option<Bytes>,
    /// A signature of the right shape (a dummy is fine).
    #[serde(default, deserialize_with = "strict")]
    pub signature: Bytes,
    /// EIP-7702 authorization of the sender's first operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eip7702_auth: Option<RpcAuthorization>,
}

impl Serialize for UserOperationRequest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        UserOperationRequest::serialize(self, s)
    }
}

impl<'de> Deserialize<'de> for UserOperationRequest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        with_field_path(d, |v| UserOperationRequest::deserialize(v))
    }
}

impl UserOperationRequest {
    /// The operation with absent gas and fee fields set to zero; an error names a field that does
    /// not fit 128 bits or a half-given factory/paymaster.
    pub fn into_user_operation(self) -> Result<UserOperation, String> {
        fn small(name: &str, v: Option<U256>) -> Result<u128, String> {
            let v = v.unwrap_or_default();
            u128::try_from(v).map_err(|_| format!("{name} {v} does not fit 128 bits"))
        }
        if self.factory.is_none() && self.factory_data.as_ref().is_some_and(|d| !d.is_empty()) {
            return Err("factoryData given without factory".into());
        }
        if self.paymaster.is_none()
            && (self.paymaster_data.as_ref().is_some_and(|d| !d.is_empty())
                || self.paymaster_verification_gas_limit.is_some()
                || self.paymaster_post_op_gas_limit.is_some())
        {
            return Err("paymaster fields given without paymaster".into());
        }
        let paymaster = match self.paymaster {
            Some(paymaster) => Some(keyward_primitives::PaymasterInit {
                paymaster,
                verification_gas_limit: small("paymasterVerificationGasLimit", self.paymaster_verification_gas_limit)?,
                post_op_gas_limit: small("paymasterPostOpGasLimit", self.paymaster_post_op_gas_limit)?,
                data: self.paymaster_data.unwrap_or_default(),
            }),
            None => None,
        };
        Ok(UserOperation {
            sender: self.sender,
            nonce: self.nonce,
            factory: self.factory.map(|factory| keyward_primitives::FactoryInit {
                factory,
                factory_data: self.factory_data.unwrap_or_default(),
            }),
            call_data: self.call_data,
            call_gas_limit: small("callGasLimit", self.call_gas_limit)?,
            verification_gas_limit: small("verificationGasLimit", self.verification_gas_limit)?,
            pre_verification_gas: self.pre_verification_gas.unwrap_or_default(),
            max_fee_per_gas: small("maxFeePerGas", self.max_fee_per_gas)?,
            max_priority_fee_per_gas: small("maxPriorityFeePerGas", self.max_priority_fee_per_gas)?,
            paymaster,
            signature: self.signature,
        })
    }
}

/// Gas values `eth_estimateUserOperationGas` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GasEstimate {
    /// Bundle overhead the operation must pay for.
    pub pre_verification_gas: U256,
    /// Gas limit of creation plus account validation.
    pub verification_gas_limit: U256,
    /// Gas limit of the execution call.
    pub call_gas_limit: U256,
    /// Gas limit of the paymaster's validation, when there is a paymaster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paymaster_verification_gas_limit: Option<U256>,
    /// Gas limit of the paymaster's postOp, when there is a paymaster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paymaster_post_op_gas_limit: Option<U256>,
}

/// `eth_getUserOperationByHash`: the operation and where it was included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserOperationByHash {
    /// The operation.
    pub user_operation: UserOperation,
    /// The EntryPoint it is for (EIP-55 checksummed).
    #[serde(serialize_with = "checksummed")]
    pub entry_point: Address,
    /// Block of inclusion, null while pending.
    pub block_number: Option<U64>,
    /// Block hash of inclusion, null while pending.
    pub block_hash: Option<B256>,
    /// The bundle transaction, null while pending.
    pub transaction_hash: Option<B256>,
}

/// `eth_getUserOperationReceipt`: the outcome of an included operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserOperationReceipt {
    /// The userOpHash.
    pub user_op_hash: B256,
    /// The EntryPoint (EIP-55 checksummed).
    #[serde(serialize_with = "checksummed")]
    pub entry_point: Address,
    /// The account.
    pub sender: Address,
    /// The full nonce.
    pub nonce: U256,
    /// The paymaster, or the zero address.
    pub paymaster: Address,
    /// What the operation was charged, in wei.
    pub actual_gas_cost: U256,
    /// Gas the operation was charged for.
    pub actual_gas_used: U256,
    /// Whether the execution succeeded.
    pub success: bool,
    /// Revert data of a failed execution, when the EntryPoint reported one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Bytes>,
    /// The logs emitted by this operation (between the previous op's event and its own).
    pub logs: Vec<Log>,
    /// The bundle transaction's receipt.
    pub receipt: TransactionReceipt,
}

/// Bundling mode of `debug_bundler_setBundlingMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BundlingMode {
    /// Bundles are built as operations arrive.
    Auto,
    /// Bundles are built only on `debug_bundler_sendBundleNow`.
    Manual,
}

/// What `debug_bundler_sendBundleNow` answers: the bundle transaction's hash (ERC-7769), or `"ok"`
/// when there was nothing to bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SendBundleResult {
    /// A bundle went out in this transaction.
    Sent(B256),
    /// Nothing to send (`"ok"`).
    Nothing(String),
}

/// The stake of an entity in `debug_bundler_getStakeStatus`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StakeInfo {
    /// The entity.
    pub addr: Address,
    /// Its stake in wei, in decimal (a uint112 does not fit a JSON number).
    pub stake: String,
    /// Its unstake delay, in seconds.
    pub unstake_delay_sec: u32,
}

/// `debug_bundler_getStakeStatus`: an entity's stake and whether this bundler counts it as staked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StakeStatus {
    /// The stake.
    pub stake_info: StakeInfo,
    /// Whether it meets the bundler's minimum stake and unstake delay (ERC-7562 SREP-010).
    pub is_staked: bool,
}

/// A reputation entry of `debug_bundler_setReputation` (ERC-7769).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReputationUpdate {
    /// The entity.
    pub address: Address,
    /// Its `opsSeen`.
    pub ops_seen: U64,
    /// Its `opsIncluded`.
    pub ops_included: U64,
}

/// A reputation entry of `debug_bundler_dumpReputation` (ERC-7769).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReputationEntry {
    /// The entity.
    pub address: Address,
    /// Its `opsSeen` (hex).
    pub ops_seen: U64,
    /// Its `opsIncluded` (hex).
    pub ops_included: U64,
    /// `"ok"`, `"throttled"` or `"banned"`.
    pub status: String,
}

/// Serializes an address in its EIP-55 checksum form (as ERC-7769 shows them and clients compare).
pub fn checksummed<S: serde::Serializer>(a: &Address, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&a.to_checksum(None))
}

/// The ERC-4337 bundler RPC of EntryPoint v0.7, and the debug methods of the bundler test suite.
#[rpc(server, client)]
pub trait BundlerApi {
    /// Validates an operation and adds it to the mempool; returns its userOpHash.
    #[method(name = "eth_sendUserOperation")]
    async fn send_user_operation(&self, op: RpcUserOperation, entry_point: Address) -> RpcResult<B256>;
    /// Estimates the gas fields of an operation (its signature may be a dummy of the right shape).
    #[method(name = "eth_estimateUserOperationGas")]
    async fn estimate_user_operation_gas(
        &self,
        op: UserOperationRequest,
        entry_point: Address,
    ) -> RpcResult<GasEstimate>;
    /// An operation by userOpHash, pending or included.
    #[method(name = "eth_getUserOperationByHash")]
    async fn user_operation_by_hash(&self, hash: B256) -> RpcResult<Option<UserOperationByHash>>;
    /// The receipt of an included operation.
    #[method(name = "eth_getUserOperationReceipt")]
    async fn user_operation_receipt(&self, hash: B256) -> RpcResult<Option<UserOperationReceipt>>;
    /// The EntryPoints this bundler serves.
    #[method(name = "eth_supportedEntryPoints")]
    async fn supported_entry_points(&self) -> RpcResult<Vec<Address>>;
    /// Removes every operation from the mempool and forgets the entities' reputation.
    #[method(name = "debug_bundler_clearState")]
    async fn clear_state(&self) -> RpcResult<String>;
    /// Removes every operation from the mempool.
    #[method(name = "debug_bundler_clearMempool")]
    async fn clear_mempool(&self) -> RpcResult<String>;
    /// The operations in the mempool, in arrival order (ERC-7769: user operations).
    #[method(name = "debug_bundler_dumpMempool")]
    async fn dump_mempool(&self, entry_point: Address) -> RpcResult<Vec<RpcUserOperation>>;
    /// Builds and sends a bundle now; the bundle transaction hash, or `"ok"` when nothing was sent.
    #[method(name = "debug_bundler_sendBundleNow")]
    async fn send_bundle_now(&self) -> RpcResult<SendBundleResult>;
    /// Switches between automatic and manual bundling.
    #[method(name = "debug_bundler_setBundlingMode")]
    async fn set_bundling_mode(&self, mode: BundlingMode) -> RpcResult<String>;
    /// The reputation of every entity seen (ERC-7562 opsSeen / opsIncluded and status).
    #[method(name = "debug_bundler_dumpReputation")]
    async fn dump_reputation(&self, entry_point: Address) -> RpcResult<Vec<ReputationEntry>>;
    /// Sets the reputation of entities.
    #[method(name = "debug_bundler_setReputation")]
    async fn set_reputation(&self, entries: Vec<ReputationUpdate>, entry_point: Address) -> RpcResult<String>;
    /// Forgets the reputation of every entity.
    #[method(name = "debug_bundler_clearReputation")]
    async fn clear_reputation(&self) -> RpcResult<String>;
    /// An entity's stake in the EntryPoint and whether it counts as staked.
    #[method(name = "debug_bundler_getStakeStatus")]
    async fn stake_status(&self, address: Address, entry_point: Address) -> RpcResult<StakeStatus>;
    /// Rundler's (Alchemy's bundler) `rundler_maxPriorityFeePerGas`: the priority fee, in wei, this
    /// bundler suggests and accepts for a user operation now (what Alchemy's fee estimator reads).
    #[method(name = "rundler_maxPriorityFeePerGas")]
    async fn rundler_max_priority_fee_per_gas(&self) -> RpcResult<U256>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimation_request_without_gas_fields_is_read_with_zeros() {
        let json = serde_json::json!({
            "sender": "0x0000000000000000000000000000000000000001", "nonce": "0x2", "callData": "0x1234",
            "maxFeePerGas": "0x5", "signature": "0x"
        });
        let op = serde_json::from_value::<UserOperationRequest>(json).unwrap().into_user_operation().unwrap();
        assert_eq!((op.call_gas_limit, op.verification_gas_limit, op.max_fee_per_gas), (0, 0, 5));
        let bad = serde_json::json!({
            "sender": "0x0000000000000000000000000000000000000001", "nonce": "0x2", "callData": "0x",
            "paymasterData": "0x01"
        });
        let err = serde_json::from_value::<UserOperationRequest>(bad).unwrap().into_user_operation().unwrap_err();
        assert!(err.contains("without paymaster"), "{err}");
    }

    #[test]
    fn user_operation_with_7702_auth_round_trips() {
        let json = serde_json::json!({
            "sender": "0x0000000000000000000000000000000000000001", "nonce": "0x0", "callData": "0x",
            "callGasLimit": "0x1", "verificationGasLimit": "0x1", "preVerificationGas": "0x1",
            "maxFeePerGas": "0x1", "maxPriorityFeePerGas": "0x1", "signature": "0x",
            "eip7702Auth": {"chainId": "0x7a69", "address": "0x0000000000000000000000000000000000000002",
                            "nonce": "0x0", "yParity": "0x1", "r": "0x5", "s": "0x6"}
        });
        let op: RpcUserOperation = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(op.eip7702_auth.as_ref().map(|a| a.y_parity), Some(U64::from(1)));
        assert_eq!(serde_json::to_value(&op).unwrap(), json);
    }

    #[test]
    fn hex_and_address_fields_without_0x_are_refused_naming_the_field() {
        let op = serde_json::json!({
            "sender": "0x0000000000000000000000000000000000000001", "nonce": "0x0", "callData": "0x12",
            "factory": "0x0000000000000000000000000000000000000003", "factoryData": "0x34",
            "callGasLimit": "0x1", "verificationGasLimit": "0x1", "preVerificationGas": "0x1",
            "maxFeePerGas": "0x1", "maxPriorityFeePerGas": "0x1", "signature": "0x56",
            "eip7702Auth": {"chainId": "0x7a69", "address": "0x0000000000000000000000000000000000000002",
                            "nonce": "0x0", "yParity": "0x1", "r": "0x5", "s": "0x6"}
        });
        serde_json::from_value::<RpcUserOperation>(op.clone()).unwrap();
        serde_json::from_value::<UserOperationRequest>(op.clone()).unwrap();
        for (field, kind, bare) in [
            ("sender", "Address", "0000000000000000000000000000000000000001"),
            ("factory", "Address", "0000000000000000000000000000000000000003"),
            ("callData", "Hex", "12"),
            ("factoryData", "Hex", "34"),
            ("signature", "Hex", "56"),
        ] {
            let mut v = op.clone();
            v[field] = serde_json::json!(bare);
            let expected = format!("{field}: {kind} {bare:?} must start with lowercase 0x");
            let err = serde_json::from_value::<RpcUserOperation>(v.clone()).unwrap_err();
            assert_eq!(err.to_string(), expected, "eth_sendUserOperation {field}");
            let err = serde_json::from_value::<UserOperationRequest>(v).unwrap_err();
            assert_eq!(err.to_string(), expected, "eth_estimateUserOperationGas {field}");
        }
        let mut v = op;
        v["eip7702Auth"]["address"] = serde_json::json!("0000000000000000000000000000000000000002");
        let expected =
            r#"eip7702Auth.address: Address "0000000000000000000000000000000000000002" must start with lowercase 0x"#;
        let err = serde_json::from_value::<RpcUserOperation>(v.clone()).unwrap_err();
        assert_eq!(err.to_string(), expected);
        let err = serde_json::from_value::<UserOperationRequest>(v).unwrap_err();
        assert_eq!(err.to_string(), expected);
        // The EntryPoint parameter of the methods is checked by the server from the same table.
        let params = r#"[{}, "0000000071727De22E5E9d8BAf0edAc6f37da032"]"#;
        assert_eq!(
            crate::wallet::positional_hex_refusal("eth_sendUserOperation", Some(params)),
            Some(
                r#"entryPoint: Address "0000000071727De22E5E9d8BAf0edAc6f37da032" must start with lowercase 0x"#.into()
            )
        );
    }
}
