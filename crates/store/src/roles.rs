//! Roles one replica at a time performs — bundling with one key, watching one chain — held through
//! a lease with an expiry and a **fencing token**. The token rises at every change of holder; each
//! write a role makes carries the [`Fence`] it was given and is refused ([`StoreError::LeaseLost`])
//! once the token moved on, so a replica that lost its lease (paused, partitioned, slow) writes
//! nothing more for the role, whatever it still believes.
//!
//! ```text
//!  replica A: acquire ─▶ Fence{token 7} ─▶ writes(token 7) ✓ … (dies; lease expires)
//!  replica B:                 acquire (expired) ─▶ Fence{token 8} ─▶ writes(token 8) ✓
//!  replica A (back):          writes(token 7) ✗ LeaseLost
//! ```
//!
//! The check and the write share one transaction, and on PostgreSQL the check reads the lease row
//! `FOR SHARE`: a takeover (which updates the row) waits for a write in progress to commit, and a
//! write that starts after the takeover sees the new token. SQLite's writers are serialised.
//! Replicas also write a heartbeat ([`Store::heartbeat`]) so each knows how many share the roles.
//! Expiries and heartbeats are measured by the database's clock ([`Store::now_ms`]), not by the
//! replicas' own, which may disagree.

use std::time::Duration;

use alloy::primitives::B256;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::codec::{b256_text, parse_b256, u64_from_db, u64_to_db};
use crate::db::{Backend, Store};
use crate::error::StoreError;
use crate::script::Statement;

/// Proof of holding a role: its name and the fencing token the lease had when taken. Only the
/// store makes one (by [`Store::acquire_role`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fence {
    role: String,
    token: i64,
}

impl Fence {
    /// The role's name.
    pub fn role(&self) -> &str {
        &self.role
    }

    /// The fencing token.
    pub fn token(&self) -> u64 {
        self.token.max(0) as u64
    }
}

/// A role's lease as stored: for `keyward status` and the metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleLease {
    /// The role's name (`bundler:<chain>:<key>`, `chain:<chain>`).
    pub role: String,
    /// The replica holding it.
    pub holder: String,
    /// The fencing token.
    pub token: u64,
    /// End of the lease (ms since the epoch).
    pub expires_at_ms: u64,
    /// When the current holder took it (ms since the epoch).
    pub acquired_at_ms: u64,
}

/// How eagerly to take a role another replica held.
#[derive(Clone, Copy, Debug)]
pub struct Acquire {
    /// How long the lease lasts from now (taken or renewed).
    pub term: Duration,
    /// How long after its expiry another holder's lease may be taken over (zero: at once). A
    /// replica already holding its share of the roles waits, so a replica with fewer takes it.
    pub patience: Duration,
}

impl Store {
    /// Takes `role` for `holder`, or renews it when `holder` holds it; `Some(fence)` when held
    /// after the call. A lease held by another is taken only after `expires_at + patience`, and
    /// then with a new token. Renewing keeps the token, so the fences already handed out stay good.
    pub async fn acquire_role(&self, role: &str, holder: &str, how: Acquire) -> Result<Option<Fence>, StoreError> {
        let mut tx = self.begin_write().await?;
        self.advisory_lock(&mut tx, crate::db::lock_key("role", role.as_bytes())).await?;
        let now = self.clock_ms(&mut *tx).await?;
        let until = u64_to_db("expires_at", now.saturating_add(ms(how.term)))?;
        let row = sqlx::query("SELECT holder, token, expires_at FROM role_leases WHERE name = $1")
            .bind(role)
            .fetch_optional(&mut *tx)
            .await?;
        let token = match row {
            None => {
                sqlx::query(
                    "INSERT INTO role_leases (name, holder, token, expires_at, acquired_at) VALUES ($1, $2, 1, $3, $4)",
                )
                .bind(role)
                .bind(holder)
                .bind(until)
                .bind(u64_to_db("acquired_at", now)?)
                .execute(&mut *tx)
                .await?;
                1
            }
            Some(row) => {
                let (current, token): (String, i64) = (row.try_get("holder")?, row.try_get("token")?);
                let expires_at = u64_from_db("expires_at", row.try_get("expires_at")?)?;
                if current == holder && expires_at > 0 {
                    sqlx::query("UPDATE role_leases SET expires_at = $2 WHERE name = $1")
                        .bind(role)
                        .bind(until)
                        .execute(&mut *tx)
                        .await?;
                    token
                } else if expires_at.saturating_add(ms(how.patience)) <= now {
                    sqlx::query(
                        "UPDATE role_leases SET holder = $2, token = token + 1, expires_at = $3, acquired_at = $4 \
                         WHERE name = $1",
                    )
                    .bind(role)
                    .bind(holder)
                    .bind(until)
                    .bind(u64_to_db("acquired_at", now)?)
                    .execute(&mut *tx)
                    .await?;
                    token.saturating_add(1)
                } else {
                    tx.rollback().await?;
                    return Ok(None);
                }
            }
        };
        tx.commit().await?;
        Ok(Some(Fence { role: role.to_owned(), token }))
    }

    /// Gives the role up at once (a clean stop, or handing it to a replica with fewer roles): the
    /// lease expires now and the next holder gets a new token. Nothing if the fence is stale.
    pub async fn release_role(&self, fence: &Fence) -> Result<(), StoreError> {
        sqlx::query("UPDATE role_leases SET expires_at = 0 WHERE name = $1 AND token = $2")
            .bind(&fence.role)
            .bind(fence.token)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    /// Every role's lease, by name.
    pub async fn role_leases(&self) -> Result<Vec<RoleLease>, StoreError> {
        let rows = sqlx::query("SELECT name, holder, token, expires_at, acquired_at FROM role_leases ORDER BY name")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(RoleLease {
                    role: r.try_get("name")?,
                    holder: r.try_get("holder")?,
                    token: u64_from_db("token", r.try_get("token")?)?,
                    expires_at_ms: u64_from_db("expires_at", r.try_get("expires_at")?)?,
                    acquired_at_ms: u64_from_db("acquired_at", r.try_get("acquired_at")?)?,
                })
            })
            .collect()
    }

    /// Records that replica `holder` (up since `started_at_ms`) is alive now.
    pub async fn heartbeat(&self, holder: &str, started_at_ms: u64) -> Result<(), StoreError> {
        let now = self.clock_ms(self.pool()).await?;
        sqlx::query(
            "INSERT INTO replicas (holder, started_at, seen_at) VALUES ($1, $2, $3) \
             ON CONFLICT (holder) DO UPDATE SET seen_at = excluded.seen_at",
        )
        .bind(holder)
        .bind(u64_to_db("started_at", started_at_ms)?)
        .bind(u64_to_db("seen_at", now)?)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// The replicas seen within `within`, as (holder, started at ms, seen at ms); older rows are
    /// deleted.
    pub async fn live_replicas(&self, within: Duration) -> Result<Vec<(String, u64, u64)>, StoreError> {
        let since = u64_to_db("seen_at", self.clock_ms(self.pool()).await?.saturating_sub(ms(within)))?;
        sqlx::query("DELETE FROM replicas WHERE seen_at < $1").bind(since).execute(self.writer()).await?;
        let rows = sqlx::query("SELECT holder, started_at, seen_at FROM replicas ORDER BY holder")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("holder")?,
                    u64_from_db("started_at", r.try_get("started_at")?)?,
                    u64_from_db("seen_at", r.try_get("seen_at")?)?,
                ))
            })
            .collect()
    }

    /// Where the chain reader `name` stands: the last block it handled and that block's hash.
    pub async fn chain_cursor(&self, name: &str) -> Result<Option<(u64, B256)>, StoreError> {
        let row = sqlx::query("SELECT block_number, block_hash FROM chain_cursors WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| {
            Ok((
                u64_from_db("block_number", r.try_get("block_number")?)?,
                parse_b256("block_hash", &r.try_get::<String, _>("block_hash")?)?,
            ))
        })
        .transpose()
    }

    /// Moves the chain reader `name` to block (`number`, `hash`), as the holder of `fence`.
    pub async fn set_chain_cursor(&self, fence: &Fence, name: &str, number: u64, hash: B256) -> Result<(), StoreError> {
        let upsert = Statement::new(
            "INSERT INTO chain_cursors (name, block_number, block_hash) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET block_number = excluded.block_number, block_hash = excluded.block_hash",
        )
        .bind(name)
        .bind(u64_to_db("block_number", number)?)
        .bind(b256_text(&hash));
        // On SQLite two trips to the writer: the fence's read with the upsert, then the commit.
        let statements = || Ok::<_, StoreError>(vec![fence.sqlite_check(), upsert.clone()]);
        if let Some((script, out)) = self.begin_script(statements).await? {
            if fence.holds(&out[0].rows)? {
                script.commit(Vec::new()).await?;
                return Ok(());
            }
            script.rollback().await?;
            return Err(LeaseLost(fence.role.clone()).into());
        }
        let mut tx = self.begin_fenced::<StoreError>(fence).await?;
        upsert.query().execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The database's clock, in milliseconds since the Unix epoch: what every replica measures
    /// leases, claims and heartbeats by, so the replicas' own clocks may disagree.
    pub async fn now_ms(&self) -> Result<u64, StoreError> {
        Ok(self.clock_ms(self.pool()).await?)
    }

    /// [`Store::now_ms`] read through `executor` (a transaction's connection, or the pool).
    pub(crate) async fn clock_ms<'e, E>(&self, executor: E) -> Result<u64, sqlx::Error>
    where
        E: sqlx::Executor<'e, Database = Any>,
    {
        let sql = match self.backend() {
            Backend::Postgres => "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
            Backend::Sqlite => SQLITE_CLOCK_MS,
        };
        let ms: i64 = sqlx::query_scalar(sql).fetch_one(executor).await?;
        Ok(u64::try_from(ms).unwrap_or(0))
    }
}

/// SQLite's clock in milliseconds since the Unix epoch, as the column `ms`.
const SQLITE_CLOCK_MS: &str = "SELECT CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER) AS ms";

/// [`Store::now_ms`] on SQLite, for a [`crate::script::Script`]: its rows go to [`clock_of`].
pub(crate) fn sqlite_clock() -> Statement {
    Statement::new(SQLITE_CLOCK_MS)
}

/// The milliseconds in the rows of [`sqlite_clock`].
pub(crate) fn clock_of(rows: &[AnyRow]) -> Result<u64, sqlx::Error> {
    let ms: i64 = rows.first().ok_or(sqlx::Error::RowNotFound)?.try_get("ms")?;
    Ok(u64::try_from(ms).unwrap_or(0))
}

impl Store {
    /// Begins a write transaction as the holder of `fence`: refused with [`LeaseLost`] when the
    /// role has another holder now. The check holds until the transaction ends.
    pub(crate) async fn begin_fenced<E>(&self, fence: &Fence) -> Result<Transaction<'static, Any>, E>
    where
        E: From<sqlx::Error> + From<LeaseLost>,
    {
        let mut tx = self.begin_write().await?;
        if !self.fence_holds(&mut tx, fence).await? {
            tx.rollback().await?;
            return Err(LeaseLost(fence.role.clone()).into());
        }
        Ok(tx)
    }

    /// Whether `fence` still holds its role, read inside the write transaction `tx` (on
    /// PostgreSQL with a share lock on the lease row, so no takeover commits before `tx` does).
    pub(crate) async fn fence_holds(
        &self,
        tx: &mut Transaction<'static, Any>,
        fence: &Fence,
    ) -> Result<bool, sqlx::Error> {
        let read = match self.backend() {
            Backend::Postgres => {
                Statement::new("SELECT token FROM role_leases WHERE name = $1 FOR SHARE").bind(fence.role.as_str())
            }
            Backend::Sqlite => fence.sqlite_check(),
        };
        fence.holds(&read.query().fetch_all(&mut **tx).await?)
    }
}

impl Fence {
    /// [`Store::fence_holds`]'s read on SQLite, for a [`crate::script::Script`]: its rows go to
    /// [`Fence::holds`].
    pub(crate) fn sqlite_check(&self) -> Statement {
        Statement::new("SELECT token FROM role_leases WHERE name = $1").bind(self.role.as_str())
    }

    /// Whether the rows of [`Fence::sqlite_check`] show the role still held under this fence.
    pub(crate) fn holds(&self, rows: &[AnyRow]) -> Result<bool, sqlx::Error> {
        let tokens: Vec<i64> = rows.iter().map(|r| r.try_get("token")).collect::<Result<_, _>>()?;
        Ok(tokens == [self.token])
    }
}

/// A fenced write found its role held by another replica (the role's name).
#[derive(Debug)]
pub(crate) struct LeaseLost(pub(crate) String);

impl From<LeaseLost> for StoreError {
    fn from(e: LeaseLost) -> Self {
        StoreError::LeaseLost(e.0)
    }
}

impl From<LeaseLost> for crate::error::MempoolError {
    fn from(e: LeaseLost) -> Self {
        crate::error::MempoolError::LeaseLost(e.0)
    }
}

/// A duration in whole milliseconds, saturating.
pub(crate) fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
