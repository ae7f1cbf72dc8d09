//! The ERC-4337 RPC served by a [`Bundler`]: the `keyward-api` trait wired to the service.

use std::sync::Arc;

use alloy::primitives::{Address, B256, U64, U256};
use async_trait::async_trait;
use jsonrpsee::core::RpcResult;
use jsonrpsee::types::ErrorObjectOwned;
use keyward_api::bundler::{
    BundlerApiServer, BundlingMode, GasEstimate, MempoolEntry, RpcUserOperation, UserOperationByHash,
    UserOperationReceipt, UserOperationRequest,
};
use keyward_store::OpStatus;

use crate::error::RejectReason;
use crate::estimate::estimate_user_op_gas;
use crate::receipt::user_operation_receipt;
use crate::service::{Bundler, check_authorization};
use crate::submit::current_fees;
use crate::validation::Assumptions;

/// Converts a refusal into its JSON-RPC error (ERC-7769 codes; the paymaster in `data` for -32501).
pub fn rpc_error(e: RejectReason) -> ErrorObjectOwned {
    match &e {
        RejectReason::PaymasterRejected { paymaster, .. } => {
            ErrorObjectOwned::owned(e.code(), e.to_string(), Some(serde_json::json!({ "paymaster": paymaster })))
        }
        _ => ErrorObjectOwned::owned::<()>(e.code(), e.to_string(), None),
    }
}

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

fn internal(e: impl std::fmt::Display) -> ErrorObjectOwned {
    rpc_error(RejectReason::Chain(e.to_string()))
}

#[async_trait]
impl BundlerApiServer for BundlerRpc {
    async fn send_user_operation(&self, op: RpcUserOperation, entry_point: Address) -> RpcResult<B256> {
        self.bundler.add(op, entry_point).await.map_err(rpc_error)
    }

    async fn estimate_user_operation_gas(
        &self,
        op: UserOperationRequest,
        entry_point: Address,
    ) -> RpcResult<GasEstimate> {
        self.check_entry_point(entry_point)?;
        let b = &self.bundler;
        let auth = op.eip7702_auth.clone();
        let op = op.into_user_operation().map_err(|e| rpc_error(RejectReason::InvalidFields(e)))?;
        let delegate = match &auth {
            Some(a) => Some(
                check_authorization(b.chain().as_ref(), b.chain_id, op.sender, a).await.map_err(rpc_error)?.address,
            ),
            None => None,
        };
        let nonce_sequence = b.nonce_assumption(&op).await.map_err(rpc_error)?;
        estimate_user_op_gas(b.chain().as_ref(), &b.config.validation, &op, Assumptions { delegate, nonce_sequence })
            .await
            .map_err(rpc_error)
    }

    async fn user_operation_by_hash(&self, hash: B256) -> RpcResult<Option<UserOperationByHash>> {
        let b = &self.bundler;
        let Some(r) = b.store().get_user_op(b.chain_id, b.entry_point(), hash).await.map_err(internal)? else {
            return Ok(None);
        };
        let rpc: RpcUserOperation = serde_json::from_str(&r.op_json).map_err(internal)?;
        let included = r.status == OpStatus::Included;
        Ok(Some(UserOperationByHash {
            user_operation: rpc.op,
            entry_point: r.entry_point,
            block_number: r.block_number.filter(|_| included).map(U64::from),
            block_hash: r.block_hash.filter(|_| included),
            transaction_hash: r.bundle_tx.filter(|_| included),
        }))
    }

    async fn user_operation_receipt(&self, hash: B256) -> RpcResult<Option<UserOperationReceipt>> {
        let b = &self.bundler;
        let Some(r) = b.store().get_user_op(b.chain_id, b.entry_point(), hash).await.map_err(internal)? else {
            return Ok(None);
        };
        let (OpStatus::Included, Some(tx)) = (r.status, r.bundle_tx) else { return Ok(None) };
        let Some(receipt) = b.chain().transaction_receipt(tx).await.map_err(internal)? else { return Ok(None) };
        Ok(user_operation_receipt(&receipt, b.entry_point(), hash))
    }

    async fn supported_entry_points(&self) -> RpcResult<Vec<Address>> {
        Ok(vec![self.bundler.entry_point()])
    }

    async fn clear_state(&self) -> RpcResult<String> {
        let b = &self.bundler;
        b.store().clear_user_ops(b.chain_id, b.entry_point()).await.map_err(internal)?;
        Ok("ok".into())
    }

    async fn dump_mempool(&self, entry_point: Address) -> RpcResult<Vec<MempoolEntry>> {
        self.check_entry_point(entry_point)?;
        let b = &self.bundler;
        let records = b.store().unfinished_user_ops(b.chain_id, entry_point).await.map_err(internal)?;
        records
            .into_iter()
            .map(|r| {
                let rpc: RpcUserOperation = serde_json::from_str(&r.op_json).map_err(internal)?;
                Ok(MempoolEntry { user_op_hash: r.hash, status: r.status.as_str().to_string(), user_operation: rpc.op })
            })
            .collect()
    }

    async fn send_bundle_now(&self) -> RpcResult<Option<B256>> {
        let tx = self.bundler.bundle_now().await.map_err(rpc_error)?;
        self.bundler.track().await.map_err(rpc_error)?;
        Ok(tx)
    }

    async fn set_bundling_mode(&self, mode: BundlingMode) -> RpcResult<String> {
        self.bundler.set_mode(mode);
        Ok("ok".into())
    }

    async fn rundler_max_priority_fee_per_gas(&self) -> RpcResult<U256> {
        let b = &self.bundler;
        let fees = current_fees(b.chain().as_ref()).await.map_err(internal)?;
        Ok(U256::from(fees.max_priority_fee_per_gas.max(b.config.validation.min_priority_fee)))
    }
}
