//! ERC-7677 over JSON-RPC: `pm_getPaymasterStubData` and `pm_getPaymasterData`, served by a
//! [`Sponsor`].
//!
//! Errors: malformed parameters, a foreign EntryPoint or chain, a missing or malformed policy id
//! ⇒ `-32602`; a policy refusal (unknown, disabled, expired, not yet active, exhausted, sender or
//! target not allowed, too expensive) ⇒ `-32000` with `data: { policyId, reason }`; ledger or
//! chain failures ⇒ `-32603` (safe to retry).

use std::sync::Arc;

use alloy::primitives::{Address, U64, U256};
use jsonrpsee::core::{RpcResult, async_trait};
use jsonrpsee::types::ErrorObjectOwned;
use keyward_api::bundler::UserOperationRequest;
use keyward_api::paymaster::{PaymasterApiServer, PaymasterContext, PaymasterData, PaymasterStubData, SponsorInfo};
use keyward_primitives::UserOperation;

use keyward_paymaster::policy::PolicyError;
use keyward_paymaster::sponsor::{Sponsor, SponsorError, SponsoredFields};

/// JSON-RPC code of invalid parameters.
pub const INVALID_PARAMS: i32 = -32602;
/// JSON-RPC code of a policy refusing to sponsor.
pub const POLICY_REJECTED: i32 = -32000;
/// JSON-RPC code of an internal (retryable) failure.
pub const INTERNAL: i32 = -32603;

/// The ERC-7677 service over a [`Sponsor`].
pub struct PaymasterRpc {
    sponsor: Arc<Sponsor>,
}

impl PaymasterRpc {
    /// Serves `sponsor`.
    pub fn new(sponsor: Arc<Sponsor>) -> Self {
        Self { sponsor }
    }

    /// Checks the EntryPoint, chain and context; returns the operation and the policy id.
    fn request(
        &self,
        user_op: UserOperationRequest,
        entry_point: Address,
        chain_id: U64,
        paymaster_context: Option<PaymasterContext>,
    ) -> Result<(UserOperation, String), ErrorObjectOwned> {
        let cfg = self.sponsor.config();
        if entry_point != cfg.entry_point {
            return Err(invalid(format!(
                "unsupported entryPoint {entry_point}: this paymaster serves {} (v0.7)",
                cfg.entry_point
            )));
        }
        let chain_id = chain_id.to::<u64>();
        if chain_id != cfg.chain_id {
            return Err(invalid(format!(
                "unsupported chainId {chain_id:#x}: this paymaster serves {:#x}",
                cfg.chain_id
            )));
        }
        let context = paymaster_context.ok_or_else(|| invalid("context.policyId is required".to_string()))?;
        let op = user_op.into_user_operation().map_err(|e| invalid(format!("userOp: {e}")))?;
        Ok((op, context.policy_id))
    }
}

/// `pm_getPaymasterData` signs final values: every gas and fee field must be given (stub data may
/// be asked for before estimation, with them absent).
fn require_final_gas(op: &UserOperationRequest) -> Result<(), ErrorObjectOwned> {
    for (name, given) in [
        ("callGasLimit", op.call_gas_limit.is_some()),
        ("verificationGasLimit", op.verification_gas_limit.is_some()),
        ("preVerificationGas", op.pre_verification_gas.is_some()),
        ("maxFeePerGas", op.max_fee_per_gas.is_some()),
        ("maxPriorityFeePerGas", op.max_priority_fee_per_gas.is_some()),
    ] {
        if !given {
            return Err(invalid(format!(
                "userOp.{name} is required by pm_getPaymasterData (the final value is signed)"
            )));
        }
    }
    Ok(())
}

fn invalid(message: String) -> ErrorObjectOwned {
    ErrorObjectOwned::owned::<()>(INVALID_PARAMS, message, None)
}

/// The JSON-RPC error of a sponsor error.
pub fn rpc_error(policy_id: &str, e: SponsorError) -> ErrorObjectOwned {
    match e {
        SponsorError::Policy(p @ PolicyError::InvalidId(_)) => invalid(p.to_string()),
        SponsorError::Policy(p) => ErrorObjectOwned::owned(
            POLICY_REJECTED,
            p.to_string(),
            Some(serde_json::json!({ "policyId": policy_id, "reason": p.reason() })),
        ),
        SponsorError::Data(d) => invalid(format!("userOp: {d}")),
        other => ErrorObjectOwned::owned::<()>(INTERNAL, other.to_string(), None),
    }
}

fn sponsor_info(f: &SponsoredFields) -> Option<SponsorInfo> {
    f.sponsor_name.clone().map(|name| SponsorInfo { name })
}

#[async_trait]
impl PaymasterApiServer for PaymasterRpc {
    async fn get_paymaster_stub_data(
        &self,
        user_op: UserOperationRequest,
        entry_point: Address,
        chain_id: U64,
        paymaster_context: Option<PaymasterContext>,
    ) -> RpcResult<PaymasterStubData> {
        let (op, policy_id) = self.request(user_op, entry_point, chain_id, paymaster_context)?;
        let f = self.sponsor.stub(&op, &policy_id).await.map_err(|e| rpc_error(&policy_id, e))?;
        Ok(PaymasterStubData {
            paymaster: f.paymaster.paymaster,
            paymaster_data: f.paymaster.data.clone(),
            paymaster_verification_gas_limit: U256::from(f.paymaster.verification_gas_limit),
            paymaster_post_op_gas_limit: U256::from(f.paymaster.post_op_gas_limit),
            is_final: false,
            sponsor: sponsor_info(&f),
        })
    }

    async fn get_paymaster_data(
        &self,
        user_op: UserOperationRequest,
        entry_point: Address,
        chain_id: U64,
        paymaster_context: Option<PaymasterContext>,
    ) -> RpcResult<PaymasterData> {
        require_final_gas(&user_op)?;
        let (op, policy_id) = self.request(user_op, entry_point, chain_id, paymaster_context)?;
        let f = self.sponsor.sponsor(&op, &policy_id).await.map_err(|e| rpc_error(&policy_id, e))?;
        Ok(PaymasterData {
            paymaster: f.paymaster.paymaster,
            paymaster_data: f.paymaster.data,
            paymaster_verification_gas_limit: U256::from(f.paymaster.verification_gas_limit),
            paymaster_post_op_gas_limit: U256::from(f.paymaster.post_op_gas_limit),
        })
    }
}
