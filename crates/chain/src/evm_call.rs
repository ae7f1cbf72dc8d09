//! One `eth_call` in revm, shared by both backends: the embedded chain runs it over its own
//! state, [`RpcChain`](crate::RpcChain) over a node's state fetched block by block (see
//! [`remote_state`](crate::remote_state)).
//!
//! The pieces are generic over the database, so that the two backends build the EVM the same
//! way: Prague rules, the base-fee, nonce and EIP-3607 checks off as `eth_call` has them, the
//! request's gas capped at the block gas limit, state overrides in an overlay that is dropped
//! after the call.

use alloy::primitives::Bytes;
use alloy::rpc::types::TransactionRequest;
use alloy::rpc::types::state::StateOverride;
use alloy_evm::eth::EthEvmContext;
use alloy_evm::overrides::{StateOverrideError, apply_state_overrides};
use alloy_evm::rpc::TryIntoTxEnv;
use alloy_evm::{EthEvmFactory, Evm, EvmEnv, EvmFactory};
use revm::context::result::{EVMError, ExecutionResult};
use revm::context::{BlockEnv, CfgEnv, TxEnv};
use revm::database::CacheDB;
use revm::primitives::hardfork::SpecId;
use revm::{Database, DatabaseRef, Inspector};

use crate::embedded::trace::{ExecutionTrace, ValidationTracer};
use crate::error::{ChainError, ChainResult};

/// The EVM environment of a block: Prague rules on chain `chain_id`.
pub(crate) fn block_env(chain_id: u64, block: BlockEnv) -> EvmEnv {
    EvmEnv::new(CfgEnv::new_with_spec(SpecId::PRAGUE).with_chain_id(chain_id), block)
}

/// The environment `eth_call` runs in: `env` with the base-fee and nonce checks off, and calls
/// allowed "from" a contract (e.g. a simulation from the EntryPoint), as in geth.
pub(crate) fn call_env(mut env: EvmEnv) -> EvmEnv {
    env.cfg_env.disable_base_fee = true;
    env.cfg_env.disable_nonce_check = true;
    env.cfg_env.disable_eip3607 = true;
    env
}

/// The transaction environment of `req` in `env`: gas `gas` if given, else the request's, else the
/// block's, never above the block gas limit.
pub(crate) fn tx_env(req: TransactionRequest, env: &EvmEnv, gas: Option<u64>) -> ChainResult<TxEnv> {
    let mut tx: TxEnv = req.try_into_tx_env(env).map_err(|e| ChainError::InvalidParams(e.to_string()))?;
    if let Some(gas) = gas {
        tx.gas_limit = gas;
    }
    tx.gas_limit = tx.gas_limit.min(env.block_env.gas_limit);
    Ok(tx)
}

/// `db` behind an overlay holding `overrides` (applied as geth applies them); nothing written to
/// the overlay reaches `db`.
pub(crate) fn overlay<DB>(db: DB, overrides: Option<StateOverride>) -> ChainResult<CacheDB<DB>>
where
    DB: DatabaseRef,
    DB::Error: Into<ChainError>,
{
    let mut overlay = CacheDB::new(db);
    if let Some(mut overrides) = overrides {
        // Code first, analysed once per distinct code (`override_code`); the rest as geth does.
        for (address, account) in overrides.iter_mut() {
            let Some(code) = account.code.take() else { continue };
            let (code_hash, bytecode) = crate::override_code::analysed(code).map_err(ChainError::InvalidParams)?;
            let mut info = overlay.basic(*address).map_err(Into::into)?.unwrap_or_default();
            info.code_hash = code_hash;
            info.code = Some(bytecode);
            overlay.insert_account_info(*address, info);
        }
        apply_state_overrides(overrides, &mut overlay).map_err(|e| match e {
            // Reading the account to override failed: the database's error (a node's transport
            // error on the RPC chain), not the caller's.
            StateOverrideError::Database(e) => e.into(),
            other => ChainError::InvalidParams(other.to_string()),
        })?;
    }
    Ok(overlay)
}

/// A database error keeps its own kind; anything else means the transaction is not executable.
fn evm_error<E: Into<ChainError> + std::fmt::Display>(e: EVMError<E>) -> ChainError {
    match e {
        EVMError::Database(e) => e.into(),
        other => ChainError::InvalidTransaction(other.to_string()),
    }
}

/// Executes `tx` on `db` without committing; the raw EVM result.
pub(crate) fn transact<DB>(db: DB, env: EvmEnv, tx: TxEnv) -> ChainResult<ExecutionResult>
where
    DB: Database + std::fmt::Debug,
    DB::Error: Into<ChainError>,
{
    let mut evm = EthEvmFactory::default().create_evm(db, env);
    evm.transact(tx).map(|o| o.result).map_err(evm_error)
}

/// Executes `tx` on `db` without committing, with `inspector` watching every step and frame.
pub(crate) fn transact_inspected<DB, I>(db: DB, env: EvmEnv, tx: TxEnv, inspector: I) -> ChainResult<ExecutionResult>
where
    DB: Database + std::fmt::Debug,
    DB::Error: Into<ChainError>,
    I: Inspector<EthEvmContext<DB>>,
{
    let mut evm = EthEvmFactory::default().create_evm_with_inspector(db, env, inspector);
    evm.transact(tx).map(|o| o.result).map_err(evm_error)
}

/// The output of a call: its return data, or its revert or halt as an error.
pub(crate) fn execution_output(result: ExecutionResult) -> ChainResult<Bytes> {
    match result {
        ExecutionResult::Success { output, .. } => Ok(output.into_data()),
        ExecutionResult::Revert { output, .. } => Err(ChainError::reverted(output)),
        ExecutionResult::Halt { reason, .. } => Err(ChainError::Halted(format!("{reason:?}"))),
    }
}

/// `eth_call` of `req` in `env` (an environment from [`call_env`]) over `db` with `overrides`,
/// recorded by the [`ValidationTracer`]: the call's output (or revert) and its trace. The outer
/// error is the database's or an invalid request.
pub(crate) fn trace_call<DB>(
    db: DB,
    env: EvmEnv,
    req: TransactionRequest,
    overrides: Option<StateOverride>,
) -> ChainResult<(ChainResult<Bytes>, ExecutionTrace)>
where
    DB: DatabaseRef + std::fmt::Debug,
    DB::Error: Into<ChainError>,
{
    let tx = tx_env(req, &env, None)?;
    let mut db = overlay(db, overrides)?;
    let mut tracer = ValidationTracer::new();
    let result = transact_inspected(&mut db, env, tx, &mut tracer)?;
    Ok((execution_output(result), tracer.into_trace()))
}
