//! Opening a store: URL → backend, SQLite durability pragmas, the pool, embedded migrations.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyConnection, AnyPool, Connection, Executor, Transaction};

use crate::durability::WalSync;
use crate::error::StoreError;

/// The migrations in `crates/store/migrations`, embedded at compile time (portable SQL).
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// How long a SQLite connection waits for another writer's lock before failing (10 s).
const SQLITE_BUSY_TIMEOUT_PRAGMA: &str = "PRAGMA busy_timeout = 10000";

/// Name of the database file [`Store::open_sqlite_file`] creates in its directory.
pub const SQLITE_FILE_NAME: &str = "keyward.db";

/// The database behind a [`Store`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, a file (WAL, group commit through [`Store::durable`]) or in memory.
    Sqlite,
    /// PostgreSQL reached by URL.
    Postgres,
}

/// A handle on the database: cheap to clone, shared by every repository (mempool, bundles).
///
/// Reads and writes use separate pools. On a SQLite file, writes go through one connection, so
/// writers queue in the process (an async wait) instead of colliding on SQLite's lock, whose busy
/// handler sleeps 1 ms, 2 ms, 5 ms … up to 100 ms per retry; reads use a pool of `query_only`
/// connections that WAL never blocks; and commits are made durable in groups ([`Store::durable`]).
/// In memory and on PostgreSQL both are the same pool.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    writer: AnyPool,
    backend: Backend,
    /// Group commit of a SQLite file; `None` where every commit is durable by itself (PostgreSQL)
    /// or nothing is (memory).
    wal_sync: Option<Arc<WalSync>>,
}

impl Store {
    /// Opens (creating if needed) the database at `url`, applies pending migrations and finishes the
    /// data conversions they leave to Rust (`upgrade`).
    ///
    /// Accepted: `sqlite:///abs/path.db?mode=rwc`, `sqlite:relative.db?mode=rwc`, `sqlite::memory:`,
    /// `postgres://user:pass@host:port/db` (`postgresql://` too).
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        install_default_drivers();
        let backend = backend_of(url)?;
        let open_err = |e: sqlx::Error| StoreError::Open { url: mask_password(url), reason: e.to_string() };
        let (pool, writer, wal_sync) = match backend {
            Backend::Sqlite if is_sqlite_memory(url) => {
                // Every connection to `sqlite::memory:` is a separate database: keep exactly one, forever.
                let pool = sqlite_pool_options(1, Access::ReadWrite(None))
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .connect(url)
                    .await
                    .map_err(open_err)?;
                (pool.clone(), pool, None)
            }
            Backend::Sqlite => {
                // WAL is persistent in the file; switch once, on a lone connection, because changing the
                // journal mode needs an exclusive lock that the busy timeout does not wait for.
                let mut conn = AnyConnection::connect(url).await.map_err(open_err)?;
                let file: String = sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
                    .fetch_one(&mut conn)
                    .await
                    .map_err(open_err)?;
                // A new file gets 8 KiB pages (an existing one keeps its own): an operation's row is
                // 1.5-2.5 KiB, so a 4 KiB page would hold one and waste the rest.
                conn.execute("PRAGMA page_size = 8192").await.map_err(open_err)?;
                let mode: String =
                    sqlx::query_scalar("PRAGMA journal_mode = WAL").fetch_one(&mut conn).await.map_err(open_err)?;
                conn.close().await.map_err(open_err)?;
                if !mode.eq_ignore_ascii_case("wal") {
                    return Err(StoreError::Open {
                        url: mask_password(url),
                        reason: format!("SQLite refused WAL journal mode (got {mode:?})"),
                    });
                }
                let handouts = Arc::new(AtomicU64::new(0));
                // The writer's connection stays open for the process's life: the WAL file is never
                // deleted (the last connection to close would) and recreated under `WalSync`.
                let writer = sqlite_pool_options(1, Access::ReadWrite(Some(handouts.clone())))
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .connect(url)
                    .await
                    .map_err(open_err)?;
                let readers = sqlite_pool_options(8, Access::ReadOnly).connect(url).await.map_err(open_err)?;
                (readers, writer, Some(Arc::new(WalSync::new(&PathBuf::from(file), handouts))))
            }
            Backend::Postgres => {
                // One direct attempt first: the pool would retry until its timeout and then report only
                // "timed out", hiding the real cause (refused, auth, unknown database).
                AnyConnection::connect(url).await.map_err(open_err)?.close().await.map_err(open_err)?;
                let pool = discarding_stuck_transactions(AnyPoolOptions::new())
                    .max_connections(10)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect(url)
                    .await
                    .map_err(open_err)?;
                (pool.clone(), pool, None)
            }
        };
        MIGRATOR.run(&writer).await.map_err(|e| StoreError::Migrate(e.to_string()))?;
        let store = Store { pool, writer, backend, wal_sync };
        crate::upgrade::finish(&store).await?;
        tracing::debug!(url = %mask_password(url), ?backend, "store opened");
        Ok(store)
    }

    /// Opens (creating the directory and file if needed) the SQLite database `dir/keyward.db`.
    pub async fn open_sqlite_file(dir: impl AsRef<Path>) -> Result<Store, StoreError> {
        let dir = dir.as_ref();
        let shown = dir.display().to_string();
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| StoreError::Open { url: shown.clone(), reason: format!("cannot create directory: {e}") })?;
        let dir = tokio::fs::canonicalize(dir)
            .await
            .map_err(|e| StoreError::Open { url: shown.clone(), reason: format!("cannot resolve directory: {e}") })?;
        let file = dir.join(SQLITE_FILE_NAME);
        let path = file.to_str().ok_or_else(|| StoreError::InvalidUrl {
            url: shown.clone(),
            reason: "the path is not valid UTF-8".into(),
        })?;
        Store::open(&format!("sqlite://{}?mode=rwc", percent_encode_path(path))).await
    }

    /// Which database this store talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool for reads (on a SQLite file its connections are `query_only`), for diagnostics.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// The pool every write goes through: one connection on SQLite, the shared pool on PostgreSQL.
    pub(crate) fn writer(&self) -> &AnyPool {
        &self.writer
    }

    /// Whether the database answers a query (`/ready`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Returns once every write this store finished before the call survives a power loss: the
    /// answer to a call that wrote, and a transaction broadcast after a write, wait for it. On a
    /// SQLite file concurrent callers share one fsync of the WAL; elsewhere each commit already was.
    pub async fn durable(&self) -> Result<(), StoreError> {
        match &self.wal_sync {
            Some(sync) => sync.sync(&self.writer).await,
            None => Ok(()),
        }
    }

    /// How many group-commit fsyncs this store made (0 where commits are durable by themselves).
    pub fn durable_rounds(&self) -> u64 {
        self.wal_sync.as_ref().map_or(0, |s| s.rounds())
    }

    /// Closes every connection (waits for the ones in use to come back).
    pub async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }

    /// Begins a read-write transaction. SQLite: `BEGIN IMMEDIATE`, taking the write lock up front so a
    /// read-then-write transaction never fails to upgrade its lock; PostgreSQL: `BEGIN` (callers take
    /// row or advisory locks where they read before writing).
    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.writer.begin().await,
        }
    }
}

/// `options` that never hand out a connection still inside a transaction. A transaction dropped
/// without commit queues its rollback, which the next use runs (a ping flushes it); a connection
/// still in a transaction after that is stuck — e.g. SQLite rolled back by itself on "database or
/// disk is full", so the queued ROLLBACK failed and sqlx's depth count never returned to 0 — and
/// every later `BEGIN` on it would fail: it is closed instead, and the pool opens a fresh one.
fn discarding_stuck_transactions(options: AnyPoolOptions) -> AnyPoolOptions {
    counting_handouts(options, None)
}

/// [`discarding_stuck_transactions`], also counting in `handouts` every time a pooled connection is
/// handed out (new or reused), for [`WalSync`].
fn counting_handouts(options: AnyPoolOptions, handouts: Option<Arc<AtomicU64>>) -> AnyPoolOptions {
    options.before_acquire(move |conn, _meta| {
        let handouts = handouts.clone();
        Box::pin(async move {
            if let Some(handouts) = &handouts {
                handouts.fetch_add(1, Ordering::SeqCst);
            }
            if !conn.is_in_transaction() {
                return Ok(true);
            }
            conn.ping().await?;
            let stuck = conn.is_in_transaction();
            if stuck {
                tracing::warn!("closing a pooled database connection left inside a transaction");
            }
            Ok(!stuck)
        })
    })
}

/// What a pooled SQLite connection may do.
#[derive(Clone)]
enum Access {
    /// Reads only (`PRAGMA query_only`): a write sent to the read pool fails instead of contending.
    ReadOnly,
    /// Reads and writes; each handout counted here when the store syncs in groups.
    ReadWrite(Option<Arc<AtomicU64>>),
}

/// Pool options for SQLite: every connection gets the pragmas.
fn sqlite_pool_options(max_connections: u32, access: Access) -> AnyPoolOptions {
    let handouts = match &access {
        Access::ReadWrite(handouts) => handouts.clone(),
        Access::ReadOnly => None,
    };
    counting_handouts(AnyPoolOptions::new(), handouts)
        .max_connections(max_connections)
        // No liveness ping before each handout: a SQLite connection is a handle in this process,
        // not a socket that can go away, and the ping is a round trip to the connection's worker
        // thread (two context switches) in front of every statement.
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |conn, _meta| {
            let access = access.clone();
            Box::pin(async move {
                match &access {
                    Access::ReadOnly => {
                        conn.execute("PRAGMA query_only = ON").await?;
                    }
                    // A new connection is handed out without `before_acquire`: count it here.
                    Access::ReadWrite(Some(handouts)) => {
                        handouts.fetch_add(1, Ordering::SeqCst);
                    }
                    Access::ReadWrite(None) => {}
                }
                // NORMAL: a commit writes the WAL without an fsync (it survives a process crash); what
                // must survive a power loss waits for `Store::durable`, one fsync for many commits.
                conn.execute("PRAGMA synchronous = NORMAL").await?;
                conn.execute(SQLITE_BUSY_TIMEOUT_PRAGMA).await?;
                conn.execute("PRAGMA foreign_keys = ON").await?;
                Ok(())
            })
        })
}

/// The backend a URL names, by its scheme.
fn backend_of(url: &str) -> Result<Backend, StoreError> {
    let scheme = url.split_once(':').map(|(s, _)| s.to_ascii_lowercase()).unwrap_or_default();
    match scheme.as_str() {
        "sqlite" => Ok(Backend::Sqlite),
        "postgres" | "postgresql" => Ok(Backend::Postgres),
        _ => Err(StoreError::InvalidUrl {
            url: mask_password(url),
            reason: "expected a sqlite:, postgres: or postgresql: URL".into(),
        }),
    }
}

/// Whether a SQLite URL names an in-memory database.
fn is_sqlite_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// The URL with the password of its authority (if any) replaced by `***`, for messages and logs.
pub(crate) fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else { return url.to_string() };
    let userinfo = &authority[..at];
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***{}", &rest[at..]),
        None => url.to_string(),
    }
}

/// Percent-encodes a filesystem path for a `sqlite://` URL (sqlx decodes it again).
fn percent_encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The parameters `$first, $first+1, …` of a statement binding `n` values to an `IN (…)` list.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// The key of a PostgreSQL advisory lock over `subject` within `scope` (the first 8 bytes of a hash).
pub(crate) fn lock_key(scope: &str, subject: &[u8]) -> i64 {
    let h = alloy::primitives::keccak256([b"keyward-wallet:".as_slice(), scope.as_bytes(), subject].concat());
    let mut first = [0u8; 8];
    first.copy_from_slice(&h[..8]);
    i64::from_be_bytes(first)
}

impl Store {
    /// Takes the transaction-scoped advisory lock `key` on PostgreSQL (released at commit or
    /// rollback); nothing on SQLite, whose `BEGIN IMMEDIATE` already serialises writers.
    pub(crate) async fn advisory_lock(&self, tx: &mut Transaction<'static, Any>, key: i64) -> Result<(), sqlx::Error> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT 1 FROM (SELECT pg_advisory_xact_lock($1)) AS l").bind(key).execute(&mut **tx).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_by_scheme() {
        assert_eq!(backend_of("sqlite::memory:").unwrap(), Backend::Sqlite);
        assert_eq!(backend_of("sqlite:///tmp/x.db?mode=rwc").unwrap(), Backend::Sqlite);
        assert_eq!(backend_of("postgres://u@h/db").unwrap(), Backend::Postgres);
        assert_eq!(backend_of("PostgreSQL://u@h/db").unwrap(), Backend::Postgres);
        assert!(matches!(backend_of("mysql://h/db"), Err(StoreError::InvalidUrl { .. })));
        assert!(backend_of("nonsense").is_err());
    }

    #[test]
    fn masks_passwords() {
        assert_eq!(mask_password("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(mask_password("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(mask_password("sqlite:///a/b.db"), "sqlite:///a/b.db");
    }

    #[tokio::test]
    async fn a_connection_stuck_in_a_transaction_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite_file(dir.path()).await.unwrap();
        // One connection's transaction ends behind sqlx's back (as when SQLite rolls back by itself
        // on "database or disk is full"): the queued rollback then fails and sqlx still counts the
        // connection as inside a transaction.
        {
            let mut tx = store.begin_write().await.unwrap();
            sqlx::query("ROLLBACK").execute(&mut *tx).await.unwrap();
        }
        // Every later write still gets a working connection.
        for i in 0..30 {
            let tx = store.begin_write().await.unwrap_or_else(|e| panic!("write {i}: {e}"));
            tx.commit().await.unwrap();
        }
    }

    #[test]
    fn encodes_paths() {
        assert_eq!(percent_encode_path("/tmp/a b/#x?.db"), "/tmp/a%20b/%23x%3F.db");
    }
}
