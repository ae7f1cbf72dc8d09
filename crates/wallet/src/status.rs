//! `wallet_getCallsStatus`: a call id resolved through the bundler's record of its user operation
//! (100 pending, 200 included, 500 reverted, 400 dropped) with the receipt once included, and the
//! bundle transaction it rides in (`pendingBundle`) while that is in flight.

use alloy::primitives::{B256, Bytes, U64};
use keyward_api::bundler::UserOperationReceipt;
use keyward_api::wallet::{
    Call, CallReceipt, CallsStatus, HexNumber, PendingBundle, ReceiptLog, StatusCode, StatusDetails,
    UserOperationStatusData, parse_call_id,
};
use keyward_bundler::receipt::user_operation_receipt;
use keyward_store::OpStatus;

use crate::error::{WalletError, WalletResult};
use crate::service::Wallet;

fn call_receipt(r: &UserOperationReceipt) -> CallReceipt {
    let tx = &r.receipt;
    CallReceipt {
        logs: r
            .logs
            .iter()
            .map(|l| ReceiptLog { address: l.address(), data: l.data().data.clone(), topics: l.topics().to_vec() })
            .collect(),
        status: U64::from(u64::from(r.success)),
        block_hash: tx.block_hash.unwrap_or_default(),
        block_number: U64::from(tx.block_number.unwrap_or_default()),
        gas_used: tx.gas_used.into(),
        transaction_hash: tx.transaction_hash,
    }
}

impl Wallet {
    /// The bundle transaction `tx` an operation rides in while it is in flight.
    async fn pending_bundle(&self, tx: B256) -> WalletResult<Option<PendingBundle>> {
        let Some(bundle) = self.store.bundle_by_tx(tx).await? else {
            return Ok(None);
        };
        let sent_at_block =
            HexNumber::try_from(bundle.sent_at_block).map_err(|e| WalletError::Internal(e.to_string()))?;
        Ok(Some(PendingBundle { tx_hash: bundle.tx_hash, sent_at_block }))
    }

    /// `wallet_getCallsStatus`.
    pub async fn get_calls_status(&self, id: Bytes) -> WalletResult<CallsStatus> {
        let unknown = || WalletError::UnknownCallId(id.to_string());
        let (chain_id, hash) = parse_call_id(&id).ok_or_else(unknown)?;
        if chain_id != self.chain_id {
            return Err(unknown());
        }
        let record = self.store.call(&id.to_string()).await?.ok_or_else(unknown)?;
        let calls: Vec<Call> = serde_json::from_str(&record.calls_json)
            .map_err(|e| WalletError::Internal(format!("stored calls: {e}")))?;
        let ep = self.config.deployment.entry_point;
        let op = self
            .store
            .get_user_op(self.chain_id, ep, hash)
            .await
            .map_err(|e| WalletError::Internal(format!("mempool: {e}")))?;
        let pending_bundle = match op.as_ref().filter(|o| o.status == OpStatus::Submitted).and_then(|o| o.bundle_tx) {
            Some(tx) => self.pending_bundle(tx).await?,
            None => None,
        };
        let (status, receipts) = match op {
            None => (StatusCode::OffchainFailure, None),
            Some(op) => match (op.status, op.bundle_tx) {
                (OpStatus::Pending | OpStatus::Submitted, _) => (StatusCode::Pending, None),
                (OpStatus::Failed | OpStatus::Dropped, _) => (StatusCode::OffchainFailure, None),
                (OpStatus::Included, Some(tx)) => {
                    let receipt =
                        self.chain.transaction_receipt(tx).await?.and_then(|r| user_operation_receipt(&r, ep, hash));
                    match receipt {
                        Some(r) => (
                            if r.success { StatusCode::Confirmed } else { StatusCode::Reverted },
                            Some(vec![call_receipt(&r)]),
                        ),
                        // Included by the record but the node has no receipt yet: still pending.
                        None => (StatusCode::Pending, None),
                    }
                }
                (OpStatus::Included, None) => (StatusCode::Pending, None),
            },
        };
        Ok(CallsStatus {
            id,
            chain_id: HexNumber::try_from(self.chain_id).map_err(|e| WalletError::Internal(e.to_string()))?,
            atomic: true,
            status,
            receipts,
            details: StatusDetails::UserOperation {
                data: UserOperationStatusData { hash, calls: Some(calls), pending_bundle },
            },
            version: Some("2.0.0".into()),
        })
    }
}
