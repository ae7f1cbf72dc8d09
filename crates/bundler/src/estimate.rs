//! `eth_estimateUserOperationGas`: gas limits found by simulation.
//!
//! Everything runs in one probe: the operation with generous limits and a price of 1 wei, so that
//! the amount `simulateHandleOp` reports as paid *is* the gas charged. Validation limits are the
//! gas validation used plus a margin (over-estimating them costs only prefund: the EntryPoint
//! charges what is used). The call gas limit is solved from the charge, which includes the v0.7
//! penalty of 10% of the unused execution gas.

use alloy::primitives::{Bytes, U256};
use alloy::rpc::types::state::AccountOverride;
use alloy::sol_types::SolCall;
use keyward_chain::Chain;
use keyward_primitives::UserOperation;

use crate::error::{ExecutionRevert, RejectReason};
use crate::simulation::simulate_handle_op_with;
use crate::validation::{Assumptions, ValidationConfig, assumed_state};

/// Execution gas limit used while probing.
const PROBE_CALL_GAS: u128 = 5_000_000;
/// Paymaster postOp limit used while probing (and answered when the client gave none).
const DEFAULT_POST_OP_GAS: u128 = 100_000;

alloy::sol! {
    /// Keyward's EntryPointSimulations extension: the outcome of the op it just executed.
    function executionOutcome() external view returns (bool executed, bool success, bytes revertReason);
}

/// Adds `percent` % and `fixed` gas of headroom.
fn with_margin(gas: U256, percent: u64, fixed: u64) -> U256 {
    gas + gas * U256::from(percent) / U256::from(100) + U256::from(fixed)
}

/// A `preVerificationGas` that still covers the operation once the client has filled in what
/// estimation cannot know: its real signature (same length, any bytes), its fees (any value below
/// 2^64 wei) and this very field (below 2^32). Calldata costs more for non-zero bytes, so those
/// fields are priced as if every byte were non-zero.
fn pre_verification_gas_bound(config: &ValidationConfig, mut op: UserOperation) -> U256 {
    op.signature = Bytes::from(vec![0xff; op.signature.len().max(65)]);
    op.max_fee_per_gas = u128::from(u64::MAX);
    op.max_priority_fee_per_gas = u128::from(u64::MAX);
    op.pre_verification_gas = U256::from(u32::MAX);
    config.overheads.pre_verification_gas(&op.pack())
}

/// How the probe's execution reverted, if its call did (from `executionOutcome()`).
fn execution_revert(target_success: bool, target_result: &Bytes) -> Option<ExecutionRevert> {
    if !target_success {
        return Some(ExecutionRevert::Unreadable(target_result.clone()));
    }
    let outcome = executionOutcomeCall::abi_decode_returns(target_result).ok()?;
    if !outcome.executed || outcome.success {
        return None;
    }
    Some(ExecutionRevert::Reverted(outcome.revertReason))
}

/// The gas limits estimation finds for an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GasEstimate {
    /// Bundle overhead the operation must pay for.
    pub pre_verification_gas: U256,
    /// Gas limit of creation plus account validation.
    pub verification_gas_limit: U256,
    /// Gas limit of the execution call.
    pub call_gas_limit: U256,
    /// Gas limit of the paymaster's validation, when there is a paymaster.
    pub paymaster_verification_gas_limit: Option<U256>,
    /// Gas limit of the paymaster's postOp, when there is a paymaster.
    pub paymaster_post_op_gas_limit: Option<U256>,
}

/// Estimates the gas fields of `op`. The signature may be a dummy of the right shape: accounts
/// that follow ERC-4337 return a signature failure instead of reverting, which estimation ignores.
/// `assumptions` are applied to the simulated state as admission applies them: the EIP-7702
/// implementation of a sender whose authorization is not yet live, and the nonce sequence its key
/// will have once the operations pending before it are included.
pub async fn estimate_user_op_gas(
    chain: &dyn Chain,
    config: &ValidationConfig,
    op: &UserOperation,
    assumptions: Assumptions,
) -> Result<GasEstimate, RejectReason> {
    let mut probe = op.clone();
    probe.verification_gas_limit = config.max_verification_gas;
    probe.call_gas_limit = PROBE_CALL_GAS;
    probe.pre_verification_gas = U256::ZERO;
    probe.max_fee_per_gas = 1;
    probe.max_priority_fee_per_gas = 1;
    if let Some(p) = probe.paymaster.as_mut() {
        p.verification_gas_limit = config.max_verification_gas;
        if p.post_op_gas_limit == 0 {
            p.post_op_gas_limit = DEFAULT_POST_OP_GAS;
        }
    }
    let mut overrides = assumed_state(config.entry_point, op, Assumptions { delegate: None, ..assumptions });
    let mut sender = AccountOverride::default();
    if probe.paymaster.is_none() {
        // Fund the prefund of the probe (a few million wei at 1 wei per gas).
        sender.balance = Some(U256::from(10u64).pow(U256::from(24u64)));
    }
    if let Some(d) = assumptions.delegate {
        sender.code = Some(crate::bundle::delegation_code(d));
    }
    overrides.insert(op.sender, sender);

    // One simulation for both figures: `simulateHandleOp` validates first (reverting with the same
    // `FailedOp` as `simulateValidation` would) and reports that phase's gas as `preOpGas`, measured
    // as `simulateValidation` measures it. The simulations contract records whether the op's own
    // call reverted; read it back through the `target` hook in the same simulation (replaying the
    // callData afterwards would run it twice).
    let outcome_call = Bytes::from(executionOutcomeCall {}.abi_encode());
    let execution =
        simulate_handle_op_with(chain, config.entry_point, probe.pack(), config.entry_point, outcome_call, overrides)
            .await
            .map_err(|e| crate::validation::simulation_rejection(op, e))?;
    let verification_gas_limit = with_margin(execution.preOpGas, 20, 10_000);
    if let Some(reason) = execution_revert(execution.targetSuccess, &execution.targetResult) {
        return Err(RejectReason::ExecutionReverted(reason));
    }
    // paid = actualGas (price 1) = preOpGas + used + (limit - used) / 10, limit = CGL + postOp.
    let post_op = probe.paymaster.as_ref().map(|p| p.post_op_gas_limit).unwrap_or_default();
    let limit = U256::from(PROBE_CALL_GAS + post_op);
    let after_validation = execution.paid.saturating_sub(execution.preOpGas);
    let used = (after_validation.saturating_sub(limit / U256::from(10))) * U256::from(10) / U256::from(9);
    let call_gas_limit = with_margin(used, 10, 5_000);

    let mut estimated = op.clone();
    estimated.verification_gas_limit = verification_gas_limit.saturating_to();
    estimated.call_gas_limit = call_gas_limit.saturating_to();
    let paymaster = estimated.paymaster.as_mut().map(|p| {
        p.verification_gas_limit = verification_gas_limit.saturating_to();
        if p.post_op_gas_limit == 0 {
            p.post_op_gas_limit = DEFAULT_POST_OP_GAS;
        }
        (U256::from(p.verification_gas_limit), U256::from(p.post_op_gas_limit))
    });
    Ok(GasEstimate {
        pre_verification_gas: pre_verification_gas_bound(config, estimated),
        verification_gas_limit,
        call_gas_limit,
        paymaster_verification_gas_limit: paymaster.map(|p| p.0),
        paymaster_post_op_gas_limit: paymaster.map(|p| p.1),
    })
}
