//! ERC-7677 paymaster web service: `pm_getPaymasterStubData` and `pm_getPaymasterData` for
//! EntryPoint v0.7, with Keyward's context `{ policyId, webhookData? }`.

use alloy::primitives::{Address, Bytes, U64, U256};
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;
use serde::{Deserialize, Serialize};

use crate::bundler::UserOperationRequest;

/// The `context` object: which policy pays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymasterContext {
    /// The sponsorship policy (UUID).
    pub policy_id: String,
    /// Opaque data for the policy owner's webhook (accepted, not used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_data: Option<String>,
}

/// Who sponsors the operation, for wallets to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SponsorInfo {
    /// The sponsor's name.
    pub name: String,
}

/// `pm_getPaymasterStubData` result (v0.7 fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymasterStubData {
    /// The paymaster contract.
    pub paymaster: Address,
    /// Stub paymasterData (real shape, placeholder signature).
    pub paymaster_data: Bytes,
    /// Gas limit of the paymaster's validation.
    pub paymaster_verification_gas_limit: U256,
    /// Gas limit of postOp (the paymaster pays for it, so it sets it).
    pub paymaster_post_op_gas_limit: U256,
    /// Always false: `pm_getPaymasterData` must be called for the real data.
    pub is_final: bool,
    /// The policy's name, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sponsor: Option<SponsorInfo>,
}

/// `pm_getPaymasterData` result (v0.7 fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymasterData {
    /// The paymaster contract.
    pub paymaster: Address,
    /// Signed paymasterData.
    pub paymaster_data: Bytes,
    /// Gas limit of the paymaster's validation (the value signed).
    pub paymaster_verification_gas_limit: U256,
    /// Gas limit of postOp (the value signed).
    pub paymaster_post_op_gas_limit: U256,
}

/// The ERC-7677 methods.
#[rpc(server, client, namespace = "pm")]
pub trait PaymasterApi {
    /// Stub paymaster fields for gas estimation of `user_op`.
    #[method(name = "getPaymasterStubData")]
    async fn get_paymaster_stub_data(
        &self,
        user_op: UserOperationRequest,
        entry_point: Address,
        chain_id: U64,
        paymaster_context: Option<PaymasterContext>,
    ) -> RpcResult<PaymasterStubData>;

    /// Signed paymaster fields for the final `user_op` (gas and fees as they will be sent).
    #[method(name = "getPaymasterData")]
    async fn get_paymaster_data(
        &self,
        user_op: UserOperationRequest,
        entry_point: Address,
        chain_id: U64,
        paymaster_context: Option<PaymasterContext>,
    ) -> RpcResult<PaymasterData>;
}
