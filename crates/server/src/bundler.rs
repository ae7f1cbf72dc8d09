//! The ERC-4337 bundler RPC (`eth_*UserOperation*`, `debug_bundler_*`, `rundler_*`) served by a
//! [`Bundler`]: wire requests converted to the bundler's domain types, refusals mapped to their
//! ERC-7769 codes.

use std::sync::Arc;

use alloy::eips::eip7702::{Authorization, SignedAuthorization};
use alloy::primitives::{Address, B256, Signature, U64, U256};
use async_trait::async_trait;
use jsonrpsee::core::RpcResult;
use jsonrpsee::types::ErrorObjectOwned;
use keyward_api::bundler::{
    BundlerApiServer, BundlingMode, GasEstimate, ReputationEntry, ReputationUpdate, RpcAuthorization, RpcUserOperation,
    SendBundleResult, StakeInfo, StakeStatus, UserOperationByHash, UserOperationReceipt, UserOperationRequest,
};
use keyward_bundler::receipt::UserOperationReceipt as DomainReceipt;
use keyward_bundler::{Bundler, RejectReason, Submission};
use keyward_store::OpStatus;

/// The ERC-7769 code of a bundler refusal.
pub fn reject_code(e: &RejectReason) -> i32 {
    match e {
        RejectReason::InvalidFields(_) => -32602,
        RejectReason::SimulationFailed(_) | RejectReason::FailedOp(_) => -32500,
        RejectReason::PaymasterRejected { .. } => -32501,
        RejectReason::RuleViolation(_) => -32502,
        RejectReason::OutOfTimeRange(_) => -32503,
        RejectReason::Throttled(_) => -32504,
        RejectReason::InsufficientStake(_) => -32505,
        RejectReason::UnsupportedAggregator(_) => -32506,
        RejectReason::PaymasterDepositTooLow(_) => -32508,
        RejectReason::InvalidSignature => -32507,
        RejectReason::ExecutionReverted(_) => -32521,
        RejectReason::Chain(_) | RejectReason::Storage(_) | RejectReason::BundlerUnfunded { .. } => -32603,
    }
}

/// A refusal as its JSON-RPC error (ERC-7769 codes; the paymaster in `data` for -32501).
pub fn rpc_error(e: RejectReason) -> ErrorObjectOwned {
    match &e {
        RejectReason::PaymasterRejected { paymaster, .. } => {
            ErrorObjectOwned::owned(reject_code(&e), e.to_string(), Some(serde_json::json!({ "paymaster": paymaster })))
        }
        _ => ErrorObjectOwned::owned::<()>(reject_code(&e), e.to_string(), None),
    }
}

/// The signed authorization of an `eip7702Auth` (yParity must be 0 or 1).
pub fn authorization_of(a: &RpcAuthorization) -> Result<SignedAuthorization, RejectReason> {
    let y_parity = u8::try_from(a.y_parity)
        .ok()
        .filter(|y| *y <= 1)
        .ok_or_else(|| RejectReason::InvalidFields("eip7702Auth: yParity must be 0 or 1".into()))?;
    let unsigned = Authorization { chain_id: a.chain_id, address: a.address, nonce: a.nonce.to() };
    Ok(unsigned.into_signed(Signature::new(a.r, a.s, y_parity == 1)))
}

/// The `eip7702Auth` of a signed authorization.
pub fn rpc_authorization(a: &SignedAuthorization) -> RpcAuthorization {
    RpcAuthorization {
        chain_id: a.chain_id,
        address: a.address,
        nonce: U64::from(a.nonce),
        y_parity: U64::from(a.y_parity()),
        r: a.r(),
        s: a.s(),
    }
}

fn submission_of(rpc: RpcUserOperation) -> Result<Submission, RejectReason> {
    let authorization = rpc.eip7702_auth.as_ref().map(authorization_of).transpose()?;
    Ok(Submission { op: rpc.op, authorization })
}

/// The wire receipt of an operation's receipt.
pub fn rpc_receipt(r: DomainReceipt) -> UserOperationReceipt {
    UserOperationReceipt {
        user_op_hash: r.user_op_hash,
        entry_point: r.entry_point,
        sender: r.sender,
        nonce: r.nonce,
        paymaster: r.paymaster,
        actual_gas_cost: r.actual_gas_cost,
        actual_gas_used: r.actual_gas_used,
        success: r.success,
        reason: r.reason,
        logs: r.logs,
        receipt: r.receipt,
    }
}

/// How long `debug_bundler_sendBundleNow` waits for the bundles in flight to be mined and recorded
/// (under the 10 s the conformance suite gives a request).
pub const SEND_BUNDLE_NOW_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The RPC handler.
#[derive(Debug, Clone)]
pub struct BundlerRpc {
    bundler: Arc<Bundler>,
}

impl BundlerRpc {
    /// Serves `bundler`.
    pub fn new(bundler: Arc<Bundler>) -> Self {
        Self { bundler }
    }

    fn check_entry_point(&self, entry_point: Address) -> RpcResult<()> {
        if entry_point == self.bundler.entry_point() {
            return Ok(());
        }
        Err(rpc_error(RejectReason::InvalidFields(format!(
            "entry point {entry_point} is not supported; this bundler serves {}",
            self.bundler.entry_point()
        ))))
    }
}

#[async_trait]
impl BundlerApiServer for BundlerRpc {
    async fn send_user_operation(&self, op: RpcUserOperation, entry_point: Address) -> RpcResult<B256> {
        let submission = submission_of(op).map_err(rpc_error)?;
        self.bundler.add(submission, entry_point).await.map_err(rpc_error)
    }

    async fn estimate_user_operation_gas(
        &self,
        op: UserOperationRequest,
        entry_point: Address,
    ) -> RpcResult<GasEstimate> {
        self.check_entry_point(entry_point)?;
        let authorization = op.eip7702_auth.as_ref().map(authorization_of).transpose().map_err(rpc_error)?;
        let op = op.into_user_operation().map_err(|e| rpc_error(RejectReason::InvalidFields(e)))?;
        let e = self.bundler.estimate(&Submission { op, authorization }).await.map_err(rpc_error)?;
        Ok(GasEstimate {
            pre_verification_gas: e.pre_verification_gas,
            verification_gas_limit: e.verification_gas_limit,
            call_gas_limit: e.call_gas_limit,
            paymaster_verification_gas_limit: e.paymaster_verification_gas_limit,
            paymaster_post_op_gas_limit: e.paymaster_post_op_gas_limit,
        })
    }

    async fn user_operation_by_hash(&self, hash: B256) -> RpcResult<Option<UserOperationByHash>> {
        let Some(op) = self.bundler.operation(hash).await.map_err(rpc_error)? else { return Ok(None) };
        let included = op.status == OpStatus::Included;
        Ok(Some(UserOperationByHash {
            user_operation: op.submission.op,
            entry_point: op.entry_point,
            block_number: op.block.map(|(n, _)| U64::from(n)),
            block_hash: op.block.map(|(_, h)| h),
            transaction_hash: op.bundle_tx.filter(|_| included),
        }))
    }

    async fn user_operation_receipt(&self, hash: B256) -> RpcResult<Option<UserOperationReceipt>> {
        Ok(self.bundler.receipt(hash).await.map_err(rpc_error)?.map(rpc_receipt))
    }

    async fn supported_entry_points(&self) -> RpcResult<Vec<Address>> {
        Ok(vec![self.bundler.entry_point()])
    }

    async fn clear_state(&self) -> RpcResult<String> {
        self.bundler.clear().await.map_err(rpc_error)?;
        Ok("ok".into())
    }

    async fn clear_mempool(&self) -> RpcResult<String> {
        self.bundler.clear_mempool().await.map_err(rpc_error)?;
        Ok("ok".into())
    }

    async fn dump_mempool(&self, entry_point: Address) -> RpcResult<Vec<RpcUserOperation>> {
        self.check_entry_point(entry_point)?;
        let ops = self.bundler.unfinished().await.map_err(rpc_error)?;
        Ok(ops
            .into_iter()
            .map(|(_, _, submission)| RpcUserOperation {
                eip7702_auth: submission.authorization.as_ref().map(rpc_authorization),
                op: submission.op,
            })
            .collect())
    }

    async fn send_bundle_now(&self) -> RpcResult<SendBundleResult> {
        let tx = self.bundler.bundle_now().await.map_err(rpc_error)?;
        // This bundle, and one the bundling loop sent just before in auto mode, mined and
        // recorded before the answer (a node mines a moment after accepting).
        let settled = self.bundler.track_in_flight(SEND_BUNDLE_NOW_WAIT).await.map_err(rpc_error)?;
        if !settled {
            tracing::warn!(
                ?tx,
                "debug_bundler_sendBundleNow: a bundle is still in flight after {SEND_BUNDLE_NOW_WAIT:?}"
            );
        }
        Ok(match tx {
            Some(hash) => SendBundleResult::Sent(hash),
            None => SendBundleResult::Nothing("ok".into()),
        })
    }

    async fn dump_reputation(&self, entry_point: Address) -> RpcResult<Vec<ReputationEntry>> {
        self.check_entry_point(entry_point)?;
        let entries = self.bundler.reputation().await.map_err(rpc_error)?;
        Ok(entries
            .into_iter()
            .map(|(r, status)| ReputationEntry {
                address: r.address,
                ops_seen: U64::from(r.ops_seen),
                ops_included: U64::from(r.ops_included),
                status: status.as_str().into(),
            })
            .collect())
    }

    async fn set_reputation(&self, entries: Vec<ReputationUpdate>, entry_point: Address) -> RpcResult<String> {
        self.check_entry_point(entry_point)?;
        let records: Vec<_> = entries
            .into_iter()
            .map(|e| keyward_store::ReputationRecord {
                address: e.address,
                ops_seen: e.ops_seen.to(),
                ops_included: e.ops_included.to(),
            })
            .collect();
        self.bundler.set_reputation(&records).await.map_err(rpc_error)?;
        Ok("ok".into())
    }

    async fn clear_reputation(&self) -> RpcResult<String> {
        self.bundler.clear_reputation().await.map_err(rpc_error)?;
        Ok("ok".into())
    }

    async fn stake_status(&self, address: Address, entry_point: Address) -> RpcResult<StakeStatus> {
        self.check_entry_point(entry_point)?;
        let (stake, unstake_delay_sec, is_staked) = self.bundler.stake_status(address).await.map_err(rpc_error)?;
        Ok(StakeStatus {
            stake_info: StakeInfo { addr: address, stake: stake.to_string(), unstake_delay_sec },
            is_staked,
        })
    }

    async fn set_bundling_mode(&self, mode: BundlingMode) -> RpcResult<String> {
        self.bundler.set_mode(match mode {
            BundlingMode::Auto => keyward_bundler::BundlingMode::Auto,
            BundlingMode::Manual => keyward_bundler::BundlingMode::Manual,
        });
        Ok("ok".into())
    }

    async fn rundler_max_priority_fee_per_gas(&self) -> RpcResult<U256> {
        Ok(U256::from(self.bundler.max_priority_fee().await.map_err(rpc_error)?))
    }
}
