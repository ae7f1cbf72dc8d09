//! The receipt of one user operation, cut out of its bundle transaction's receipt.

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::rpc::types::Log;
use alloy::rpc::types::TransactionReceipt;
use alloy::sol_types::SolEvent;
use keyward_primitives::entry_point::IEntryPoint::{
    AccountDeployed, BeforeExecution, UserOperationEvent, UserOperationRevertReason,
};

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
    /// The logs emitted by this operation: emitter, topics and data only (their block and
    /// transaction are the operation's, kept beside it; rows written with the RPC form, which
    /// repeats those per log, still read).
    pub logs: Vec<alloy::primitives::Log>,
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
            logs: r.logs.iter().map(|l| l.inner.clone()).collect(),
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

/// The ERC-7562 entities of an included operation, as its bundle's receipt shows them: its
/// sender, its factory (the `AccountDeployed` event of `receipt`'s validation phase names it) and
/// its paymaster (when `r` names one), in that order — what the operation's fields would give,
/// without reading it back.
pub fn included_entities(receipt: &TransactionReceipt, r: &UserOperationReceipt) -> Vec<Address> {
    let deployed = receipt.inner.logs().iter().find_map(|log| {
        let ours = log.address() == r.entry_point
            && log.topics().first() == Some(&AccountDeployed::SIGNATURE_HASH)
            && log.topics().get(1) == Some(&r.user_op_hash);
        ours.then(|| AccountDeployed::decode_log_data(log.data()).ok()).flatten()
    });
    let mut entities = vec![r.sender];
    entities.extend(deployed.map(|d| d.factory));
    entities.extend(Some(r.paymaster).filter(|p| !p.is_zero()));
    entities
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{LogData, address, b256, bytes};

    fn rpc_log() -> Log {
        Log {
            inner: alloy::primitives::Log {
                address: address!("0x00000000000000000000000000000000000000c0"),
                data: LogData::new_unchecked(
                    vec![b256!("0x6d5ac8cb8937b5a656fc2cba7f07defd379bc116df48f519cfaf883f29438236")],
                    bytes!("0x01"),
                ),
            },
            block_hash: Some(B256::repeat_byte(0xbb)),
            block_number: Some(18),
            block_timestamp: Some(1_800_000_000),
            transaction_hash: Some(B256::repeat_byte(0x77)),
            transaction_index: Some(0),
            log_index: Some(8),
            removed: false,
        }
    }

    fn outcome(logs: Vec<alloy::primitives::Log>) -> OpOutcome {
        OpOutcome {
            sender: Address::repeat_byte(0x5e),
            nonce: U256::from(7),
            paymaster: Address::ZERO,
            actual_gas_cost: U256::from(1000),
            actual_gas_used: U256::from(100),
            success: true,
            reason: None,
            logs,
            bundle_gas_used: 200_000,
        }
    }

    #[test]
    fn an_outcome_stores_each_log_without_its_block_and_transaction() {
        let stored = serde_json::to_value(outcome(vec![rpc_log().inner])).unwrap();
        let log = &stored["logs"][0];
        let mut keys: Vec<_> = log.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["address", "data", "topics"]);
    }

    #[test]
    fn an_outcome_stored_with_rpc_logs_still_reads() {
        // The form rows were written in before: alloy's RPC log, block and transaction per log.
        let mut old = serde_json::to_value(outcome(vec![])).unwrap();
        old["logs"] = serde_json::json!([serde_json::to_value(rpc_log()).unwrap()]);
        assert!(old["logs"][0].get("blockHash").is_some());
        let read: OpOutcome = serde_json::from_value(old).unwrap();
        assert_eq!(read, outcome(vec![rpc_log().inner]));
    }
}
