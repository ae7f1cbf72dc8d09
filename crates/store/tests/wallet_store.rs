//! The Wallet API's repositories on SQLite (a temp file) and on PostgreSQL
//! (`KEYWARD_TEST_POSTGRES_URL`, set by scripts/with-postgres.sh; skipped only with
//! `KEYWARD_SKIP_POSTGRES=1`): idempotent inserts, entity-id allocation, paging, durability.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use std::sync::atomic::{AtomicUsize, Ordering};

use alloy::primitives::{Address, B256, Bytes, U256};
use keyward_store::Store;
use keyward_store::wallet::{
    AccountKind, AccountRecord, CallRecord, PreparedRecord, SessionInsert, SessionKeyRecord, SessionRecord,
};
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
        key: SessionKeyRecord::Secp256k1(Address::repeat_byte(0x55)),
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
    // The first installing call recorded is the session's first op; a later one changes nothing,
    // and a call that does not install it sets nothing.
    let call = |hash: u8| CallRecord {
        chain_id: 31337,
        hash: B256::repeat_byte(hash),
        account: acct,
        calls_json: "[]".into(),
        session_id: Some([1; 16]),
        created_at: 7,
    };
    store.insert_call(&call(6), false).await.unwrap();
    assert_eq!(store.session(&[1; 16]).await.unwrap().unwrap().first_op, None);
    store.insert_call(&call(7), true).await.unwrap();
    store.insert_call(&call(8), true).await.unwrap();
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
        chain_id: 31337,
        hash: p.hash,
        account: p.account,
        calls_json: "[]".into(),
        session_id: Some([0x5e; 16]),
        created_at: 6,
    };
    // The prepare's nonce lease, bound to the operation: held until the call is recorded.
    let lease = |token: &str| keyward_store::NonceLease {
        chain_id: 31337,
        account: p.account,
        nonce_key: U256::from(9),
        token: token.into(),
        expires_at: 1_000,
    };
    assert!(store.take_nonce_lease(&lease("prepare"), 10).await.unwrap());
    store.bind_nonce_lease(&lease("prepare"), p.hash).await.unwrap();
    assert!(!store.take_nonce_lease(&lease("other"), 10).await.unwrap(), "held while the op waits to be sent");
    assert_eq!(store.insert_call(&c, false).await.unwrap(), c);
    assert_eq!(store.insert_call(&c, false).await.unwrap(), c);
    assert!(store.take_nonce_lease(&lease("other"), 10).await.unwrap(), "ended with the call recorded");
    assert_eq!(store.call(31337, c.hash).await.unwrap(), Some(c.clone()));
    assert_eq!(store.call(1, c.hash).await.unwrap(), None, "keyed by chain and hash");
    // The call replaces its prepared row (which only served the send).
    assert_eq!(store.prepared(31337, p.hash).await.unwrap(), None);
    let counts = store.wallet_counts().await.unwrap();
    assert_eq!((counts.prepared, counts.calls), (0, 1));
}

async fn p256_sessions_keep_their_public_key(store: &Store) {
    let acct = Address::repeat_byte(0xa3);
    let mut xy = [0u8; 64];
    for (i, b) in xy.iter_mut().enumerate() {
        *b = i as u8 + 1;
    }
    let s = SessionRecord { key: SessionKeyRecord::P256(xy), ..session(3, acct, 1, 0x03) };
    assert_eq!(store.insert_session(&s).await.unwrap(), SessionInsert::Inserted);
    assert_eq!(store.session(&[3; 16]).await.unwrap(), Some(s.clone()));
    assert_eq!(store.sessions_of(acct, 31337).await.unwrap(), vec![s]);
}

/// The store's migrations up to `version` (a database as an older release left it).
async fn migrations_up_to(version: i64) -> sqlx::migrate::Migrator {
    sqlx::any::install_default_drivers();
    let all = sqlx::migrate::Migrator::new(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations")))
        .await
        .unwrap();
    let mut up_to = sqlx::migrate::Migrator::DEFAULT;
    up_to.migrations = all.migrations.iter().filter(|m| m.version <= version).cloned().collect::<Vec<_>>().into();
    assert_eq!(up_to.migrations.len(), usize::try_from(version).unwrap());
    up_to
}

/// Migration 0009 rebuilds `wallet_sessions` (its CHECK admits `p256`): a database at 0008 with a
/// secp256k1 session keeps it, the new CHECKs refuse malformed rows, the unique indexes are back.
async fn migration_0009_keeps_sessions_and_admits_p256(db: &Db) {
    let at_8 = migrations_up_to(8).await;
    let acct = Address::repeat_byte(0xa4);
    let old = session(4, acct, 1, 0x04);
    let insert = |id: &str, key_type: &str, key: &str, entity: i64, request: &str| {
        format!(
            "INSERT INTO wallet_sessions (id, chain_id, account, key_type, session_key, permissions_json, entity_id, \
             is_global, has_execution_hooks, expiry, deferred_nonce, install_call, digest, request_hash, first_op, \
             created_at) VALUES ('{id}', 31337, '{account}', '{key_type}', '{key}', '[{{\"type\":\"root\"}}]', \
             {entity}, 1, 0, 0, '0x{nonce:064x}', '0x1bbf564c', '0x{digest}', '0x{request}', NULL, 1)",
            account = alloy::hex::encode_prefixed(acct),
            nonce = U256::from(entity) << 72,
            digest = "04".repeat(32),
        )
    };
    {
        let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
        at_8.run(&pool).await.unwrap();
        let row = insert(
            &alloy::hex::encode_prefixed([4u8; 16]),
            "secp256k1",
            &alloy::hex::encode_prefixed(Address::repeat_byte(0x55)),
            1,
            &"04".repeat(32),
        );
        pool.execute(AssertSqlSafe(row)).await.unwrap();
        // 0008 refuses p256.
        let p256 = insert("0x05", "p256", &format!("0x{}", "11".repeat(64)), 2, &"05".repeat(32));
        assert!(pool.execute(AssertSqlSafe(p256)).await.is_err());
        pool.close().await;
    }
    let store = db.open().await; // applies 0009
    assert_eq!(store.session(&[4; 16]).await.unwrap(), Some(old.clone()));
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let good =
        insert(&alloy::hex::encode_prefixed([5u8; 16]), "p256", &format!("0x{}", "11".repeat(64)), 2, &"05".repeat(32));
    pool.execute(AssertSqlSafe(good)).await.unwrap();
    assert_eq!(store.session(&[5; 16]).await.unwrap().unwrap().key, SessionKeyRecord::P256([0x11; 64]));
    for (id, key_type, key, entity) in [
        (6u8, "p256", alloy::hex::encode_prefixed(Address::repeat_byte(0x55)), 3i64), // an address as p256
        (7, "secp256k1", format!("0x{}", "11".repeat(64)), 4),                        // x ‖ y as secp256k1
        (8, "ed25519", alloy::hex::encode_prefixed(Address::repeat_byte(0x55)), 5),   // unknown type
        (9, "secp256k1", alloy::hex::encode_prefixed(Address::repeat_byte(0x55)), 1), // entity 1 taken
    ] {
        let row =
            insert(&alloy::hex::encode_prefixed([id; 16]), key_type, &key, entity, &format!("{id:02x}").repeat(32));
        assert!(pool.execute(AssertSqlSafe(row)).await.is_err(), "row {id} must be refused");
    }
    // The request index is unique again.
    let same_request = insert(
        &alloy::hex::encode_prefixed([10u8; 16]),
        "secp256k1",
        &alloy::hex::encode_prefixed(Address::repeat_byte(0x55)),
        9,
        &"04".repeat(32),
    );
    assert!(pool.execute(AssertSqlSafe(same_request)).await.is_err());
    assert_eq!(store.wallet_counts().await.unwrap().sessions, 2);
    pool.close().await;
    store.close().await;
    // Reopening runs nothing more.
    assert_eq!(db.open().await.session(&[4; 16]).await.unwrap(), Some(old));
}

/// Migration 0011 rebuilds `user_ops` (operations and receipts deflated, indexes of unfinished rows
/// only) and `wallet_calls` (keyed by chain_id and hash): a database at 0010 keeps its calls (read
/// by chain and hash) and its operations (their JSON text read as before), a second call with the
/// same key is refused, and a new operation is stored deflated.
async fn migration_0011_keeps_calls_keyed_by_chain_and_hash(db: &Db) {
    let at_10 = migrations_up_to(10).await;
    let hash = B256::repeat_byte(0x0b);
    let account = Address::repeat_byte(0xa5);
    let insert_call = |id: &str, chain: u64| {
        format!(
            "INSERT INTO wallet_calls (id, chain_id, hash, account, calls_json, session_id, created_at) VALUES \
             ('{id}', {chain}, '{hash}', '{account}', '[]', '0x{session}', 9)",
            hash = alloy::hex::encode_prefixed(hash),
            account = alloy::hex::encode_prefixed(account),
            session = "5e".repeat(16),
        )
    };
    {
        let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
        at_10.run(&pool).await.unwrap();
        let id = format!("0x{:064x}{}", 31337, alloy::hex::encode(hash));
        pool.execute(AssertSqlSafe(insert_call(&id, 31337))).await.unwrap();
        // An included operation as 0010 stored it: its JSON as text.
        let op = format!(
            "INSERT INTO user_ops (chain_id, entry_point, hash, sender, nonce_key, nonce_seq, max_fee_per_gas, \
             max_priority_fee_per_gas, valid_until, op_json, status, bundle_tx, block_number, block_hash, \
             receipt_json, created_at, updated_at) VALUES (31337, '{ep}', '{hash}', '{account}', '0x{zero}', 0, \
             '0x{fee}', '0x{fee}', 0, '{{\"n\":1}}', 'included', '{hash}', 5, '{hash}', '{{\"ok\":true}}', 1, 1)",
            ep = alloy::hex::encode_prefixed(Address::repeat_byte(0xe7)),
            hash = alloy::hex::encode_prefixed(hash),
            account = alloy::hex::encode_prefixed(account),
            zero = "0".repeat(64),
            fee = "0".repeat(32),
        );
        pool.execute(AssertSqlSafe(op)).await.unwrap();
        pool.close().await;
    }
    let store = db.open().await; // applies 0011
    let old_op = store.get_user_op(31337, Address::repeat_byte(0xe7), hash).await.unwrap().unwrap();
    assert_eq!((old_op.op_json.as_str(), old_op.receipt_json.as_deref()), (r#"{"n":1}"#, Some(r#"{"ok":true}"#)));
    assert_eq!(old_op.block_number, Some(5));
    let want = CallRecord {
        chain_id: 31337,
        hash,
        account,
        calls_json: "[]".into(),
        session_id: Some([0x5e; 16]),
        created_at: 9,
    };
    assert_eq!(store.call(31337, hash).await.unwrap(), Some(want.clone()));
    assert_eq!(store.call(1, hash).await.unwrap(), None);
    assert_eq!(store.insert_call(&want, false).await.unwrap(), want, "a retry finds the migrated call");
    assert_eq!(store.wallet_counts().await.unwrap().calls, 1);
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let duplicate = "INSERT INTO wallet_calls (chain_id, hash, account, calls_json, created_at) \
                     SELECT chain_id, hash, account, calls_json, created_at FROM wallet_calls";
    assert!(pool.execute(duplicate).await.is_err(), "(chain_id, hash) is the key");
    // An operation written now keeps its JSON deflated only, and reads back the same.
    let mut fresh = old_op.clone();
    fresh.hash = B256::repeat_byte(0x0c);
    fresh.op_json = format!(r#"{{"callData":"0x{}"}}"#, "00".repeat(300));
    store.insert_user_op(&fresh, 4).await.unwrap();
    let got = store.get_user_op(31337, fresh.entry_point, fresh.hash).await.unwrap().unwrap();
    assert_eq!(got.op_json, fresh.op_json);
    let stored: (i64, i64) = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT CASE WHEN op_json IS NULL THEN 1 ELSE 0 END, LENGTH(op_z) FROM user_ops WHERE hash = '{}'",
        alloy::hex::encode_prefixed(fresh.hash)
    )))
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(stored.0, 1, "no text copy");
    assert!(stored.1 > 0 && (stored.1 as usize) < fresh.op_json.len() / 4, "deflated: {} bytes", stored.1);
    pool.close().await;
    store.close().await;
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
            #[tokio::test]
            async fn migration_0009_keeps_sessions_and_admits_p256() {
                super::migration_0009_keeps_sessions_and_admits_p256(&super::Db::sqlite().await).await;
            }
            #[tokio::test]
            async fn migration_0011_keeps_calls_keyed_by_chain_and_hash() {
                super::migration_0011_keeps_calls_keyed_by_chain_and_hash(&super::Db::sqlite().await).await;
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
            #[tokio::test]
            async fn migration_0009_keeps_sessions_and_admits_p256() {
                let Some(db) = super::Db::postgres().await else { return };
                super::migration_0009_keeps_sessions_and_admits_p256(&db).await;
                db.cleanup().await;
            }
            #[tokio::test]
            async fn migration_0011_keeps_calls_keyed_by_chain_and_hash() {
                let Some(db) = super::Db::postgres().await else { return };
                super::migration_0011_keeps_calls_keyed_by_chain_and_hash(&db).await;
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
    p256_sessions_keep_their_public_key,
);
