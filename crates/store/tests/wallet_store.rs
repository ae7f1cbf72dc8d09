//! The Wallet API's repositories on SQLite (a temp file) and on PostgreSQL
//! (`KEYWARD_TEST_POSTGRES_URL`, set by scripts/with-postgres.sh; skipped only with
//! `KEYWARD_SKIP_POSTGRES=1`): idempotent inserts, entity-id allocation, paging, durability.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use std::sync::atomic::{AtomicUsize, Ordering};

use alloy::primitives::{Address, B256, Bytes, U256};
use keyward_store::Store;
use keyward_store::wallet::{AccountKind, AccountRecord, CallRecord, PreparedRecord, SessionInsert, SessionRecord};
use sqlx::{AssertSqlSafe, Connection, Executor};

/// A database for one test; the PostgreSQL one is dropped at the end.
struct Db {
    url: String,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl Db {
    async fn sqlite() -> Db {
        let dir = tempfile::tempdir().unwrap();
        Db { url: format!("sqlite://{}/keyward.db?mode=rwc", dir.path().display()), _dir: Some(dir), pg: None }
    }

    async fn postgres() -> Option<Db> {
        let Ok(admin) = std::env::var("KEYWARD_TEST_POSTGRES_URL") else {
            assert_eq!(
                std::env::var("KEYWARD_SKIP_POSTGRES").as_deref(),
                Ok("1"),
                "KEYWARD_TEST_POSTGRES_URL is not set: run under scripts/with-postgres.sh (or KEYWARD_SKIP_POSTGRES=1)"
            );
            return None;
        };
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let name = format!("kw_wallet_{}_{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed));
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&admin).await.unwrap();
        conn.execute(AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.unwrap();
        conn.close().await.unwrap();
        let (base, _) = admin.rsplit_once('/').unwrap();
        Some(Db { url: format!("{base}/{name}"), _dir: None, pg: Some((admin, name)) })
    }

    async fn open(&self) -> Store {
        Store::open(&self.url).await.unwrap()
    }

    async fn cleanup(self) {
        if let Some((admin, name)) = &self.pg {
            let mut conn = sqlx::AnyConnection::connect(admin).await.unwrap();
            conn.execute(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).await.unwrap();
        }
    }
}

fn account(id: &str, signer: u8, address: u8, salt: u64, created_at: u64) -> AccountRecord {
    AccountRecord {
        id: id.into(),
        signer: Address::repeat_byte(signer),
        address: Address::repeat_byte(address),
        salt: U256::from(salt),
        kind: AccountKind::SmaB,
        created_at,
    }
}

fn session(id: u8, account: Address, entity_id: u32, request: u8) -> SessionRecord {
    SessionRecord {
        id: [id; 16],
        chain_id: 31337,
        account,
        key_type: "secp256k1".into(),
        session_key: Address::repeat_byte(0x55),
        permissions_json: r#"[{"type":"root"}]"#.into(),
        entity_id,
        is_global: true,
        has_execution_hooks: false,
        expiry: 0,
        deferred_nonce: U256::from(entity_id) << 72,
        install_call: Bytes::from(vec![0x1b, 0xbf, 0x56, 0x4c]),
        digest: B256::repeat_byte(id),
        request_hash: B256::repeat_byte(request),
        first_op: None,
        created_at: 1,
    }
}

async fn accounts_are_idempotent_and_paged(store: &Store) {
    let a = account("11111111-1111-4111-8111-111111111111", 1, 0xa1, 0, 10);
    assert_eq!(store.insert_account(&a).await.unwrap(), a);
    // Same id again, or another id for the same address: the first row comes back.
    assert_eq!(store.insert_account(&a).await.unwrap(), a);
    let same_address = account("22222222-2222-4222-8222-222222222222", 1, 0xa1, 0, 11);
    assert_eq!(store.insert_account(&same_address).await.unwrap(), a);
    assert_eq!(store.wallet_counts().await.unwrap().accounts, 1);
    for (i, id) in ["33333333-3333-4333-8333-333333333333", "44444444-4444-4444-8444-444444444444"].iter().enumerate() {
        store.insert_account(&account(id, 1, 0xb0 + i as u8, i as u64 + 1, 20)).await.unwrap();
    }
    assert_eq!(store.count_accounts_of_signer(Address::repeat_byte(1)).await.unwrap(), 3);
    let first = store.accounts_of_signer(Address::repeat_byte(1), None, 2).await.unwrap();
    assert_eq!(
        first.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [a.id.as_str(), "33333333-3333-4333-8333-333333333333"]
    );
    let last = first.last().unwrap();
    let rest = store.accounts_of_signer(Address::repeat_byte(1), Some((last.created_at, &last.id)), 2).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].id, "44444444-4444-4444-8444-444444444444");
    assert_eq!(store.account_by_address(Address::repeat_byte(0xa1)).await.unwrap(), Some(a.clone()));
    assert_eq!(store.account_by_id(&a.id).await.unwrap(), Some(a));
    assert_eq!(store.account_by_id("nope").await.unwrap(), None);
}

async fn sessions_allocate_entities_once(store: &Store) {
    let acct = Address::repeat_byte(0xa1);
    assert_eq!(store.next_entity_id(acct).await.unwrap(), 1);
    let s1 = session(1, acct, 1, 0x01);
    assert_eq!(store.insert_session(&s1).await.unwrap(), SessionInsert::Inserted);
    // A retry of the same request returns the stored session, whatever entity id it guessed.
    assert_eq!(
        store.insert_session(&session(9, acct, 2, 0x01)).await.unwrap(),
        SessionInsert::Existing(Box::new(s1.clone()))
    );
    // Another request that raced for entity 1 must take the next id.
    assert_eq!(store.insert_session(&session(2, acct, 1, 0x02)).await.unwrap(), SessionInsert::EntityTaken);
    assert_eq!(store.next_entity_id(acct).await.unwrap(), 2);
    assert_eq!(store.insert_session(&session(2, acct, 2, 0x02)).await.unwrap(), SessionInsert::Inserted);
    assert_eq!(store.wallet_counts().await.unwrap().sessions, 2);
    assert_eq!(store.session(&[1; 16]).await.unwrap(), Some(s1.clone()));
    assert_eq!(store.session_by_entity(acct, 2).await.unwrap().map(|s| s.id), Some([2; 16]));
    store.set_session_first_op(&[1; 16], B256::repeat_byte(7)).await.unwrap();
    store.set_session_first_op(&[1; 16], B256::repeat_byte(8)).await.unwrap();
    assert_eq!(store.session(&[1; 16]).await.unwrap().unwrap().first_op, Some(B256::repeat_byte(7)));
    // Other accounts start at 1.
    assert_eq!(store.next_entity_id(Address::repeat_byte(0xa2)).await.unwrap(), 1);
}

async fn concurrent_session_creates_get_distinct_entities(store: &Store) {
    let acct = Address::repeat_byte(0xc1);
    let mut tasks = Vec::new();
    for i in 0..8u8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let e = store.next_entity_id(acct).await.unwrap();
                match store.insert_session(&session(0x40 + i, acct, e, 0x40 + i)).await.unwrap() {
                    SessionInsert::Inserted => return e,
                    SessionInsert::EntityTaken => continue,
                    SessionInsert::Existing(_) => panic!("distinct requests"),
                }
            }
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    ids.sort();
    assert_eq!(ids, (1..=8).collect::<Vec<u32>>());
}

async fn prepared_and_calls_are_idempotent(store: &Store) {
    let p = PreparedRecord {
        chain_id: 31337,
        hash: B256::repeat_byte(3),
        account: Address::repeat_byte(0xa1),
        op_json: "{}".into(),
        session_id: Some([1; 16]),
        signer: Address::repeat_byte(1),
        authorization_json: Some(r#"{"address":"0x00","nonce":"0x0"}"#.into()),
        deferred: true,
        owner_signature: Some(Bytes::from(vec![0x1b; 65])),
        calls_json: "[]".into(),
        created_at: 5,
    };
    assert_eq!(store.insert_prepared(&p).await.unwrap(), p);
    let mut changed = p.clone();
    changed.calls_json = "[1]".into();
    assert_eq!(store.insert_prepared(&changed).await.unwrap(), p, "the first prepared row is kept");
    assert_eq!(store.prepared(31337, p.hash).await.unwrap(), Some(p.clone()));
    assert_eq!(store.prepared(1, p.hash).await.unwrap(), None);
    let c = CallRecord {
        id: format!("0x{:064x}{}", 31337, "03".repeat(32)),
        chain_id: 31337,
        hash: p.hash,
        account: p.account,
        calls_json: "[]".into(),
        session_id: Some([0x5e; 16]),
        created_at: 6,
    };
    assert_eq!(store.insert_call(&c).await.unwrap(), c);
    assert_eq!(store.insert_call(&c).await.unwrap(), c);
    assert_eq!(store.call(&c.id).await.unwrap(), Some(c));
    // The call replaces its prepared row (which only served the send).
    assert_eq!(store.prepared(31337, p.hash).await.unwrap(), None);
    let counts = store.wallet_counts().await.unwrap();
    assert_eq!((counts.prepared, counts.calls), (0, 1));
}

async fn durable_across_reopen(db: &Db) {
    let store = db.open().await;
    let a = account("55555555-5555-4555-8555-555555555555", 5, 0xd5, 0, 1);
    store.insert_account(&a).await.unwrap();
    store.close().await;
    let again = db.open().await;
    assert_eq!(again.account_by_id(&a.id).await.unwrap(), Some(a));
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = super::Db::sqlite().await;
                    super::$name(&db.open().await).await;
                }
            )*
            #[tokio::test]
            async fn durable_across_reopen() {
                super::durable_across_reopen(&super::Db::sqlite().await).await;
            }
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = super::Db::postgres().await else { return };
                    super::$name(&db.open().await).await;
                    db.cleanup().await;
                }
            )*
            #[tokio::test]
            async fn durable_across_reopen() {
                let Some(db) = super::Db::postgres().await else { return };
                super::durable_across_reopen(&db).await;
                db.cleanup().await;
            }
        }
    };
}

on_both_backends!(
    accounts_are_idempotent_and_paged,
    sessions_allocate_entities_once,
    concurrent_session_creates_get_distinct_entities,
    prepared_and_calls_are_idempotent,
);
