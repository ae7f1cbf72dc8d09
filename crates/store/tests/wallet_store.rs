//! The Wallet API's repositories on SQLite (a temp file) and on PostgreSQL
//! (`KEYWARD_TEST_POSTGRES_URL`, set by scripts/with-postgres.sh; skipped only with
//! `KEYWARD_SKIP_POSTGRES=1`): idempotent inserts, entity-id allocation, paging, durability.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use std::sync::atomic::{AtomicUsize, Ordering};

use alloy::primitives::{Address, B256, Bytes, U256};
use keyward_store::Store;
use keyward_store::sponsorship::{ReservationRequest, SponsorshipRecord, SponsorshipStatus};
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
    assert_eq!(store.insert_prepared(&p, None).await.unwrap(), p);
    let mut changed = p.clone();
    changed.calls_json = "[1]".into();
    assert_eq!(store.insert_prepared(&changed, None).await.unwrap(), p, "the first prepared row is kept");
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
    // The prepare's nonce leases (its nonce key and the account's setup), held under the token its
    // prepared row keeps: held until the call is recorded.
    let lease_of = |key: u64, token: &str| keyward_store::NonceLease {
        chain_id: 31337,
        account: p.account,
        nonce_key: U256::from(key),
        token: token.into(),
        expires_at: 1_000,
    };
    let lease = |token: &str| lease_of(9, token);
    assert!(store.take_nonce_lease(&lease("prepare"), 10).await.unwrap());
    assert!(store.take_nonce_lease(&lease_of(u64::MAX, "prepare"), 10).await.unwrap());
    // Another prepare of the same account, on another key: not ended by this call.
    assert!(store.take_nonce_lease(&lease_of(8, "elsewhere"), 10).await.unwrap());
    assert_eq!(store.insert_prepared(&p, Some("prepare")).await.unwrap(), p, "a retried prepare keeps its token");
    assert!(!store.take_nonce_lease(&lease("other"), 10).await.unwrap(), "held while the op waits to be sent");
    assert_eq!(store.insert_call(&c, false).await.unwrap(), c);
    assert!(store.take_nonce_lease(&lease_of(u64::MAX, "other"), 10).await.unwrap(), "both leases ended");
    assert!(!store.take_nonce_lease(&lease_of(8, "other"), 10).await.unwrap(), "another prepare's lease stays");
    assert_eq!(store.insert_call(&c, false).await.unwrap(), c);
    assert!(store.take_nonce_lease(&lease("other"), 10).await.unwrap(), "ended with the call recorded");
    assert!(store.take_nonce_lease(&lease("other"), 11).await.unwrap(), "its holder retakes it");
    assert!(!store.take_nonce_lease(&lease("third"), 999).await.unwrap(), "live until it expires");
    assert!(store.take_nonce_lease(&lease("third"), 1_000).await.unwrap(), "an expired lease is taken over");
    assert!(!store.take_nonce_lease(&lease("other"), 10).await.unwrap(), "the holder before has lost it");
    store.drop_nonce_lease(&lease("third")).await.unwrap();
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
    // (Migration 0012 then packs it and keeps no text column.)
    let stored: i64 = sqlx::query_scalar("SELECT LENGTH(op_z) FROM user_ops WHERE hash = $1")
        .bind(fresh.hash.to_vec())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(stored > 0 && (stored as usize) < fresh.op_json.len() / 4, "packed: {stored} bytes");
    pool.close().await;
    store.close().await;
}

/// 0011's plain deflate of a JSON document (how it stored `op_z` and `receipt_z`).
fn deflated_0011(json: &str) -> Vec<u8> {
    use std::io::Write;
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(json.as_bytes()).unwrap();
    z.finish().unwrap()
}

/// Rows as a database at 0011 holds them (hex text; one operation's JSON as text, one deflated),
/// for [`migration_0012_converts_hex_rows_to_bytes`]: (the included op, the pending op, the
/// sponsorship, the call, the bundle) as the store must read them back.
async fn rows_at_0011(
    pool: &sqlx::AnyPool,
) -> (keyward_store::OpRecord, keyward_store::OpRecord, SponsorshipRecord, CallRecord, keyward_store::BundleRecord) {
    fn hex(bytes: impl AsRef<[u8]>) -> String {
        alloy::hex::encode_prefixed(bytes)
    }
    let ep = Address::repeat_byte(0xe7);
    let sender = Address::repeat_byte(0xa6);
    let bundler = Address::repeat_byte(0xbb);
    let (h1, h2, tx, block) =
        (B256::repeat_byte(0x11), B256::repeat_byte(0x12), B256::repeat_byte(0x7a), B256::repeat_byte(0xb1));
    let op_text = format!(r#"{{"sender":"{}","nonce":"0x1","callData":"0x{}"}}"#, hex(sender), "0a".repeat(40));
    let receipt = r#"{"success":true,"logs":[],"actualGasCost":"0x10"}"#;
    let included = keyward_store::OpRecord {
        hash: h1,
        chain_id: 31337,
        entry_point: ep,
        sender,
        nonce_key: U256::from(7) << 100,
        nonce_seq: u64::MAX,
        max_fee_per_gas: u128::MAX - 1,
        max_priority_fee_per_gas: 3,
        valid_until: 1_900_000_000,
        op_json: op_text.clone(),
        status: keyward_store::OpStatus::Included,
        bundle_tx: Some(tx),
        block_number: Some(9),
        block_hash: Some(block),
        receipt_json: Some(receipt.into()),
        failure: None,
        created_at: 5,
        updated_at: 6,
    };
    let pending = keyward_store::OpRecord {
        hash: h2,
        nonce_seq: 1,
        max_fee_per_gas: 1_000,
        op_json: r#"{"sender":"0xA6","n":2}"#.into(), // text as 0010 stored it
        status: keyward_store::OpStatus::Pending,
        bundle_tx: None,
        block_number: None,
        block_hash: None,
        receipt_json: None,
        ..included.clone()
    };
    let op_sql = "INSERT INTO user_ops (chain_id, entry_point, hash, sender, nonce_key, nonce_seq, max_fee_per_gas, \
                  max_priority_fee_per_gas, valid_until, op_json, op_z, status, bundle_tx, block_number, block_hash, \
                  receipt_json, receipt_z, failure, created_at, updated_at, claimed_by, claimed_until) \
                  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, NULL, 5, 6, $18, $19)";
    for (op, text_json, claimed) in [(&included, false, None), (&pending, true, Some(hex(bundler)))] {
        sqlx::query(op_sql)
            .bind(31337i64)
            .bind(hex(ep))
            .bind(hex(op.hash))
            .bind(hex(op.sender))
            .bind(format!("0x{:064x}", op.nonce_key))
            .bind(-1i64 + i64::from(op.nonce_seq == 1) * 2) // u64::MAX as two's complement, or 1
            .bind(format!("0x{:032x}", op.max_fee_per_gas))
            .bind(format!("0x{:032x}", op.max_priority_fee_per_gas))
            .bind(1_900_000_000i64)
            .bind(text_json.then(|| op.op_json.clone()))
            .bind((!text_json).then(|| deflated_0011(&op.op_json)))
            .bind(op.status.as_str())
            .bind(op.bundle_tx.map(hex))
            .bind(op.block_number.map(|n| n as i64))
            .bind(op.block_hash.map(hex))
            .bind(None::<String>)
            .bind(op.receipt_json.as_deref().map(deflated_0011))
            .bind(claimed)
            .bind(if text_json { 99i64 } else { 0 })
            .execute(pool)
            .await
            .unwrap();
    }
    let sponsorship = SponsorshipRecord {
        request: ReservationRequest {
            policy_id: "policy-a".into(),
            chain_id: 31337,
            request_key: B256::repeat_byte(0x4e),
            user_op_hash: h1,
            sender,
            max_cost: U256::from(5_000_000_000_000_000u64),
            valid_until: 1_900_000_000,
            valid_after: 0,
        },
        status: SponsorshipStatus::Reserved,
        actual_cost: None,
        reason: None,
    };
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO sponsorships (chain_id, request_key, user_op_hash, policy_id, sender, max_cost, actual_cost, \
         valid_until, valid_after, status, reason, created_at, updated_at) VALUES (31337, '{}', '{}', 'policy-a', \
         '{}', '0x{:064x}', NULL, 1900000000, 0, 'reserved', NULL, 1, 1)",
        hex(sponsorship.request.request_key),
        hex(h1),
        hex(sender),
        sponsorship.request.max_cost,
    )))
    .execute(pool)
    .await
    .unwrap();
    // The policy's totals hold the reservation, as reserve_sponsorship left them.
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO sponsorship_totals (policy_id, spent, reserved, updated_at) VALUES ('policy-a', '0x{:064x}', \
         '0x{:064x}', 1)",
        0, sponsorship.request.max_cost
    )))
    .execute(pool)
    .await
    .unwrap();
    let call = CallRecord {
        chain_id: 31337,
        hash: h1,
        account: sender,
        calls_json: r#"[{"to":"0x057ef64E23666F000b34aE31332854aCBd1c8544","data":"0x06661abd"}]"#.into(),
        session_id: Some([0x5f; 16]),
        created_at: 8,
    };
    sqlx::query(
        "INSERT INTO wallet_calls (chain_id, hash, account, calls_json, session_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(31337i64)
    .bind(hex(h1))
    .bind(hex(sender))
    .bind(&call.calls_json)
    .bind(hex([0x5fu8; 16]))
    .bind(8i64)
    .execute(pool)
    .await
    .unwrap();
    let bundle = keyward_store::BundleRecord {
        tx_hash: tx,
        chain_id: 31337,
        bundler,
        tx_nonce: 4,
        max_fee_per_gas: 77,
        max_priority_fee_per_gas: 7,
        op_hashes: vec![h1, h2],
        status: keyward_store::BundleStatus::Pending,
        sent_at: 10,
        sent_at_block: 8,
        updated_at: 11,
    };
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO bundles (tx_hash, chain_id, bundler, tx_nonce, max_fee_per_gas, max_priority_fee_per_gas, \
         op_hashes, status, sent_at, updated_at, sent_at_block) VALUES ('{}', 31337, '{}', 4, '0x{:032x}', \
         '0x{:032x}', '[\"{}\",\"{}\"]', 'pending', 10, 11, 8)",
        hex(tx),
        hex(bundler),
        77,
        7,
        hex(h1),
        hex(h2),
    )))
    .execute(pool)
    .await
    .unwrap();
    (included, pending, sponsorship, call, bundle)
}

/// Migration 0012 moves the per-call tables to bytes and the store converts their rows when it
/// opens: a database at 0011 with rows in the old form (hex text; an operation's JSON as text and
/// another's deflated) reads back the same records through every lookup, the old tables and the
/// pending-conversion row are gone, the stored columns are bytes, and the records keep working (a
/// retried call, settling the sponsorship, the bundle's status).
async fn migration_0012_converts_hex_rows_to_bytes(db: &Db) {
    let at_11 = migrations_up_to(11).await;
    let (included, pending, sponsorship, call, bundle) = {
        let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
        at_11.run(&pool).await.unwrap();
        let rows = rows_at_0011(&pool).await;
        pool.close().await;
        rows
    };
    let store = db.open().await; // applies 0012 and converts
    let (ep, chain) = (included.entry_point, 31337);
    assert_eq!(store.get_user_op(chain, ep, included.hash).await.unwrap(), Some(included.clone()));
    assert_eq!(store.get_user_op(chain, ep, pending.hash).await.unwrap(), Some(pending.clone()));
    assert_eq!(store.unfinished_user_ops_of(chain, ep, pending.sender).await.unwrap(), vec![pending.clone()]);
    assert_eq!(
        store.included_user_ops_since(chain, ep, 9).await.unwrap(),
        vec![(included.hash, 9, included.block_hash.unwrap())]
    );
    assert_eq!(store.unfinished_senders(chain, ep).await.unwrap(), vec![pending.sender]);
    assert_eq!(store.get_sponsorship(chain, included.hash).await.unwrap(), Some(sponsorship.clone()));
    assert_eq!(store.call(chain, call.hash).await.unwrap(), Some(call.clone()));
    assert_eq!(store.insert_call(&call, false).await.unwrap(), call, "a retry finds the converted call");
    assert_eq!(store.bundle_by_tx(bundle.tx_hash).await.unwrap(), Some(bundle.clone()));
    assert_eq!(store.pending_bundles(chain, bundle.bundler).await.unwrap(), vec![bundle.clone()]);
    // Nothing left of the old form.
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let pending_upgrades: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM store_upgrades").fetch_one(&pool).await.unwrap();
    assert_eq!(pending_upgrades, 0);
    for old in ["user_ops_0011", "sponsorships_0011", "wallet_calls_0011", "bundles_0011"] {
        assert!(pool.execute(AssertSqlSafe(format!("SELECT 1 FROM {old}"))).await.is_err(), "{old} is dropped");
    }
    let lengths: (i64, i64, i64) =
        sqlx::query_as("SELECT LENGTH(hash), LENGTH(sender), LENGTH(max_fee_per_gas) FROM user_ops WHERE hash = $1")
            .bind(included.hash.to_vec())
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(lengths, (32, 20, 16));
    // A hex-text key is refused by the new tables.
    let text_key = sqlx::query(
        "INSERT INTO wallet_calls (chain_id, hash, account, calls_z, created_at) VALUES (1, $1, $2, $3, 1)",
    )
    .bind(alloy::hex::encode_prefixed(call.hash))
    .bind(call.account.to_vec())
    .bind(vec![1u8])
    .execute(&pool)
    .await;
    assert!(text_key.is_err(), "hash must be 32 bytes");
    pool.close().await;
    // The converted records keep working.
    let settled = store.settle_sponsorship(chain, included.hash, U256::from(1_234u64)).await.unwrap();
    assert_eq!((settled.status, settled.actual_cost), (SponsorshipStatus::Settled, Some(U256::from(1_234u64))));
    let totals = store.policy_totals("policy-a").await.unwrap();
    assert_eq!((totals.spent, totals.reserved), (U256::from(1_234u64), U256::ZERO));
    store.close().await;
    // Reopening converts nothing more and reads the same.
    let again = db.open().await;
    assert_eq!(again.get_user_op(chain, ep, included.hash).await.unwrap(), Some(included));
    assert_eq!(again.call(chain, call.hash).await.unwrap(), Some(call));
    again.close().await;
}

/// A row of the old form that does not decode stops the conversion, and the store does not open:
/// the row stays in the old table, nothing is dropped.
async fn migration_0012_refuses_a_corrupt_row(db: &Db) {
    let at_11 = migrations_up_to(11).await;
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    at_11.run(&pool).await.unwrap();
    rows_at_0011(&pool).await;
    pool.execute("UPDATE wallet_calls SET account = '0xnot-an-address'").await.unwrap();
    pool.close().await;
    let err = Store::open(&db.url).await.unwrap_err().to_string();
    assert!(err.contains("0012_binary_columns") && err.contains("account"), "{err}");
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM wallet_calls_0011").fetch_one(&pool).await.unwrap();
    assert_eq!(left, 1, "the row is kept");
    // Repaired, the next opening finishes.
    pool.execute(AssertSqlSafe(format!(
        "UPDATE wallet_calls_0011 SET account = '{}'",
        alloy::hex::encode_prefixed(Address::repeat_byte(0xa6))
    )))
    .await
    .unwrap();
    pool.close().await;
    let store = db.open().await;
    assert_eq!(store.wallet_counts().await.unwrap().calls, 1);
    store.close().await;
}

/// The conversion runs in batches (500 rows of each table per transaction): a database at 0011
/// with more calls than two batches converts every one of them once, also when `openers` stores
/// open it at the same time (on PostgreSQL: the batches serialise on an advisory lock; SQLite is
/// one process's file, opened once).
async fn migration_0012_converts_in_batches(db: &Db, openers: usize) {
    const CALLS: u64 = 1_201;
    let at_11 = migrations_up_to(11).await;
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    at_11.run(&pool).await.unwrap();
    let hash_of = |i: u64| B256::left_padding_from(&i.to_be_bytes());
    let mut tx = pool.begin().await.unwrap();
    for i in 0..CALLS {
        sqlx::query(
            "INSERT INTO wallet_calls (chain_id, hash, account, calls_json, session_id, created_at) \
             VALUES (31337, $1, $2, $3, NULL, $4)",
        )
        .bind(alloy::hex::encode_prefixed(hash_of(i)))
        .bind(alloy::hex::encode_prefixed(Address::repeat_byte(0xa7)))
        .bind(format!(r#"[{{"to":"0x{:040x}","data":"0x"}}]"#, i))
        .bind(i as i64)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    pool.close().await;
    let opens: Vec<_> = (0..openers)
        .map(|_| {
            let url = db.url.clone();
            tokio::spawn(async move { Store::open(&url).await })
        })
        .collect();
    let mut stores = Vec::new();
    for open in opens {
        stores.push(open.await.unwrap().unwrap());
    }
    for store in &stores {
        assert_eq!(store.wallet_counts().await.unwrap().calls, CALLS);
    }
    for i in [0, 499, 500, 1_000, CALLS - 1] {
        let call = stores[0].call(31337, hash_of(i)).await.unwrap().unwrap();
        assert_eq!((call.calls_json, call.created_at), (format!(r#"[{{"to":"0x{:040x}","data":"0x"}}]"#, i), i));
    }
    for store in stores {
        store.close().await;
    }
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
            #[tokio::test]
            async fn migration_0012_converts_hex_rows_to_bytes() {
                super::migration_0012_converts_hex_rows_to_bytes(&super::Db::sqlite().await).await;
            }
            #[tokio::test]
            async fn migration_0012_refuses_a_corrupt_row() {
                super::migration_0012_refuses_a_corrupt_row(&super::Db::sqlite().await).await;
            }
            #[tokio::test]
            async fn migration_0012_converts_in_batches() {
                super::migration_0012_converts_in_batches(&super::Db::sqlite().await, 1).await;
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
            #[tokio::test]
            async fn migration_0012_converts_hex_rows_to_bytes() {
                let Some(db) = super::Db::postgres().await else { return };
                super::migration_0012_converts_hex_rows_to_bytes(&db).await;
                db.cleanup().await;
            }
            #[tokio::test]
            async fn migration_0012_refuses_a_corrupt_row() {
                let Some(db) = super::Db::postgres().await else { return };
                super::migration_0012_refuses_a_corrupt_row(&db).await;
                db.cleanup().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn migration_0012_converts_in_batches() {
                let Some(db) = super::Db::postgres().await else { return };
                super::migration_0012_converts_in_batches(&db, 3).await;
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
