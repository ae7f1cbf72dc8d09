//! Reading a chain forward from a stored cursor, by one replica at a time (the `watch:<chain>`
//! role): each round reads the EntryPoint's `UserOperationEvent`s of the blocks after the cursor
//! (at most [`WatchConfig::max_range`] at once), records inclusions the bundle tracker has not
//! (an operation included by another bundle, or by a resend of a replica that lost its lease),
//! puts back operations whose block was reorganised away, hands the events to the
//! [`EventSink`]s (the sponsorship ledger settles from them), and moves the cursor — fenced, so
//! a watcher that lost its role moves nothing. The cost of a round is the new blocks' events,
//! never the history.
//!
//! ```text
//!  cursor (n, hash) ── node still has hash at n? ── no ─▶ reorg: reopen stale inclusions,
//!        │                                                rewind the cursor reorg_depth blocks
//!        ▼ yes
//!  eth_getLogs(n+1 ..= to) ─▶ inclusions · reorg window ─▶ sinks ─▶ cursor (to, hash)
//! ```

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, B256, U256};
use alloy::rpc::types::{Filter, TransactionReceipt};
use alloy::sol_types::SolEvent;
use async_trait::async_trait;
use keyward_chain::Chain;
use keyward_primitives::entry_point::IEntryPoint::UserOperationEvent;
use keyward_store::{Fence, Store};

use crate::error::RejectReason;
use crate::lease::{Replica, RoleHolder};
use crate::receipt::{OpOutcome, included_entities, user_operation_receipt};
use crate::service::{Bundler, store_err};

/// One `UserOperationEvent` read from a canonical block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenOp {
    /// The userOpHash.
    pub user_op_hash: B256,
    /// The account.
    pub sender: Address,
    /// The paymaster, or the zero address.
    pub paymaster: Address,
    /// Whether the execution succeeded.
    pub success: bool,
    /// What the operation was charged, in wei.
    pub actual_gas_cost: U256,
    /// The bundle transaction.
    pub tx_hash: B256,
    /// The block.
    pub block_number: u64,
}

/// A reader of the events the watcher reads (the sponsorship ledger).
#[async_trait]
pub trait EventSink: Send + Sync {
    /// The events of the blocks just read, in chain order; `block_timestamp` is the last block's
    /// time (what a window ending before it has certainly missed). Called again with the same
    /// events after a failure or a reorg: it must be idempotent.
    async fn on_blocks(&self, events: &[SeenOp], block_timestamp: u64) -> Result<(), String>;
}

/// How the watcher reads.
#[derive(Debug, Clone)]
pub struct WatchConfig {
    /// Most blocks read per round (one `eth_getLogs` range; providers cap ranges).
    pub max_range: u64,
    /// Blocks behind the head within which inclusions are re-checked, and how far the cursor
    /// goes back after a reorg below it (and where a first run starts).
    pub reorg_depth: u64,
    /// How long the watching role's lease lasts unless renewed.
    pub lease_term: Duration,
}

impl Default for WatchConfig {
    fn default() -> Self {
        Self { max_range: 1000, reorg_depth: 64, lease_term: Duration::from_secs(10) }
    }
}

/// What one round did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WatchReport {
    /// The blocks read (inclusive), if any.
    pub read: Option<(u64, u64)>,
    /// Operation events in them.
    pub events: usize,
    /// Operations recorded as included by the watcher (not by the bundle tracker).
    pub included: usize,
    /// Operations put back because their block was reorganised away.
    pub reorged: usize,
    /// Whether this replica held the role (nothing is done otherwise).
    pub held: bool,
}

/// The watcher of one chain and EntryPoint.
pub struct ChainWatcher {
    chain: Arc<dyn Chain>,
    store: Store,
    chain_id: u64,
    entry_point: Address,
    config: WatchConfig,
    lease: RoleHolder,
    sinks: Vec<Arc<dyn EventSink>>,
    /// Canonical block hashes already read, by number. Valid while the cursor's block keeps its
    /// hash (a block's hash fixes all its ancestors'); dropped at a reorg below the cursor.
    known: std::sync::Mutex<std::collections::BTreeMap<u64, B256>>,
}

impl std::fmt::Debug for ChainWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainWatcher").field("chain_id", &self.chain_id).field("role", &self.lease.role()).finish()
    }
}

/// What a watcher reads and where it writes.
#[derive(Clone)]
pub struct WatchSource {
    /// The chain.
    pub chain: Arc<dyn Chain>,
    /// Its id.
    pub chain_id: u64,
    /// The EntryPoint whose events are read.
    pub entry_point: Address,
    /// The mempool, the leases and the cursor.
    pub store: Store,
    /// This process among the replicas.
    pub replica: Arc<Replica>,
}

impl Bundler {
    /// What a watcher of this bundler's chain reads (its chain, EntryPoint, store and replica).
    pub fn watch_source(&self) -> WatchSource {
        WatchSource {
            chain: self.chain.clone(),
            chain_id: self.chain_id,
            entry_point: self.entry_point(),
            store: self.store.clone(),
            replica: self.config.replica.clone(),
        }
    }
}

impl ChainWatcher {
    /// The watcher of `source`'s chain and EntryPoint, feeding `sinks`.
    pub fn new(source: WatchSource, config: WatchConfig, sinks: Vec<Arc<dyn EventSink>>) -> Self {
        let role = format!("watch:{}", source.chain_id);
        let lease = RoleHolder::new(source.store.clone(), role, source.replica, config.lease_term);
        Self {
            chain: source.chain,
            store: source.store,
            chain_id: source.chain_id,
            entry_point: source.entry_point,
            config,
            lease,
            sinks,
            known: std::sync::Mutex::default(),
        }
    }

    /// The name of the role and of its cursor.
    pub fn role(&self) -> &str {
        self.lease.role()
    }

    /// One round: reads the blocks after the cursor (if this replica holds the role).
    pub async fn round(&self) -> Result<WatchReport, RejectReason> {
        let mut report = WatchReport::default();
        let Some(fence) = self.lease.hold().await.map_err(storage)? else { return Ok(report) };
        report.held = true;
        let head = self.chain.block_number().await?;
        let from = match self.store.chain_cursor(self.role()).await.map_err(storage)? {
            None => head.saturating_sub(self.config.reorg_depth),
            Some((number, hash)) => match self.block_hash(number).await? {
                // The node lags (a load-balanced provider): read again next round.
                None => return Ok(report),
                Some(now) if now != hash => {
                    self.clear_hashes();
                    report.reorged = self.reopen_stale(&fence, head, None).await?;
                    let back = number.saturating_sub(self.config.reorg_depth);
                    if let Some(back_hash) = self.block_hash(back).await? {
                        self.store.set_chain_cursor(&fence, self.role(), back, back_hash).await.map_err(storage)?;
                    }
                    tracing::warn!(
                        role = self.role(),
                        from = number,
                        to = back,
                        "reorg below the cursor; reading again"
                    );
                    return Ok(report);
                }
                Some(_) => number + 1,
            },
        };
        if from > head {
            return Ok(report);
        }
        let to = head.min(from.saturating_add(self.config.max_range.max(1) - 1));
        let Some(last) = self.chain.block_by_number(to.into(), false).await? else { return Ok(report) };
        let (to_hash, timestamp) = (last.header.hash, last.header.timestamp);
        let events = self.events(from, to).await?;
        if self.block_hash(to).await? != Some(to_hash) {
            // Reorganised while reading: the events may mix branches. Read again next round.
            return Ok(report);
        }
        report.included = self.record_inclusions(&fence, &events).await?;
        // Hashes read this round at or below `to` stand with `to`'s (checked again next round).
        self.remember_hash(to, to_hash);
        report.reorged += self.reopen_stale(&fence, head, Some(to)).await?;
        self.forget_hashes(head.saturating_sub(self.config.reorg_depth));
        for sink in &self.sinks {
            sink.on_blocks(&events, timestamp).await.map_err(RejectReason::Storage)?;
        }
        self.store.set_chain_cursor(&fence, self.role(), to, to_hash).await.map_err(storage)?;
        (report.read, report.events) = (Some((from, to)), events.len());
        Ok(report)
    }

    /// Runs rounds every `every` until `stop` turns true (then gives the role up).
    pub fn spawn_until(
        self: Arc<Self>,
        every: Duration,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                if *stop.borrow() {
                    break;
                }
                match self.round().await {
                    Ok(r) if r.included > 0 || r.reorged > 0 => {
                        tracing::info!(included = r.included, reorged = r.reorged, read = ?r.read, "chain watcher")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(role = self.role(), error = %e, "watching the chain failed"),
                }
                // Read the cursor's next range at once when the node is far ahead.
                let stopping = tokio::select! {
                    _ = tokio::time::sleep(every) => false,
                    changed = stop.changed() => changed.is_err() || *stop.borrow(),
                };
                if stopping {
                    break;
                }
            }
            self.lease.release().await;
        })
    }

    /// Notes the canonical hash of block `number`.
    fn remember_hash(&self, number: u64, hash: B256) {
        if let Ok(mut known) = self.known.lock() {
            known.insert(number, hash);
        }
    }

    /// Drops the hashes of blocks below `below` (out of the reorg window).
    fn forget_hashes(&self, below: u64) {
        if let Ok(mut known) = self.known.lock() {
            *known = known.split_off(&below);
        }
    }

    /// Drops every hash read (a reorg below the cursor).
    fn clear_hashes(&self) {
        if let Ok(mut known) = self.known.lock() {
            known.clear();
        }
    }

    /// The hash of block `number` on the node now.
    async fn block_hash(&self, number: u64) -> Result<Option<B256>, RejectReason> {
        Ok(self.chain.block_by_number(number.into(), false).await?.map(|b| b.header.hash))
    }

    /// The EntryPoint's operation events of blocks `from..=to`.
    async fn events(&self, from: u64, to: u64) -> Result<Vec<SeenOp>, RejectReason> {
        let filter = Filter::new()
            .address(self.entry_point)
            .event_signature(UserOperationEvent::SIGNATURE_HASH)
            .from_block(from)
            .to_block(to);
        let logs = self.chain.logs(filter).await?;
        Ok(logs
            .iter()
            .filter(|l| !l.removed)
            .filter_map(|l| {
                let ev = UserOperationEvent::decode_log(&l.inner).ok()?;
                Some(SeenOp {
                    user_op_hash: ev.data.userOpHash,
                    sender: ev.data.sender,
                    paymaster: ev.data.paymaster,
                    success: ev.data.success,
                    actual_gas_cost: ev.data.actualGasCost,
                    tx_hash: l.transaction_hash?,
                    block_number: l.block_number?,
                })
            })
            .collect())
    }

    /// Records as included every operation of the mempool among `events` still pending or
    /// submitted; how many.
    async fn record_inclusions(&self, fence: &Fence, events: &[SeenOp]) -> Result<usize, RejectReason> {
        let mut receipts: HashMap<B256, Option<TransactionReceipt>> = HashMap::new();
        let mut included = 0;
        let hashes: Vec<B256> = events.iter().map(|ev| ev.user_op_hash).collect();
        let unfinished: HashSet<B256> = self
            .store
            .unfinished_among(self.chain_id, self.entry_point, &hashes)
            .await
            .map_err(store_err)?
            .into_iter()
            .collect();
        for ev in events.iter().filter(|ev| unfinished.contains(&ev.user_op_hash)) {
            let receipt = match receipts.get(&ev.tx_hash) {
                Some(r) => r.clone(),
                None => {
                    let r = self.chain.transaction_receipt(ev.tx_hash).await?;
                    receipts.insert(ev.tx_hash, r.clone());
                    r
                }
            };
            let Some(receipt) = receipt else { continue };
            let Some(inclusion) = inclusion_in(&receipt, self.entry_point, ev.user_op_hash)? else { continue };
            match inclusion.record(&self.store, fence, self.chain_id, self.entry_point, ev.user_op_hash).await {
                Ok(()) => included += 1,
                // Its tracker got there first (another block after a reorg), or it failed: the
                // bundle tracker's word stands; the next reorg check settles a stale block. Or it
                // was forgotten since it was read (`debug_bundler_clearState`): nothing to record.
                Err(
                    keyward_store::MempoolError::InvalidTransition { .. }
                    | keyward_store::MempoolError::NotFound { .. },
                ) => {}
                Err(e) => return Err(store_err(e)),
            }
        }
        Ok(included)
    }

    /// Operations recorded in a block within `reorg_depth` of `head` that the node now answers
    /// with another hash go back to Submitted in their bundle (tracked again); how many. A block
    /// the node does not answer (above the head read, a lagging node) is not taken as reorganised.
    /// Hashes read for blocks up to `cache_upto` are kept for the next rounds (they stand with the
    /// cursor's block); none while a reorg is being handled.
    async fn reopen_stale(&self, fence: &Fence, head: u64, cache_upto: Option<u64>) -> Result<usize, RejectReason> {
        let from = head.saturating_sub(self.config.reorg_depth);
        let included =
            self.store.included_user_ops_since(self.chain_id, self.entry_point, from).await.map_err(store_err)?;
        let mut stale = std::collections::BTreeSet::new();
        let mut read_now = HashMap::<u64, Option<B256>>::new();
        for (_, number, block_hash) in included {
            if number > head {
                continue;
            }
            let known = self.known.lock().ok().and_then(|k| k.get(&number).copied());
            let current = match known.map(Some).or_else(|| read_now.get(&number).copied()) {
                Some(h) => h,
                None => {
                    let h = self.block_hash(number).await?;
                    if let Some(h) = h.filter(|_| cache_upto.is_some_and(|upto| number <= upto)) {
                        self.remember_hash(number, h);
                    }
                    read_now.insert(number, h);
                    h
                }
            };
            if current.is_some_and(|h| h != block_hash) {
                stale.insert((number, block_hash));
            }
        }
        let mut reopened = 0;
        for (number, block_hash) in stale {
            let ops = self
                .store
                .reopen_block(fence, self.chain_id, self.entry_point, (number, block_hash))
                .await
                .map_err(store_err)?;
            tracing::warn!(%block_hash, ops = ops.len(), "block reorganised away; tracking its bundles again");
            reopened += ops.len();
        }
        Ok(reopened)
    }
}

impl Bundler {
    /// Where the EntryPoint's event for `hash` is within the last [`INCLUSION_LOOKBACK`] blocks;
    /// `None` if it is not there.
    pub(crate) async fn find_inclusion(&self, hash: B256) -> Result<Option<Inclusion>, RejectReason> {
        let head = self.chain.block_number().await?;
        let filter = Filter::new()
            .address(self.entry_point())
            .event_signature(UserOperationEvent::SIGNATURE_HASH)
            .topic1(hash)
            .from_block(head.saturating_sub(INCLUSION_LOOKBACK))
            .to_block(head);
        let logs = self.chain.logs(filter).await?;
        let Some(tx) = logs.iter().find(|l| !l.removed).and_then(|l| l.transaction_hash) else { return Ok(None) };
        let Some(receipt) = self.chain.transaction_receipt(tx).await? else { return Ok(None) };
        inclusion_in(&receipt, self.entry_point(), hash)
    }
}

/// How far back [`Bundler::find_inclusion`] looks for an operation's event.
pub const INCLUSION_LOOKBACK: u64 = 1024;

/// Where operation `hash` was included, read from its bundle transaction's receipt.
#[derive(Debug, Clone)]
pub(crate) struct Inclusion {
    /// The transaction that carried it.
    pub tx: B256,
    /// Its block.
    pub block_number: u64,
    /// That block's hash.
    pub block_hash: B256,
    /// The stored outcome ([`OpOutcome`] as JSON).
    pub outcome: String,
    /// Its ERC-7562 entities as the receipt shows them ([`included_entities`]).
    pub entities: Vec<Address>,
}

impl Inclusion {
    /// Records it in the mempool, as the holder of `fence`.
    pub(crate) async fn record(
        &self,
        store: &Store,
        fence: &Fence,
        chain_id: u64,
        entry_point: Address,
        hash: B256,
    ) -> Result<(), keyward_store::MempoolError> {
        store
            .mark_included(
                fence,
                chain_id,
                entry_point,
                hash,
                self.tx,
                self.block_number,
                self.block_hash,
                &self.outcome,
            )
            .await
    }
}

/// Where operation `hash` is in the bundle receipt `receipt`, if it is there.
pub(crate) fn inclusion_in(
    receipt: &TransactionReceipt,
    entry_point: Address,
    hash: B256,
) -> Result<Option<Inclusion>, RejectReason> {
    let (Some(block_number), Some(block_hash)) = (receipt.block_number, receipt.block_hash) else { return Ok(None) };
    let Some(r) = user_operation_receipt(receipt, entry_point, hash) else { return Ok(None) };
    let outcome = serde_json::to_string(&OpOutcome::from(&r)).map_err(|e| RejectReason::Storage(e.to_string()))?;
    let entities = included_entities(receipt, &r);
    Ok(Some(Inclusion { tx: receipt.transaction_hash, block_number, block_hash, outcome, entities }))
}

fn storage(e: keyward_store::StoreError) -> RejectReason {
    RejectReason::Storage(e.to_string())
}
