//! Several statements in one trip to SQLite's writer.
//!
//! sqlx runs each SQLite connection on a thread of its own: every statement is a message to that
//! thread and its result a message back, two context switches at least, and sqlx's `BEGIN` and
//! `COMMIT` wait for an acknowledgement too (three). A write of five statements in a transaction
//! costs some twenty switches, more than the statements themselves. sqlx's SQLite driver runs every
//! statement of one query string with one set of arguments (placeholders `$N` are absolute), so a
//! [`Script`] sends statements written on their own — each numbered from `$1` — as one query:
//!
//! ```text
//!  Statement("INSERT … $1, $2") ┐  renumbered, joined    "BEGIN IMMEDIATE; INSERT … $1, $2;
//!  Statement("UPDATE … $1")     ┴────────────────────▶   UPDATE … $3"  + the binds in order ─▶ writer
//!                                                          ◀── rows and changes of each statement
//! ```
//!
//! A hot write goes optimistic: the first trip begins the transaction and makes every statement
//! of the common case, the caller checks what each one did, and the second trip commits it — or
//! rolls it back, and the caller takes its general path (one statement at a time, any backend),
//! which decides every other case. A transaction still open when its [`Script`] is dropped (the
//! caller's future was cancelled, or a statement failed) is rolled back before the connection goes
//! back to the pool.

use futures_util::TryStreamExt;
use sqlx::any::AnyRow;
use sqlx::pool::PoolConnection;
use sqlx::{Any, Either};

use crate::db::{Backend, Store};

/// A value bound to a placeholder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Bind {
    /// An integer (BIGINT), or NULL.
    Int(Option<i64>),
    /// Bytes (BLOB / BYTEA), or NULL.
    Blob(Option<Vec<u8>>),
    /// Text, or NULL.
    Text(Option<String>),
}

impl From<i64> for Bind {
    fn from(v: i64) -> Bind {
        Bind::Int(Some(v))
    }
}

impl From<Option<i64>> for Bind {
    fn from(v: Option<i64>) -> Bind {
        Bind::Int(v)
    }
}

impl From<Vec<u8>> for Bind {
    fn from(v: Vec<u8>) -> Bind {
        Bind::Blob(Some(v))
    }
}

impl From<Option<Vec<u8>>> for Bind {
    fn from(v: Option<Vec<u8>>) -> Bind {
        Bind::Blob(v)
    }
}

impl From<String> for Bind {
    fn from(v: String) -> Bind {
        Bind::Text(Some(v))
    }
}

impl From<&str> for Bind {
    fn from(v: &str) -> Bind {
        Bind::Text(Some(v.to_owned()))
    }
}

impl From<Option<String>> for Bind {
    fn from(v: Option<String>) -> Bind {
        Bind::Text(v)
    }
}

impl From<Option<&str>> for Bind {
    fn from(v: Option<&str>) -> Bind {
        Bind::Text(v.map(str::to_owned))
    }
}

/// A query of the `Any` driver with owned arguments.
pub(crate) type AnyQuery = sqlx::query::Query<'static, Any, sqlx::any::AnyArguments>;

/// One statement: its SQL (built from constants, never from input) with placeholders numbered
/// from `$1`, and the values bound to them.
#[derive(Clone, Debug)]
pub(crate) struct Statement {
    sql: String,
    binds: Vec<Bind>,
}

impl Statement {
    /// `sql` with nothing bound yet.
    pub(crate) fn new(sql: impl Into<String>) -> Statement {
        Statement { sql: sql.into(), binds: Vec::new() }
    }

    /// Binds the next placeholder.
    pub(crate) fn bind(mut self, value: impl Into<Bind>) -> Statement {
        self.binds.push(value.into());
        self
    }

    /// The statement as a query of its own (to run on any executor).
    pub(crate) fn query(self) -> AnyQuery {
        bind_all(sqlx::query(sqlx::AssertSqlSafe(self.sql)), self.binds)
    }
}

/// What one statement of a trip did.
#[derive(Default)]
pub(crate) struct Output {
    /// The rows it returned.
    pub(crate) rows: Vec<AnyRow>,
    /// The rows it changed.
    pub(crate) changes: u64,
}

/// A write transaction on SQLite's one writer connection, its statements sent in trips of many.
pub(crate) struct Script {
    conn: Option<PoolConnection<Any>>,
    /// Whether the transaction was begun and not yet ended.
    open: bool,
}

impl Store {
    /// Begins a write transaction with the statements `first` builds in the same trip, on a
    /// SQLite store; `None` on PostgreSQL, where a statement cannot travel with others (the caller
    /// takes its general path), without building them.
    pub(crate) async fn begin_script<E: From<sqlx::Error>>(
        &self,
        first: impl FnOnce() -> Result<Vec<Statement>, E>,
    ) -> Result<Option<(Script, Vec<Output>)>, E> {
        if self.backend() != Backend::Sqlite {
            return Ok(None);
        }
        let first = first()?;
        let conn = self.writer().acquire().await?;
        let mut script = Script { conn: Some(conn), open: true };
        let outputs = script.trip(Some("BEGIN IMMEDIATE"), first, None).await?;
        Ok(Some((script, outputs)))
    }
}

impl Script {
    /// Makes `statements`, then commits: one trip.
    pub(crate) async fn commit(mut self, statements: Vec<Statement>) -> Result<Vec<Output>, sqlx::Error> {
        let outputs = self.trip(None, statements, Some("COMMIT")).await?;
        self.open = false;
        Ok(outputs)
    }

    /// Makes `statements` inside the transaction: one trip.
    pub(crate) async fn run(&mut self, statements: Vec<Statement>) -> Result<Vec<Output>, sqlx::Error> {
        self.trip(None, statements, None).await
    }

    /// Rolls the transaction back: one trip.
    pub(crate) async fn rollback(mut self) -> Result<(), sqlx::Error> {
        self.trip(None, Vec::new(), Some("ROLLBACK")).await?;
        self.open = false;
        Ok(())
    }

    /// Sends `before`, `statements` and `after` as one query; the outputs of `statements`.
    async fn trip(
        &mut self,
        before: Option<&str>,
        statements: Vec<Statement>,
        after: Option<&str>,
    ) -> Result<Vec<Output>, sqlx::Error> {
        let conn = self.conn.as_mut().ok_or(sqlx::Error::PoolClosed)?;
        let wanted = statements.len();
        let (sql, binds) = joined(before, statements, after);
        let query = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), binds);
        // The driver runs every statement of the string, binding each placeholder `$N` to the Nth value.
        let mut results = sqlx::Executor::fetch_many(&mut **conn, query);
        let mut outputs = Vec::with_capacity(wanted + 2);
        let mut current = Output::default();
        while let Some(step) = results.try_next().await? {
            match step {
                Either::Right(row) => current.rows.push(row),
                Either::Left(done) => {
                    current.changes = done.rows_affected();
                    outputs.push(std::mem::take(&mut current));
                }
            }
        }
        // Drop the outputs of the framing statements.
        if after.is_some() {
            outputs.pop();
        }
        if before.is_some() && !outputs.is_empty() {
            outputs.remove(0);
        }
        if outputs.len() != wanted {
            return Err(sqlx::Error::Protocol(format!("a script of {wanted} statements reported {}", outputs.len())));
        }
        Ok(outputs)
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        let Some(mut conn) = self.conn.take() else { return };
        // Ended neither way (a statement failed, or the caller was cancelled mid-trip): roll back
        // before the connection serves anyone else; where that cannot be done, close it.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    // A commit that went through before the cancel leaves nothing to roll back.
                    if let Err(e) = sqlx::query("ROLLBACK").execute(&mut *conn).await
                        && !e.to_string().contains("no transaction is active")
                    {
                        tracing::warn!(error = %e, "closing the writer connection: its rollback failed");
                        conn.close_on_drop();
                    }
                });
            }
            Err(_) => conn.close_on_drop(),
        }
    }
}

/// Binds `binds` in order.
fn bind_all(query: AnyQuery, binds: Vec<Bind>) -> AnyQuery {
    binds.into_iter().fold(query, |q, b| match b {
        Bind::Int(v) => q.bind(v),
        Bind::Blob(v) => q.bind(v),
        Bind::Text(v) => q.bind(v),
    })
}

/// One query string of `before`, `statements` (each renumbered past the placeholders before it)
/// and `after`, with the binds of all in order.
fn joined(before: Option<&str>, statements: Vec<Statement>, after: Option<&str>) -> (String, Vec<Bind>) {
    let mut sql = String::new();
    let mut binds = Vec::new();
    if let Some(before) = before {
        sql.push_str(before);
        sql.push_str(";\n");
    }
    for statement in statements {
        sql.push_str(&renumbered(&statement.sql, binds.len()));
        sql.push_str(";\n");
        binds.extend(statement.binds);
    }
    if let Some(after) = after {
        sql.push_str(after);
        sql.push(';');
    }
    (sql, binds)
}

/// `sql` with every placeholder `$N` outside quoted text made `$(N + offset)`.
fn renumbered(sql: &str, offset: usize) -> String {
    if offset == 0 {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        out.push(c);
        match (quote, c) {
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '$') => {
                let mut digits = String::new();
                while let Some(d) = chars.next_if(char::is_ascii_digit) {
                    digits.push(d);
                }
                match digits.parse::<usize>() {
                    Ok(n) => out.push_str(&(n + offset).to_string()),
                    Err(_) => out.push_str(&digits),
                }
            }
            (None, _) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Row as _;

    /// A store on a fresh SQLite file.
    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite_file(dir.path()).await.unwrap();
        (dir, store)
    }

    /// [`Store::begin_script`] of `first` as built already.
    async fn begin(store: &Store, first: Vec<Statement>) -> Result<Option<(Script, Vec<Output>)>, sqlx::Error> {
        store.begin_script(|| Ok(first)).await
    }

    fn mark(name: &str) -> Statement {
        Statement::new("INSERT INTO store_upgrades (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING name")
            .bind(name)
    }

    async fn marks(store: &Store) -> Vec<String> {
        sqlx::query_scalar("SELECT name FROM store_upgrades WHERE name LIKE 'test-%' ORDER BY name")
            .fetch_all(store.pool())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn each_statement_reports_its_rows_and_changes_and_the_commit_keeps_them() {
        let (_dir, store) = store().await;
        let (script, out) = begin(&store, vec![mark("test-a"), mark("test-a"), mark("test-b")]).await.unwrap().unwrap();
        assert_eq!(out.iter().map(|o| o.changes).collect::<Vec<_>>(), [1, 0, 1]);
        let names: Vec<Vec<String>> =
            out.iter().map(|o| o.rows.iter().map(|r| r.try_get::<String, _>("name").unwrap()).collect()).collect();
        assert_eq!(names, [vec!["test-a".to_owned()], vec![], vec!["test-b".to_owned()]]);
        let out = script.commit(vec![mark("test-c")]).await.unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(marks(&store).await, ["test-a", "test-b", "test-c"]);
    }

    #[tokio::test]
    async fn a_rollback_keeps_nothing() {
        let (_dir, store) = store().await;
        let (script, _) = begin(&store, vec![mark("test-a")]).await.unwrap().unwrap();
        script.rollback().await.unwrap();
        assert!(marks(&store).await.is_empty());
    }

    #[tokio::test]
    async fn a_script_dropped_open_is_rolled_back_and_the_writer_serves_on() {
        let (_dir, store) = store().await;
        let (script, _) = begin(&store, vec![mark("test-a")]).await.unwrap().unwrap();
        drop(script);
        let (script, _) = begin(&store, vec![mark("test-b")]).await.unwrap().unwrap();
        script.commit(Vec::new()).await.unwrap();
        assert_eq!(marks(&store).await, ["test-b"]);
    }

    #[tokio::test]
    async fn a_failed_statement_undoes_the_ones_before_it() {
        let (_dir, store) = store().await;
        let duplicate = Statement::new("INSERT INTO store_upgrades (name) VALUES ($1)").bind("test-a");
        let failed = begin(&store, vec![mark("test-a"), duplicate]).await;
        assert!(failed.is_err(), "the second insert breaks the primary key");
        let (script, _) = begin(&store, vec![mark("test-b")]).await.unwrap().unwrap();
        script.commit(Vec::new()).await.unwrap();
        assert_eq!(marks(&store).await, ["test-b"]);
    }

    #[tokio::test]
    async fn a_cancelled_trip_leaves_no_transaction_behind() {
        let (_dir, store) = store().await;
        // Cancelled while its first trip is under way: the future is dropped mid-statement.
        let first = begin(&store, vec![mark("test-a")]);
        let _ = tokio::time::timeout(std::time::Duration::from_nanos(1), first).await;
        let (script, _) = begin(&store, vec![mark("test-b")]).await.unwrap().unwrap();
        script.commit(Vec::new()).await.unwrap();
        assert_eq!(marks(&store).await, ["test-b"], "an uncommitted script's row survived");
    }

    #[test]
    fn renumbers_placeholders_outside_quotes() {
        assert_eq!(
            renumbered("SELECT $1, $12 FROM t WHERE a = '$3' AND b = \"$4\"", 5),
            "SELECT $6, $17 FROM t WHERE a = '$3' AND b = \"$4\""
        );
        assert_eq!(renumbered("SELECT $1", 0), "SELECT $1");
        assert_eq!(renumbered("SELECT '$' || $2", 1), "SELECT '$' || $3");
    }

    #[test]
    fn joins_statements_with_their_binds_in_order() {
        let a = Statement::new("INSERT INTO t VALUES ($1, $2)").bind(1i64).bind("x");
        let b = Statement::new("UPDATE t SET a = $2 WHERE b = $1").bind("y").bind(2i64);
        let (sql, binds) = joined(Some("BEGIN IMMEDIATE"), vec![a, b], Some("COMMIT"));
        assert_eq!(sql, "BEGIN IMMEDIATE;\nINSERT INTO t VALUES ($1, $2);\nUPDATE t SET a = $4 WHERE b = $3;\nCOMMIT;");
        assert_eq!(binds, vec![Bind::from(1i64), Bind::from("x"), Bind::from("y"), Bind::from(2i64)]);
    }
}
