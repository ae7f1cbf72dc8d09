//! What the bundler answers about operations: gas estimates, the stored operation and where it
//! was included, its receipt, the mempool's content, the priority fee it pays.

use alloy::primitives::{Address, B256};
use keyward_store::{OpRecord, OpStatus};

use crate::error::RejectReason;
use crate::estimate::{GasEstimate, estimate_user_op_gas};
use crate::fees::current_fees;
use crate::receipt::{UserOperationReceipt, user_operation_receipt};
use crate::service::{Bundler, store_err, stored_submission};
use crate::submission::Submission;
use crate::validation::Assumptions;

/// A stored operation and where it was included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PooledOperation {
    /// The operation as submitted.
    pub submission: Submission,
    /// The EntryPoint it was submitted to.
    pub entry_point: Address,
    /// Where it is in its lifecycle.
    pub status: OpStatus,
    /// The block that included it, once included.
    pub block: Option<(u64, B256)>,
    /// The bundle transaction that carries (or carried) it.
    pub bundle_tx: Option<B256>,
}

impl Bundler {
    /// Estimates the gas limits of `submission`, as if the operations pending before it on its
    /// nonce key were included and its authorization were live.
    pub async fn estimate(&self, submission: &Submission) -> Result<GasEstimate, RejectReason> {
        let op = &submission.op;
        let delegate = self.checked_delegate(submission).await?;
        self.estimate_assuming(op, delegate).await
    }

    /// Gas limits of `op`, as if the operations pending before it on its key were included and
    /// its sender delegated to `delegate` (an EIP-7702 authorization not yet live).
    pub async fn estimate_assuming(
        &self,
        op: &keyward_primitives::UserOperation,
        delegate: Option<Address>,
    ) -> Result<GasEstimate, RejectReason> {
        let nonce_sequence = self.nonce_assumption(op).await?;
        estimate_user_op_gas(self.chain.as_ref(), &self.config.validation, op, Assumptions { delegate, nonce_sequence })
            .await
    }

    /// The stored operation `hash`, if this bundler has seen it.
    pub async fn operation(&self, hash: B256) -> Result<Option<PooledOperation>, RejectReason> {
        let Some(r) = self.record(hash).await? else { return Ok(None) };
        let submission = stored_submission(&r)?;
        let block = match (r.status, r.block_number, r.block_hash) {
            (OpStatus::Included, Some(n), Some(h)) => Some((n, h)),
            _ => None,
        };
        Ok(Some(PooledOperation {
            submission,
            entry_point: r.entry_point,
            status: r.status,
            block,
            bundle_tx: r.bundle_tx,
        }))
    }

    /// The receipt of the included operation `hash`; `None` while it is not included.
    pub async fn receipt(&self, hash: B256) -> Result<Option<UserOperationReceipt>, RejectReason> {
        // Polled many times per operation: its progress only, not the operation.
        let progress = self.store.user_op_progress(self.chain_id, self.entry_point(), hash).await.map_err(store_err)?;
        let Some(r) = progress else { return Ok(None) };
        let (OpStatus::Included, Some(tx)) = (r.status, r.bundle_tx) else { return Ok(None) };
        let Some(receipt) = self.chain.transaction_receipt(tx).await? else { return Ok(None) };
        Ok(user_operation_receipt(&receipt, self.entry_point(), hash))
    }

    /// The operations not yet final (pending, or in a bundle in flight), with their status, in
    /// arrival order.
    pub async fn unfinished(&self) -> Result<Vec<(B256, OpStatus, Submission)>, RejectReason> {
        let mut records = self.store.unfinished_user_ops(self.chain_id, self.entry_point()).await.map_err(store_err)?;
        self.in_arrival_order(&mut records).await;
        records.iter().map(|r| Ok((r.hash, r.status, stored_submission(r)?))).collect()
    }

    /// Forgets every operation of this chain and EntryPoint and the entities' reputation
    /// (`debug_bundler_clearState`).
    pub async fn clear(&self) -> Result<(), RejectReason> {
        self.clear_mempool().await?;
        self.clear_reputation().await
    }

    /// Forgets every operation of this chain and EntryPoint (`debug_bundler_clearMempool`).
    pub async fn clear_mempool(&self) -> Result<(), RejectReason> {
        self.store.clear_user_ops(self.chain_id, self.entry_point()).await.map_err(store_err)?;
        self.clear_facts().await
    }

    /// The priority fee per gas this bundler pays (the chain's suggested tip, at least the
    /// admission minimum): what `rundler_maxPriorityFeePerGas` answers.
    pub async fn max_priority_fee(&self) -> Result<u128, RejectReason> {
        let fees = current_fees(self.chain.as_ref()).await?;
        Ok(fees.max_priority_fee_per_gas.max(self.config.validation.min_priority_fee))
    }

    /// The chain id served.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The configuration.
    pub fn config(&self) -> &crate::service::BundlerConfig {
        &self.config
    }

    async fn record(&self, hash: B256) -> Result<Option<OpRecord>, RejectReason> {
        self.store.get_user_op(self.chain_id, self.entry_point(), hash).await.map_err(store_err)
    }
}
