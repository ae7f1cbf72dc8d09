//! The bundler's durable mempool: user operations and their lifecycle, one row per
//! (chain_id, entry_point, userOpHash).

use std::collections::BTreeMap;

use alloy::primitives::{Address, B256, U256, keccak256};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::codec::{
    address_bin, address_from_bin, b256_bin, b256_from_bin, b256_text, now_secs, u64_bits_from_db, u64_bits_to_db,
    u64_from_db, u64_to_db, u128_bin, u128_from_bin, u256_bin, u256_from_bin,
};
use crate::db::Store;
use crate::error::MempoolError;
use crate::packed::{Doc, packed, unpacked};
use crate::roles::Fence;
use crate::script::Statement;

/// Lifecycle of a user operation in the mempool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpStatus {
    /// Accepted, waiting to be bundled.
    Pending,
    /// Sent in a handleOps transaction not yet mined.
    Submitted,
    /// Mined in a block (final unless that block is reorged out).
    Included,
    /// Will not be included: the bundle reverted it or it became invalid.
    Failed,
    /// Removed without inclusion: replaced, expired, evicted.
    Dropped,
}

impl OpStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [OpStatus; 5] =
        [OpStatus::Pending, OpStatus::Submitted, OpStatus::Included, OpStatus::Failed, OpStatus::Dropped];

    /// The lowercase text stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            OpStatus::Pending => "pending",
            OpStatus::Submitted => "submitted",
            OpStatus::Included => "included",
            OpStatus::Failed => "failed",
            OpStatus::Dropped => "dropped",
        }
    }

    /// Parses the stored text (lowercase only).
    pub fn parse(s: &str) -> Option<OpStatus> {
        OpStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether a restart must still resume the op (Pending or Submitted).
    pub fn is_unfinished(self) -> bool {
        matches!(self, OpStatus::Pending | OpStatus::Submitted)
    }
}

impl std::fmt::Display for OpStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One user operation as the mempool keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpRecord {
    /// userOpHash (primary key together with chain_id, entry_point).
    pub hash: B256,
    /// Chain the op is for.
    pub chain_id: u64,
    /// EntryPoint the op is for.
    pub entry_point: Address,
    /// The op's sender (account).
    pub sender: Address,
    /// nonce >> 64 (192 bits).
    pub nonce_key: U256,
    /// nonce & (2^64-1).
    pub nonce_seq: u64,
    /// maxFeePerGas of the op.
    pub max_fee_per_gas: u128,
    /// maxPriorityFeePerGas of the op.
    pub max_priority_fee_per_gas: u128,
    /// End of the op's validity window (unix seconds; at most i64::MAX).
    pub valid_until: u64,
    /// The operation's RPC JSON, opaque to the store.
    pub op_json: String,
    /// Where the op is in its lifecycle.
    pub status: OpStatus,
    /// Hash of the handleOps transaction it went out in.
    pub bundle_tx: Option<B256>,
    /// Block it was included in.
    pub block_number: Option<u64>,
    /// Hash of the block it was included in.
    pub block_hash: Option<B256>,
    /// The op's receipt JSON, opaque to the store.
    pub receipt_json: Option<String>,
    /// Why it failed or was dropped.
    pub failure: Option<String>,
    /// When it was accepted (unix seconds).
    pub created_at: u64,
    /// When it last changed (unix seconds).
    pub updated_at: u64,
}

/// Where an op stands ([`Store::user_op_progress`]): the lifecycle fields of its [`OpRecord`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpProgress {
    /// Where the op is in its lifecycle.
    pub status: OpStatus,
    /// Hash of the handleOps transaction it went out in.
    pub bundle_tx: Option<B256>,
    /// Block it was included in.
    pub block_number: Option<u64>,
    /// Hash of the block it was included in.
    pub block_hash: Option<B256>,
    /// The op's receipt JSON, opaque to the store.
    pub receipt_json: Option<String>,
    /// Why it failed or was dropped.
    pub failure: Option<String>,
    /// The block the chain was at when its bundle went out (`bundles.sent_at_block`); read by
    /// [`Store::user_op_progress`] only, `None` elsewhere and while no recorded bundle holds it.
    pub sent_at_block: Option<u64>,
}

/// What [`Store::insert_user_op`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InsertOutcome {
    /// A new pending op.
    Inserted,
    /// It replaced the pending op with the same sender and nonce, now Dropped ("replaced by …").
    Replaced {
        /// Hash of the op it replaced.
        old_hash: B256,
    },
    /// An op with this hash is already stored (whatever its status); nothing changed.
    AlreadyKnown,
}

/// What an admission records beside its operation ([`Store::admit_user_op`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Admission<'a> {
    /// The first validation's facts (JSON, kept for COD-010) and the arrival time (unix ns).
    pub first_validation: Option<(&'a str, u64)>,
    /// The op's entities (sender, factory, paymaster) whose `opsSeen` grows by one.
    pub seen: &'a [Address],
    /// Now, in unix seconds (the reputation's decay clock).
    pub now: u64,
    /// The wallet call this operation answers and whether it installs its session
    /// ([`crate::wallet::record_call_in`]): recorded in the same commit, whatever the outcome
    /// (a known operation too: a retried send), so an admitted wallet operation always has its call.
    pub call: Option<(&'a crate::wallet::CallRecord, bool)>,
}

/// The smallest fee a replacement must pay: `old × 110 %`, rounded up (saturating).
pub fn replacement_fee(old: u128) -> u128 {
    old.saturating_add(old / 10).saturating_add(u128::from(!old.is_multiple_of(10)))
}

/// Columns of `user_ops` in the order [`op_from_row`] reads them.
macro_rules! op_columns {
    () => {
        "chain_id, entry_point, hash, sender, nonce_key, nonce_seq, max_fee_per_gas, \
         max_priority_fee_per_gas, valid_until, op_z, status, bundle_tx, block_number, block_hash, receipt_z, \
         failure, created_at, updated_at"
    };
}
pub(crate) use op_columns;

/// Decodes the lifecycle columns of a `user_ops` row.
fn progress_from_row(row: &AnyRow) -> Result<OpProgress, MempoolError> {
    let opt_bin = |c: &str| row.try_get::<Option<Vec<u8>>, _>(c);
    let status_text: String = row.try_get("status")?;
    let status = OpStatus::parse(&status_text)
        .ok_or_else(|| MempoolError::Corrupt(format!("status: unknown value {status_text:?}")))?;
    Ok(OpProgress {
        status,
        bundle_tx: opt_bin("bundle_tx")?.map(|b| b256_from_bin("bundle_tx", &b)).transpose()?,
        block_number: row
            .try_get::<Option<i64>, _>("block_number")?
            .map(|v| u64_from_db("block_number", v))
            .transpose()?,
        block_hash: opt_bin("block_hash")?.map(|b| b256_from_bin("block_hash", &b)).transpose()?,
        receipt_json: opt_bin("receipt_z")?.map(|z| unpacked("receipt_z", Doc::Receipt, &z)).transpose()?,
        failure: row.try_get("failure")?,
        sent_at_block: None,
    })
}

/// Decodes one `user_ops` row selected with [`op_columns`].
pub(crate) fn op_from_row(row: &AnyRow) -> Result<OpRecord, MempoolError> {
    let bin = |c: &str| row.try_get::<Vec<u8>, _>(c);
    let OpProgress { status, bundle_tx, block_number, block_hash, receipt_json, failure, .. } = progress_from_row(row)?;
    Ok(OpRecord {
        hash: b256_from_bin("hash", &bin("hash")?)?,
        chain_id: u64_from_db("chain_id", row.try_get("chain_id")?)?,
        entry_point: address_from_bin("entry_point", &bin("entry_point")?)?,
        sender: address_from_bin("sender", &bin("sender")?)?,
        nonce_key: u256_from_bin("nonce_key", &bin("nonce_key")?)?,
        nonce_seq: u64_bits_from_db(row.try_get("nonce_seq")?),
        max_fee_per_gas: u128_from_bin("max_fee_per_gas", &bin("max_fee_per_gas")?)?,
        max_priority_fee_per_gas: u128_from_bin("max_priority_fee_per_gas", &bin("max_priority_fee_per_gas")?)?,
        valid_until: u64_from_db("valid_until", row.try_get("valid_until")?)?,
        op_json: unpacked("op_z", Doc::Op, &bin("op_z")?)?,
        status,
        bundle_tx,
        block_number,
        block_hash,
        receipt_json,
        failure,
        created_at: u64_from_db("created_at", row.try_get("created_at")?)?,
        updated_at: u64_from_db("updated_at", row.try_get("updated_at")?)?,
    })
}

/// How many times each address occurs in `entities`, by address.
fn tally<'a>(entities: impl Iterator<Item = &'a Address>) -> BTreeMap<Address, u64> {
    let mut counts = BTreeMap::new();
    for entity in entities {
        *counts.entry(*entity).or_insert(0) += 1;
    }
    counts
}

/// What an admission needs to know of the stored operations: whether `rec` is one of them, and
/// the sender's unfinished ones (pending at `rec`'s nonce: their hash and fees).
struct Seen {
    /// `rec`'s hash is stored.
    known: bool,
    /// The sender's pending and submitted operations.
    unfinished: usize,
    /// Its pending operations at `rec`'s nonce: hash, max fee, max priority fee.
    same_nonce: Vec<(B256, u128, u128)>,
}

impl Seen {
    /// Reads the rows of [`known_or_live`] for `rec`.
    fn read(rows: &[AnyRow], rec: &OpRecord) -> Result<Seen, MempoolError> {
        let mut seen = Seen { known: false, unfinished: 0, same_nonce: Vec::new() };
        for row in rows {
            let row_hash = b256_from_bin("hash", &row.try_get::<Vec<u8>, _>("hash")?)?;
            if row_hash == rec.hash {
                seen.known = true;
                continue;
            }
            seen.unfinished += 1;
            let status: String = row.try_get("status")?;
            let key = u256_from_bin("nonce_key", &row.try_get::<Vec<u8>, _>("nonce_key")?)?;
            let seq = u64_bits_from_db(row.try_get::<i64, _>("nonce_seq")?);
            if status == OpStatus::Pending.as_str() && key == rec.nonce_key && seq == rec.nonce_seq {
                let max = u128_from_bin("max_fee_per_gas", &row.try_get::<Vec<u8>, _>("max_fee_per_gas")?)?;
                let prio =
                    u128_from_bin("max_priority_fee_per_gas", &row.try_get::<Vec<u8>, _>("max_priority_fee_per_gas")?)?;
                seen.same_nonce.push((row_hash, max, prio));
            }
        }
        Ok(seen)
    }
}

/// One read answering an admission's three questions: is `rec` known, which pending operations
/// share its nonce, and how many the sender has unfinished (at most its cap, so the rows stay few).
fn known_or_live(rec: &OpRecord) -> Result<Statement, MempoolError> {
    Ok(Statement::new(
        "SELECT hash, nonce_key, nonce_seq, status, max_fee_per_gas, max_priority_fee_per_gas FROM user_ops \
         WHERE chain_id = $1 AND entry_point = $2 AND hash = $3 \
         UNION ALL \
         SELECT hash, nonce_key, nonce_seq, status, max_fee_per_gas, max_priority_fee_per_gas FROM user_ops \
         WHERE chain_id = $1 AND entry_point = $2 AND sender = $4 AND status IN ('pending', 'submitted')",
    )
    .bind(u64_to_db("chain_id", rec.chain_id)?)
    .bind(address_bin(&rec.entry_point))
    .bind(b256_bin(&rec.hash))
    .bind(address_bin(&rec.sender)))
}

/// The insert of `rec` as pending (nothing where its hash is stored), with its first validation's
/// facts and arrival time.
fn insert_op(rec: &OpRecord, first_validation: Option<(&str, u64)>) -> Result<Statement, MempoolError> {
    Ok(Statement::new(
        "INSERT INTO user_ops (chain_id, entry_point, hash, sender, nonce_key, nonce_seq, max_fee_per_gas, \
         max_priority_fee_per_gas, valid_until, op_z, status, created_at, updated_at, facts_json, arrived_ns) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $11, $12, $13, $14) \
         ON CONFLICT (chain_id, entry_point, hash) DO NOTHING",
    )
    .bind(u64_to_db("chain_id", rec.chain_id)?)
    .bind(address_bin(&rec.entry_point))
    .bind(b256_bin(&rec.hash))
    .bind(address_bin(&rec.sender))
    .bind(u256_bin(&rec.nonce_key))
    .bind(u64_bits_to_db(rec.nonce_seq))
    .bind(u128_bin(rec.max_fee_per_gas))
    .bind(u128_bin(rec.max_priority_fee_per_gas))
    .bind(u64_to_db("valid_until", rec.valid_until)?)
    .bind(packed("op_z", Doc::Op, &rec.op_json)?)
    .bind(u64_to_db("created_at", rec.created_at)?)
    .bind(u64_to_db("updated_at", rec.updated_at)?)
    .bind(first_validation.map(|(facts, _)| facts))
    .bind(first_validation.map(|(_, arrived)| u64_to_db("arrived_ns", arrived)).transpose()?))
}

/// A transaction-scoped PostgreSQL advisory lock key for one sender's ops.
fn sender_lock_key(chain_id: u64, entry_point: &Address, sender: &Address) -> i64 {
    let mut buf = Vec::with_capacity(8 + 20 + 20 + 16);
    buf.extend_from_slice(b"keyward-mempool:");
    buf.extend_from_slice(&chain_id.to_be_bytes());
    buf.extend_from_slice(entry_point.as_slice());
    buf.extend_from_slice(sender.as_slice());
    let h = keccak256(&buf);
    let mut first = [0u8; 8];
    first.copy_from_slice(&h[..8]);
    i64::from_be_bytes(first)
}

impl Store {
    /// Atomically (one DB transaction): an op with the same hash exists → AlreadyKnown; a PENDING op with
    /// the same (chain_id, entry_point, sender, nonce_key, nonce_seq) exists → replace it (the old one
    /// becomes Dropped) only if both fees are ≥ old × 110 % (integer ceil), else Underpriced; else if the
    /// sender already has `sender_cap` ops in Pending|Submitted → SenderCap; else insert as Pending
    /// (status and bundle/block/receipt/failure fields of `rec` are ignored).
    pub async fn insert_user_op(&self, rec: &OpRecord, sender_cap: usize) -> Result<InsertOutcome, MempoolError> {
        self.admit_user_op(rec, sender_cap, &Admission::default()).await
    }

    /// [`Store::insert_user_op`] with what the admission learnt, in the same transaction: when the
    /// op is new (inserted or replacing), its first validation's facts are kept and its entities'
    /// `opsSeen` grow, so a bundler that sees the op also sees them; the wallet call it answers,
    /// if any, is recorded; an admission costs one commit.
    ///
    /// On SQLite the usual case — a new operation, no other pending at its nonce, the sender under
    /// its cap, its entities' counters of this hour — is two trips to the writer
    /// ([`crate::script`]); every other case, and every admission on PostgreSQL, takes the
    /// general path.
    pub async fn admit_user_op(
        &self,
        rec: &OpRecord,
        sender_cap: usize,
        admission: &Admission<'_>,
    ) -> Result<InsertOutcome, MempoolError> {
        if let Some(outcome) = self.admit_in_two_trips(rec, sender_cap, admission).await? {
            return Ok(outcome);
        }
        let mut tx = self.begin_write().await?;
        let outcome = self.insert_user_op_in(&mut tx, rec, sender_cap, admission.first_validation).await?;
        if outcome != InsertOutcome::AlreadyKnown {
            let at = (rec.chain_id, rec.entry_point);
            self.count_reputations_in::<MempoolError>(&mut tx, at, &tally(admission.seen.iter()), admission.now, false)
                .await?;
        }
        if let Some((call, installs_session)) = admission.call {
            crate::wallet::record_call_in::<MempoolError>(&mut tx, call, installs_session).await?;
        }
        tx.commit().await?;
        Ok(outcome)
    }

    /// [`Store::admit_user_op`]'s usual case on SQLite: every statement of a new operation's
    /// admission in one trip, committed in a second when each did what the general path would
    /// have; `None` (rolled back) otherwise, and on PostgreSQL.
    async fn admit_in_two_trips(
        &self,
        rec: &OpRecord,
        sender_cap: usize,
        admission: &Admission<'_>,
    ) -> Result<Option<InsertOutcome>, MempoolError> {
        let at = (rec.chain_id, rec.entry_point);
        let counting = crate::reputation::counting(at, &tally(admission.seen.iter()), admission.now, false)?;
        let statements = || {
            let mut statements = vec![known_or_live(rec)?, insert_op(rec, admission.first_validation)?];
            statements.extend(counting.iter().map(|c| c.statement.clone()));
            if let Some((call, installs_session)) = admission.call {
                let (insert, rest) = crate::wallet::call_statements(call, installs_session)?;
                statements.push(insert);
                statements.extend(rest);
            }
            Ok::<_, MempoolError>(statements)
        };
        let Some((script, out)) = self.begin_script(statements).await? else { return Ok(None) };
        let seen = Seen::read(&out[0].rows, rec)?;
        let counted = counting.iter().zip(&out[2..]).all(|(c, o)| o.rows.len() == c.addresses.len());
        let call_recorded = admission.call.is_none() || out[2 + counting.len()].changes == 1;
        let usual = !seen.known
            && seen.same_nonce.is_empty()
            && seen.unfinished < sender_cap
            && out[1].changes == 1
            && counted
            && call_recorded;
        if !usual {
            script.rollback().await?;
            return Ok(None);
        }
        script.commit(Vec::new()).await?;
        Ok(Some(InsertOutcome::Inserted))
    }

    /// The checks and the insert of [`Store::insert_user_op`] inside `tx` (not committed), the new
    /// row carrying its first validation's facts and arrival time (`first_validation`).
    async fn insert_user_op_in(
        &self,
        tx: &mut Transaction<'static, Any>,
        rec: &OpRecord,
        sender_cap: usize,
        first_validation: Option<(&str, u64)>,
    ) -> Result<InsertOutcome, MempoolError> {
        let chain_id = u64_to_db("chain_id", rec.chain_id)?;
        let ep = address_bin(&rec.entry_point);

        // Serialise check-then-insert per sender across connections and replicas.
        self.advisory_lock(tx, sender_lock_key(rec.chain_id, &rec.entry_point, &rec.sender)).await?;

        let rows = known_or_live(rec)?.query().fetch_all(&mut **tx).await?;
        let Seen { known, unfinished, mut same_nonce } = Seen::read(&rows, rec)?;
        if known {
            return Ok(InsertOutcome::AlreadyKnown);
        }
        // The one reported replaced: the best-paying, then the lowest hash.
        same_nonce.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));

        let outcome = if let Some(first) = same_nonce.first() {
            // After a reorg two pending ops may share a nonce: the replacement must beat each of them.
            let (mut needed_max_fee, mut needed_priority_fee) = (0u128, 0u128);
            for (_, old_max, old_prio) in &same_nonce {
                needed_max_fee = needed_max_fee.max(replacement_fee(*old_max));
                needed_priority_fee = needed_priority_fee.max(replacement_fee(*old_prio));
            }
            if rec.max_fee_per_gas < needed_max_fee || rec.max_priority_fee_per_gas < needed_priority_fee {
                return Err(MempoolError::Underpriced { needed_max_fee, needed_priority_fee });
            }
            let old_hash = first.0;
            let now = u64_to_db("updated_at", now_secs())?;
            for (old, ..) in &same_nonce {
                sqlx::query(
                    "UPDATE user_ops SET status = 'dropped', failure = $4, updated_at = $5, facts_json = NULL, \
                     arrived_ns = NULL WHERE chain_id = $1 AND entry_point = $2 AND hash = $3",
                )
                .bind(chain_id)
                .bind(&ep)
                .bind(b256_bin(old))
                .bind(format!("replaced by {}", b256_text(&rec.hash)))
                .bind(now)
                .execute(&mut **tx)
                .await?;
            }
            InsertOutcome::Replaced { old_hash }
        } else {
            if unfinished >= sender_cap {
                return Err(MempoolError::SenderCap { sender: rec.sender, cap: sender_cap });
            }
            InsertOutcome::Inserted
        };
        if insert_op(rec, first_validation)?.query().execute(&mut **tx).await?.rows_affected() != 1 {
            return Err(MempoolError::Corrupt(format!("op {} appeared under the sender's lock", rec.hash)));
        }
        Ok(outcome)
    }

    /// The op with this hash on this chain and EntryPoint, if stored.
    pub async fn get_user_op(
        &self,
        chain_id: u64,
        entry_point: Address,
        hash: B256,
    ) -> Result<Option<OpRecord>, MempoolError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            op_columns!(),
            " FROM user_ops WHERE chain_id = $1 AND entry_point = $2 AND hash = $3"
        ))
        .bind(u64_to_db("chain_id", chain_id)?)
        .bind(address_bin(&entry_point))
        .bind(b256_bin(&hash))
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(op_from_row).transpose()
    }

    /// Where the op with this hash stands, without the op itself, with its bundle's
    /// `sent_at_block` (status polls ask this often: one statement).
    pub async fn user_op_progress(
        &self,
        chain_id: u64,
        entry_point: Address,
        hash: B256,
    ) -> Result<Option<OpProgress>, MempoolError> {
        let row = sqlx::query(
            "SELECT u.status, u.bundle_tx, u.block_number, u.block_hash, u.receipt_z, u.failure, b.sent_at_block \
             FROM user_ops u LEFT JOIN bundles b ON b.tx_hash = u.bundle_tx \
             WHERE u.chain_id = $1 AND u.entry_point = $2 AND u.hash = $3",
        )
        .bind(u64_to_db("chain_id", chain_id)?)
        .bind(address_bin(&entry_point))
        .bind(b256_bin(&hash))
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let sent_at_block =
            row.try_get::<Option<i64>, _>("sent_at_block")?.map(|v| u64_from_db("sent_at_block", v)).transpose()?;
        Ok(Some(OpProgress { sent_at_block, ..progress_from_row(&row)? }))
    }

    /// Pending ops, oldest first; within one second, by sender and nonce so each sender's next op comes first.
    pub async fn pending_user_ops(
        &self,
        chain_id: u64,
        entry_point: Address,
        limit: usize,
    ) -> Result<Vec<OpRecord>, MempoolError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            op_columns!(),
            " FROM user_ops WHERE chain_id = $1 AND entry_point = $2 AND status = 'pending' \
             ORDER BY created_at, sender, nonce_key, nonce_seq, hash LIMIT $3"
        ))
        .bind(u64_to_db("chain_id", chain_id)?)
        .bind(address_bin(&entry_point))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(op_from_row).collect()
    }

    /// Every op in Pending or Submitted (what a restart must resume), oldest first (created_at, then hash).
    pub async fn unfinished_user_ops(
        &self,
        chain_id: u64,
        entry_point: Address,
    ) -> Result<Vec<OpRecord>, MempoolError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            op_columns!(),
            " FROM user_ops WHERE chain_id = $1 AND entry_point = $2 AND status IN ('pending', 'submitted') \
             ORDER BY created_at, hash"
        ))
        .bind(u64_to_db("chain_id", chain_id)?)
        .bind(address_bin(&entry_point))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(op_from_row).collect()
    }

    /// The userOpHashes of every op in Pending or Submitted, in no order (an order by hash would walk
    /// the primary key over the whole history): the pool's membership, for a reader that keeps the
    /// operations themselves in memory (an operation never changes under its hash).
    pub async fn unfinished_hashes(&self, chain_id: u64, entry_point: Address) -> Result<Vec<B256>, MempoolError> {
        let rows: Vec<(Vec<u8>,)> = sqlx::query_as(
            "SELECT hash FROM user_ops WHERE chain_id = $1 AND entry_point = $2 \
             AND status IN ('pending', 'submitted')",
        )
        .bind(u64_to_db("chain_id", chain_id)?)
        .bind(address_bin(&entry_point))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|(h,)| Ok(b256_from_bin("hash", h)?)).collect()
    }

    /// Which of `hashes` are ops in Pending or Submitted, in no order: one read for a block's
    /// worth of events.
    pub async fn unfinished_among(
        &self,
        chain_id: u64,
        entry_point: Address,
        hashes: &[B256],
    ) -> Result<Vec<B256>, MempoolError> {
        let mut found = Vec::new();
        // SQLite finds a numbered placeholder by walking the statement's list of them: a long
        // list goes in several statements, or its parse and binds grow with its square.
        for chunk in hashes.chunks(128) {
            let sql = format!(
                "SELECT hash FROM user_ops WHERE chain_id = $1 AND entry_point = $2 \
                 AND status IN ('pending', 'submitted') AND hash IN ({})",
                crate::db::placeholders(3, chunk.len())
            );
            let mut query = sqlx::query_as::<_, (Vec<u8>,)>(sqlx::AssertSqlSafe(sql))
                .bind(u64_to_db("chain_id", chain_id)?)
                .bind(address_bin(&entry_point));
            for hash in chunk {
                query = query.bind(b256_bin(hash));
            }
            for (h,) in query.fetch_all(self.pool()).await? {
                found.push(b256_from_bin("hash", &h)?);
            }
        }
        Ok(found)
    }

    /// What the first validation of the operation `op_hash` showed (JSON, kept with it from its
    /// admission until it is final), if anything.
    pub async fn op_facts(
        &self,
        chain_id: u64,
        entry_point: Address,
        op_hash: B256,
    ) -> Result<Option<String>, MempoolError> {
        let facts: Option<Option<String>> = sqlx::query_scalar(
            "SELECT facts_json FROM user_ops WHERE chain_id = $1 AND entry_point = $2 AND hash = $3",
        )
        .bind(u64_to_db("chain_id", chain_id)?)
        .bind(address_bin(&entry_point))
        .bind(b256_bin(&op_hash))
        .fetch_optional(self.pool())
        .await?;
        Ok(facts.flatten())
    }

    /// When each unfinished operation with recorded facts arrived (unix nanoseconds), by userOpHash.
    pub async fn op_arrivals(&self, chain_id: u64, entry_point: Address) -> Result<Vec<(B256, u64)>, MempoolError> {
        let rows: Vec<(Vec<u8>, Option<i64>)> = sqlx::query_as(
            "SELECT hash, arrived_ns FROM user_ops WHERE chain_id = $1 AND entry_point = $2 \
             AND status IN ('pending', 'submitted')",
        )
        .bind(u64_to_db("chain_id", chain_id)?)
        .bind(address_bin(&entry_point))
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .filter_map(|(h, t)| t.map(|t| (h, t)))
            .map(|(h, t)| Ok((b256_from_bin("hash", &h)?, u64_from_db("arrived_ns", t)?)))
            .collect()
    }

    /// Forgets the validation facts of every unfinished operation of `(chain_id, entry_point)`.
    pub async fn clear_op_facts(&self, chain_id: u64, entry_point: Address) -> Result<(), MempoolError> {
        sqlx::query(
            "UPDATE user_ops SET facts_json = NULL, arrived_ns = NULL WHERE chain_id = $1 AND entry_point = $2 \
             AND status IN ('pending', 'submitted')",
        )
        .bind(u64_to_db("chain_id", chain_id)?)
        .bind(address_bin(&entry_point))
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// The senders of every op in Pending or Submitted (ERC-7562's cross-operation rules ask who
    /// they are, not what they sent), without duplicates.
    pub async fn unfinished_senders(&self, chain_id: u64, entry_point: Address) -> Result<Vec<Address>, MempoolError> {
        let rows: Vec<(Vec<u8>,)> = sqlx::query_as(
            "SELECT DISTINCT sender FROM user_ops WHERE chain_id = $1 AND entry_point = $2 \
             AND status IN ('pending', 'submitted')",
        )
        .bind(u64_to_db("chain_id", chain_id)?)
        .bind(address_bin(&entry_point))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|(s,)| Ok(address_from_bin("sender", s)?)).collect()
    }

    /// `sender`'s Pending and Submitted ops, by nonce: read through the sender index, so a
    /// call's nonce choice costs that sender's operations in flight, not the whole mempool.
    pub async fn unfinished_user_ops_of(
        &self,
        chain_id: u64,
        entry_point: Address,
        sender: Address,
    ) -> Result<Vec<OpRecord>, MempoolError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            op_columns!(),
            " FROM user_ops WHERE chain_id = $1 AND entry_point = $2 AND sender = $3 \
             AND status IN ('pending', 'submitted') ORDER BY nonce_key, nonce_seq, hash"
        ))
        .bind(u64_to_db("chain_id", chain_id)?)
        .bind(address_bin(&entry_point))
        .bind(address_bin(&sender))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(op_from_row).collect()
    }

    /// The (nonce key, nonce sequence) of `sender`'s Pending and Submitted ops, in that order: what a
    /// nonce choice needs of [`Store::unfinished_user_ops_of`], without reading the operations.
    pub async fn unfinished_nonces_of(
        &self,
        chain_id: u64,
        entry_point: Address,
        sender: Address,
    ) -> Result<Vec<(U256, u64)>, MempoolError> {
        let rows: Vec<(Vec<u8>, i64)> = sqlx::query_as(
            "SELECT nonce_key, nonce_seq FROM user_ops WHERE chain_id = $1 AND entry_point = $2 AND sender = $3 \
             AND status IN ('pending', 'submitted') ORDER BY nonce_key, nonce_seq",
        )
        .bind(u64_to_db("chain_id", chain_id)?)
        .bind(address_bin(&entry_point))
        .bind(address_bin(&sender))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|(key, seq)| Ok((u256_from_bin("nonce_key", key)?, u64_bits_from_db(*seq)))).collect()
    }

    /// Where each operation included in a block from `from_block` on was recorded: (userOpHash,
    /// block number, block hash), by block number — what a reorganisation check needs, without
    /// the operations themselves.
    pub async fn included_user_ops_since(
        &self,
        chain_id: u64,
        entry_point: Address,
        from_block: u64,
    ) -> Result<Vec<(B256, u64, B256)>, MempoolError> {
        let rows = sqlx::query(
            "SELECT hash, block_number, block_hash FROM user_ops WHERE chain_id = $1 AND entry_point = $2 \
             AND status = 'included' AND block_number >= $3 ORDER BY block_number, hash",
        )
        .bind(u64_to_db("chain_id", chain_id)?)
        .bind(address_bin(&entry_point))
        .bind(u64_to_db("from_block", from_block)?)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    b256_from_bin("hash", &r.try_get::<Vec<u8>, _>("hash")?)?,
                    u64_from_db("block_number", r.try_get("block_number")?)?,
                    b256_from_bin("block_hash", &r.try_get::<Vec<u8>, _>("block_hash")?)?,
                ))
            })
            .collect()
    }

    /// Marks ops (Pending, or Submitted in an earlier transaction) as Submitted in `bundle_tx`;
    /// all or nothing: an unknown hash or an op in a final status fails the whole call.
    pub async fn mark_submitted(
        &self,
        fence: &Fence,
        chain_id: u64,
        entry_point: Address,
        hashes: &[B256],
        bundle_tx: B256,
    ) -> Result<(), MempoolError> {
        let chain = u64_to_db("chain_id", chain_id)?;
        let ep = address_bin(&entry_point);
        let now = u64_to_db("updated_at", now_secs())?;
        let mut tx = self.begin_fenced::<MempoolError>(fence).await?;
        for hash in hashes {
            let done = sqlx::query(
                "UPDATE user_ops SET status = 'submitted', bundle_tx = $4, updated_at = $5 \
                 WHERE chain_id = $1 AND entry_point = $2 AND hash = $3 AND status IN ('pending', 'submitted')",
            )
            .bind(chain)
            .bind(&ep)
            .bind(b256_bin(hash))
            .bind(b256_bin(&bundle_tx))
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(transition_error(&mut tx, chain, &ep, *hash, OpStatus::Submitted).await);
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Included in transaction `bundle_tx` (the one that carried it, whichever bundle record it
    /// was in): stores the transaction, block number/hash and receipt JSON; only from
    /// Pending/Submitted (repeating the same inclusion is accepted and changes nothing).
    #[allow(clippy::too_many_arguments)]
    pub async fn mark_included(
        &self,
        fence: &Fence,
        chain_id: u64,
        entry_point: Address,
        hash: B256,
        bundle_tx: B256,
        block_number: u64,
        block_hash: B256,
        receipt_json: &str,
    ) -> Result<(), MempoolError> {
        let at = OpKey::new(chain_id, &entry_point)?;
        let mut tx = self.begin_fenced::<MempoolError>(fence).await?;
        include_in(&mut tx, &at, hash, bundle_tx, block_number, block_hash, receipt_json).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Everything a mined bundle transaction did, in one transaction (one commit for the whole
    /// bundle): each operation included (its block and stored outcome, its entities' `opsIncluded`
    /// grown) or failed (missing from the bundle's events), then the bundle marked mined. Operations forgotten since the bundle
    /// went out are skipped; any other refused change rolls it all back. Returns the hashes
    /// recorded as included.
    pub async fn record_mined_bundle(
        &self,
        fence: &Fence,
        chain_id: u64,
        entry_point: Address,
        bundle_tx: B256,
        ops: &[MinedOp<'_>],
    ) -> Result<Vec<B256>, MempoolError> {
        if let Some(included) = self.record_mined_in_two_trips(fence, chain_id, entry_point, bundle_tx, ops).await? {
            return Ok(included);
        }
        let at = OpKey::new(chain_id, &entry_point)?;
        let mut tx = self.begin_fenced::<MempoolError>(fence).await?;
        let mut included = Vec::with_capacity(ops.len());
        let mut counted: Vec<Address> = Vec::new();
        for op in ops {
            let done = match *op {
                MinedOp::Included { hash, block_number, block_hash, receipt_json, entities } => {
                    match include_in(&mut tx, &at, hash, bundle_tx, block_number, block_hash, receipt_json).await {
                        Ok(changed) => {
                            // A repeat (already included in this block) counted the first time.
                            counted.extend(entities.iter().filter(|_| changed));
                            Ok(Some(hash))
                        }
                        Err(e) => Err(e),
                    }
                }
                MinedOp::Missing { hash, reason } => {
                    finish_in(&mut tx, &at, hash, OpStatus::Failed, reason).await.map(|()| None)
                }
            };
            match done {
                Ok(hash) => included.extend(hash),
                Err(MempoolError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let at = (chain_id, entry_point);
        self.count_reputations_in::<MempoolError>(&mut tx, at, &tally(counted.iter()), now_secs(), true).await?;
        crate::bundles::set_bundle_status_in::<MempoolError>(&mut tx, bundle_tx, crate::bundles::BundleStatus::Mined)
            .await?
            .then_some(())
            .ok_or_else(|| MempoolError::Corrupt(format!("mined bundle transaction {bundle_tx} was never recorded")))?;
        tx.commit().await?;
        Ok(included)
    }

    /// [`Store::record_mined_bundle`]'s usual case on SQLite — the fence holds, every operation is
    /// included and was pending or submitted — in two trips to the writer; `None` (rolled back)
    /// otherwise, and on PostgreSQL.
    async fn record_mined_in_two_trips(
        &self,
        fence: &Fence,
        chain_id: u64,
        entry_point: Address,
        bundle_tx: B256,
        ops: &[MinedOp<'_>],
    ) -> Result<Option<Vec<B256>>, MempoolError> {
        let mut included = Vec::with_capacity(ops.len());
        let mut entities: Vec<Address> = Vec::new();
        for op in ops {
            let MinedOp::Included { hash, entities: of_op, .. } = *op else { return Ok(None) };
            included.push(hash);
            entities.extend(of_op);
        }
        let counting = crate::reputation::counting((chain_id, entry_point), &tally(entities.iter()), now_secs(), true)?;
        let statements = || {
            let at = OpKey::new(chain_id, &entry_point)?;
            let mut statements = vec![fence.sqlite_check()];
            for op in ops {
                if let MinedOp::Included { hash, block_number, block_hash, receipt_json, .. } = *op {
                    statements.push(inclusion(&at, hash, bundle_tx, block_number, block_hash, receipt_json)?);
                }
            }
            statements.extend(counting.iter().map(|c| c.statement.clone()));
            statements.push(crate::bundles::bundle_status(bundle_tx, crate::bundles::BundleStatus::Mined)?);
            Ok::<_, MempoolError>(statements)
        };
        let Some((script, out)) = self.begin_script(statements).await? else { return Ok(None) };
        let (fenced, rest) = out.split_first().ok_or_else(|| MempoolError::Corrupt("an empty script".into()))?;
        let (moved, rest) = rest.split_at(ops.len());
        let (counts, status) = rest.split_at(counting.len());
        let usual = fence.holds(&fenced.rows)?
            && moved.iter().all(|o| o.changes == 1)
            && counting.iter().zip(counts).all(|(c, o)| o.rows.len() == c.addresses.len())
            && status.iter().all(|o| o.changes == 1);
        if !usual {
            script.rollback().await?;
            return Ok(None);
        }
        script.commit(Vec::new()).await?;
        Ok(Some(included))
    }

    /// Failed (with a reason); only from Pending/Submitted (repeating it changes nothing).
    pub async fn mark_failed(
        &self,
        fence: &Fence,
        chain_id: u64,
        entry_point: Address,
        hash: B256,
        reason: &str,
    ) -> Result<(), MempoolError> {
        self.finish(fence, chain_id, entry_point, hash, OpStatus::Failed, reason).await
    }

    /// Dropped (with a reason); only from Pending/Submitted (repeating it changes nothing).
    pub async fn mark_dropped(
        &self,
        fence: &Fence,
        chain_id: u64,
        entry_point: Address,
        hash: B256,
        reason: &str,
    ) -> Result<(), MempoolError> {
        self.finish(fence, chain_id, entry_point, hash, OpStatus::Dropped, reason).await
    }

    /// Moves an unfinished op to Failed or Dropped.
    async fn finish(
        &self,
        fence: &Fence,
        chain_id: u64,
        entry_point: Address,
        hash: B256,
        to: OpStatus,
        reason: &str,
    ) -> Result<(), MempoolError> {
        let at = OpKey::new(chain_id, &entry_point)?;
        let mut tx = self.begin_fenced::<MempoolError>(fence).await?;
        finish_in(&mut tx, &at, hash, to, reason).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Reorg: every op Included in block `block` (number, hash) goes back to Submitted in the bundle transaction
    /// that carried it (block and receipt cleared), and those bundles back to pending, in one
    /// transaction: the tracker then follows the bundle again (re-mined on the new branch, or
    /// dropped and its ops back to pending). The ops never pass through Pending, so no bundler can
    /// claim an op whose inclusion may still stand. Returns their hashes, sorted.
    pub async fn reopen_block(
        &self,
        fence: &Fence,
        chain_id: u64,
        entry_point: Address,
        block: (u64, B256),
    ) -> Result<Vec<B256>, MempoolError> {
        let (block_number, block_hash) = block;
        let mut tx = self.begin_fenced::<MempoolError>(fence).await?;
        let now = u64_to_db("updated_at", now_secs())?;
        let rows = sqlx::query(
            "UPDATE user_ops SET status = CASE WHEN bundle_tx IS NULL THEN 'pending' ELSE 'submitted' END, \
             block_number = NULL, block_hash = NULL, receipt_z = NULL, failure = NULL, \
             updated_at = $5 \
             WHERE chain_id = $1 AND entry_point = $2 AND status = 'included' AND block_number = $3 \
             AND block_hash = $4 RETURNING hash, bundle_tx",
        )
        .bind(u64_to_db("chain_id", chain_id)?)
        .bind(address_bin(&entry_point))
        .bind(u64_to_db("block_number", block_number)?)
        .bind(b256_bin(&block_hash))
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        let mut hashes = Vec::with_capacity(rows.len());
        let mut bundles = std::collections::BTreeSet::new();
        for r in &rows {
            hashes.push(b256_from_bin("hash", &r.try_get::<Vec<u8>, _>("hash")?)?);
            if let Some(bundle) = r.try_get::<Option<Vec<u8>>, _>("bundle_tx")? {
                bundles.insert(bundle);
            }
        }
        for bundle in bundles {
            sqlx::query("UPDATE bundles SET status = 'pending', updated_at = $2 WHERE tx_hash = $1")
                .bind(bundle)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        hashes.sort();
        Ok(hashes)
    }

    /// Every op Submitted in `bundle_tx` (dropped or replaced transaction) goes back to Pending (bundle
    /// field cleared); returns their hashes, sorted.
    pub async fn reset_to_pending_by_bundle(
        &self,
        fence: &Fence,
        chain_id: u64,
        entry_point: Address,
        bundle_tx: B256,
    ) -> Result<Vec<B256>, MempoolError> {
        self.reset_to_pending(
            fence,
            "UPDATE user_ops SET status = 'pending', bundle_tx = NULL, block_number = NULL, block_hash = NULL, \
             receipt_z = NULL, failure = NULL, updated_at = $4 \
             WHERE chain_id = $1 AND entry_point = $2 AND status = 'submitted' AND bundle_tx = $3 RETURNING hash",
            chain_id,
            entry_point,
            bundle_tx,
        )
        .await
    }

    /// Runs one of the reset statements (binds chain, EntryPoint, the hash, now) and collects the hashes.
    async fn reset_to_pending(
        &self,
        fence: &Fence,
        sql: &'static str,
        chain_id: u64,
        entry_point: Address,
        key: B256,
    ) -> Result<Vec<B256>, MempoolError> {
        let mut tx = self.begin_fenced::<MempoolError>(fence).await?;
        let rows = sqlx::query(sql)
            .bind(u64_to_db("chain_id", chain_id)?)
            .bind(address_bin(&entry_point))
            .bind(b256_bin(&key))
            .bind(u64_to_db("updated_at", now_secs())?)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut hashes = rows
            .iter()
            .map(|r| Ok(b256_from_bin("hash", &r.try_get::<Vec<u8>, _>("hash")?)?))
            .collect::<Result<Vec<_>, MempoolError>>()?;
        hashes.sort();
        Ok(hashes)
    }

    /// debug_bundler_clearState: deletes every op of this chain/EntryPoint; returns how many.
    pub async fn clear_user_ops(&self, chain_id: u64, entry_point: Address) -> Result<u64, MempoolError> {
        let done = sqlx::query("DELETE FROM user_ops WHERE chain_id = $1 AND entry_point = $2")
            .bind(u64_to_db("chain_id", chain_id)?)
            .bind(address_bin(&entry_point))
            .execute(self.writer())
            .await?;
        Ok(done.rows_affected())
    }

    /// Numbers of `pending` and `submitted` ops (read through the status index, whatever the history).
    pub async fn count_unfinished(&self, chain_id: u64, entry_point: Address) -> Result<(u64, u64), MempoolError> {
        let count = |status: &'static str| async move {
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM user_ops WHERE chain_id = $1 AND entry_point = $2 AND status = $3",
            )
            .bind(u64_to_db("chain_id", chain_id)?)
            .bind(address_bin(&entry_point))
            .bind(status)
            .fetch_one(self.pool())
            .await?;
            Ok::<u64, MempoolError>(u64_from_db("count", n)?)
        };
        Ok((count("pending").await?, count("submitted").await?))
    }

    /// Number of ops per status (every status present, zero included), keyed by the lowercase status.
    pub async fn count_by_status(
        &self,
        chain_id: u64,
        entry_point: Address,
    ) -> Result<BTreeMap<String, u64>, MempoolError> {
        let rows = sqlx::query(
            "SELECT status, COUNT(*) AS n FROM user_ops WHERE chain_id = $1 AND entry_point = $2 GROUP BY status",
        )
        .bind(u64_to_db("chain_id", chain_id)?)
        .bind(address_bin(&entry_point))
        .fetch_all(self.pool())
        .await?;
        let mut counts: BTreeMap<String, u64> = OpStatus::ALL.iter().map(|s| (s.as_str().to_string(), 0)).collect();
        for row in &rows {
            let status: String = row.try_get("status")?;
            let n = u64_from_db("count", row.try_get("n")?)?;
            counts.insert(status, n);
        }
        Ok(counts)
    }
}

/// What a mined bundle did with one of its operations ([`Store::record_mined_bundle`]).
#[derive(Debug, Clone, Copy)]
pub enum MinedOp<'a> {
    /// Included: its block and its stored outcome (JSON).
    Included {
        /// The userOpHash.
        hash: B256,
        /// The block's number.
        block_number: u64,
        /// The block's hash.
        block_hash: B256,
        /// The operation's outcome as stored.
        receipt_json: &'a str,
        /// Its entities (sender, factory, paymaster), whose `opsIncluded` grows by one.
        entities: &'a [Address],
    },
    /// Not among the bundle's events: failed, for `reason`.
    Missing {
        /// The userOpHash.
        hash: B256,
        /// Why it failed.
        reason: &'a str,
    },
}

/// The (chain, EntryPoint) an operation lives under, as stored.
struct OpKey {
    chain: i64,
    ep: Vec<u8>,
}

impl OpKey {
    fn new(chain_id: u64, entry_point: &Address) -> Result<Self, MempoolError> {
        Ok(Self { chain: u64_to_db("chain_id", chain_id)?, ep: address_bin(entry_point) })
    }
}

/// [`Store::mark_included`] inside `tx`.
async fn include_in(
    tx: &mut Transaction<'static, Any>,
    at: &OpKey,
    hash: B256,
    bundle_tx: B256,
    block_number: u64,
    block_hash: B256,
    receipt_json: &str,
) -> Result<bool, MempoolError> {
    let done =
        inclusion(at, hash, bundle_tx, block_number, block_hash, receipt_json)?.query().execute(&mut **tx).await?;
    if done.rows_affected() == 0 {
        let current = current_status(tx, at.chain, &at.ep, hash).await?;
        let same = matches!(&current, Some((OpStatus::Included, Some(b))) if *b == block_hash);
        if !same {
            return Err(transition_error(tx, at.chain, &at.ep, hash, OpStatus::Included).await);
        }
    }
    Ok(done.rows_affected() > 0)
}

/// The statement of [`include_in`]: it changes the operation's row only from pending or submitted.
fn inclusion(
    at: &OpKey,
    hash: B256,
    bundle_tx: B256,
    block_number: u64,
    block_hash: B256,
    receipt_json: &str,
) -> Result<Statement, MempoolError> {
    Ok(Statement::new(
        "UPDATE user_ops SET status = 'included', block_number = $4, block_hash = $5, receipt_z = $6, \
         failure = NULL, updated_at = $7, bundle_tx = $8, facts_json = NULL, arrived_ns = NULL \
         WHERE chain_id = $1 AND entry_point = $2 AND hash = $3 AND status IN ('pending', 'submitted')",
    )
    .bind(at.chain)
    .bind(at.ep.clone())
    .bind(b256_bin(&hash))
    .bind(u64_to_db("block_number", block_number)?)
    .bind(b256_bin(&block_hash))
    .bind(packed("receipt_z", Doc::Receipt, receipt_json)?)
    .bind(u64_to_db("updated_at", now_secs())?)
    .bind(b256_bin(&bundle_tx)))
}

/// Moves an unfinished op to Failed or Dropped inside `tx` (repeating it changes nothing).
async fn finish_in(
    tx: &mut Transaction<'static, Any>,
    at: &OpKey,
    hash: B256,
    to: OpStatus,
    reason: &str,
) -> Result<(), MempoolError> {
    let done = sqlx::query(
        "UPDATE user_ops SET status = $4, failure = $5, updated_at = $6, facts_json = NULL, arrived_ns = NULL \
         WHERE chain_id = $1 AND entry_point = $2 AND hash = $3 AND status IN ('pending', 'submitted')",
    )
    .bind(at.chain)
    .bind(&at.ep)
    .bind(b256_bin(&hash))
    .bind(to.as_str())
    .bind(reason)
    .bind(u64_to_db("updated_at", now_secs())?)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 0 {
        let current = current_status(tx, at.chain, &at.ep, hash).await?;
        if !matches!(current, Some((st, _)) if st == to) {
            return Err(transition_error(tx, at.chain, &at.ep, hash, to).await);
        }
    }
    Ok(())
}

/// The status (and block hash) of one op, read inside `tx`.
async fn current_status(
    tx: &mut Transaction<'static, Any>,
    chain: i64,
    ep: &[u8],
    hash: B256,
) -> Result<Option<(OpStatus, Option<B256>)>, MempoolError> {
    let row =
        sqlx::query("SELECT status, block_hash FROM user_ops WHERE chain_id = $1 AND entry_point = $2 AND hash = $3")
            .bind(chain)
            .bind(ep)
            .bind(b256_bin(&hash))
            .fetch_optional(&mut **tx)
            .await?;
    let Some(row) = row else { return Ok(None) };
    let text: String = row.try_get("status")?;
    let status =
        OpStatus::parse(&text).ok_or_else(|| MempoolError::Corrupt(format!("status: unknown value {text:?}")))?;
    let block =
        row.try_get::<Option<Vec<u8>>, _>("block_hash")?.map(|b| b256_from_bin("block_hash", &b)).transpose()?;
    Ok(Some((status, block)))
}

/// The error for a refused status change: NotFound, or InvalidTransition from the current status.
async fn transition_error(
    tx: &mut Transaction<'static, Any>,
    chain: i64,
    ep: &[u8],
    hash: B256,
    to: OpStatus,
) -> MempoolError {
    match current_status(tx, chain, ep, hash).await {
        Ok(None) => MempoolError::NotFound { hash },
        Ok(Some((from, _))) => {
            MempoolError::InvalidTransition { hash, from: from.as_str().into(), to: to.as_str().into() }
        }
        Err(e) => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacement_fee_is_ceil_of_110_percent() {
        assert_eq!(replacement_fee(0), 0);
        assert_eq!(replacement_fee(1), 2);
        assert_eq!(replacement_fee(10), 11);
        assert_eq!(replacement_fee(105), 116);
        assert_eq!(replacement_fee(1000), 1100);
        assert_eq!(replacement_fee(u128::MAX), u128::MAX);
        for old in 0u128..2000 {
            assert_eq!(replacement_fee(old), (old * 110).div_ceil(100));
        }
    }

    #[test]
    fn status_text_round_trips() {
        for s in OpStatus::ALL {
            assert_eq!(OpStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(OpStatus::parse("Pending"), None);
    }
}
