//! Several bundler keys over one mempool. A key *claims* pending operations before bundling them
//! (row locks that skip what another transaction holds, on PostgreSQL), and records its bundle
//! together with its operations' move to `submitted` in one transaction that holds only if the
//! key still holds every claim — so two keys never send the same operation. A claim keeps all of
//! a sender's operations with one key (consecutive nonces go out in order, from one key) and ends
//! at `claimed_until`, so operations of a key that stopped bundling go to another.

use std::time::Duration;

use alloy::primitives::{Address, B256};
use sqlx::Row;

use crate::bundles::{BundleRecord, bundle_insert};
use crate::codec::{address_bin, address_from_bin, address_text, b256_bin, u64_to_db};
use crate::db::{Backend, Store, lock_key, placeholders};
use crate::error::{MempoolError, StoreError};
use crate::mempool::{OpRecord, op_columns, op_from_row};
use crate::roles::Fence;
use crate::script::Statement;

impl Store {
    /// Claims for `bundler` up to `limit` pending operations (oldest first) that no other key
    /// holds, for `claim_for`; only operations of senders with no operation held or submitted by
    /// another key. Returns the claimed operations.
    pub async fn claim_pending_user_ops(
        &self,
        fence: &Fence,
        chain_id: u64,
        entry_point: Address,
        bundler: Address,
        limit: usize,
        claim_for: Duration,
    ) -> Result<Vec<OpRecord>, MempoolError> {
        let at =
            Claim { chain: u64_to_db("chain_id", chain_id)?, ep: address_bin(&entry_point), me: address_bin(&bundler) };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        if let Some(ops) = self.claim_in_three_trips(fence, &at, limit, claim_for).await? {
            return Ok(ops);
        }
        let mut tx = self.begin_fenced::<MempoolError>(fence).await?;
        // The database's clock: claims by keys on replicas whose clocks disagree still expire alike.
        let now = self.clock_ms(&mut *tx).await?;
        // One claim at a time per chain and EntryPoint (sender affinity needs it); SQLite's
        // BEGIN IMMEDIATE already serialises writers.
        let scope = [chain_id.to_be_bytes().as_slice(), entry_point.as_slice()].concat();
        self.advisory_lock(&mut tx, lock_key("claims", &scope)).await?;
        let rows = at.claimable(now, limit, self.backend())?.query().fetch_all(&mut *tx).await?;
        let ops: Vec<OpRecord> = rows.iter().map(op_from_row).collect::<Result<_, _>>()?;
        if !ops.is_empty() {
            at.claim(&ops, now, claim_for)?.query().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(ops)
    }

    /// [`Store::claim_pending_user_ops`] on SQLite in three trips to the writer (begin with the
    /// fence's read and the clock; the claimable operations; the claim with the commit) instead
    /// of six; `None` on PostgreSQL.
    async fn claim_in_three_trips(
        &self,
        fence: &Fence,
        at: &Claim,
        limit: i64,
        claim_for: Duration,
    ) -> Result<Option<Vec<OpRecord>>, MempoolError> {
        let first = || Ok::<_, MempoolError>(vec![fence.sqlite_check(), crate::roles::sqlite_clock()]);
        let Some((mut script, out)) = self.begin_script(first).await? else { return Ok(None) };
        if !fence.holds(&out[0].rows)? {
            script.rollback().await?;
            return Err(crate::roles::LeaseLost(fence.role().to_owned()).into());
        }
        let now = crate::roles::clock_of(&out[1].rows)?;
        let found = script.run(vec![at.claimable(now, limit, Backend::Sqlite)?]).await?;
        let ops: Vec<OpRecord> = found[0].rows.iter().map(op_from_row).collect::<Result<_, _>>()?;
        let claim = match ops.is_empty() {
            true => Vec::new(),
            false => vec![at.claim(&ops, now, claim_for)?],
        };
        script.commit(claim).await?;
        Ok(Some(ops))
    }

    /// Records the bundle `rec` (sent by `rec.bundler`) and moves its operations to `submitted`
    /// in one transaction, which fails — writing nothing — unless the key holds every one of
    /// them (pending under its claim, or submitted in its earlier bundle being replaced; an
    /// operation no key ever claimed, as those stored before claims existed, is taken). A
    /// bundle already recorded (the same operations, nonce and fees sign to the same hash) is
    /// put back to pending.
    pub async fn submit_bundle(
        &self,
        fence: &Fence,
        rec: &BundleRecord,
        entry_point: Address,
    ) -> Result<(), MempoolError> {
        let chain = u64_to_db("chain_id", rec.chain_id)?;
        let ep = address_bin(&entry_point);
        let me = address_bin(&rec.bundler);
        let now = u64_to_db("updated_at", crate::codec::now_secs())?;
        // One statement moves them all; when one is not this key's to move, it is found after.
        let mut hashes = rec.op_hashes.clone();
        hashes.sort();
        hashes.dedup();
        let to_submitted = Statement::new(format!(
            "UPDATE user_ops SET status = 'submitted', bundle_tx = $3, updated_at = $4, claimed_by = $5 \
             WHERE chain_id = $1 AND entry_point = $2 AND (claimed_by = $5 OR claimed_by IS NULL) \
             AND status IN ('pending', 'submitted') AND hash IN ({})",
            placeholders(6, hashes.len())
        ))
        .bind(chain)
        .bind(ep.clone())
        .bind(b256_bin(&rec.tx_hash))
        .bind(now)
        .bind(me);
        let to_submitted = hashes.iter().fold(to_submitted, |st, h| st.bind(b256_bin(h)));
        // Inserting a bundle fails in a statement, or on a value out of its column's range.
        let store_err = |e: StoreError| match e {
            StoreError::Db(e) => MempoolError::Db(e),
            other => MempoolError::InvalidInput(other.to_string()),
        };
        let insert = bundle_insert(rec).map_err(|e| store_err(e.into()))?;
        if self.submit_in_two_trips(fence, &insert, &to_submitted, hashes.len()).await? {
            return Ok(());
        }
        let mut tx = self.begin_fenced::<MempoolError>(fence).await?;
        if insert.query().execute(&mut *tx).await?.rows_affected() != 1 {
            sqlx::query("UPDATE bundles SET status = 'pending', updated_at = $2 WHERE tx_hash = $1")
                .bind(b256_bin(&rec.tx_hash))
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        let moved = to_submitted.query().execute(&mut *tx).await?.rows_affected();
        if usize::try_from(moved).ok() != Some(hashes.len()) {
            let refusal = self.first_not_moved(&mut tx, (chain, &ep), &hashes, rec).await?;
            // Rolled back now, not when the connection is next used: the row locks of the
            // operations already moved must not make a claim right after skip them.
            tx.rollback().await?;
            return Err(refusal);
        }
        tx.commit().await?;
        Ok(())
    }
}

impl Store {
    /// [`Store::submit_bundle`]'s usual case on SQLite — the fence holds, the bundle is new and
    /// all `ops` operations move — in two trips to the writer; false (rolled back) otherwise, and
    /// on PostgreSQL.
    async fn submit_in_two_trips(
        &self,
        fence: &Fence,
        insert: &Statement,
        to_submitted: &Statement,
        ops: usize,
    ) -> Result<bool, MempoolError> {
        let statements = || Ok::<_, MempoolError>(vec![fence.sqlite_check(), insert.clone(), to_submitted.clone()]);
        let Some((script, out)) = self.begin_script(statements).await? else { return Ok(false) };
        let moved = usize::try_from(out[2].changes).ok() == Some(ops);
        if fence.holds(&out[0].rows)? && out[1].changes == 1 && moved {
            script.commit(Vec::new()).await?;
            return Ok(true);
        }
        script.rollback().await?;
        Ok(false)
    }

    /// Why [`Store::submit_bundle`] could not move every one of `hashes` (sorted): the first that
    /// is not now submitted in `rec`'s transaction, as a refusal.
    async fn first_not_moved(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        (chain, ep): (i64, &Vec<u8>),
        hashes: &[B256],
        rec: &BundleRecord,
    ) -> Result<MempoolError, MempoolError> {
        for hash in hashes {
            let row = sqlx::query(
                "SELECT status, claimed_by, bundle_tx FROM user_ops WHERE chain_id = $1 AND entry_point = $2 AND hash = $3",
            )
            .bind(chain)
            .bind(ep)
            .bind(b256_bin(hash))
            .fetch_optional(&mut **tx)
            .await?;
            let Some(row) = row else { return Ok(MempoolError::NotFound { hash: *hash }) };
            let status: String = row.try_get("status")?;
            let bundle_tx = row.try_get::<Option<Vec<u8>>, _>("bundle_tx")?;
            if status == "submitted" && bundle_tx.as_deref() == Some(rec.tx_hash.as_slice()) {
                continue;
            }
            let holder = row
                .try_get::<Option<Vec<u8>>, _>("claimed_by")?
                .map(|b| address_from_bin("claimed_by", &b))
                .transpose()?;
            return Ok(MempoolError::InvalidTransition {
                hash: *hash,
                from: format!(
                    "{status} (held by {})",
                    holder.map_or_else(|| "no bundler key".to_string(), |h| address_text(&h))
                ),
                to: format!("submitted by {}", address_text(&rec.bundler)),
            });
        }
        Err(MempoolError::Corrupt(format!("bundle {}: fewer operations moved than found movable", rec.tx_hash)))
    }
}

/// [`op_columns`] qualified with the alias `u`.
fn prefixed_op_columns() -> String {
    op_columns!().split(',').map(|c| format!("u.{}", c.trim())).collect::<Vec<_>>().join(", ")
}

/// Whose claim, where: the chain, the EntryPoint and the bundler key, as stored.
struct Claim {
    chain: i64,
    ep: Vec<u8>,
    me: Vec<u8>,
}

impl Claim {
    /// Up to `limit` pending operations (oldest first) that no other key holds at `now` (ms),
    /// of senders with no operation held or submitted by another key; on PostgreSQL the rows
    /// are locked, skipping those another claim has locked.
    fn claimable(&self, now: u64, limit: i64, backend: Backend) -> Result<Statement, MempoolError> {
        // Another key's unfinished operation of the same sender blocks the sender (affinity). The
        // `status IN (…)` lets the lookup use `user_ops_by_sender` up to its status column, so it
        // reads the sender's unfinished operations, not every operation it ever sent.
        let lock = if backend == Backend::Postgres { " FOR UPDATE OF u SKIP LOCKED" } else { "" };
        Ok(Statement::new(format!(
            "SELECT {} FROM user_ops u WHERE u.chain_id = $1 AND u.entry_point = $2 AND u.status = 'pending' \
             AND (u.claimed_by IS NULL OR u.claimed_by = $3 OR u.claimed_until <= $4) \
             AND NOT EXISTS (SELECT 1 FROM user_ops o WHERE o.chain_id = u.chain_id \
               AND o.entry_point = u.entry_point AND o.sender = u.sender \
               AND o.status IN ('pending', 'submitted') AND o.claimed_by IS NOT NULL \
               AND o.claimed_by <> $3 AND (o.status = 'submitted' OR o.claimed_until > $4)) \
             ORDER BY u.created_at, u.sender, u.nonce_key, u.nonce_seq, u.hash LIMIT $5{lock}",
            prefixed_op_columns()
        ))
        .bind(self.chain)
        .bind(self.ep.clone())
        .bind(self.me.clone())
        .bind(u64_to_db("now", now)?)
        .bind(limit))
    }

    /// Claims `ops` from `now` (ms) for `claim_for`.
    fn claim(&self, ops: &[OpRecord], now: u64, claim_for: Duration) -> Result<Statement, MempoolError> {
        let until = now.saturating_add(crate::roles::ms(claim_for));
        let st = Statement::new(format!(
            "UPDATE user_ops SET claimed_by = $1, claimed_until = $2 WHERE chain_id = $3 AND entry_point = $4 \
             AND hash IN ({})",
            placeholders(5, ops.len())
        ))
        .bind(self.me.clone())
        .bind(u64_to_db("claimed_until", until)?)
        .bind(self.chain)
        .bind(self.ep.clone());
        Ok(ops.iter().fold(st, |st, op| st.bind(b256_bin(&op.hash))))
    }
}
