//! The receipt of one user operation, cut out of its bundle transaction's receipt.

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::rpc::types::Log;
use alloy::rpc::types::TransactionReceipt;
use alloy::sol_types::SolEvent;
use keyward_primitives::entry_point::IEntryPoint::{BeforeExecution, UserOperationEvent, UserOperationRevertReason};

/// The outcome of one included user operation (ERC-4337's `eth_getUserOperationReceipt`).
#[derive(Debug, Clone, PartialEq)]
pub struct UserOperationReceipt {
    /// The userOpHash.
    pub user_op_hash: B256,
    /// The EntryPoint.
    pub entry_point: Address,
    /// The account.
    pub sender: Address,
    /// The full nonce.
    pub nonce: U256,
    /// The paymaster, or the zero address.
    pub paymaster: Address,
    /// What the operation was charged, in wei.
    pub actual_gas_cost: U256,
    /// Gas the operation was charged for.
    pub actual_gas_used: U256,
    /// Whether the execution succeeded.
    pub success: bool,
    /// Revert data of a failed execution, when the EntryPoint reported one.
    pub reason: Option<Bytes>,
    /// The logs emitted by this operation (between the previous op's event and its own).
    pub logs: Vec<Log>,
    /// The bundle transaction's receipt.
    pub receipt: TransactionReceipt,
}

/// What the mempool keeps of an included operation: its own part of the bundle's receipt (its
/// `UserOperationEvent` fields and its logs), enough to answer its status without the chain.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpOutcome {
    /// The account.
    pub sender: Address,
    /// The full nonce.
    pub nonce: U256,
    /// The paymaster, or the zero address.
    pub paymaster: Address,
    /// What the operation was charged, in wei.
    pub actual_gas_cost: U256,
    /// Gas the operation was charged for.
    pub actual_gas_used: U256,
    /// Whether the execution succeeded.
    pub success: bool,
    /// Revert data of a failed execution, when the EntryPoint reported one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Bytes>,
    /// The logs emitted by this operation.
    pub logs: Vec<Log>,
    /// Gas used by the whole bundle transaction.
    #[serde(default)]
    pub bundle_gas_used: u64,
}

impl From<&UserOperationReceipt> for OpOutcome {
    fn from(r: &UserOperationReceipt) -> Self {
        Self {
            sender: r.sender,
            nonce: r.nonce,
            paymaster: r.paymaster,
            actual_gas_cost: r.actual_gas_cost,
            actual_gas_used: r.actual_gas_used,
            success: r.success,
            reason: r.reason.clone(),
            logs: r.logs.clone(),
            bundle_gas_used: r.receipt.gas_used,
        }
    }
}

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
