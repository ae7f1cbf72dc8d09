//! The bundler service on the embedded chain with a SQLite mempool: admission rules (idempotent
//! retries, replacement fees, per-sender cap, nonce sequencing), bundling and tracking to
//! inclusion, and recovery from a store left by a crash.
//!
//! Here, at the edge, because refusals are checked by their ERC-7769 code
//! (`keyward_server::bundler::reject_code`) and one fee is read through `BundlerRpc`.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use keyward_server::bundler::reject_code;
use std::sync::Arc;
use std::time::Duration;

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::rpc::types::state::StateOverride;
use alloy::rpc::types::{Block, FeeHistory, Filter, Log, Transaction, TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use keyward_bundler::watch::{ChainWatcher, WatchConfig};
use keyward_bundler::{Bundler, BundlerConfig, RejectReason};
use keyward_bundler::{BundlingMode, Submission};
use keyward_chain::ChainResult;
use keyward_primitives::UserOperation;
use keyward_store::{OpStatus, Store};
use keyward_testkit::Harness;
use keyward_testkit::ops::{self, count_call};

const ETH: u64 = 1_000_000_000_000_000_000;

/// Which chain a scenario runs on.
#[derive(Debug, Clone, Copy)]
enum Backend {
    Embedded,
    Anvil,
}

impl Backend {
    async fn harness(self) -> Harness {
        match self {
            Backend::Embedded => Harness::embedded(),
            Backend::Anvil => Harness::anvil().await,
        }
    }
}

struct Env {
    h: Harness,
    dir: std::path::PathBuf,
    bundler: Arc<Bundler>,
    owner: PrivateKeySigner,
    account: Address,
    counter: Address,
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("keyward-bundler-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn env(backend: Backend, name: &str) -> Env {
    env_with(backend, name, BundlerConfig::default()).await
}

async fn env_with(backend: Backend, name: &str, config: BundlerConfig) -> Env {
    let h = backend.harness().await;
    let dir = temp_dir(&format!("{name}-{backend:?}"));
    let store = Store::open_sqlite_file(&dir).await.unwrap();
    let bundler = Bundler::new(h.chain.clone(), store, h.keys[9].clone(), config).await.unwrap();
    bundler.set_mode(BundlingMode::Manual);
    let owner = PrivateKeySigner::random();
    let account = h.test_account(owner.address(), U256::from(ETH)).await;
    let counter = h.counter().await;
    Env { h, dir, bundler, owner, account, counter }
}

impl Env {
    async fn op(&self, nonce: U256, edit: impl FnOnce(&mut UserOperation)) -> Submission {
        let mut op = ops::op(self.account, nonce, count_call(self.counter));
        edit(&mut op);
        self.h.sign(&mut op, &self.owner).await;
        Submission::new(op)
    }

    /// Tracks until `hash` is included (a node may report the receipt a moment after accepting).
    async fn track_until_included(&self, bundler: &Bundler, hash: B256) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            bundler.track().await.unwrap();
            let rec = bundler.store().get_user_op(self.h.chain_id().await, self.h.ep, hash).await.unwrap().unwrap();
            if rec.status == OpStatus::Included {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "{hash} still {:?}", rec.status);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn status(&self, hash: B256) -> OpStatus {
        self.bundler.store().get_user_op(self.h.chain_id().await, self.h.ep, hash).await.unwrap().unwrap().status
    }
}

async fn accepted_op_is_bundled_and_tracked_to_inclusion(backend: Backend) {
    let e = env(backend, "flow").await;
    let op = e.op(U256::ZERO, |_| {}).await;
    let hash = e.bundler.add(op.clone(), e.h.ep).await.unwrap();
    assert_eq!(hash, op.op.hash(e.h.ep, e.h.chain_id().await));
    // A client retry of the same operation is answered with the same hash, not an error.
    assert_eq!(e.bundler.add(op, e.h.ep).await.unwrap(), hash);
    assert_eq!(e.status(hash).await, OpStatus::Pending);
    let tx = e.bundler.bundle_now().await.unwrap().expect("a bundle");
    assert_eq!(e.status(hash).await, OpStatus::Submitted);
    e.track_until_included(&e.bundler, hash).await;
    let rec = e.bundler.store().get_user_op(e.h.chain_id().await, e.h.ep, hash).await.unwrap().unwrap();
    assert_eq!(rec.status, OpStatus::Included);
    assert_eq!(rec.bundle_tx, Some(tx));
    assert!(rec.receipt_json.unwrap().contains("\"success\":true"));
    assert_eq!(e.bundler.bundle_now().await.unwrap(), None, "nothing left to bundle");
    std::fs::remove_dir_all(&e.dir).unwrap();
}

async fn replacement_needs_ten_percent_more_on_both_fees(backend: Backend) {
    let e = env(backend, "replace").await;
    let first = e.op(U256::ZERO, |_| {}).await;
    let old = e.bundler.add(first, e.h.ep).await.unwrap();
    let cheap = e
        .op(U256::ZERO, |op| {
            op.max_fee_per_gas += op.max_fee_per_gas / 20;
            op.max_priority_fee_per_gas += op.max_priority_fee_per_gas / 20;
        })
        .await;
    let err = e.bundler.add(cheap, e.h.ep).await.unwrap_err();
    assert_eq!(reject_code(&err), -32602);
    assert!(err.to_string().contains("replacement underpriced"), "{err}");
    let better = e
        .op(U256::ZERO, |op| {
            op.max_fee_per_gas += op.max_fee_per_gas / 10;
            op.max_priority_fee_per_gas += op.max_priority_fee_per_gas / 10;
        })
        .await;
    let new = e.bundler.add(better, e.h.ep).await.unwrap();
    assert_ne!(new, old);
    assert_eq!(e.status(new).await, OpStatus::Pending);
    assert!(
        e.bundler
            .store()
            .get_user_op(e.h.chain_id().await, e.h.ep, old)
            .await
            .unwrap()
            .is_none_or(|r| r.status != OpStatus::Pending)
    );
    std::fs::remove_dir_all(&e.dir).unwrap();
}

async fn nonce_sequencing_and_sender_cap(backend: Backend) {
    let e = env(backend, "nonces").await;
    for seq in 0..4u64 {
        e.bundler.add(e.op(U256::from(seq), |_| {}).await, e.h.ep).await.unwrap();
    }
    // A fifth pending op from the same sender is throttled.
    let err = e.bundler.add(e.op(U256::from(4), |_| {}).await, e.h.ep).await.unwrap_err();
    assert_eq!(reject_code(&err), -32504, "{err}");
    // A gap is refused before anything else.
    let e2 = env(backend, "gap").await;
    let err = e2.bundler.add(e2.op(U256::from(1), |_| {}).await, e2.h.ep).await.unwrap_err();
    assert!(matches!(err, RejectReason::SimulationFailed(ref m) if m.contains("gap")), "{err}");
    // A sender's consecutive sequences share a bundle: one bundle includes the four, in order.
    let hashes: Vec<B256> = {
        let mut v = Vec::new();
        for seq in 0..4u64 {
            v.push(e.op(U256::from(seq), |_| {}).await.op.hash(e.h.ep, e.h.chain_id().await));
        }
        v
    };
    let tx = e.bundler.bundle_now().await.unwrap().expect("a bundle");
    for hash in &hashes {
        e.track_until_included(&e.bundler, *hash).await;
        let rec = e.bundler.store().get_user_op(e.h.chain_id().await, e.h.ep, *hash).await.unwrap().unwrap();
        assert_eq!(rec.bundle_tx, Some(tx), "every sequence in the one bundle");
    }
    assert_eq!(e.h.nonce(e.account, 0).await, U256::from(4));
    std::fs::remove_dir_all(&e.dir).unwrap();
    std::fs::remove_dir_all(&e2.dir).unwrap();
}

async fn auto_mode_includes_without_being_asked(backend: Backend) {
    let e = env(backend, "auto").await;
    e.bundler.set_mode(BundlingMode::Auto);
    let _task = e.bundler.spawn();
    let hash = e.bundler.add(e.op(U256::ZERO, |_| {}).await, e.h.ep).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while e.status(hash).await != OpStatus::Included {
        assert!(tokio::time::Instant::now() < deadline, "not included in time");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    std::fs::remove_dir_all(&e.dir).unwrap();
}

async fn a_restart_resumes_from_the_store(backend: Backend) {
    let e = env(backend, "restart").await;
    let chain_id = e.h.chain_id().await;
    // Accepted, then the process "dies": only the store file and the chain remain.
    let a = e.bundler.add(e.op(U256::ZERO, |_| {}).await, e.h.ep).await.unwrap();
    // (The first bundler is in manual mode with no loop: it does nothing more, as if dead.)
    let store = Store::open_sqlite_file(&e.dir).await.unwrap();
    let bundler = Bundler::new(e.h.chain.clone(), store, e.h.keys[9].clone(), BundlerConfig::default()).await.unwrap();
    bundler.set_mode(BundlingMode::Manual);
    assert!(bundler.bundle_now().await.unwrap().is_some());
    e.track_until_included(&bundler, a).await;

    // A bundle recorded but never sent (a crash between the two): the tracker notices the node
    // never saw it and puts the operation back, and the next bundle includes it — once.
    let b = bundler
        .add(
            {
                let mut op = ops::op(e.account, U256::from(1), count_call(e.counter));
                e.h.sign(&mut op, &e.owner).await;
                Submission::new(op)
            },
            e.h.ep,
        )
        .await
        .unwrap();
    let ghost = B256::repeat_byte(0x77);
    bundler
        .store()
        .record_bundle(&keyward_store::BundleRecord {
            tx_hash: ghost,
            chain_id,
            bundler: e.h.keys[9].address(),
            tx_nonce: e.h.chain.transaction_count(e.h.keys[9].address(), true).await.unwrap(),
            max_fee_per_gas: 1,
            max_priority_fee_per_gas: 1,
            op_hashes: vec![b],
            status: keyward_store::BundleStatus::Pending,
            sent_at: 0,
            sent_at_block: 0,
            updated_at: 0,
        })
        .await
        .unwrap();
    let fence = bundler.hold_lease().await.unwrap().expect("the only replica holds its key");
    bundler.store().mark_submitted(&fence, chain_id, e.h.ep, &[b], ghost).await.unwrap();
    bundler.track().await.unwrap();
    assert_eq!(bundler.store().get_user_op(chain_id, e.h.ep, b).await.unwrap().unwrap().status, OpStatus::Pending);
    assert!(bundler.bundle_now().await.unwrap().is_some());
    e.track_until_included(&bundler, b).await;
    assert_eq!(e.h.nonce(e.account, 0).await, U256::from(2));
    std::fs::remove_dir_all(&e.dir).unwrap();
}

/// A bundler whose key cannot pay for a bundle refuses the operation precisely (and takes it once
/// the key is funded), instead of accepting it and failing to send.
async fn an_unfunded_bundler_key_refuses_with_its_balance(backend: Backend) {
    let e = env(backend, "unfunded").await;
    let poor = PrivateKeySigner::random();
    let store = Store::open_sqlite_file(temp_dir(&format!("unfunded-poor-{backend:?}"))).await.unwrap();
    let bundler = Bundler::new(e.h.chain.clone(), store, poor.clone(), BundlerConfig::default()).await.unwrap();
    bundler.set_mode(BundlingMode::Manual);
    let op = e.op(U256::ZERO, |_| {}).await;
    let needed = op.op.required_prefund();
    let refusal = bundler.add(op.clone(), e.h.ep).await.unwrap_err();
    assert_eq!(refusal, RejectReason::BundlerUnfunded { bundler: poor.address(), balance: U256::ZERO, needed });
    assert_eq!(reject_code(&refusal), -32603);
    assert!(refusal.to_string().contains(&poor.address().to_string()), "{refusal}");
    e.h.chain.set_balance(poor.address(), needed).await.unwrap();
    bundler.add(op, e.h.ep).await.unwrap();
    std::fs::remove_dir_all(&e.dir).unwrap();
}

/// Two bundler keys over one mempool bundle in parallel: every operation is included exactly
/// once, by one key (the store's claim tests show a sender's operations in flight stay with one
/// key).
async fn two_bundler_keys_share_one_mempool(backend: Backend) {
    let config = BundlerConfig { max_bundle_ops: 3, ..Default::default() };
    let e = env_with(backend, "two-keys", config.clone()).await;
    let other = Bundler::new(e.h.chain.clone(), e.bundler.store().clone(), e.h.keys[8].clone(), config).await.unwrap();
    other.set_mode(BundlingMode::Manual);
    let mut hashes = Vec::new();
    let mut senders = Vec::new();
    for _ in 0..4 {
        let owner = PrivateKeySigner::random();
        let account = e.h.test_account(owner.address(), U256::from(ETH)).await;
        for n in 0..3u64 {
            let mut op = ops::op(account, U256::from(n), count_call(e.counter));
            e.h.sign(&mut op, &owner).await;
            hashes.push(e.bundler.add(Submission::new(op), e.h.ep).await.unwrap());
        }
        senders.push(account);
    }
    let chain_id = e.h.chain_id().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (a, b) = tokio::join!(e.bundler.bundle_now(), other.bundle_now());
        a.unwrap();
        b.unwrap();
        e.bundler.track().await.unwrap();
        other.track().await.unwrap();
        let mut done = true;
        for h in &hashes {
            let rec = e.bundler.store().get_user_op(chain_id, e.h.ep, *h).await.unwrap().unwrap();
            assert!(matches!(rec.status, OpStatus::Pending | OpStatus::Submitted | OpStatus::Included), "{h}: {rec:?}");
            done &= rec.status == OpStatus::Included;
        }
        if done {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not all included");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for account in &senders {
        assert_eq!(e.h.nonce(*account, 0).await, U256::from(3), "three operations of {account}, once each");
    }
    // Which key sent each operation, from the bundles recorded by each.
    let store = e.bundler.store();
    let mut sent_by = std::collections::HashMap::new();
    for h in &hashes {
        let rec = store.get_user_op(chain_id, e.h.ep, *h).await.unwrap().unwrap();
        let bundle = store.bundle_by_tx(rec.bundle_tx.unwrap()).await.unwrap().unwrap();
        assert!(bundle.op_hashes.contains(h));
        sent_by.insert(*h, (rec.sender, bundle.bundler));
    }
    let keys: std::collections::HashSet<Address> = sent_by.values().map(|(_, k)| *k).collect();
    assert_eq!(keys.len(), 2, "both keys bundled");
    std::fs::remove_dir_all(&e.dir).unwrap();
}

/// `debug_bundler_clearState` between a bundle's sending and its tracking (the conformance suite
/// clears before every test while the previous test's bundle may still be in flight): the mined
/// bundle is still resolved, and bundling goes on (it used to fail every round on the missing
/// operation).
async fn a_mined_bundle_whose_operations_were_cleared_is_resolved(backend: Backend) {
    let e = env(backend, "cleared").await;
    let chain_id = e.h.chain_id().await;
    let hash = e.bundler.add(e.op(U256::ZERO, |_| {}).await, e.h.ep).await.unwrap();
    let tx = e.bundler.bundle_now().await.unwrap().expect("a bundle");
    e.bundler.clear().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !e.bundler.store().pending_bundles(chain_id, e.bundler.address()).await.unwrap().is_empty() {
        e.bundler.track().await.unwrap();
        assert!(tokio::time::Instant::now() < deadline, "bundle {tx} never resolved");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(e.bundler.store().get_user_op(chain_id, e.h.ep, hash).await.unwrap().is_none());
    let next = e.bundler.add(e.op(U256::from(1), |_| {}).await, e.h.ep).await.unwrap();
    e.bundler.bundle_now().await.unwrap().expect("a bundle");
    e.track_until_included(&e.bundler, next).await;
    std::fs::remove_dir_all(&e.dir).unwrap();
}

/// A chain whose node answers a mined transaction's receipt only from the `hidden`-th request on,
/// while the sender's nonce already shows it: anvil commits a block's state before it stores the
/// block's receipts, and a load-balanced provider may answer the two from different nodes.
#[derive(Debug)]
struct LaggingReceipts {
    inner: Arc<dyn keyward_chain::DevChain>,
    hidden: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl keyward_chain::Chain for LaggingReceipts {
    async fn chain_id(&self) -> ChainResult<u64> {
        self.inner.chain_id().await
    }
    async fn block_number(&self) -> ChainResult<u64> {
        self.inner.block_number().await
    }
    async fn balance(&self, address: Address) -> ChainResult<U256> {
        self.inner.balance(address).await
    }
    async fn code(&self, address: Address) -> ChainResult<Bytes> {
        self.inner.code(address).await
    }
    async fn storage_at(&self, address: Address, slot: U256) -> ChainResult<B256> {
        self.inner.storage_at(address, slot).await
    }
    async fn transaction_count(&self, address: Address, pending: bool) -> ChainResult<u64> {
        self.inner.transaction_count(address, pending).await
    }
    async fn call(&self, tx: TransactionRequest, overrides: Option<StateOverride>) -> ChainResult<Bytes> {
        self.inner.call(tx, overrides).await
    }
    async fn estimate_gas(&self, tx: TransactionRequest, overrides: Option<StateOverride>) -> ChainResult<u64> {
        self.inner.estimate_gas(tx, overrides).await
    }
    async fn send_raw_transaction(&self, raw: Bytes) -> ChainResult<B256> {
        self.inner.send_raw_transaction(raw).await
    }
    async fn transaction_receipt(&self, hash: B256) -> ChainResult<Option<TransactionReceipt>> {
        use std::sync::atomic::Ordering;
        if self.hidden.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            return Ok(None);
        }
        self.inner.transaction_receipt(hash).await
    }
    async fn transaction_by_hash(&self, hash: B256) -> ChainResult<Option<Transaction>> {
        self.inner.transaction_by_hash(hash).await
    }
    async fn block_by_number(&self, number: BlockNumberOrTag, full: bool) -> ChainResult<Option<Block>> {
        self.inner.block_by_number(number, full).await
    }
    async fn block_by_hash(&self, hash: B256, full: bool) -> ChainResult<Option<Block>> {
        self.inner.block_by_hash(hash, full).await
    }
    async fn logs(&self, filter: Filter) -> ChainResult<Vec<Log>> {
        self.inner.logs(filter).await
    }
    async fn gas_price(&self) -> ChainResult<u128> {
        self.inner.gas_price().await
    }
    async fn max_priority_fee_per_gas(&self) -> ChainResult<u128> {
        self.inner.max_priority_fee_per_gas().await
    }
    async fn fee_history(
        &self,
        block_count: u64,
        newest: BlockNumberOrTag,
        reward_percentiles: Vec<f64>,
    ) -> ChainResult<FeeHistory> {
        self.inner.fee_history(block_count, newest, reward_percentiles).await
    }
    async fn traced_call(
        &self,
        tx: TransactionRequest,
        overrides: Option<StateOverride>,
    ) -> ChainResult<Option<(ChainResult<Bytes>, keyward_chain::embedded::trace::ExecutionTrace)>> {
        self.inner.traced_call(tx, overrides).await
    }
}

/// A bundle mined while the node does not serve its receipt yet (its nonce already used) is
/// waited for, not taken as replaced: its operation stays in the bundle and is recorded included
/// from the receipt once served (it used to go back to pending, so `debug_bundler_sendBundleNow`
/// answered before the inclusion was recorded).
#[tokio::test]
async fn a_receipt_served_after_the_nonce_is_not_a_replacement() {
    let e = env(Backend::Embedded, "lagging").await;
    let chain_id = e.h.chain_id().await;
    let lagging = Arc::new(LaggingReceipts { inner: e.h.chain.clone(), hidden: 0.into() });
    let bundler =
        Bundler::new(lagging.clone(), e.bundler.store().clone(), e.h.keys[8].clone(), BundlerConfig::default())
            .await
            .unwrap();
    bundler.set_mode(BundlingMode::Manual);
    let hash = bundler.add(e.op(U256::ZERO, |_| {}).await, e.h.ep).await.unwrap();
    lagging.hidden.store(2, std::sync::atomic::Ordering::SeqCst);
    bundler.bundle_now().await.unwrap().expect("a bundle");
    bundler.track().await.unwrap();
    assert_eq!(e.status(hash).await, OpStatus::Submitted, "still in its bundle while the receipt lags");
    assert!(bundler.track_in_flight(Duration::from_secs(5)).await.unwrap(), "resolved once the receipt is served");
    assert_eq!(e.status(hash).await, OpStatus::Included);
    assert_eq!(lagging.hidden.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert!(bundler.store().pending_bundles(chain_id, bundler.address()).await.unwrap().is_empty());
    std::fs::remove_dir_all(&e.dir).unwrap();
}

/// Each scenario on a fresh embedded chain and on a fresh anvil.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $( #[tokio::test] async fn $name() { super::$name(super::Backend::Embedded).await; } )*
        }
        mod anvil {
            $( #[tokio::test] async fn $name() { super::$name(super::Backend::Anvil).await; } )*
        }
    };
}

on_both_backends!(
    accepted_op_is_bundled_and_tracked_to_inclusion,
    replacement_needs_ten_percent_more_on_both_fees,
    nonce_sequencing_and_sender_cap,
    auto_mode_includes_without_being_asked,
    a_restart_resumes_from_the_store,
    an_unfunded_bundler_key_refuses_with_its_balance,
    two_bundler_keys_share_one_mempool,
    a_mined_bundle_whose_operations_were_cleared_is_resolved,
);

/// On anvil (which can reorganise: `evm_snapshot` / `evm_revert`): an operation whose block is
/// reorganised away is tracked again and included on the new branch — once.
#[tokio::test]
async fn reorged_inclusion_is_put_back_and_included_again() {
    use alloy::providers::Provider;
    let e = env(Backend::Anvil, "reorg").await;
    let anvil = keyward_chain::RpcChain::connect(e.h.anvil_url().unwrap()).unwrap();
    let snapshot: U256 = anvil.provider().raw_request("evm_snapshot".into(), ()).await.unwrap();
    let watcher = ChainWatcher::new(e.bundler.watch_source(), WatchConfig::default(), vec![]);
    let hash = e.bundler.add(e.op(U256::ZERO, |_| {}).await, e.h.ep).await.unwrap();
    e.bundler.bundle_now().await.unwrap().expect("bundle");
    e.track_until_included(&e.bundler, hash).await;
    let first = e.bundler.store().get_user_op(e.h.chain_id().await, e.h.ep, hash).await.unwrap().unwrap();
    let read = watcher.round().await.unwrap();
    assert_eq!((read.events, read.included, read.reorged), (1, 0, 0), "seen; the tracker had recorded it");

    // The block (and the bundle in it) disappears; the chain grows past it on another branch.
    let reverted: bool = anvil.provider().raw_request("evm_revert".into(), (snapshot,)).await.unwrap();
    assert!(reverted);
    assert_eq!(e.h.nonce(e.account, 0).await, U256::ZERO, "the inclusion is gone");
    for _ in 0..3 {
        let _: serde_json::Value = anvil.provider().raw_request("evm_mine".into(), ()).await.unwrap();
    }
    let rewound = watcher.round().await.unwrap();
    assert_eq!(rewound.reorged, 1, "{rewound:?}");
    assert_eq!(e.status(hash).await, OpStatus::Submitted, "tracked again through its bundle, not claimable");
    // Tracking finds the bundle gone from the node, the op goes back to pending and is bundled again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        e.bundler.track().await.unwrap();
        watcher.round().await.unwrap();
        if e.status(hash).await == OpStatus::Pending {
            e.bundler.bundle_now().await.unwrap();
        }
        if e.status(hash).await == OpStatus::Included {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not re-included: {:?}", e.status(hash).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let again = e.bundler.store().get_user_op(e.h.chain_id().await, e.h.ep, hash).await.unwrap().unwrap();
    assert_ne!(again.block_hash, first.block_hash);
    assert_eq!(e.h.nonce(e.account, 0).await, U256::from(1), "included exactly once on the new branch");
    std::fs::remove_dir_all(&e.dir).unwrap();
}

/// A bundle stuck in the node's pool is replaced at the same nonce with fees raised by at least
/// 10%; the replacement is what gets mined and the first is recorded as replaced.
#[tokio::test]
async fn stuck_bundle_is_replaced_with_higher_fees() {
    use alloy::providers::Provider;
    let config = BundlerConfig { replace_after: Duration::ZERO, ..Default::default() };
    let e = env_with(Backend::Anvil, "stuck", config).await;
    let anvil = keyward_chain::RpcChain::connect(e.h.anvil_url().unwrap()).unwrap();
    let _: serde_json::Value = anvil.provider().raw_request("evm_setAutomine".into(), (false,)).await.unwrap();
    let hash = e.bundler.add(e.op(U256::ZERO, |_| {}).await, e.h.ep).await.unwrap();
    let first = e.bundler.bundle_now().await.unwrap().expect("bundle");
    e.bundler.track().await.unwrap(); // not mined, known to the node, past replace_after: replaced
    let chain_id = e.h.chain_id().await;
    let op = e.bundler.store().get_user_op(chain_id, e.h.ep, hash).await.unwrap().unwrap();
    let second = op.bundle_tx.expect("re-pointed to the replacement");
    assert_ne!(second, first);
    let (a, b) = (
        e.bundler.store().bundle_by_tx(first).await.unwrap().unwrap(),
        e.bundler.store().bundle_by_tx(second).await.unwrap().unwrap(),
    );
    assert_eq!(a.tx_nonce, b.tx_nonce, "same nonce");
    assert!(b.max_fee_per_gas * 100 >= a.max_fee_per_gas * 110, "fee cap +10%");
    assert!(b.max_priority_fee_per_gas * 100 >= a.max_priority_fee_per_gas * 110, "tip +10%");
    let _: serde_json::Value = anvil.provider().raw_request("evm_mine".into(), ()).await.unwrap();
    e.track_until_included(&e.bundler, hash).await;
    let op = e.bundler.store().get_user_op(chain_id, e.h.ep, hash).await.unwrap().unwrap();
    assert_eq!(op.bundle_tx, Some(second), "the replacement was mined");
    e.bundler.track().await.unwrap();
    assert_eq!(
        e.bundler.store().bundle_by_tx(first).await.unwrap().unwrap().status,
        keyward_store::BundleStatus::Replaced
    );
    std::fs::remove_dir_all(&e.dir).unwrap();
}

/// `rundler_maxPriorityFeePerGas` answers the priority fee the bundler pays itself (the chain's
/// suggested tip), raised to the bundler's admission minimum when that is higher.
#[tokio::test]
async fn rundler_max_priority_fee_is_the_bundlers_own_fee() {
    use keyward_api::bundler::BundlerApiServer;
    use keyward_server::bundler::BundlerRpc;

    let e = env(Backend::Embedded, "rundler-fee").await;
    let tip = e.h.chain.max_priority_fee_per_gas().await.unwrap();
    let module = BundlerRpc::new(e.bundler.clone()).into_rpc();
    let fee: U256 = module.call("rundler_maxPriorityFeePerGas", [(); 0]).await.unwrap();
    assert_eq!(fee, U256::from(tip));
    let current = keyward_bundler::fees::current_fees(e.h.chain.as_ref()).await.unwrap();
    assert_eq!(fee, U256::from(current.max_priority_fee_per_gas));

    let mut config = BundlerConfig::default();
    config.validation.min_priority_fee = tip * 3;
    let strict = env_with(Backend::Embedded, "rundler-fee-min", config).await;
    let module = BundlerRpc::new(strict.bundler.clone()).into_rpc();
    let fee: U256 = module.call("rundler_maxPriorityFeePerGas", [(); 0]).await.unwrap();
    assert_eq!(fee, U256::from(tip * 3));
}
