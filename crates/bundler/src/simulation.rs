//! The EntryPoint's simulation entry points, run with `eth_call` and a state override that puts
//! `EntryPointSimulations` at the EntryPoint address (so the real deposits and nonces apply).

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes};
use alloy::rpc::types::TransactionRequest;
use alloy::rpc::types::state::{AccountOverride, StateOverride};
use alloy::sol_types::SolCall;
use keyward_chain::{Chain, ChainError};
use keyward_primitives::entry_point::{ExecutionResult, IEntryPoint, ValidationResult};
use keyward_primitives::{EntryPointRevert, PackedUserOperation};

/// Why a simulation did not return a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimulationError {
    /// The EntryPoint reverted (e.g. `FailedOp`).
    Reverted(EntryPointRevert),
    /// The chain failed or the answer could not be decoded.
    Chain(ChainError),
}

impl From<ChainError> for SimulationError {
    fn from(e: ChainError) -> Self {
        match e {
            ChainError::Reverted { data, .. } => Self::Reverted(EntryPointRevert::decode(&data)),
            other => Self::Chain(other),
        }
    }
}

/// The state override that turns the EntryPoint at `entry_point` into EntryPointSimulations.
pub fn simulations_override(entry_point: Address) -> StateOverride {
    let mut overrides = StateOverride::default();
    let code = keyward_contracts::artifacts::entry_point_simulations().deployed_bytecode.clone();
    overrides.insert(entry_point, AccountOverride { code: Some(code), ..Default::default() });
    overrides
}

async fn simulate<C: SolCall>(
    chain: &dyn Chain,
    entry_point: Address,
    call: C,
    overrides: StateOverride,
) -> Result<C::Return, SimulationError> {
    let tx = TransactionRequest::default().with_to(entry_point).with_input(Bytes::from(call.abi_encode()));
    let out = chain.call(tx, Some(overrides)).await?;
    C::abi_decode_returns(&out)
        .map_err(|e| SimulationError::Chain(ChainError::Internal(format!("decoding {}: {e}", C::SIGNATURE))))
}

/// `simulateValidation(op)`: validation without the signature and time checks, results returned.
pub async fn simulate_validation(
    chain: &dyn Chain,
    entry_point: Address,
    op: PackedUserOperation,
) -> Result<ValidationResult, SimulationError> {
    simulate_validation_with(chain, entry_point, op, simulations_override(entry_point)).await
}

/// `simulateValidation` with extra state overrides (which must include [`simulations_override`]).
pub async fn simulate_validation_with(
    chain: &dyn Chain,
    entry_point: Address,
    op: PackedUserOperation,
    overrides: StateOverride,
) -> Result<ValidationResult, SimulationError> {
    simulate(chain, entry_point, IEntryPoint::simulateValidationCall { userOp: op }, overrides).await
}

/// `simulateHandleOp(op, target, targetCallData)`: validation and execution, with charging.
pub async fn simulate_handle_op(
    chain: &dyn Chain,
    entry_point: Address,
    op: PackedUserOperation,
    target: Address,
    target_call_data: Bytes,
) -> Result<ExecutionResult, SimulationError> {
    simulate_handle_op_with(chain, entry_point, op, target, target_call_data, simulations_override(entry_point)).await
}

/// `simulateHandleOp` with extra state overrides (which must include [`simulations_override`]).
pub async fn simulate_handle_op_with(
    chain: &dyn Chain,
    entry_point: Address,
    op: PackedUserOperation,
    target: Address,
    target_call_data: Bytes,
    overrides: StateOverride,
) -> Result<ExecutionResult, SimulationError> {
    let call = IEntryPoint::simulateHandleOpCall { op, target, targetCallData: target_call_data };
    simulate(chain, entry_point, call, overrides).await
}
