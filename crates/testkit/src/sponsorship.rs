//! Sponsorship test fixtures shared by the paymaster's and the server's suites: a fresh database
//! per test (a SQLite file, or a database in the PostgreSQL cluster named by
//! `KEYWARD_TEST_POSTGRES_URL`, see scripts/with-postgres.sh), an embedded chain with the account
//! stack and a deployed VerifyingPaymaster, and a Sponsor over them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::mav2::{ETH, Mav2};
use alloy::primitives::{Address, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolValue;
use keyward_contracts::artifacts;
use keyward_contracts::bindings::VerifyingPaymaster;
use keyward_paymaster::{Policy, Sponsor, SponsorConfig};
use keyward_store::Store;
use sqlx::{AssertSqlSafe, Connection, Executor};

/// Env var naming the PostgreSQL server.
pub const PG_URL_VAR: &str = "KEYWARD_TEST_POSTGRES_URL";
/// Env var that, set to 1, skips the PostgreSQL half explicitly.
pub const PG_SKIP_VAR: &str = "KEYWARD_SKIP_POSTGRES";

/// Which database a test runs on.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    /// A SQLite file in a temp dir.
    Sqlite,
    /// A fresh database in the PostgreSQL test cluster.
    Postgres,
}

/// One database for one test; dropped (PostgreSQL) by [`TestDb::cleanup`].
pub struct TestDb {
    /// The open store.
    pub store: Store,
    pg: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// Opens a fresh database; `None` when PostgreSQL is skipped explicitly.
    pub async fn open(backend: Backend) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                let store = Store::open_sqlite_file(dir.path()).await.expect("open sqlite");
                Some(TestDb { store, pg: None, _dir: Some(dir) })
            }
            Backend::Postgres => {
                let Ok(admin) = std::env::var(PG_URL_VAR) else {
                    if std::env::var(PG_SKIP_VAR).as_deref() == Ok("1") {
                        eprintln!("PostgreSQL half SKIPPED ({PG_SKIP_VAR}=1)");
                        return None;
                    }
                    panic!(
                        "{PG_URL_VAR} is not set: run the tests under `bash scripts/with-postgres.sh cargo \
                         test …` (or set {PG_SKIP_VAR}=1 to skip the PostgreSQL half explicitly)"
                    );
                };
                static SEQ: AtomicUsize = AtomicUsize::new(0);
                let name = format!("kw_test_{}_{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed));
                sqlx::any::install_default_drivers();
                let mut conn = sqlx::AnyConnection::connect(&admin).await.expect("connect to PostgreSQL");
                conn.execute(AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.expect("create database");
                conn.close().await.expect("close");
                let (base, _) = admin.rsplit_once('/').expect("postgres URL with a database name");
                let store = Store::open(&format!("{base}/{name}")).await.expect("open postgres");
                Some(TestDb { store, pg: Some((admin, name)), _dir: None })
            }
        }
    }

    /// Closes the store and drops the PostgreSQL database.
    pub async fn cleanup(self) {
        self.store.close().await;
        if let Some((admin, name)) = &self.pg {
            let mut conn = sqlx::AnyConnection::connect(admin).await.expect("connect for cleanup");
            conn.execute(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).await.expect("drop");
            let _ = conn.close().await;
        }
    }
}

/// An embedded chain with the account stack, a VerifyingPaymaster (10 ETH deposit) and its signer.
pub struct Env {
    /// Chain, factory, modules.
    pub m: Mav2,
    /// The paymaster contract.
    pub paymaster: Address,
    /// Its signer.
    pub signer: PrivateKeySigner,
}

impl Env {
    /// Deploys everything on a fresh embedded chain.
    pub async fn new() -> Env {
        let m = Mav2::embedded().await;
        let signer = PrivateKeySigner::random();
        let owner = m.h.keys[1].address();
        let paymaster =
            m.h.deploy(artifacts::verifying_paymaster(), &(m.h.ep, owner, signer.address()).abi_encode_params()).await;
        let r = m.h.transact(paymaster, VerifyingPaymaster::depositCall {}, U256::from(10 * ETH)).await;
        assert!(r.status());
        Env { m, paymaster, signer }
    }

    /// The chain watcher that settles `sponsor`'s ledger from the chain (one per test: it holds
    /// the watching role).
    pub fn watcher(&self, store: Store, sponsor: &Arc<Sponsor>) -> keyward_bundler::watch::ChainWatcher {
        use keyward_bundler::watch::{ChainWatcher, EventSink, WatchConfig, WatchSource};
        let source = WatchSource {
            chain: self.m.h.chain.clone(),
            chain_id: self.m.chain_id,
            entry_point: self.m.h.ep,
            store,
            replica: Arc::new(keyward_bundler::lease::Replica::new()),
        };
        ChainWatcher::new(source, WatchConfig::default(), vec![sponsor.clone() as Arc<dyn EventSink>])
    }

    /// A sponsor for this chain's paymaster over `store`, with `policies` from "the config file".
    pub fn sponsor(&self, store: Store, policies: Vec<Policy>) -> Arc<Sponsor> {
        let config = SponsorConfig::new(self.paymaster, self.m.h.ep, self.m.chain_id);
        Arc::new(Sponsor::new(self.signer.clone(), config, policies, store, self.m.h.chain.clone()))
    }
}

/// Generates `sqlite::<name>` and `postgres::<name>` tests for each async fn taking a [`Backend`].
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::sponsorship::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::sponsorship::Backend::Postgres).await;
                }
            )*
        }
    };
}
