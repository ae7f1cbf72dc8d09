//! Test databases: a fresh SQLite file per test, or a fresh PostgreSQL database per test inside the
//! cluster named by `KEYWARD_TEST_POSTGRES_URL` (see scripts/with-postgres.sh).

use std::io::Write;
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

use keyward_store::Store;
use sqlx::{AssertSqlSafe, Connection, Executor};

/// Env var naming the PostgreSQL server the suite runs against.
pub(crate) const PG_URL_VAR: &str = "KEYWARD_TEST_POSTGRES_URL";
/// Env var that, set to 1, skips the PostgreSQL half explicitly.
pub(crate) const PG_SKIP_VAR: &str = "KEYWARD_SKIP_POSTGRES";

/// One database for one test.
pub(crate) struct TestDb {
    /// URL to open it with.
    pub url: String,
    /// Postgres: (admin URL, database name) to drop it afterwards.
    pg: Option<(String, String)>,
    /// SQLite: the directory holding keyward.db.
    dir: Option<tempfile::TempDir>,
}

/// Prints one line per test binary, past libtest's output capture.
fn say_once(once: &'static Once, line: String) {
    once.call_once(|| {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{line}");
    });
}

impl TestDb {
    /// A fresh SQLite file in a temp dir.
    pub(crate) async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}/keyward.db?mode=rwc", dir.path().display());
        TestDb { url, pg: None, dir: Some(dir) }
    }

    /// A fresh database in the PostgreSQL cluster; None only if skipped explicitly.
    pub(crate) async fn postgres() -> Option<TestDb> {
        static SAID: Once = Once::new();
        let Ok(admin) = std::env::var(PG_URL_VAR) else {
            if std::env::var(PG_SKIP_VAR).as_deref() == Ok("1") {
                say_once(&SAID, format!("keyward-store: PostgreSQL tests SKIPPED ({PG_SKIP_VAR}=1)"));
                return None;
            }
            panic!(
                "{PG_URL_VAR} is not set: run the suite under `bash scripts/with-postgres.sh cargo test -p \
                 keyward-store` (or set {PG_SKIP_VAR}=1 to skip the PostgreSQL half explicitly)"
            );
        };
        say_once(&SAID, format!("keyward-store: PostgreSQL tests against {admin}"));
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let name = format!("kw_test_{}_{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed));
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&admin).await.expect("connect to the PostgreSQL test server");
        conn.execute(AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.expect("create test database");
        conn.close().await.expect("close admin connection");
        let (base, _) = admin.rsplit_once('/').expect("postgres URL with a database name");
        Some(TestDb { url: format!("{base}/{name}"), pg: Some((admin, name)), dir: None })
    }

    /// Opens the store (SQLite through `open_sqlite_file`, Postgres through `open`).
    pub(crate) async fn open(&self) -> Store {
        match &self.dir {
            Some(dir) => Store::open_sqlite_file(dir.path()).await.expect("open sqlite store"),
            None => Store::open(&self.url).await.expect("open postgres store"),
        }
    }

    /// Drops the Postgres database (SQLite temp dirs go with `Drop`).
    pub(crate) async fn cleanup(self) {
        if let Some((admin, name)) = &self.pg {
            let mut conn = sqlx::AnyConnection::connect(admin).await.expect("connect for cleanup");
            conn.execute(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                .await
                .expect("drop test database");
            let _ = conn.close().await;
        }
    }
}
