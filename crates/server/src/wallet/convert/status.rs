//! `wallet_getCallsStatus`: the pool's record of an operation as the Wallet API's status (100
//! pending, 200 included, 500 reverted, 400 dropped), with the receipt once included and the bundle
//! transaction it rides in while that is in flight.

use alloy::primitives::{B256, U64};
use keyward_api::wallet::{
    CallReceipt, CallsStatus, PendingBundle, ReceiptLog, StatusCode, StatusDetails, UserOperationStatusData,
};
use keyward_bundler::pool::OpState;
use keyward_bundler::receipt::OpOutcome;
use keyward_wallet::WalletResult;
use keyward_wallet::types::CallStatus;

use super::{hex_number, wire_call};

/// The Wallet API receipt of an included operation, from what the pool stored.
fn call_receipt(tx: B256, block_number: u64, block_hash: B256, o: &OpOutcome) -> CallReceipt {
    CallReceipt {
        logs: o
            .logs
            .iter()
            .map(|l| ReceiptLog { address: l.address, data: l.data.data.clone(), topics: l.topics().to_vec() })
            .collect(),
        status: U64::from(u64::from(o.success)),
        block_hash,
        block_number: U64::from(block_number),
        gas_used: o.bundle_gas_used.into(),
        transaction_hash: tx,
    }
}

/// The `wallet_getCallsStatus` answer.
pub(in crate::wallet) fn status(s: CallStatus) -> WalletResult<CallsStatus> {
    let mut pending_bundle = None;
    let (status, receipts) = match s.state {
        None | Some(OpState::Failed { .. }) => (StatusCode::OffchainFailure, None),
        Some(OpState::Pending) => (StatusCode::Pending, None),
        Some(OpState::InFlight { tx, sent_at_block }) => {
            pending_bundle = Some(PendingBundle { tx_hash: tx, sent_at_block: hex_number(sent_at_block)? });
            (StatusCode::Pending, None)
        }
        Some(OpState::Included { tx, block_number, block_hash, outcome }) => (
            if outcome.success { StatusCode::Confirmed } else { StatusCode::Reverted },
            Some(vec![call_receipt(tx, block_number, block_hash, &outcome)]),
        ),
    };
    Ok(CallsStatus {
        id: s.id.to_bytes(),
        chain_id: hex_number(s.id.chain_id)?,
        atomic: true,
        status,
        receipts,
        details: StatusDetails::UserOperation {
            data: UserOperationStatusData {
                hash: s.hash,
                calls: Some(s.calls.into_iter().map(wire_call).collect()),
                pending_bundle,
                failure: s.failure,
            },
        },
        version: Some("2.0.0".into()),
    })
}
