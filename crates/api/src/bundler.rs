//! The ERC-4337 bundler RPC (ERC-7769), for EntryPoint v0.7: wire types and the server trait.

use alloy::primitives::{Address, B256, Bytes, U64, U256};
use alloy::rpc::types::{Log, TransactionReceipt};
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;
use keyward_primitives::UserOperation;
use serde::{Deserialize, Serialize};

/// An EIP-7702 authorization carried with a user operation (`eip7702Auth`), all fields hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcAuthorization {
    /// Chain id the authorization is valid on (0 = any).
    pub chain_id: U256,
    /// The implementation the EOA delegates to.
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcUserOperation {
    /// The operation.
    #[serde(flatten)]
    pub op: UserOperation,
    /// EIP-7702 authorization delegating the sender, for its first operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eip7702_auth: Option<RpcAuthorization>,
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
    /// The EntryPoint it is for.
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
    /// The EntryPoint.
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

/// An entry of `debug_bundler_dumpMempool`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MempoolEntry {
    /// The userOpHash.
    pub user_op_hash: B256,
    /// Lifecycle status: pending, submitted, included, failed, dropped.
    pub status: String,
    /// The operation.
    pub user_operation: UserOperation,
}

/// The ERC-4337 bundler RPC of EntryPoint v0.7, and the debug methods of the bundler test suite.
#[rpc(server)]
pub trait BundlerApi {
    /// Validates an operation and adds it to the mempool; returns its userOpHash.
    #[method(name = "eth_sendUserOperation")]
    async fn send_user_operation(&self, op: RpcUserOperation, entry_point: Address) -> RpcResult<B256>;
    /// Estimates the gas fields of an operation (its signature may be a dummy of the right shape).
    #[method(name = "eth_estimateUserOperationGas")]
    async fn estimate_user_operation_gas(&self, op: RpcUserOperation, entry_point: Address) -> RpcResult<GasEstimate>;
    /// An operation by userOpHash, pending or included.
    #[method(name = "eth_getUserOperationByHash")]
    async fn user_operation_by_hash(&self, hash: B256) -> RpcResult<Option<UserOperationByHash>>;
    /// The receipt of an included operation.
    #[method(name = "eth_getUserOperationReceipt")]
    async fn user_operation_receipt(&self, hash: B256) -> RpcResult<Option<UserOperationReceipt>>;
    /// The EntryPoints this bundler serves.
    #[method(name = "eth_supportedEntryPoints")]
    async fn supported_entry_points(&self) -> RpcResult<Vec<Address>>;
    /// Removes every operation from the mempool.
    #[method(name = "debug_bundler_clearState")]
    async fn clear_state(&self) -> RpcResult<String>;
    /// The operations in the mempool.
    #[method(name = "debug_bundler_dumpMempool")]
    async fn dump_mempool(&self, entry_point: Address) -> RpcResult<Vec<MempoolEntry>>;
    /// Builds and sends a bundle now; returns the bundle transaction hash, if one was sent.
    #[method(name = "debug_bundler_sendBundleNow")]
    async fn send_bundle_now(&self) -> RpcResult<Option<B256>>;
    /// Switches between automatic and manual bundling.
    #[method(name = "debug_bundler_setBundlingMode")]
    async fn set_bundling_mode(&self, mode: BundlingMode) -> RpcResult<String>;
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
