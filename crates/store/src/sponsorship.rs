//! The gas-sponsorship ledger: per policy (and per policy and sender) the settled spend and the
//! outstanding reservations, and one row per sponsored operation.
//!
//! A reservation is taken when an operation is prepared (its worst-case cost), settled from the
//! receipt (`actualGasCost`) or released when the operation fails or its window expires. The
//! totals are sums SQL keeps exactly ([`crate::amounts`]) and that only grow — `spent`, `held`
//! (every reservation taken), `freed` (every reservation since settled or released) — so each
//! change adds to them in one statement, and a reservation checks its limit in the same statement:
//!
//! ```text
//!  reserve: INSERT record ─▶ rows (policy, '') and (policy, sender) in one upsert:
//!           held += cost WHERE spent + held + cost ≤ limit + freed (each row its own limit)
//!  settle:  UPDATE records (reserved → settled) ─▶ totals: spent += actual, freed += max cost
//!  release: UPDATE record (reserved → released) ─▶ totals: freed += max cost
//! ```
//!
//! Every write touches the record(s) first, then the policy's totals, then the sender's (the lock
//! order: on PostgreSQL each row stays locked by its update until commit; SQLite's `BEGIN
//! IMMEDIATE` holds the database), so concurrent reservations can never take a policy, or a sender
//! within it, past its limit. Policies defined in the store (rather than the config file) are kept
//! as JSON in `sponsorship_policies`; their meaning belongs to the paymaster crate.

// The exhausted errors carry the amounts that explain them (three U256); they are rare and cold.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, HashSet};

use alloy::primitives::{Address, B256, U256};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::amounts::{self, Limbs};
use crate::codec::{
    address_bin, address_from_bin, address_text, b256_bin, b256_from_bin, now_secs, u64_from_db, u64_to_db,
    u256_amount_bin, u256_from_amount_bin,
};
use crate::db::Store;
use crate::error::{CodecError, DbError, wraps_db_error};
use crate::script::Statement;
use crate::wallet::{PreparedRecord, prepared_from_row, prepared_insert};

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

impl From<crate::error::StoreError> for SponsorshipError {
    fn from(e: crate::error::StoreError) -> Self {
        use crate::error::StoreError;
        match e {
            StoreError::Db(e) => SponsorshipError::Db(e),
            StoreError::InvalidInput(m) => SponsorshipError::InvalidInput(m),
            StoreError::Corrupt(m) => SponsorshipError::Corrupt(m),
            other => SponsorshipError::Corrupt(other.to_string()),
        }
    }
}

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

/// What a sponsored operation's ledger entry holds, and under which limits: taken by
/// [`Store::reserve_sponsorship`] or, with the operation's prepared row, by
/// [`Store::insert_prepared_reserving`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    /// The operation and its worst-case cost.
    pub request: ReservationRequest,
    /// The policy's limits.
    pub limits: SpendLimits,
    /// Reservations of the policy whose window ended before this (unix seconds) are released
    /// when they stand in the way of a limit.
    pub release_before: u64,
}

/// What [`Store::insert_prepared_reserving`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reserving {
    /// A new reservation, and the prepared row as stored.
    Stored(Box<PreparedRecord>),
    /// The same operation was reserved before (a retried prepare): nothing written; the record
    /// holds the window its signature must have.
    AlreadyReserved(Box<SponsorshipRecord>),
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
    /// when it would, first releases the policy's reservations whose window ended before
    /// `release_before` and tries once more.
    /// Idempotent: the same `(chain_id, request_key)` already reserved returns
    /// [`ReserveOutcome::AlreadyReserved`] without counting twice.
    pub async fn reserve_sponsorship(
        &self,
        req: &ReservationRequest,
        limits: SpendLimits,
        release_before: u64,
    ) -> Result<ReserveOutcome, SponsorshipError> {
        let reservation = Reservation { request: req.clone(), limits, release_before };
        Ok(self.reserve(&reservation, None).await?.0)
    }

    /// [`Store::reserve_sponsorship`] and [`Store::insert_prepared`] of the sponsored operation in
    /// one transaction: the prepared row is written only with a new reservation (its signature
    /// was made for it), so `AlreadyReserved` writes nothing and the caller signs again with the
    /// reservation's window.
    pub async fn insert_prepared_reserving(
        &self,
        reservation: &Reservation,
        prepared: &PreparedRecord,
        lease_token: Option<&str>,
    ) -> Result<Reserving, SponsorshipError> {
        Ok(match self.reserve(reservation, Some((prepared, lease_token))).await? {
            (ReserveOutcome::Reserved, Some(stored)) => Reserving::Stored(Box::new(stored)),
            (ReserveOutcome::AlreadyReserved(rec), _) => Reserving::AlreadyReserved(rec),
            (ReserveOutcome::Reserved, None) => {
                return Err(SponsorshipError::Corrupt("a reservation's prepared row was not written".into()));
            }
        })
    }

    /// The reservation, and with a new one the prepared row `also` (then returned as stored).
    async fn reserve(
        &self,
        reservation: &Reservation,
        also: Option<(&PreparedRecord, Option<&str>)>,
    ) -> Result<(ReserveOutcome, Option<PreparedRecord>), SponsorshipError> {
        let Reservation { request: req, limits, release_before } = reservation;
        let now = u64_to_db("updated_at", now_secs())?;
        let cost = Limbs::of("max_cost", req.max_cost)?;
        let sender = address_text(&req.sender);
        let hold = Hold { policy: &req.policy_id, sender: &sender, cost, limits: *limits, now };
        if hold.refused_before_the_totals().is_none()
            && let Some(done) = self.reserve_in_two_trips(req, &hold, also).await?
        {
            return Ok(done);
        }
        let mut released_expired = false;
        loop {
            let mut tx = self.begin_write().await?;
            if let Some(done) = record_reservation(&mut tx, req).await? {
                return done.map(|outcome| (outcome, None));
            }
            let refused = match hold.refused_before_the_totals() {
                Some(refused) => Some(refused),
                None => hold.refused(&hold.statement().query().fetch_all(&mut *tx).await?)?,
            };
            let Some(refused) = refused else {
                let stored = match also {
                    Some((rec, token)) => {
                        let row = prepared_insert(rec, token)?.query().fetch_one(&mut *tx).await?;
                        Some(prepared_from_row(&row)?)
                    }
                    None => None,
                };
                tx.commit().await?;
                return Ok((ReserveOutcome::Reserved, stored));
            };
            tx.rollback().await?;
            // Expired reservations only matter when they stand in the way of a limit.
            if !released_expired && self.release_expired(&req.policy_id, *release_before, now).await? > 0 {
                released_expired = true;
                continue;
            }
            return Err(self.exhausted(req, refused, *limits).await?);
        }
    }

    /// [`Store::reserve`]'s usual case on SQLite — a new request, within both limits — in two
    /// trips to the writer: the record, the totals and the prepared row `also` in the first, the
    /// commit in the second once each did what the general path would have; `None` (rolled back)
    /// otherwise, and on PostgreSQL.
    async fn reserve_in_two_trips(
        &self,
        req: &ReservationRequest,
        hold: &Hold<'_>,
        also: Option<(&PreparedRecord, Option<&str>)>,
    ) -> Result<Option<(ReserveOutcome, Option<PreparedRecord>)>, SponsorshipError> {
        let statements = || {
            let mut statements = vec![reservation_insert(req)?, hold.statement()];
            if let Some((rec, token)) = also {
                statements.push(prepared_insert(rec, token)?);
            }
            Ok::<_, SponsorshipError>(statements)
        };
        let Some((script, out)) = self.begin_script(statements).await? else { return Ok(None) };
        if out[0].changes != 1 || hold.refused(&out[1].rows)?.is_some() {
            script.rollback().await?;
            return Ok(None);
        }
        let stored = out.get(2).and_then(|o| o.rows.first()).map(prepared_from_row).transpose()?;
        script.commit(Vec::new()).await?;
        Ok(Some((ReserveOutcome::Reserved, stored)))
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
        if let Some(settled) = self.settle_sponsorships(chain_id, &[(user_op_hash, actual_cost)]).await?.pop() {
            return Ok(settled);
        }
        self.get_sponsorship(chain_id, user_op_hash).await?.ok_or(SponsorshipError::NotFound(user_op_hash))
    }

    /// [`Store::settle_sponsorship`] for the operations of one round at once, in one transaction:
    /// the records (one statement per [`SETTLED_PER_STATEMENT`] operations), then the totals
    /// (multi-row upserts that add to them, [`TOTALS_PER_STATEMENT`] rows each) — two statements
    /// for a block's worth; more only for an operation released before and included after all.
    /// Returns the records this call settled (one without a sponsorship here, or settled before,
    /// is left out).
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
        let mut tx = self.begin_write().await?;
        // Reserved → settled: the reservation is freed and the actual cost spent.
        let mut records = settle_from(&mut tx, chain, settled, SponsorshipStatus::Reserved).await?;
        let mut changes: Vec<Change> = records
            .iter()
            .map(|r| Change { record: r, spent: r.actual_cost.unwrap_or_default(), freed: r.request.max_cost })
            .collect();
        // Released (expired, then included after all) → settled: spent only; rarely any.
        let first: HashSet<B256> = records.iter().map(|r| r.request.user_op_hash).collect();
        let left: Vec<(B256, U256)> = settled.iter().filter(|(h, _)| !first.contains(h)).copied().collect();
        let late = match left.is_empty() {
            true => Vec::new(),
            false => settle_from(&mut tx, chain, &left, SponsorshipStatus::Released).await?,
        };
        changes.extend(late.iter().map(|r| Change {
            record: r,
            spent: r.actual_cost.unwrap_or_default(),
            freed: U256::ZERO,
        }));
        count_in_totals(&mut tx, &changes, now).await?;
        tx.commit().await?;
        records.extend(late);
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
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(sql!(
            "UPDATE sponsorships SET status = 'released', reason = $3 \
             WHERE chain_id = $1 AND user_op_hash = $2 AND status = 'reserved' RETURNING {RECORD_COLUMNS}"
        ))
        .bind(chain)
        .bind(b256_bin(&user_op_hash))
        .bind(reason)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.rollback().await?;
            return self.get_sponsorship(chain_id, user_op_hash).await?.ok_or(SponsorshipError::NotFound(user_op_hash));
        };
        let rec = record_from_row(&row)?;
        count_in_totals(&mut tx, &[Change { record: &rec, spent: U256::ZERO, freed: rec.request.max_cost }], now)
            .await?;
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
        let row =
            sqlx::query(sql!("SELECT {TOTALS_COLUMNS} FROM sponsorship_totals WHERE policy_id = $1 AND sender = ''"))
                .bind(policy_id)
                .fetch_optional(self.pool())
                .await?;
        row.as_ref().map(totals_from_row).transpose().map(Option::unwrap_or_default)
    }

    /// Settled spend and reservations of `sender` under a policy.
    pub async fn sender_totals(&self, policy_id: &str, sender: Address) -> Result<SpendTotals, SponsorshipError> {
        let row =
            sqlx::query(sql!("SELECT {TOTALS_COLUMNS} FROM sponsorship_totals WHERE policy_id = $1 AND sender = $2"))
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

    /// Releases the policy's reservations whose window ended before `before`, in a transaction of
    /// their own; how many there were.
    async fn release_expired(&self, policy_id: &str, before: u64, now: i64) -> Result<usize, SponsorshipError> {
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(sql!(
            "UPDATE sponsorships SET status = 'released', reason = 'expired' \
             WHERE policy_id = $1 AND status = 'reserved' AND valid_until < $2 RETURNING {RECORD_COLUMNS}"
        ))
        .bind(policy_id)
        .bind(u64_to_db("release_before", before)?)
        .fetch_all(&mut *tx)
        .await?;
        let records: Vec<SponsorshipRecord> = rows.iter().map(record_from_row).collect::<Result<_, _>>()?;
        let changes: Vec<Change> =
            records.iter().map(|r| Change { record: r, spent: U256::ZERO, freed: r.request.max_cost }).collect();
        count_in_totals(&mut tx, &changes, now).await?;
        tx.commit().await?;
        Ok(records.len())
    }

    /// The refusal of `req` by the limit of `refused`, with the amounts that explain it.
    async fn exhausted(
        &self,
        req: &ReservationRequest,
        refused: Refused,
        limits: SpendLimits,
    ) -> Result<SponsorshipError, SponsorshipError> {
        Ok(match refused {
            Refused::Policy => SponsorshipError::PolicyExhausted {
                policy_id: req.policy_id.clone(),
                limit: limits.policy_total.unwrap_or(U256::MAX),
                committed: self.policy_totals(&req.policy_id).await?.committed(),
                requested: req.max_cost,
            },
            Refused::Sender => SponsorshipError::SenderExhausted {
                policy_id: req.policy_id.clone(),
                sender: req.sender,
                limit: limits.per_sender.unwrap_or(U256::MAX),
                committed: self.sender_totals(&req.policy_id, req.sender).await?.committed(),
                requested: req.max_cost,
            },
        })
    }
}

/// The columns of a totals row that [`totals_from_row`] reads.
const TOTALS_COLUMNS: &str = "spent_gwei, spent_wei, held_gwei, held_wei, freed_gwei, freed_wei";

/// Which limit refused a reservation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refused {
    /// The policy's total.
    Policy,
    /// The sender's share.
    Sender,
}

/// The `sender` of a policy's own totals row (a sender's is its 0x-hex address).
const WHOLE_POLICY: &str = "";

/// The insert of totals rows `(policy_id, sender, spent, held, freed)`, `rows` of them, the first
/// placeholder `$first` (each row takes eight: the key, then the limbs of the three amounts), with
/// `updated_at` from `$at`.
fn totals_insert(rows: usize, first: usize, at: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|i| {
            let n = first + 8 * i;
            let p: Vec<String> = (n..n + 8).map(|k| format!("${k}")).collect();
            format!("({}, ${at})", p.join(", "))
        })
        .collect();
    format!(
        "INSERT INTO sponsorship_totals (policy_id, sender, spent_gwei, spent_wei, held_gwei, held_wei, freed_gwei, \
         freed_wei, updated_at) VALUES {} ON CONFLICT (policy_id, sender) DO UPDATE SET ",
        values.join(", ")
    )
}

/// Binds one row of [`totals_insert`].
fn bind_totals(st: Statement, policy: &str, sender: &str, amounts: [Limbs; 3]) -> Statement {
    amounts.iter().fold(st.bind(policy).bind(sender), |st, a| st.bind(a.gwei).bind(a.wei))
}

/// Adding `cost` to what the policy and the sender hold (creating their rows), in one statement,
/// unless that takes either's spent and reserved past its limit.
struct Hold<'a> {
    /// The policy.
    policy: &'a str,
    /// The sender's totals key (its 0x-hex address).
    sender: &'a str,
    /// The worst-case cost held.
    cost: Limbs,
    /// The policy's limits.
    limits: SpendLimits,
    /// `updated_at`.
    now: i64,
}

impl Hold<'_> {
    /// The limit that refuses the cost whatever the totals (it is above the limit alone).
    fn refused_before_the_totals(&self) -> Option<Refused> {
        let over = |limit: Option<Limbs>| limit.is_some_and(|l| self.cost.value() > l.value());
        if over(Limbs::of_limit(self.limits.policy_total)) {
            return Some(Refused::Policy);
        }
        if over(Limbs::of_limit(self.limits.per_sender)) {
            return Some(Refused::Sender);
        }
        None
    }

    /// The upsert: it returns the `sender` of each row it moved.
    fn statement(&self) -> Statement {
        let (policy_limit, sender_limit) =
            (Limbs::of_limit(self.limits.policy_total), Limbs::of_limit(self.limits.per_sender));
        // Placeholders: two rows of eight ($1–$16), updated_at $17, then the limits' limbs.
        let t = |c: &str| format!("sponsorship_totals.{c}");
        let (sg, sw, hg, hw, fg, fw) =
            (t("spent_gwei"), t("spent_wei"), t("held_gwei"), t("held_wei"), t("freed_gwei"), t("freed_wei"));
        let within = |limit: Option<Limbs>, at: usize| match limit {
            None => "1 = 1".to_owned(),
            // spent + held + cost ≤ limit + freed
            Some(_) => amounts::sum_at_most(
                &[(&sg, &sw), (&hg, &hw), ("excluded.held_gwei", "excluded.held_wei")],
                &[(&format!("${at}"), &format!("${}", at + 1)), (&fg, &fw)],
            ),
        };
        let (policy_at, sender_at) = (18, if policy_limit.is_some() { 20 } else { 18 });
        let sql = format!(
            "{}{}, updated_at = excluded.updated_at WHERE CASE WHEN sponsorship_totals.sender = '{WHOLE_POLICY}' \
             THEN {} ELSE {} END RETURNING sender",
            totals_insert(2, 1, 17),
            amounts::add_to("sponsorship_totals", "held", "excluded.held_gwei", "excluded.held_wei"),
            within(policy_limit, policy_at),
            within(sender_limit, sender_at),
        );
        let zero = Limbs::ZERO;
        let st = bind_totals(Statement::new(sql), self.policy, WHOLE_POLICY, [zero, self.cost, zero]);
        let st = bind_totals(st, self.policy, self.sender, [zero, self.cost, zero]).bind(self.now);
        [policy_limit, sender_limit].into_iter().flatten().fold(st, |st, l| st.bind(l.gwei).bind(l.wei))
    }

    /// Which limit refused, from the rows the upsert returned: `None` when both rows moved (else
    /// the caller rolls back: the other row may have moved).
    fn refused(&self, rows: &[AnyRow]) -> Result<Option<Refused>, SponsorshipError> {
        let moved: Vec<String> = rows.iter().map(|r| r.try_get("sender")).collect::<Result<_, _>>()?;
        Ok(match (moved.iter().any(|s| s == WHOLE_POLICY), moved.iter().any(|s| s == self.sender)) {
            (true, true) => None,
            (false, _) => Some(Refused::Policy),
            (true, false) => Some(Refused::Sender),
        })
    }
}

/// A change of one sponsored operation to count in the totals of its policy and its sender.
struct Change<'a> {
    /// The operation.
    record: &'a SponsorshipRecord,
    /// What it adds to `spent`.
    spent: U256,
    /// What it adds to `freed` (its reservation, when that ended here).
    freed: U256,
}

/// Adds `changes` to the totals of their policies and senders: multi-row upserts of at most
/// [`TOTALS_PER_STATEMENT`] rows, rows in key order (the lock order).
async fn count_in_totals(
    tx: &mut Transaction<'static, Any>,
    changes: &[Change<'_>],
    now: i64,
) -> Result<(), SponsorshipError> {
    let mut rows: BTreeMap<(String, String), (U256, U256)> = BTreeMap::new();
    for c in changes {
        let policy = &c.record.request.policy_id;
        for sender in [WHOLE_POLICY.to_owned(), address_text(&c.record.request.sender)] {
            let t = rows.entry((policy.clone(), sender)).or_default();
            t.0 = t.0.saturating_add(c.spent);
            t.1 = t.1.saturating_add(c.freed);
        }
    }
    let rows: Vec<_> = rows.into_iter().collect();
    for chunk in rows.chunks(TOTALS_PER_STATEMENT) {
        let sql = format!(
            "{}{}, {}, updated_at = excluded.updated_at",
            totals_insert(chunk.len(), 2, 1),
            amounts::add_to("sponsorship_totals", "spent", "excluded.spent_gwei", "excluded.spent_wei"),
            amounts::add_to("sponsorship_totals", "freed", "excluded.freed_gwei", "excluded.freed_wei"),
        );
        let zero = Limbs::ZERO;
        let mut st = Statement::new(sql).bind(now);
        for ((policy, sender), (spent, freed)) in chunk {
            st = bind_totals(st, policy, sender, [Limbs::of("spent", *spent)?, zero, Limbs::of("freed", *freed)?]);
        }
        st.query().execute(&mut **tx).await?;
    }
    Ok(())
}

/// Operations one settling statement names (two placeholders each). SQLite finds a numbered
/// placeholder by walking the statement's list of them, so a statement's parse and binds grow
/// with the square of its placeholders: a round that settles hundreds of operations goes in
/// several statements.
const SETTLED_PER_STATEMENT: usize = 128;

/// Totals rows one upsert of [`count_in_totals`] moves (eight placeholders each), for the same
/// reason.
const TOTALS_PER_STATEMENT: usize = 32;

/// Settles those of `settled` (userOpHash, actual cost) whose record is `from`: one statement;
/// the records as settled.
async fn settle_from(
    tx: &mut Transaction<'static, Any>,
    chain: i64,
    settled: &[(B256, U256)],
    from: SponsorshipStatus,
) -> Result<Vec<SponsorshipRecord>, SponsorshipError> {
    let mut records = Vec::with_capacity(settled.len());
    for chunk in settled.chunks(SETTLED_PER_STATEMENT) {
        records.extend(settle_chunk_from(tx, chain, chunk, from).await?);
    }
    Ok(records)
}

/// [`settle_from`] of at most [`SETTLED_PER_STATEMENT`] operations: one statement.
async fn settle_chunk_from(
    tx: &mut Transaction<'static, Any>,
    chain: i64,
    settled: &[(B256, U256)],
    from: SponsorshipStatus,
) -> Result<Vec<SponsorshipRecord>, SponsorshipError> {
    let cases: String = (0..settled.len()).map(|i| format!(" WHEN ${} THEN ${}", 3 + 2 * i, 4 + 2 * i)).collect();
    let hashes: Vec<String> = (0..settled.len()).map(|i| format!("${}", 3 + 2 * i)).collect();
    let sql = sql!(
        "UPDATE sponsorships SET status = 'settled', actual_cost = CASE user_op_hash{cases} END \
         WHERE chain_id = $1 AND status = $2 AND user_op_hash IN ({}) RETURNING {RECORD_COLUMNS}",
        hashes.join(", ")
    );
    let mut q = sqlx::query(sql).bind(chain).bind(from.as_str());
    for (hash, cost) in settled {
        q = q.bind(b256_bin(hash)).bind(u256_amount_bin(cost));
    }
    q.fetch_all(&mut **tx).await?.iter().map(record_from_row).collect()
}

/// Inserts `req`'s record, or finds it there: `None` to go on and hold its cost; `Some` with what
/// the request gets instead (a retry: the reservation as first taken; other terms: a conflict).
/// A record released before (failed or expired) is replaced: sponsored afresh.
async fn record_reservation(
    tx: &mut Transaction<'static, Any>,
    req: &ReservationRequest,
) -> Result<Option<Result<ReserveOutcome, SponsorshipError>>, SponsorshipError> {
    if insert_reservation(tx, req).await? {
        return Ok(None);
    }
    let chain_id = u64_to_db("chain_id", req.chain_id)?;
    let existing = fetch_record(tx, chain_id, "request_key", &b256_bin(&req.request_key))
        .await?
        .ok_or_else(|| SponsorshipError::Corrupt(format!("reservation {} vanished", req.request_key)))?;
    let same = existing.request.policy_id == req.policy_id
        && existing.request.sender == req.sender
        && existing.request.max_cost == req.max_cost;
    match (existing.status, same) {
        (SponsorshipStatus::Reserved, true) => Ok(Some(Ok(ReserveOutcome::AlreadyReserved(Box::new(existing))))),
        (SponsorshipStatus::Reserved, false) | (SponsorshipStatus::Settled, _) => {
            Ok(Some(Err(SponsorshipError::Conflict {
                request_key: req.request_key,
                policy_id: existing.request.policy_id,
            })))
        }
        (SponsorshipStatus::Released, _) => {
            sqlx::query("DELETE FROM sponsorships WHERE chain_id = $1 AND request_key = $2")
                .bind(chain_id)
                .bind(b256_bin(&req.request_key))
                .execute(&mut **tx)
                .await?;
            insert_reservation(tx, req).await?;
            Ok(None)
        }
    }
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
    let read = Limbs::read::<SponsorshipError>;
    let (spent, held, freed) = (read(row, "spent")?, read(row, "held")?, read(row, "freed")?);
    Ok(SpendTotals { spent, reserved: held.saturating_sub(freed) })
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
    Ok(reservation_insert(req)?.query().execute(&mut **tx).await?.rows_affected() == 1)
}

/// The statement of [`insert_reservation`]: it changes one row, or none where the request key is
/// stored already.
fn reservation_insert(req: &ReservationRequest) -> Result<Statement, SponsorshipError> {
    Ok(Statement::new(
        "INSERT INTO sponsorships (chain_id, request_key, user_op_hash, policy_id, sender, max_cost, valid_until, \
         valid_after, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'reserved') \
         ON CONFLICT (chain_id, request_key) DO NOTHING",
    )
    .bind(u64_to_db("chain_id", req.chain_id)?)
    .bind(b256_bin(&req.request_key))
    .bind(b256_bin(&req.user_op_hash))
    .bind(req.policy_id.as_str())
    .bind(address_bin(&req.sender))
    .bind(u256_amount_bin(&req.max_cost))
    .bind(u64_to_db("valid_until", req.valid_until)?)
    .bind(u64_to_db("valid_after", req.valid_after)?))
}
