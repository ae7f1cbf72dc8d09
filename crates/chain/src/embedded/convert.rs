//! Conversions from the embedded chain's stored blocks to the JSON-RPC types alloy defines.

use alloy::consensus::Transaction as _;
use alloy::rpc::types::{Block, BlockTransactions, Header, Log, Transaction, TransactionReceipt};

use super::state::{StoredBlock, StoredTx};

/// The RPC form of transaction `index` of `block`.
pub(crate) fn rpc_transaction(block: &StoredBlock, index: usize, tx: &StoredTx) -> Transaction {
    Transaction {
        inner: tx.tx.clone(),
        block_hash: Some(block.hash),
        block_number: Some(block.header.number),
        transaction_index: Some(index as u64),
        effective_gas_price: Some(tx.effective_gas_price),
        block_timestamp: Some(block.header.timestamp),
    }
}

/// The RPC logs of one transaction, with their block context.
pub(crate) fn rpc_logs(block: &StoredBlock, index: usize, tx: &StoredTx) -> Vec<Log> {
    tx.receipt
        .logs()
        .iter()
        .enumerate()
        .map(|(i, log)| Log {
            inner: log.clone(),
            block_hash: Some(block.hash),
            block_number: Some(block.header.number),
            block_timestamp: Some(block.header.timestamp),
            transaction_hash: Some(*tx.tx.inner().tx_hash()),
            transaction_index: Some(index as u64),
            log_index: Some(tx.first_log_index + i as u64),
            removed: false,
        })
        .collect()
}

/// The RPC receipt of transaction `index` of `block`.
pub(crate) fn rpc_receipt(block: &StoredBlock, index: usize, tx: &StoredTx) -> TransactionReceipt {
    let logs = rpc_logs(block, index, tx);
    let mut logs = logs.into_iter();
    let inner = tx.receipt.clone().map_logs(|_| logs.next().unwrap_or_default());
    TransactionReceipt {
        inner,
        transaction_hash: *tx.tx.inner().tx_hash(),
        transaction_index: Some(index as u64),
        block_hash: Some(block.hash),
        block_number: Some(block.header.number),
        gas_used: tx.gas_used,
        effective_gas_price: tx.effective_gas_price,
        blob_gas_used: None,
        blob_gas_price: None,
        from: tx.tx.signer(),
        to: tx.tx.inner().to(),
        contract_address: tx.contract_address,
    }
}

/// The RPC block, with whole transactions when `full`.
pub(crate) fn rpc_block(block: &StoredBlock, full: bool) -> Block {
    let transactions = if full {
        BlockTransactions::Full(block.txs.iter().enumerate().map(|(i, t)| rpc_transaction(block, i, t)).collect())
    } else {
        BlockTransactions::Hashes(block.txs.iter().map(|t| *t.tx.inner().tx_hash()).collect())
    };
    let size = alloy::rlp::encode(&block.header).len()
        + block.txs.iter().map(|t| alloy::eips::eip2718::Encodable2718::encode_2718_len(t.tx.inner())).sum::<usize>();
    Block {
        header: Header {
            hash: block.hash,
            inner: block.header.clone(),
            total_difficulty: Some(Default::default()),
            size: Some(alloy::primitives::U256::from(size)),
        },
        uncles: Vec::new(),
        transactions,
        withdrawals: Some(Default::default()),
    }
}
