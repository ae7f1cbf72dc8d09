//! SQLite specifics: durability pragmas, file layout, in-memory URLs, bad URLs.

use keyward_store::{Backend, InsertOutcome, SQLITE_FILE_NAME, Store, StoreError};

use crate::ops::{CHAIN, ep, op, sender};

#[tokio::test]
async fn file_store_uses_wal_and_full_sync() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a dir/with #odd?chars");
    let store = Store::open_sqlite_file(&nested).await.unwrap();
    assert_eq!(store.backend(), Backend::Sqlite);
    assert!(nested.join(SQLITE_FILE_NAME).is_file());
    // Every pooled connection carries the pragmas: check several at once.
    let mut conns = Vec::new();
    for _ in 0..3 {
        let mut c = store.pool().acquire().await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut *c).await.unwrap();
        let sync: i64 = sqlx::query_scalar("PRAGMA synchronous").fetch_one(&mut *c).await.unwrap();
        let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout").fetch_one(&mut *c).await.unwrap();
        assert_eq!(
            (mode.as_str(), sync, busy),
            ("wal", 2, 10_000),
            "journal_mode, synchronous (2 = FULL), busy_timeout"
        );
        conns.push(c);
    }
    drop(conns);
    assert_eq!(store.insert_user_op(&op(sender(1), 0, 1, 1, 1), 4).await.unwrap(), InsertOutcome::Inserted);
}

#[tokio::test]
async fn memory_store_works_and_keeps_its_data() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    let rec = op(sender(1), 0, 1, 1, 1);
    store.insert_user_op(&rec, 4).await.unwrap();
    // Sequential calls on the single connection see the same database.
    for _ in 0..5 {
        assert!(store.get_user_op(CHAIN, ep(), rec.hash).await.unwrap().is_some());
    }
    // Another memory store is a separate database.
    let other = Store::open("sqlite::memory:").await.unwrap();
    assert!(other.get_user_op(CHAIN, ep(), rec.hash).await.unwrap().is_none());
}

#[tokio::test]
async fn url_with_path_opens_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let rec = op(sender(1), 0, 1, 1, 1);
    Store::open_sqlite_file(dir.path()).await.unwrap().insert_user_op(&rec, 4).await.unwrap();
    let url = format!("sqlite://{}/{SQLITE_FILE_NAME}?mode=rwc", dir.path().display());
    let store = Store::open(&url).await.unwrap();
    assert!(store.get_user_op(CHAIN, ep(), rec.hash).await.unwrap().is_some());
}

#[tokio::test]
async fn bad_urls_are_refused_clearly() {
    match Store::open("mysql://u:pw@localhost/db").await {
        Err(e @ StoreError::InvalidUrl { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("postgres") && !msg.contains("pw"), "{msg}");
        }
        other => panic!("expected InvalidUrl, got {other:?}"),
    }
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("sqlite://{}/no/such/dir/x.db", dir.path().display());
    assert!(matches!(Store::open(&missing).await, Err(StoreError::Open { .. })));
    // A refused connection names the server but never the password.
    match Store::open("postgres://u:secret@127.0.0.1:1/db").await {
        Err(e @ StoreError::Open { .. }) => assert!(!e.to_string().contains("secret"), "{e}"),
        other => panic!("expected Open error, got {other:?}"),
    }
}

/// The indexes that hold only rows still in flight (pending operations, reservations, bundles).
const PARTIAL_INDEXES: [&str; 4] = [
    "user_ops_live_by_sender",
    "sponsorships_reserved",
    "sponsorships_reserved_by_policy",
    "bundles_pending_by_bundler",
];

/// Every lookup on the hot path reads through an index, whatever the history: SQLite's plan of
/// each statement (as the repositories write them, with literal values) searches an index and
/// never scans a table of per-call rows (nor an index of them on chain and EntryPoint alone). A schema change that loses an index, or a key column whose
/// type no longer matches what the statements compare it with, fails here.
#[tokio::test]
async fn hot_lookups_use_an_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite_file(dir.path()).await.unwrap();
    for i in 0..20u8 {
        store.insert_user_op(&op(sender(i), 0, 1, 1, 1), 4).await.unwrap();
    }
    let (key, hash, addr) = (
        format!("X'{}'", "00".repeat(32)),
        format!("X'{}'", "11".repeat(32)),
        "X'2222222222222222222222222222222222222222'",
    );
    let ep = format!("X'{}'", alloy::hex::encode(ep()));
    let ops = format!("user_ops WHERE chain_id = {CHAIN} AND entry_point = {ep}");
    let statements = [
        format!("SELECT op_z FROM {ops} AND hash = {hash}"),
        format!(
            "SELECT hash FROM {ops} AND sender = {addr} AND nonce_key = {key} AND nonce_seq = 0 \
             AND status IN ('pending', 'submitted') AND status = 'pending' ORDER BY max_fee_per_gas DESC, hash"
        ),
        format!("SELECT COUNT(*) FROM {ops} AND sender = {addr} AND status IN ('pending', 'submitted')"),
        format!(
            "SELECT op_z FROM {ops} AND status = 'pending' ORDER BY created_at, sender, nonce_key, nonce_seq, hash LIMIT 9"
        ),
        format!("SELECT op_z FROM {ops} AND status IN ('pending', 'submitted') ORDER BY created_at, hash"),
        format!("SELECT DISTINCT sender FROM {ops} AND status IN ('pending', 'submitted')"),
        format!(
            "SELECT op_z FROM {ops} AND sender = {addr} AND status IN ('pending', 'submitted') \
             ORDER BY nonce_key, nonce_seq, hash"
        ),
        format!("SELECT hash FROM {ops} AND status = 'included' AND block_number >= 5 ORDER BY block_number, hash"),
        format!(
            "UPDATE user_ops SET status = 'pending' WHERE chain_id = {CHAIN} AND entry_point = {ep} \
             AND status = 'included' AND block_number = 5 AND block_hash = {hash}"
        ),
        format!(
            "UPDATE user_ops SET status = 'pending' WHERE chain_id = {CHAIN} AND entry_point = {ep} \
             AND status = 'submitted' AND bundle_tx = {hash}"
        ),
        format!("SELECT COUNT(*) FROM {ops} AND status = 'pending'"),
        format!(
            "SELECT u.hash FROM user_ops u WHERE u.chain_id = {CHAIN} AND u.entry_point = {ep} AND u.status = 'pending' \
             AND (u.claimed_by IS NULL OR u.claimed_by = {addr} OR u.claimed_until <= 5) AND NOT EXISTS (SELECT 1 \
             FROM user_ops o WHERE o.chain_id = u.chain_id AND o.entry_point = u.entry_point AND o.sender = u.sender \
             AND o.status IN ('pending', 'submitted') AND o.claimed_by IS NOT NULL AND o.claimed_by <> {addr} \
             AND (o.status = 'submitted' OR o.claimed_until > 5)) ORDER BY u.created_at, u.sender LIMIT 9"
        ),
        format!("SELECT status FROM sponsorships WHERE chain_id = {CHAIN} AND request_key = {key}"),
        format!("SELECT status FROM sponsorships WHERE chain_id = {CHAIN} AND user_op_hash = {hash}"),
        format!(
            "SELECT status FROM sponsorships WHERE chain_id = {CHAIN} AND status = 'reserved' AND valid_until < 5 \
             ORDER BY valid_until, user_op_hash LIMIT 9"
        ),
        "SELECT status FROM sponsorships WHERE policy_id = 'p' AND status = 'reserved' AND valid_until < 5".to_string(),
        format!("SELECT calls_z FROM wallet_calls WHERE chain_id = {CHAIN} AND hash = {hash}"),
        format!(
            "SELECT op_hashes FROM bundles WHERE chain_id = {CHAIN} AND bundler = {addr} AND status = 'pending' \
             ORDER BY tx_nonce, sent_at, tx_hash"
        ),
        format!("SELECT op_hashes FROM bundles WHERE tx_hash = {hash}"),
    ];
    for sql in statements {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
            .fetch_all(store.pool())
            .await
            .unwrap();
        let details: Vec<String> = rows.iter().map(|r| sqlx::Row::try_get::<String, _>(r, "detail").unwrap()).collect();
        assert!(!details.is_empty(), "{sql}");
        for d in &details {
            let reads_table = d.starts_with("SEARCH") || d.starts_with("SCAN");
            assert!(!reads_table || (d.starts_with("SEARCH") && d.contains("INDEX")), "{d}\n  in {sql}");
            // Every row has the same chain and EntryPoint: an index searched on those alone reads
            // the whole history, unless it is one that holds unfinished rows only.
            let broad = d.ends_with("(chain_id=?)") || d.ends_with("(chain_id=? AND entry_point=?)");
            let partial = PARTIAL_INDEXES.iter().any(|i| d.contains(&format!("INDEX {i} ")));
            assert!(!broad || partial, "{d}\n  in {sql}");
        }
    }
}
