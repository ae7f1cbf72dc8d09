//! Following sent bundles to their end: inclusion (per-op receipts recorded), onchain revert
//! (operations back to pending), replacement of stuck transactions, and crash leftovers.

use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::B256;
use keyward_store::{BundleRecord, BundleStatus, Fence, MinedOp};

use crate::bundle::build_bundle;
use crate::error::RejectReason;
use crate::fees::current_fees;
use crate::service::{Bundler, SentBundle, candidate_of, now, store_err};
use crate::submission::BundlingMode;
use crate::submit::{BundleFees, sign_bundle};
use crate::watch::{Inclusion, inclusion_in};

/// How long a sent bundle may be unknown to the node before it counts as lost.
const UNKNOWN_GRACE_SECS: u64 = 5;
/// How long after sending a bundle the node still knows, at a nonce already used, is taken as
/// mined with its receipt still to come rather than as replaced.
const RECEIPT_LAG_LIMIT_SECS: u64 = 60;

/// Counter: bundle transactions by `chain`, `key` and `outcome` (`sent`, `included`, `replaced`,
/// `reverted`, `dropped`).
pub const BUNDLES: &str = "keyward_bundles_total";

fn bundle_err(e: impl std::fmt::Display) -> RejectReason {
    RejectReason::Storage(e.to_string())
}

impl Bundler {
    /// Resolves every pending bundle of this key once (nothing while another replica holds the
    /// key's bundling lease). Reorganised inclusions are the chain watcher's
    /// ([`crate::watch::ChainWatcher`]).
    pub async fn track(&self) -> Result<(), RejectReason> {
        let _cycle = self.cycle.lock().await;
        let Some(fence) = self.hold_lease().await? else { return Ok(()) };
        let bundles = self.store.pending_bundles(self.chain_id, self.signer.address()).await.map_err(bundle_err)?;
        for b in bundles {
            self.track_bundle(&fence, &b).await?;
        }
        Ok(())
    }

    /// Tracks this key's bundles in flight until none is left or `within` has passed; whether none
    /// is left. A node may mine a bundle a moment after accepting it (anvil's automine, a real
    /// chain's next block): `debug_bundler_sendBundleNow` answers after this, so that what its
    /// caller reads next (receipts, the mempool) shows the bundle's effects, as on the dev chain,
    /// which mines on sending.
    pub async fn track_in_flight(&self, within: Duration) -> Result<bool, RejectReason> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            self.track().await?;
            let left = self.store.pending_bundles(self.chain_id, self.signer.address()).await.map_err(bundle_err)?;
            if left.is_empty() {
                return Ok(true);
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn track_bundle(&self, fence: &Fence, b: &BundleRecord) -> Result<(), RejectReason> {
        let ep = self.entry_point();
        // Observe the account nonce and the node's knowledge of the transaction *before* asking
        // for the receipt: a bundle mined in between then shows up as mined, never as replaced
        // or unknown.
        let mined_nonce = self.chain.transaction_count(self.signer.address(), false).await?;
        let known = self.chain.transaction_by_hash(b.tx_hash).await?.is_some();
        if let Some(receipt) = self.chain.transaction_receipt(b.tx_hash).await? {
            if !receipt.status() {
                // The bundle reverted onchain (state moved between simulation and inclusion):
                // its operations go back to pending and are re-validated.
                let reset = self
                    .store
                    .reset_to_pending_by_bundle(fence, self.chain_id, ep, b.tx_hash)
                    .await
                    .map_err(store_err)?;
                tracing::warn!(tx = %b.tx_hash, ops = reset.len(), "bundle reverted onchain; operations back to pending");
                self.count_bundle("reverted");
                return self.store.mark_bundle(fence, b.tx_hash, BundleStatus::Failed).await.map_err(bundle_err);
            }
            // Every operation's outcome and the bundle's, in one commit.
            let inclusions: Vec<(B256, Option<Inclusion>)> = b
                .op_hashes
                .iter()
                .map(|h| inclusion_in(&receipt, ep, *h).map(|i| (*h, i)))
                .collect::<Result<_, _>>()?;
            let mined: Vec<MinedOp<'_>> = inclusions
                .iter()
                .map(|(hash, inclusion)| match inclusion {
                    Some(i) => MinedOp::Included {
                        hash: *hash,
                        block_number: i.block_number,
                        block_hash: i.block_hash,
                        receipt_json: &i.outcome,
                        entities: &i.entities,
                    },
                    None => {
                        MinedOp::Missing { hash: *hash, reason: "the bundle was mined without this operation's event" }
                    }
                })
                .collect();
            self.store.record_mined_bundle(fence, self.chain_id, ep, b.tx_hash, &mined).await.map_err(store_err)?;
            self.count_bundle("included");
            return Ok(());
        }
        let age = now().saturating_sub(b.sent_at);
        if mined_nonce > b.tx_nonce {
            // The nonce is used. By this transaction when the node still knows it: a node may
            // answer the account's new nonce a moment before the block's receipts (anvil does),
            // and the next round records the inclusion. (Bounded: a node that keeps a transaction
            // it never gives a receipt for does not hold the bundle forever.)
            if known && age < RECEIPT_LAG_LIMIT_SECS {
                tracing::debug!(tx = %b.tx_hash, nonce = b.tx_nonce, "bundle's nonce used, its receipt not served yet");
                return Ok(());
            }
            // Another transaction (a replacement) took this nonce; whatever this bundle still
            // holds goes back to pending.
            let reset =
                self.store.reset_to_pending_by_bundle(fence, self.chain_id, ep, b.tx_hash).await.map_err(store_err)?;
            tracing::info!(tx = %b.tx_hash, nonce = b.tx_nonce, ops = reset.len(), "bundle replaced at its nonce; its operations back to pending");
            self.count_bundle("replaced");
            return self.store.mark_bundle(fence, b.tx_hash, BundleStatus::Replaced).await.map_err(bundle_err);
        }
        if !known && age >= UNKNOWN_GRACE_SECS {
            // Never reached the node (a crash between recording and sending) or dropped by it.
            // (A node may index a transaction it just accepted a moment later: hence the grace.)
            tracing::warn!(tx = %b.tx_hash, "bundle unknown to the node; operations back to pending");
            self.store.reset_to_pending_by_bundle(fence, self.chain_id, ep, b.tx_hash).await.map_err(store_err)?;
            self.count_bundle("dropped");
            return self.store.mark_bundle(fence, b.tx_hash, BundleStatus::Failed).await.map_err(bundle_err);
        }
        if known && age >= self.config.replace_after.as_secs() {
            self.replace(fence, b).await?;
        }
        Ok(())
    }

    /// Re-sends a stuck bundle's operations at the same nonce with fees raised by at least 10%.
    async fn replace(&self, fence: &Fence, b: &BundleRecord) -> Result<(), RejectReason> {
        let ep = self.entry_point();
        let mut candidates = Vec::new();
        for hash in &b.op_hashes {
            if let Some(r) = self.store.get_user_op(self.chain_id, ep, *hash).await.map_err(store_err)?
                && let Ok(c) = candidate_of(&r, self.chain.as_ref(), self.chain_id).await
            {
                candidates.push(c);
            }
        }
        let bundler = self.signer.address();
        let bundle = build_bundle(
            self.chain.as_ref(),
            &self.config.validation,
            candidates,
            bundler,
            bundler,
            self.config.max_bundle_gas,
        )
        .await?;
        self.settle_rejected(fence, &bundle.rejected).await?;
        if bundle.ops.is_empty() {
            return Ok(());
        }
        let old =
            BundleFees { max_fee_per_gas: b.max_fee_per_gas, max_priority_fee_per_gas: b.max_priority_fee_per_gas }
                .bumped(10);
        let now_fees = current_fees(self.chain.as_ref()).await?;
        let fees = BundleFees {
            max_fee_per_gas: old.max_fee_per_gas.max(now_fees.max_fee_per_gas),
            max_priority_fee_per_gas: old.max_priority_fee_per_gas.max(now_fees.max_priority_fee_per_gas),
        };
        let signed = sign_bundle(self.chain_id, &self.signer, &bundle, ep, b.tx_nonce, fees).await?;
        let hashes: Vec<B256> = bundle.ops.iter().map(|c| c.hash).collect();
        let block = self.chain.block_number().await?;
        let record = BundleRecord::sent(signed.hash, self.chain_id, bundler, (b.tx_nonce, block), fees, hashes.clone());
        self.store.submit_bundle(fence, &record, ep).await.map_err(store_err)?;
        // The record must survive a power loss before the transaction can exist outside.
        self.store.durable().await.map_err(|e| RejectReason::Storage(e.to_string()))?;
        self.chain.send_raw_transaction(signed.raw).await?;
        self.count_bundle("sent");
        tracing::info!(old = %b.tx_hash, new = %signed.hash, "stuck bundle replaced with higher fees");
        Ok(())
    }

    /// Counts a bundle transaction's outcome ([`BUNDLES`]).
    pub(crate) fn count_bundle(&self, outcome: &'static str) {
        metrics::counter!(BUNDLES, "chain" => self.chain_id.to_string(), "key" => self.signer.address().to_string(), "outcome" => outcome)
            .increment(1);
    }

    /// Runs the bundling loop in the background until the bundler is dropped.
    pub fn spawn(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let (keep, stop) = tokio::sync::watch::channel(false);
        let this = self.clone();
        // The loop holds the sender itself: `stop` never fires.
        tokio::spawn(async move {
            let _keep = keep;
            this.spawn_until(stop).await.ok();
        })
    }

    /// Runs the bundling loop in the background until `stop` turns true or its sender is dropped
    /// (the round in progress is finished first), or the bundler is dropped; beside it, the
    /// bundling lease is renewed every third of a term, however long a round takes.
    pub fn spawn_until(self: &Arc<Self>, stop: tokio::sync::watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        let interval = self.config.poll_interval;
        tokio::spawn(async move {
            let renewing = tokio::spawn(keep_renewed(weak.clone(), stop.clone()));
            bundling_loop(weak, interval, stop).await;
            renewing.abort();
        })
    }
}

/// Renews the bundling lease every third of a term until `stop`, or the bundler's end.
async fn keep_renewed(weak: std::sync::Weak<Bundler>, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        let Some(every) = weak.upgrade().map(|b| b.lease.renew_every()) else { return };
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            changed = stop.changed() => if changed.is_err() || *stop.borrow() { return },
        }
        let Some(this) = weak.upgrade() else { return };
        if let Err(e) = this.lease.renew().await {
            tracing::warn!(role = this.lease.role(), error = %e, "renewing the bundling lease failed");
        }
    }
}

/// Bundles and tracks, round after round, until `stop` or the bundler's end.
async fn bundling_loop(
    weak: std::sync::Weak<Bundler>,
    interval: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            break;
        }
        let Some(this) = weak.upgrade() else { break };
        if this.mode() == BundlingMode::Auto
            && let Err(e) = this.bundle_now().await
        {
            tracing::error!(error = %e, "bundling failed");
        }
        if let Err(e) = this.track().await {
            tracing::error!(error = %e, "tracking bundles failed");
        }
        let stopping = tokio::select! {
            _ = this.wake.notified() => false,
            _ = tokio::time::sleep(interval) => false,
            changed = stop.changed() => changed.is_err() || *stop.borrow(),
        };
        drop(this);
        if stopping {
            break;
        }
        // Straight on: a timer pause here (1 ms asked, up to 2 ms on tokio's millisecond wheel)
        // was most of the wait between an admission and its bundle.
        tokio::task::yield_now().await;
    }
}
