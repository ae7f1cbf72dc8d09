//! The running bundler: admits operations into the durable mempool, builds and sends bundles,
//! tracks them to inclusion, replaces stuck transactions, and puts operations back when their
//! block is reorganised away.
//!
//! Durability: an operation is committed to the store before `eth_sendUserOperation` answers,
//! and a bundle transaction is recorded (hash and operations) before it is sent. After a crash
//! the tracker resumes from the store. An operation can never be included twice: the
//! EntryPoint's nonce admits each (sender, key, sequence) once.

use std::sync::Arc;
use std::time::Duration;

use alloy::eips::eip7702::SignedAuthorization;
use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use keyward_chain::Chain;
use keyward_primitives::UserOperation;
use keyward_primitives::eip7702::{is_designator, recover_authority};
use keyward_primitives::nonce::{self, nonce_key_u256};
use keyward_store::Store;
use keyward_store::wallet::CallRecord;
use keyward_store::{Admission, BundleRecord, BundleStatus, Fence, InsertOutcome, MempoolError, OpRecord, OpStatus};
use tokio::sync::{Mutex, Notify};

use crate::bundle::{Admitted, Candidate, build_bundle_in};
use crate::error::RejectReason;
use crate::fees::current_fees;
use crate::lease::{Replica, RoleHolder};
use crate::reputation::entities_of;
use crate::submission::{BundlingMode, Submission};
use crate::submit::{BundleFees, sign_bundle};
use crate::validation::{Assumptions, ValidationConfig, validate_user_op_with};

/// How the bundler runs.
#[derive(Debug, Clone)]
pub struct BundlerConfig {
    /// Validation limits (and the EntryPoint).
    pub validation: ValidationConfig,
    /// Most operations one sender may have pending (ERC-7562 UREP-010 for unstaked senders).
    pub sender_cap: usize,
    /// The same cap for operations this server's own wallet service submits: it hands out their
    /// nonces itself, so an account's calls in a row (or in parallel) are not throttled at 4.
    pub wallet_sender_cap: usize,
    /// Gas limit of a bundle transaction.
    pub max_bundle_gas: u64,
    /// Most pending operations considered for one bundle.
    pub max_bundle_ops: usize,
    /// How often the loop looks for work.
    pub poll_interval: Duration,
    /// How long this key holds the pending operations it claims for a bundle (other keys
    /// serving the same mempool skip them meanwhile).
    pub claim_for: Duration,
    /// A bundle not mined after this long is replaced with higher fees.
    pub replace_after: Duration,
    /// Blocks behind the head within which inclusions are re-checked for reorgs.
    pub reorg_depth: u64,
    /// This process among the replicas sharing the store (holder of the bundling lease).
    pub replica: Arc<Replica>,
    /// Entities this deployment operates itself (its paymaster, its account factory): exempt from
    /// the reputation limits (ERC-7562's allowlist), so a burst of its own sponsored operations
    /// or account creations is never throttled while their inclusions catch up.
    pub trusted: Vec<Address>,
    /// How long the bundling lease lasts unless renewed (each round renews it): a dead holder's
    /// key is taken over by another replica this long after its last round.
    pub lease_term: Duration,
}

impl Default for BundlerConfig {
    fn default() -> Self {
        Self {
            validation: ValidationConfig::default(),
            sender_cap: 4,
            wallet_sender_cap: 64,
            max_bundle_gas: 15_000_000,
            max_bundle_ops: 64,
            poll_interval: Duration::from_millis(100),
            claim_for: Duration::from_secs(10),
            replace_after: Duration::from_secs(30),
            reorg_depth: 64,
            trusted: Vec::new(),
            replica: Arc::new(Replica::new()),
            lease_term: Duration::from_secs(10),
        }
    }
}

/// The bundler service for one chain and one EntryPoint.
pub struct Bundler {
    pub(crate) chain: Arc<dyn Chain>,
    pub(crate) store: Store,
    pub(crate) signer: PrivateKeySigner,
    pub(crate) config: BundlerConfig,
    pub(crate) chain_id: u64,
    mode: std::sync::Mutex<BundlingMode>,
    pub(crate) wake: Notify,
    pub(crate) cycle: Mutex<()>,
    /// The lease of bundling with this key on this chain.
    pub(crate) lease: RoleHolder,
    /// What this process's admissions validated, by userOpHash (the most recent ones), for
    /// bundles built on the same head ([`Admitted`]).
    pub(crate) admissions: std::sync::Mutex<lru::LruCache<B256, Admitted>>,
    /// Operations of the pool by userOpHash, decoded once (an operation never changes under its
    /// hash): the cross-operation rules read the pool's membership, then only what is not here.
    pub(crate) pooled: std::sync::Mutex<lru::LruCache<B256, std::sync::Arc<UserOperation>>>,
}

/// Admissions remembered for reuse at bundle time (a bundle takes at most a few hundred).
const ADMISSIONS_REMEMBERED: std::num::NonZeroUsize = std::num::NonZeroUsize::new(16_384).unwrap();

/// Pooled operations kept decoded (more than the pool holds in flight at once).
const POOLED_REMEMBERED: std::num::NonZeroUsize = std::num::NonZeroUsize::new(16_384).unwrap();

impl std::fmt::Debug for Bundler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bundler").field("chain_id", &self.chain_id).field("bundler", &self.signer.address()).finish()
    }
}

/// Current unix time in seconds.
pub(crate) fn now() -> u64 {
    keyward_primitives::unix_now()
}

pub(crate) fn store_err(e: MempoolError) -> RejectReason {
    match e {
        MempoolError::Underpriced { needed_max_fee, needed_priority_fee } => RejectReason::InvalidFields(format!(
            "replacement underpriced: a replacement needs maxFeePerGas >= {needed_max_fee} and \
             maxPriorityFeePerGas >= {needed_priority_fee} (+10% on both)"
        )),
        MempoolError::SenderCap { sender, cap } => RejectReason::Throttled(format!(
            "sender {sender} already has {cap} operations pending; wait for one to be included"
        )),
        other => RejectReason::Storage(other.to_string()),
    }
}

/// Checks an `eip7702Auth`: it must be signed by the sender, for this chain (or any), at the
/// sender's current account nonce, and the sender must be an EOA.
pub(crate) async fn check_authorization(
    chain: &dyn Chain,
    chain_id: u64,
    sender: Address,
    signed: &SignedAuthorization,
) -> Result<(), RejectReason> {
    let invalid = |m: String| RejectReason::InvalidFields(format!("eip7702Auth: {m}"));
    if signed.chain_id != U256::ZERO && signed.chain_id != U256::from(chain_id) {
        return Err(invalid(format!("chain id {} is not this chain's ({chain_id})", signed.chain_id)));
    }
    if signed.y_parity() > 1 {
        return Err(invalid("yParity must be 0 or 1".into()));
    }
    let authority = recover_authority(signed).map_err(|e| invalid(e.to_string()))?;
    if authority != sender {
        return Err(invalid(format!("signed by {authority}, not by the sender {sender}")));
    }
    let account_nonce = chain.transaction_count(sender, true).await?;
    if signed.nonce != account_nonce {
        return Err(invalid(format!("nonce {} is not the sender's account nonce {account_nonce}", signed.nonce)));
    }
    let code = chain.code(sender).await?;
    if !code.is_empty() && !is_designator(&code) {
        return Err(invalid("the sender is a contract, not an EOA".into()));
    }
    Ok(())
}

impl Bundler {
    /// A bundler over `chain`, keeping its mempool in `store`, signing with `signer`.
    pub async fn new(
        chain: Arc<dyn Chain>,
        store: Store,
        signer: PrivateKeySigner,
        config: BundlerConfig,
    ) -> Result<Arc<Self>, RejectReason> {
        let chain_id = chain.chain_id().await?;
        let role = format!("bundler:{chain_id}:{}", signer.address());
        config.replica.add_bundler_role();
        let lease = RoleHolder::new(store.clone(), role, config.replica.clone(), config.lease_term);
        Ok(Arc::new(Self {
            chain,
            store,
            signer,
            config,
            chain_id,
            lease,
            mode: std::sync::Mutex::new(BundlingMode::Auto),
            wake: Notify::new(),
            cycle: Mutex::new(()),
            admissions: std::sync::Mutex::new(lru::LruCache::new(ADMISSIONS_REMEMBERED)),
            pooled: std::sync::Mutex::new(lru::LruCache::new(POOLED_REMEMBERED)),
        }))
    }

    /// The EntryPoint served.
    pub fn entry_point(&self) -> Address {
        self.config.validation.entry_point
    }

    /// Refuses `op` when the bundler's key could not pay up front for a bundle carrying it (the
    /// EntryPoint pays the bundler back within the same transaction, but the node wants the
    /// balance first).
    async fn check_funded(&self, op: &UserOperation) -> Result<(), RejectReason> {
        let needed = op.required_prefund();
        let balance = self.chain.balance(self.signer.address()).await?;
        if balance < needed {
            tracing::warn!(bundler = %self.signer.address(), %balance, %needed, "bundler key too poor for an operation");
            return Err(RejectReason::BundlerUnfunded { bundler: self.signer.address(), balance, needed });
        }
        Ok(())
    }

    /// The bundler key's address (sends the bundles, receives their fees).
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// Operations waiting (`pending`) and in a sent bundle (`submitted`), for the depth gauge.
    pub async fn depth(&self) -> Result<[(&'static str, u64); 2], RejectReason> {
        let (pending, submitted) = self
            .store
            .count_unfinished(self.chain_id, self.entry_point())
            .await
            .map_err(|e| RejectReason::Storage(e.to_string()))?;
        Ok([("pending", pending), ("submitted", submitted)])
    }

    /// The chain.
    pub fn chain(&self) -> &Arc<dyn Chain> {
        &self.chain
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The bundling mode.
    pub fn mode(&self) -> BundlingMode {
        self.mode.lock().map(|m| *m).unwrap_or(BundlingMode::Auto)
    }

    /// Switches bundling mode.
    pub fn set_mode(&self, mode: BundlingMode) {
        if let Ok(mut m) = self.mode.lock() {
            *m = mode;
        }
        self.wake.notify_one();
    }

    /// Validates `rpc` and commits it to the mempool; returns its userOpHash.
    pub async fn add(&self, submission: Submission, entry_point: Address) -> Result<B256, RejectReason> {
        self.admit(submission, entry_point, self.config.sender_cap, None).await
    }

    /// [`Bundler::add`] for an operation this server's wallet service prepared and submits, under
    /// [`BundlerConfig::wallet_sender_cap`]; `call` (the wallet call it answers, and whether it
    /// installs its session) is recorded in the admission's commit.
    pub async fn add_from_wallet(
        &self,
        submission: Submission,
        entry_point: Address,
        call: Option<(&CallRecord, bool)>,
    ) -> Result<B256, RejectReason> {
        self.admit(submission, entry_point, self.config.wallet_sender_cap, call).await
    }

    async fn admit(
        &self,
        submission: Submission,
        entry_point: Address,
        sender_cap: usize,
        call: Option<(&CallRecord, bool)>,
    ) -> Result<B256, RejectReason> {
        if entry_point != self.entry_point() {
            return Err(RejectReason::InvalidFields(format!(
                "entry point {entry_point} is not supported; this bundler serves {}",
                self.entry_point()
            )));
        }
        let op = &submission.op;
        self.check_funded(op).await?;
        let delegate = self.checked_delegate(&submission).await?;
        // The mempool is read once: the sender's pending sequences and the cross-operation rules.
        let pooled = self.pooled_except(op).await?;
        let pending = pooled
            .iter()
            .filter(|p| p.sender == op.sender)
            .map(|p| (nonce_key_u256(p.nonce), nonce::nonce_sequence(p.nonce)));
        let nonce_sequence = self.nonce_assumption_behind(op, pending).await?;
        let outcome = validate_user_op_with(
            self.chain.as_ref(),
            &self.config.validation,
            op,
            Assumptions { delegate, nonce_sequence },
        )
        .await?;
        self.check_mempool_rules(op, &outcome, &pooled).await?;
        let sender_cap = if self.sender_staked(&outcome) { usize::MAX } else { sender_cap };
        let op_json = serde_json::to_string(&submission).map_err(|e| RejectReason::Storage(e.to_string()))?;
        let record = OpRecord {
            hash: outcome.user_op_hash,
            chain_id: self.chain_id,
            entry_point,
            sender: op.sender,
            nonce_key: nonce_key_u256(op.nonce),
            nonce_seq: nonce::nonce_sequence(op.nonce),
            max_fee_per_gas: op.max_fee_per_gas,
            max_priority_fee_per_gas: op.max_priority_fee_per_gas,
            valid_until: outcome.valid_until,
            op_json,
            status: OpStatus::Pending,
            bundle_tx: None,
            block_number: None,
            block_hash: None,
            receipt_json: None,
            failure: None,
            created_at: now(),
            updated_at: now(),
        };
        let first_validation = crate::mempool_rules::first_validation_facts(&outcome);
        let seen: Vec<Address> = entities_of(op).into_iter().map(|(_, a)| a).collect();
        let admission = Admission {
            first_validation: Some((first_validation.0.as_str(), first_validation.1)),
            seen: &seen,
            now: now(),
            call,
        };
        let inserted = self.store.admit_user_op(&record, sender_cap, &admission).await.map_err(store_err)?;
        if let InsertOutcome::Replaced { old_hash } = inserted {
            tracing::info!(%old_hash, new = %record.hash, "operation replaced");
        }
        let admitted = Admitted {
            head: outcome.head,
            assumptions: Assumptions { delegate, nonce_sequence },
            storage_contracts: outcome.facts.storage_contracts.clone(),
            code_hashes: outcome.facts.code_hashes.clone(),
        };
        if let Ok(mut memo) = self.admissions.lock() {
            memo.put(outcome.user_op_hash, admitted);
        }
        if let Ok(mut pooled) = self.pooled.lock() {
            pooled.put(outcome.user_op_hash, std::sync::Arc::new(op.clone()));
        }
        if self.mode() == BundlingMode::Auto {
            self.wake.notify_one();
        }
        Ok(outcome.user_op_hash)
    }

    /// The implementation `submission`'s authorization delegates its sender to, once checked
    /// ([`check_authorization`]); `None` without one.
    pub(crate) async fn checked_delegate(&self, submission: &Submission) -> Result<Option<Address>, RejectReason> {
        let Some(a) = &submission.authorization else { return Ok(None) };
        check_authorization(self.chain.as_ref(), self.chain_id, submission.op.sender, a).await?;
        Ok(Some(a.address))
    }

    /// The nonce sequence to assume for `op`: `None` when it is the next onchain, the assumed
    /// sequence when operations of the same key are pending before it; an error when it is stale
    /// or leaves a gap.
    pub async fn nonce_assumption(&self, op: &UserOperation) -> Result<Option<u64>, RejectReason> {
        // The mempool first, the chain second: an operation included in between is then seen in
        // one of the two (the tracker marks it included only after the chain has it).
        let pending = self.store.unfinished_nonces_of(self.chain_id, self.entry_point(), op.sender).await;
        self.nonce_assumption_behind(op, pending.map_err(store_err)?.into_iter()).await
    }

    /// [`Bundler::nonce_assumption`] with the nonces of `op`'s sender's unfinished operations
    /// already read from the mempool (`pending`: (key, sequence) pairs of any key; the chain is
    /// read after them).
    pub(crate) async fn nonce_assumption_behind(
        &self,
        op: &UserOperation,
        pending: impl Iterator<Item = (U256, u64)>,
    ) -> Result<Option<u64>, RejectReason> {
        let key = nonce_key_u256(op.nonce);
        let seq = nonce::nonce_sequence(op.nonce);
        let pending: Vec<u64> = pending.filter(|(k, s)| *k == key && *s < seq).map(|(_, s)| s).collect();
        let onchain_seq = crate::bundle::onchain_sequence(self.chain.as_ref(), self.entry_point(), op).await?;
        if seq < onchain_seq {
            return Err(RejectReason::SimulationFailed(format!(
                "AA25 invalid account nonce: sequence {seq} is already used (next is {onchain_seq})"
            )));
        }
        if seq == onchain_seq {
            return Ok(None);
        }
        let before = pending.iter().filter(|s| **s >= onchain_seq).count() as u64;
        if seq > onchain_seq + before {
            return Err(RejectReason::SimulationFailed(format!(
                "AA25 invalid account nonce: sequence {seq} leaves a gap (next is {})",
                onchain_seq + before
            )));
        }
        Ok(Some(seq))
    }

    /// The bundling lease's fence, renewed or taken now; `None` while another replica bundles
    /// with this key.
    pub async fn hold_lease(&self) -> Result<Option<Fence>, RejectReason> {
        self.lease.hold().await.map_err(|e| RejectReason::Storage(e.to_string()))
    }

    /// Gives the bundling lease up (a clean stop): another replica takes the key at once.
    pub async fn release_lease(&self) {
        self.lease.release().await
    }

    /// Operations the bundle left out: failed with the reason — unless the reason is a used nonce
    /// and the operation's own event is onchain (another bundle, or a resend by a replica that
    /// lost its lease, included it), in which case it is recorded as included.
    pub(crate) async fn settle_rejected(&self, fence: &Fence, rejected: &[(B256, String)]) -> Result<(), RejectReason> {
        let ep = self.entry_point();
        for (hash, reason) in rejected {
            if reason.contains("AA25")
                && let Some(inclusion) = self.find_inclusion(*hash).await?
            {
                tracing::info!(%hash, tx = %inclusion.tx, "operation already included onchain; recorded as included");
                inclusion.record(&self.store, fence, self.chain_id, ep, *hash).await.map_err(store_err)?;
                continue;
            }
            tracing::info!(%hash, %reason, "operation dropped at bundling");
            self.store.mark_failed(fence, self.chain_id, ep, *hash, reason).await.map_err(store_err)?;
        }
        Ok(())
    }

    /// Builds and sends one bundle from the pending operations; the transaction hash if one went out
    /// (`None` too while another replica holds this key's bundling lease).
    pub async fn bundle_now(&self) -> Result<Option<B256>, RejectReason> {
        let _cycle = self.cycle.lock().await;
        let Some(fence) = self.hold_lease().await? else { return Ok(None) };
        let ep = self.entry_point();
        let pending = self
            .store
            .claim_pending_user_ops(
                &fence,
                self.chain_id,
                ep,
                self.signer.address(),
                self.config.max_bundle_ops,
                self.config.claim_for,
            )
            .await
            .map_err(store_err)?;
        if pending.is_empty() {
            return Ok(None);
        }
        let mut candidates = Vec::with_capacity(pending.len());
        for r in pending {
            match candidate_of(&r, self.chain.as_ref(), self.chain_id).await {
                Ok(c) => candidates.push(c),
                Err(e) => self.store.mark_failed(&fence, self.chain_id, ep, r.hash, &e).await.map_err(store_err)?,
            }
        }
        let bundler = self.signer.address();
        let context = self.bundle_context(&candidates).await?;
        let ops: std::collections::HashMap<B256, UserOperation> =
            candidates.iter().map(|c| (c.hash, c.op.clone())).collect();
        let bundle = build_bundle_in(
            self.chain.as_ref(),
            &self.config.validation,
            candidates,
            (bundler, bundler),
            self.config.max_bundle_gas,
            &context,
        )
        .await?;
        self.note_bundle_drops(&bundle, &ops).await;
        self.settle_rejected(&fence, &bundle.rejected).await?;
        if bundle.ops.is_empty() {
            return Ok(None);
        }
        let nonce = self.chain.transaction_count(bundler, true).await?;
        let block = self.chain.block_number().await?;
        let fees = current_fees(self.chain.as_ref()).await?;
        let signed = sign_bundle(self.chain_id, &self.signer, &bundle, ep, nonce, fees).await?;
        let hashes: Vec<B256> = bundle.ops.iter().map(|c| c.hash).collect();
        // Recorded with its operations' claims before it is sent: a crash in between leaves a
        // bundle the tracker resolves; a claim lost to another key sends nothing.
        let record = BundleRecord::sent(signed.hash, self.chain_id, bundler, (nonce, block), fees, hashes.clone());
        self.store.submit_bundle(&fence, &record, ep).await.map_err(store_err)?;
        // The record must survive a power loss before the transaction can exist outside.
        self.store.durable().await.map_err(|e| RejectReason::Storage(e.to_string()))?;
        self.chain.send_raw_transaction(signed.raw).await?;
        self.count_bundle("sent");
        tracing::info!(tx = %signed.hash, ops = hashes.len(), %bundler, "bundle sent");
        Ok(Some(signed.hash))
    }
}

/// The record of a bundle transaction about to be sent.
pub(crate) trait SentBundle {
    /// `at` is the transaction's (nonce, the chain's latest block number when sent).
    fn sent(tx_hash: B256, chain_id: u64, bundler: Address, at: (u64, u64), fees: BundleFees, ops: Vec<B256>) -> Self;
}

impl SentBundle for BundleRecord {
    fn sent(tx_hash: B256, chain_id: u64, bundler: Address, at: (u64, u64), fees: BundleFees, ops: Vec<B256>) -> Self {
        let (nonce, block) = at;
        BundleRecord {
            tx_hash,
            chain_id,
            bundler,
            tx_nonce: nonce,
            max_fee_per_gas: fees.max_fee_per_gas,
            max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
            op_hashes: ops,
            status: BundleStatus::Pending,
            sent_at: now(),
            sent_at_block: block,
            updated_at: now(),
        }
    }
}

/// Rebuilds a bundle candidate from its stored record.
pub(crate) async fn candidate_of(r: &OpRecord, chain: &dyn Chain, chain_id: u64) -> Result<Candidate, String> {
    let stored = stored_submission(r).map_err(|e| e.to_string())?;
    let authorization = match stored.authorization {
        // A delegation already live needs no authorization in the bundle.
        Some(_) if !chain.code(stored.op.sender).await.map(|c| c.is_empty()).unwrap_or(true) => None,
        Some(a) => {
            check_authorization(chain, chain_id, stored.op.sender, &a).await.map_err(|e| e.to_string())?;
            Some(a)
        }
        None => None,
    };
    Ok(Candidate { hash: r.hash, op: stored.op, authorization })
}

/// The submission a mempool record holds.
pub fn stored_submission(r: &OpRecord) -> Result<Submission, RejectReason> {
    serde_json::from_str(&r.op_json)
        .map_err(|e| RejectReason::Storage(format!("stored operation {} is unreadable: {e}", r.hash)))
}
