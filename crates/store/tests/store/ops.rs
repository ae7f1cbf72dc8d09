//! Builders for test records.

use alloy::primitives::{Address, B256, U256, keccak256};
use keyward_store::{BundleRecord, BundleStatus, OpRecord, OpStatus};

/// Chain of most tests.
pub(crate) const CHAIN: u64 = 31337;

/// The canonical EntryPoint v0.7.
pub(crate) fn ep() -> Address {
    "0x0000000071727De22E5E9d8BAf0edAc6f37da032".parse().expect("address")
}

/// A test sender.
pub(crate) fn sender(n: u8) -> Address {
    Address::repeat_byte(n)
}

/// A pending op; its hash commits to every argument.
pub(crate) fn op(sender: Address, nonce_seq: u64, max_fee: u128, prio: u128, created_at: u64) -> OpRecord {
    let mut pre = Vec::new();
    pre.extend_from_slice(sender.as_slice());
    pre.extend_from_slice(&nonce_seq.to_be_bytes());
    pre.extend_from_slice(&max_fee.to_be_bytes());
    pre.extend_from_slice(&prio.to_be_bytes());
    pre.extend_from_slice(&created_at.to_be_bytes());
    let hash = keccak256(&pre);
    OpRecord {
        hash,
        chain_id: CHAIN,
        entry_point: ep(),
        sender,
        nonce_key: U256::ZERO,
        nonce_seq,
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: prio,
        valid_until: 281_474_976_710_655,
        op_json: format!(r#"{{"sender":"{sender}","nonce":"{nonce_seq:#x}"}}"#),
        status: OpStatus::Pending,
        bundle_tx: None,
        block_number: None,
        block_hash: None,
        receipt_json: None,
        failure: None,
        created_at,
        updated_at: created_at,
    }
}

/// A test hash.
pub(crate) fn h(n: u8) -> B256 {
    B256::repeat_byte(n)
}

/// A pending bundle record.
pub(crate) fn bundle(tx: u8, bundler: Address, nonce: u64, ops: Vec<B256>) -> BundleRecord {
    BundleRecord {
        tx_hash: h(tx),
        chain_id: CHAIN,
        bundler,
        tx_nonce: nonce,
        max_fee_per_gas: 2_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        op_hashes: ops,
        status: BundleStatus::Pending,
        sent_at: 1_700_000_000 + nonce,
        sent_at_block: nonce,
        updated_at: 1_700_000_000 + nonce,
    }
}

/// The fence of a test bundling role, taken (or renewed) for a minute.
pub(crate) async fn fence(store: &keyward_store::Store) -> keyward_store::Fence {
    let how = keyward_store::Acquire { term: std::time::Duration::from_secs(60), patience: std::time::Duration::ZERO };
    store.acquire_role("bundler:test", "test-replica", how).await.unwrap().unwrap()
}
