//! The gas-sponsorship ledger: per policy (and per policy and sender) the settled spend and the
//! outstanding reservations, and one row per sponsored operation.
//!
//! A reservation is taken when an operation is prepared (its worst-case cost), settled from the
//! receipt (`actualGasCost`) or released when the operation fails or its window expires. Every
//! change runs in one transaction holding the policy's totals row (SQLite: `BEGIN IMMEDIATE`;
//! PostgreSQL: `SELECT … FOR UPDATE`), so concurrent reservations can never take a policy, or a
//! sender within it, past its limit. Policies defined in the store (rather than the config file)
//! are kept as JSON in `sponsorship_policies`; their meaning belongs to the paymaster crate.

// The exhausted errors carry the amounts that explain them (three U256); they are rare and cold.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;

use alloy::primitives::{Address, B256, U256};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::codec::{
    address_bin, address_from_bin, address_text, b256_bin, b256_from_bin, now_secs, parse_u256, u64_from_db, u64_to_db,
    u256_amount_bin, u256_from_amount_bin, u256_text,
};
use crate::db::{Store, placeholders};
use crate::error::{CodecError, DbError, wraps_db_error};

/// Errors of the sponsorship ledger.
#[derive(Debug, thiserror::Error)]
pub enum SponsorshipError {
    /// The policy's total (settled + reserved + this op) would pass its limit.
    #[error(
        "policy {policy_id} is exhausted: {committed} wei spent or reserved of {limit}, this operation needs up to {requested}"
    )]
    PolicyExhausted {
        /// The policy.
        policy_id: String,
        /// Its total limit (wei).
        limit: U256,
        /// Spent plus reserved before this request.
        committed: U256,
        /// The worst-case cost asked for.
        requested: U256,
    },
    /// The sender's share of the policy would pass its per-sender limit.
    #[error(
        "sender {sender} has used its allowance of policy {policy_id}: {committed} wei spent or reserved of {limit}, \
         this operation needs up to {requested}"
    )]
    SenderExhausted {
        /// The policy.
        policy_id: String,
        /// The sender.
        sender: Address,
        /// The per-sender limit (wei).
        limit: U256,
        /// The sender's spent plus reserved before this request.
        committed: U256,
        /// The worst-case cost asked for.
        requested: U256,
    },
    /// The same request key is already reserved for another policy, sender or cost.
    #[error("operation {request_key} is already sponsored under policy {policy_id} with other terms")]
    Conflict {
        /// The request key.
        request_key: B256,
        /// The policy it is recorded under.
        policy_id: String,
    },
    /// No sponsorship for this operation.
    #[error("no sponsorship recorded for user operation {0}")]
    NotFound(B256),
    /// A value cannot be stored.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A statement failed, or a row it returned does not decode.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A stored row cannot be decoded.
    #[error("corrupt row in the sponsorship ledger: {0}")]
    Corrupt(String),
}

wraps_db_error!(SponsorshipError);

impl From<CodecError> for SponsorshipError {
    fn from(e: CodecError) -> Self {
        match e {
            CodecError::Corrupt(m) => SponsorshipError::Corrupt(m),
            CodecError::Input(m) => SponsorshipError::InvalidInput(m),
        }
    }
}

/// Where a sponsored operation is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SponsorshipStatus {
    /// Prepared: its worst-case cost is held against the limits.
    Reserved,
    /// Included: its actual cost is counted as spent.
    Settled,
    /// Failed or expired without inclusion: nothing held.
    Released,
}

impl SponsorshipStatus {
    /// The text stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            SponsorshipStatus::Reserved => "reserved",
            SponsorshipStatus::Settled => "settled",
            SponsorshipStatus::Released => "released",
        }
    }

    fn parse(s: &str) -> Result<Self, SponsorshipError> {
        match s {
            "reserved" => Ok(SponsorshipStatus::Reserved),
            "settled" => Ok(SponsorshipStatus::Settled),
            "released" => Ok(SponsorshipStatus::Released),
            other => Err(SponsorshipError::Corrupt(format!("status: unknown value {other:?}"))),
        }
    }
}

/// Limits a reservation is checked against (`None` = unlimited).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpendLimits {
    /// Most the policy may spend in total (settled + reserved), wei.
    pub policy_total: Option<U256>,
    /// Most one sender may spend under the policy, wei.
    pub per_sender: Option<U256>,
}

/// A request to hold an operation's worst-case cost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReservationRequest {
    /// The policy paying.
    pub policy_id: String,
    /// Chain of the operation.
    pub chain_id: u64,
    /// The operation without its paymaster signature (stable across retried prepares).
    pub request_key: B256,
    /// userOpHash of the signed operation.
    pub user_op_hash: B256,
    /// The account.
    pub sender: Address,
    /// Gas limits × maxFeePerGas (wei).
    pub max_cost: U256,
    /// End of the signed window (unix seconds).
    pub valid_until: u64,
    /// Start of the signed window (unix seconds).
    pub valid_after: u64,
}

/// One sponsored operation as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SponsorshipRecord {
    /// What was reserved (the request as first recorded).
    pub request: ReservationRequest,
    /// Where it is.
    pub status: SponsorshipStatus,
    /// Actual gas cost once settled (wei).
    pub actual_cost: Option<U256>,
    /// Why it was released, if it was.
    pub reason: Option<String>,
}

/// What [`Store::reserve_sponsorship`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReserveOutcome {
    /// A new reservation was taken.
    Reserved,
    /// The same operation was already reserved (a retried prepare): nothing changed; the record
    /// holds the window it was signed with.
    AlreadyReserved(Box<SponsorshipRecord>),
}

/// Settled spend and outstanding reservations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpendTotals {
    /// Sum of the actual costs of settled operations (wei).
    pub spent: U256,
    /// Sum of the worst-case costs of reserved operations (wei).
    pub reserved: U256,
}

impl SpendTotals {
    /// `spent + reserved`.
    pub fn committed(&self) -> U256 {
        self.spent.saturating_add(self.reserved)
    }
}

/// A policy stored as JSON (its schema is the paymaster crate's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredPolicy {
    /// The policy id.
    pub policy_id: String,
    /// Its definition.
    pub policy_json: String,
}

const RECORD_COLUMNS: &str = "chain_id, request_key, user_op_hash, policy_id, sender, max_cost, actual_cost, \
     valid_until, valid_after, status, reason";

/// A statement built from the constant column list above (never from input).
macro_rules! sql {
    ($($t:tt)*) => {
        sqlx::AssertSqlSafe(format!($($t)*))
    };
}

impl Store {
    /// Holds `req.max_cost` against the policy and the sender, unless that would pass `limits`;
    /// first, under a limit, releases the policy's reservations whose window ended before
    /// `release_before`.
    /// Idempotent: the same `(chain_id, request_key)` already reserved returns
    /// [`ReserveOutcome::AlreadyReserved`] without counting twice.
    pub async fn reserve_sponsorship(
        &self,
        req: &ReservationRequest,
        limits: SpendLimits,
        release_before: u64,
    ) -> Result<ReserveOutcome, SponsorshipError> {
        let chain_id = u64_to_db("chain_id", req.chain_id)?;
        let now = u64_to_db("updated_at", now_secs())?;
        let mut tx = self.begin_write().await?;
        let totals = self.lock_policy_totals(&mut tx, &req.policy_id, now).await?;
        // The record first (a refusal below rolls it back); a request seen before conflicts.
        if !insert_reservation(&mut tx, req).await? {
            let existing = fetch_record(&mut tx, chain_id, "request_key", &b256_bin(&req.request_key))
                .await?
                .ok_or_else(|| SponsorshipError::Corrupt(format!("reservation {} vanished", req.request_key)))?;
            let same = existing.request.policy_id == req.policy_id
                && existing.request.sender == req.sender
                && existing.request.max_cost == req.max_cost;
            match (existing.status, same) {
                (SponsorshipStatus::Reserved, true) => return Ok(ReserveOutcome::AlreadyReserved(Box::new(existing))),
                (SponsorshipStatus::Reserved, false) | (SponsorshipStatus::Settled, _) => {
                    return Err(SponsorshipError::Conflict {
                        request_key: req.request_key,
                        policy_id: existing.request.policy_id,
                    });
                }
                // Released (failed or expired): sponsored afresh, in place of the old row.
                (SponsorshipStatus::Released, _) => {
                    sqlx::query("DELETE FROM sponsorships WHERE chain_id = $1 AND request_key = $2")
                        .bind(chain_id)
                        .bind(b256_bin(&req.request_key))
                        .execute(&mut *tx)
                        .await?;
                    insert_reservation(&mut tx, req).await?;
                }
            }
        }
        // Expired reservations only stand in the way of a limit; without one the settler's round
        // releases them (`lapsed_reservations`), and the reservation reads nothing more.
        let limited = limits.policy_total.is_some() || limits.per_sender.is_some();
        let mut totals = match limited {
            true => self.release_expired(&mut tx, &req.policy_id, totals, release_before, now).await?,
            false => totals,
        };
        let sender_text = address_text(&req.sender);
        let mut sender_totals = self.lock_sender_totals(&mut tx, &req.policy_id, &sender_text, now).await?;

        if let Some(limit) = limits.policy_total {
            let committed = totals.committed();
            if committed.checked_add(req.max_cost).is_none_or(|t| t > limit) {
                return Err(SponsorshipError::PolicyExhausted {
                    policy_id: req.policy_id.clone(),
                    limit,
                    committed,
                    requested: req.max_cost,
                });
            }
        }
        if let Some(limit) = limits.per_sender {
            let committed = sender_totals.committed();
            if committed.checked_add(req.max_cost).is_none_or(|t| t > limit) {
                return Err(SponsorshipError::SenderExhausted {
                    policy_id: req.policy_id.clone(),
                    sender: req.sender,
                    limit,
                    committed,
                    requested: req.max_cost,
                });
            }
        }
        totals.reserved = totals.reserved.saturating_add(req.max_cost);
        sender_totals.reserved = sender_totals.reserved.saturating_add(req.max_cost);
        write_totals(&mut tx, &req.policy_id, None, totals, now).await?;
        write_totals(&mut tx, &req.policy_id, Some(&sender_text), sender_totals, now).await?;
        tx.commit().await?;
        Ok(ReserveOutcome::Reserved)
    }

    /// Records the actual cost of the included operation `user_op_hash`: its reservation is
    /// returned and `actual_cost` counted as spent. Idempotent (a settled record is returned
    /// unchanged). A record released meanwhile (expired, then included after all) is settled too.
    pub async fn settle_sponsorship(
        &self,
        chain_id: u64,
        user_op_hash: B256,
        actual_cost: U256,
    ) -> Result<SponsorshipRecord, SponsorshipError> {
        self.settle_sponsorships(chain_id, &[(user_op_hash, actual_cost)])
            .await?
            .pop()
            .ok_or(SponsorshipError::NotFound(user_op_hash))
    }

    /// [`Store::settle_sponsorship`] for the operations of one block at once, in one transaction:
    /// each policy and each sender locked and written once. Returns the records found, settled (an
    /// operation without a sponsorship here is left out).
    pub async fn settle_sponsorships(
        &self,
        chain_id: u64,
        settled: &[(B256, U256)],
    ) -> Result<Vec<SponsorshipRecord>, SponsorshipError> {
        if settled.is_empty() {
            return Ok(Vec::new());
        }
        let chain = u64_to_db("chain_id", chain_id)?;
        let now = u64_to_db("updated_at", now_secs())?;
        // `columns` of the sponsorships of `settled`, bound.
        let by_hash = |columns: &str| {
            let sql = sql!(
                "SELECT {columns} FROM sponsorships WHERE chain_id = $1 AND user_op_hash IN ({})",
                placeholders(2, settled.len())
            );
            settled.iter().fold(sqlx::query(sql).bind(chain), |q, (hash, _)| q.bind(b256_bin(hash)))
        };
        // The policies first (an immutable column), then each locked, in order, and the records
        // read again under the locks.
        let mut policies: Vec<String> = by_hash("policy_id")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| r.try_get("policy_id"))
            .collect::<Result<_, _>>()?;
        policies.sort();
        policies.dedup();
        if policies.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_write().await?;
        let mut totals = BTreeMap::new();
        for policy_id in policies {
            let t = self.lock_policy_totals(&mut tx, &policy_id, now).await?;
            totals.insert(policy_id, t);
        }
        let mut records: Vec<SponsorshipRecord> =
            by_hash(RECORD_COLUMNS).fetch_all(&mut *tx).await?.iter().map(record_from_row).collect::<Result<_, _>>()?;
        records.sort_by(|a, b| (&a.request.policy_id, a.request.sender).cmp(&(&b.request.policy_id, b.request.sender)));
        let mut senders: BTreeMap<(String, String), SpendTotals> = BTreeMap::new();
        for rec in &mut records {
            let Some(actual) = settled.iter().find(|(h, _)| *h == rec.request.user_op_hash).map(|(_, c)| *c) else {
                continue;
            };
            if rec.status == SponsorshipStatus::Settled {
                continue;
            }
            let policy_id = rec.request.policy_id.clone();
            let Some(policy) = totals.get_mut(&policy_id) else { continue };
            let key = (policy_id.clone(), address_text(&rec.request.sender));
            let sender = match senders.entry(key) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(e) => {
                    let t = self.lock_sender_totals(&mut tx, &e.key().0, &e.key().1, now).await?;
                    e.insert(t)
                }
            };
            if rec.status == SponsorshipStatus::Reserved {
                policy.reserved = policy.reserved.saturating_sub(rec.request.max_cost);
                sender.reserved = sender.reserved.saturating_sub(rec.request.max_cost);
            }
            policy.spent = policy.spent.saturating_add(actual);
            sender.spent = sender.spent.saturating_add(actual);
            sqlx::query("UPDATE sponsorships SET status = 'settled', actual_cost = $3 WHERE chain_id = $1 AND user_op_hash = $2")
                .bind(chain)
                .bind(b256_bin(&rec.request.user_op_hash))
                .bind(u256_amount_bin(&actual))
                .execute(&mut *tx)
                .await?;
            rec.status = SponsorshipStatus::Settled;
            rec.actual_cost = Some(actual);
        }
        for ((policy_id, sender), t) in &senders {
            write_totals(&mut tx, policy_id, Some(sender), *t, now).await?;
        }
        for (policy_id, t) in &totals {
            write_totals(&mut tx, policy_id, None, *t, now).await?;
        }
        tx.commit().await?;
        Ok(records)
    }

    /// Returns the reservation of `user_op_hash` (failed, dropped or expired without inclusion).
    /// Idempotent; a settled record is left as it is.
    pub async fn release_sponsorship(
        &self,
        chain_id: u64,
        user_op_hash: B256,
        reason: &str,
    ) -> Result<SponsorshipRecord, SponsorshipError> {
        let chain = u64_to_db("chain_id", chain_id)?;
        let now = u64_to_db("updated_at", now_secs())?;
        let hash = b256_bin(&user_op_hash);
        // Find the policy first (immutable columns), then lock it and read the record under the lock.
        let policy_id: Option<String> =
            sqlx::query_scalar("SELECT policy_id FROM sponsorships WHERE chain_id = $1 AND user_op_hash = $2")
                .bind(chain)
                .bind(&hash)
                .fetch_optional(self.pool())
                .await?;
        let policy_id = policy_id.ok_or(SponsorshipError::NotFound(user_op_hash))?;
        let mut tx = self.begin_write().await?;
        let mut totals = self.lock_policy_totals(&mut tx, &policy_id, now).await?;
        let mut rec = fetch_record(&mut tx, chain, "user_op_hash", &hash)
            .await?
            .ok_or(SponsorshipError::NotFound(user_op_hash))?;
        if rec.status != SponsorshipStatus::Reserved {
            return Ok(rec);
        }
        let sender_text = address_text(&rec.request.sender);
        let mut sender_totals = self.lock_sender_totals(&mut tx, &policy_id, &sender_text, now).await?;
        let max_cost = rec.request.max_cost;
        totals.reserved = totals.reserved.saturating_sub(max_cost);
        sender_totals.reserved = sender_totals.reserved.saturating_sub(max_cost);
        sqlx::query(
            "UPDATE sponsorships SET status = 'released', reason = $3 \
                 WHERE chain_id = $1 AND user_op_hash = $2",
        )
        .bind(chain)
        .bind(&hash)
        .bind(reason)
        .execute(&mut *tx)
        .await?;
        rec.status = SponsorshipStatus::Released;
        rec.reason = Some(reason.to_string());
        write_totals(&mut tx, &policy_id, None, totals, now).await?;
        write_totals(&mut tx, &policy_id, Some(&sender_text), sender_totals, now).await?;
        tx.commit().await?;
        Ok(rec)
    }

    /// The sponsorship of the signed operation `user_op_hash`, if any.
    pub async fn get_sponsorship(
        &self,
        chain_id: u64,
        user_op_hash: B256,
    ) -> Result<Option<SponsorshipRecord>, SponsorshipError> {
        let mut conn = self.pool().acquire().await?;
        let row =
            sqlx::query(sql!("SELECT {RECORD_COLUMNS} FROM sponsorships WHERE chain_id = $1 AND user_op_hash = $2"))
                .bind(u64_to_db("chain_id", chain_id)?)
                .bind(b256_bin(&user_op_hash))
                .fetch_optional(&mut *conn)
                .await?;
        row.as_ref().map(record_from_row).transpose()
    }

    /// Reserved (unsettled) sponsorships on `chain_id` whose signature window ended before
    /// `ended_before` (unix seconds), oldest first, at most `limit`.
    pub async fn lapsed_reservations(
        &self,
        chain_id: u64,
        ended_before: u64,
        limit: u32,
    ) -> Result<Vec<SponsorshipRecord>, SponsorshipError> {
        let rows = sqlx::query(sql!(
            "SELECT {RECORD_COLUMNS} FROM sponsorships WHERE chain_id = $1 AND status = 'reserved' \
             AND valid_until < $2 ORDER BY valid_until, user_op_hash LIMIT $3"
        ))
        .bind(u64_to_db("chain_id", chain_id)?)
        .bind(u64_to_db("valid_until", ended_before)?)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(record_from_row).collect()
    }

    /// Settled spend and reservations of a policy (zero if it never sponsored anything).
    pub async fn policy_totals(&self, policy_id: &str) -> Result<SpendTotals, SponsorshipError> {
        let row = sqlx::query("SELECT spent, reserved FROM sponsorship_totals WHERE policy_id = $1")
            .bind(policy_id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(totals_from_row).transpose().map(Option::unwrap_or_default)
    }

    /// Settled spend and reservations of `sender` under a policy.
    pub async fn sender_totals(&self, policy_id: &str, sender: Address) -> Result<SpendTotals, SponsorshipError> {
        let row =
            sqlx::query("SELECT spent, reserved FROM sponsorship_sender_totals WHERE policy_id = $1 AND sender = $2")
                .bind(policy_id)
                .bind(address_text(&sender))
                .fetch_optional(self.pool())
                .await?;
        row.as_ref().map(totals_from_row).transpose().map(Option::unwrap_or_default)
    }

    /// Creates or replaces a policy defined in the store.
    pub async fn put_policy(&self, policy_id: &str, policy_json: &str) -> Result<(), SponsorshipError> {
        let now = u64_to_db("updated_at", now_secs())?;
        sqlx::query(
            "INSERT INTO sponsorship_policies (policy_id, policy_json, created_at, updated_at) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (policy_id) DO UPDATE SET policy_json = excluded.policy_json, updated_at = excluded.updated_at",
        )
        .bind(policy_id)
        .bind(policy_json)
        .bind(now)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// A policy defined in the store.
    pub async fn get_policy(&self, policy_id: &str) -> Result<Option<StoredPolicy>, SponsorshipError> {
        let json: Option<String> =
            sqlx::query_scalar("SELECT policy_json FROM sponsorship_policies WHERE policy_id = $1")
                .bind(policy_id)
                .fetch_optional(self.pool())
                .await?;
        Ok(json.map(|policy_json| StoredPolicy { policy_id: policy_id.to_string(), policy_json }))
    }

    /// Every policy defined in the store, by id.
    pub async fn list_policies(&self) -> Result<Vec<StoredPolicy>, SponsorshipError> {
        let rows = sqlx::query("SELECT policy_id, policy_json FROM sponsorship_policies ORDER BY policy_id")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| Ok(StoredPolicy { policy_id: r.try_get("policy_id")?, policy_json: r.try_get("policy_json")? }))
            .collect()
    }

    /// Creates the policy's totals row if missing and locks it for the transaction (one statement:
    /// the upsert's no-op update takes PostgreSQL's row lock; SQLite's `BEGIN IMMEDIATE` already
    /// holds the database's).
    async fn lock_policy_totals(
        &self,
        tx: &mut Transaction<'static, Any>,
        policy_id: &str,
        now: i64,
    ) -> Result<SpendTotals, SponsorshipError> {
        let row = sqlx::query(
            "INSERT INTO sponsorship_totals (policy_id, spent, reserved, updated_at) VALUES ($1, $2, $2, $3) \
             ON CONFLICT (policy_id) DO UPDATE SET policy_id = excluded.policy_id RETURNING spent, reserved",
        )
        .bind(policy_id)
        .bind(u256_text(&U256::ZERO))
        .bind(now)
        .fetch_one(&mut **tx)
        .await?;
        totals_from_row(&row)
    }

    /// The same for `(policy, sender)`; taken after the policy's lock, so never contended.
    async fn lock_sender_totals(
        &self,
        tx: &mut Transaction<'static, Any>,
        policy_id: &str,
        sender: &str,
        now: i64,
    ) -> Result<SpendTotals, SponsorshipError> {
        let row = sqlx::query(
            "INSERT INTO sponsorship_sender_totals (policy_id, sender, spent, reserved, updated_at) \
             VALUES ($1, $2, $3, $3, $4) ON CONFLICT (policy_id, sender) \
             DO UPDATE SET sender = excluded.sender RETURNING spent, reserved",
        )
        .bind(policy_id)
        .bind(sender)
        .bind(u256_text(&U256::ZERO))
        .bind(now)
        .fetch_one(&mut **tx)
        .await?;
        totals_from_row(&row)
    }

    /// Releases the policy's reservations whose window ended before `before` (inside the lock).
    async fn release_expired(
        &self,
        tx: &mut Transaction<'static, Any>,
        policy_id: &str,
        mut totals: SpendTotals,
        before: u64,
        now: i64,
    ) -> Result<SpendTotals, SponsorshipError> {
        let rows = sqlx::query(sql!(
            "SELECT {RECORD_COLUMNS} FROM sponsorships WHERE policy_id = $1 AND status = 'reserved' AND valid_until < $2"
        ))
        .bind(policy_id)
        .bind(u64_to_db("release_before", before)?)
        .fetch_all(&mut **tx)
        .await?;
        for row in &rows {
            let rec = record_from_row(row)?;
            let sender = address_text(&rec.request.sender);
            let mut s = self.lock_sender_totals(tx, policy_id, &sender, now).await?;
            s.reserved = s.reserved.saturating_sub(rec.request.max_cost);
            write_totals(tx, policy_id, Some(&sender), s, now).await?;
            totals.reserved = totals.reserved.saturating_sub(rec.request.max_cost);
            sqlx::query(
                "UPDATE sponsorships SET status = 'released', reason = 'expired' \
                 WHERE chain_id = $1 AND request_key = $2",
            )
            .bind(u64_to_db("chain_id", rec.request.chain_id)?)
            .bind(b256_bin(&rec.request.request_key))
            .execute(&mut **tx)
            .await?;
        }
        if !rows.is_empty() {
            write_totals(tx, policy_id, None, totals, now).await?;
        }
        Ok(totals)
    }
}

async fn write_totals(
    tx: &mut Transaction<'static, Any>,
    policy_id: &str,
    sender: Option<&str>,
    totals: SpendTotals,
    now: i64,
) -> Result<(), SponsorshipError> {
    let q = match sender {
        None => {
            sqlx::query("UPDATE sponsorship_totals SET spent = $2, reserved = $3, updated_at = $4 WHERE policy_id = $1")
        }
        Some(_) => sqlx::query(
            "UPDATE sponsorship_sender_totals SET spent = $2, reserved = $3, updated_at = $4 \
             WHERE policy_id = $1 AND sender = $5",
        ),
    };
    let q = q.bind(policy_id).bind(u256_text(&totals.spent)).bind(u256_text(&totals.reserved)).bind(now);
    let q = match sender {
        Some(sender) => q.bind(sender),
        None => q,
    };
    q.execute(&mut **tx).await?;
    Ok(())
}

async fn fetch_record(
    tx: &mut Transaction<'static, Any>,
    chain_id: i64,
    key_column: &'static str,
    key: &[u8],
) -> Result<Option<SponsorshipRecord>, SponsorshipError> {
    let row = sqlx::query(sql!("SELECT {RECORD_COLUMNS} FROM sponsorships WHERE chain_id = $1 AND {key_column} = $2"))
        .bind(chain_id)
        .bind(key)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(record_from_row).transpose()
}

fn totals_from_row(row: &AnyRow) -> Result<SpendTotals, SponsorshipError> {
    Ok(SpendTotals {
        spent: parse_u256("spent", &row.try_get::<String, _>("spent")?)?,
        reserved: parse_u256("reserved", &row.try_get::<String, _>("reserved")?)?,
    })
}

fn record_from_row(row: &AnyRow) -> Result<SponsorshipRecord, SponsorshipError> {
    let actual: Option<Vec<u8>> = row.try_get("actual_cost")?;
    let bin = |c: &str| row.try_get::<Vec<u8>, _>(c);
    Ok(SponsorshipRecord {
        request: ReservationRequest {
            policy_id: row.try_get("policy_id")?,
            chain_id: u64_from_db("chain_id", row.try_get("chain_id")?)?,
            request_key: b256_from_bin("request_key", &bin("request_key")?)?,
            user_op_hash: b256_from_bin("user_op_hash", &bin("user_op_hash")?)?,
            sender: address_from_bin("sender", &bin("sender")?)?,
            max_cost: u256_from_amount_bin("max_cost", &bin("max_cost")?)?,
            valid_until: u64_from_db("valid_until", row.try_get("valid_until")?)?,
            valid_after: u64_from_db("valid_after", row.try_get("valid_after")?)?,
        },
        status: SponsorshipStatus::parse(&row.try_get::<String, _>("status")?)?,
        actual_cost: actual.map(|a| u256_from_amount_bin("actual_cost", &a)).transpose()?,
        reason: row.try_get("reason")?,
    })
}

/// Inserts `req` as a reservation unless its request key is stored already; whether it was.
async fn insert_reservation(
    tx: &mut Transaction<'static, Any>,
    req: &ReservationRequest,
) -> Result<bool, SponsorshipError> {
    let done = sqlx::query(
        "INSERT INTO sponsorships (chain_id, request_key, user_op_hash, policy_id, sender, max_cost, valid_until, \
         valid_after, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'reserved') \
         ON CONFLICT (chain_id, request_key) DO NOTHING",
    )
    .bind(u64_to_db("chain_id", req.chain_id)?)
    .bind(b256_bin(&req.request_key))
    .bind(b256_bin(&req.user_op_hash))
    .bind(&req.policy_id)
    .bind(address_bin(&req.sender))
    .bind(u256_amount_bin(&req.max_cost))
    .bind(u64_to_db("valid_until", req.valid_until)?)
    .bind(u64_to_db("valid_after", req.valid_after)?)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}
