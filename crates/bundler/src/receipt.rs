//! The receipt of one user operation, cut out of its bundle transaction's receipt.

use alloy::primitives::{Address, B256};
use alloy::rpc::types::TransactionReceipt;
use alloy::sol_types::SolEvent;
use keyward_api::bundler::UserOperationReceipt;
use keyward_primitives::entry_point::IEntryPoint::{BeforeExecution, UserOperationEvent, UserOperationRevertReason};

/// Builds the receipt of `user_op_hash` from the bundle's transaction receipt, or `None` when the
/// bundle holds no `UserOperationEvent` for it.
///
/// The operation's logs are those after the previous operation's `UserOperationEvent` (or after
/// `BeforeExecution`) up to its own event, as bundlers attribute them.
pub fn user_operation_receipt(
    receipt: &TransactionReceipt,
    entry_point: Address,
    user_op_hash: B256,
) -> Option<UserOperationReceipt> {
    let logs = receipt.inner.logs();
    let from_ep = |i: usize, topic: B256| logs[i].address() == entry_point && logs[i].topics().first() == Some(&topic);
    let end = (0..logs.len())
        .find(|&i| from_ep(i, UserOperationEvent::SIGNATURE_HASH) && logs[i].topics().get(1) == Some(&user_op_hash))?;
    let start = (0..end)
        .rev()
        .find(|&i| from_ep(i, UserOperationEvent::SIGNATURE_HASH) || from_ep(i, BeforeExecution::SIGNATURE_HASH))
        .map(|i| i + 1)
        .unwrap_or(0);
    let event = UserOperationEvent::decode_log_data(logs[end].data()).ok()?;
    let reason = (start..end)
        .filter(|&i| from_ep(i, UserOperationRevertReason::SIGNATURE_HASH))
        .find_map(|i| UserOperationRevertReason::decode_log_data(logs[i].data()).ok())
        .map(|r| r.revertReason);
    Some(UserOperationReceipt {
        user_op_hash,
        entry_point,
        sender: event.sender,
        nonce: event.nonce,
        paymaster: event.paymaster,
        actual_gas_cost: event.actualGasCost,
        actual_gas_used: event.actualGasUsed,
        success: event.success,
        reason,
        logs: logs[start..end].to_vec(),
        receipt: receipt.clone(),
    })
}
