//! `wallet_getCallsStatus`: a call id resolved through the pool's record of its user operation
//! (100 pending, 200 included, 500 reverted, 400 dropped) with the receipt once included, and the
//! bundle transaction it rides in (`pendingBundle`) while that is in flight.

use alloy::primitives::{B256, Bytes, U64};
use keyward_api::wallet::{
    Call, CallReceipt, CallsStatus, HexNumber, PendingBundle, ReceiptLog, StatusCode, StatusDetails,
    UserOperationStatusData, parse_call_id,
};
use keyward_bundler::pool::OpState;
use keyward_bundler::receipt::OpOutcome;

use crate::error::{WalletError, WalletResult};
use crate::service::Wallet;

/// The Wallet API receipt of an included operation, from what the pool stored.
fn call_receipt(tx: B256, block_number: u64, block_hash: B256, o: &OpOutcome) -> CallReceipt {
    CallReceipt {
        logs: o
            .logs
            .iter()
            .map(|l| ReceiptLog { address: l.address(), data: l.data().data.clone(), topics: l.topics().to_vec() })
            .collect(),
        status: U64::from(u64::from(o.success)),
        block_hash,
        block_number: U64::from(block_number),
        gas_used: o.bundle_gas_used.into(),
        transaction_hash: tx,
    }
}

impl Wallet {
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
        let state = self.pool.state(hash).await?;
        let mut pending_bundle = None;
        let (status, receipts) = match state {
            None | Some(OpState::Failed { .. }) => (StatusCode::OffchainFailure, None),
            Some(OpState::Pending) => (StatusCode::Pending, None),
            Some(OpState::InFlight { tx, sent_at_block }) => {
                let sent_at_block =
                    HexNumber::try_from(sent_at_block).map_err(|e| WalletError::Internal(e.to_string()))?;
                pending_bundle = Some(PendingBundle { tx_hash: tx, sent_at_block });
                (StatusCode::Pending, None)
            }
            Some(OpState::Included { tx, block_number, block_hash, outcome }) => (
                if outcome.success { StatusCode::Confirmed } else { StatusCode::Reverted },
                Some(vec![call_receipt(tx, block_number, block_hash, &outcome)]),
            ),
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
