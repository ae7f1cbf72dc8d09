//! The query plans of the hot path: every lookup reads through an index, whatever the history.

use keyward_store::Store;

use crate::harness::TestDb;
use crate::ops::{CHAIN, ep, op, sender};

/// The indexes that hold only rows still in flight (pending operations, reservations, bundles).
const PARTIAL_INDEXES: [&str; 4] = [
    "user_ops_live_by_sender",
    "sponsorships_reserved",
    "sponsorships_reserved_by_policy",
    "bundles_pending_by_bundler",
];

/// Every lookup on the hot path reads through an index, whatever the history: SQLite's plan of
/// each statement (as the repositories write them, with literal values) searches an index and
/// never scans a table of per-call rows (nor an index of them on chain and EntryPoint alone). A
/// schema change that loses an index, or a key column whose type no longer matches what the
/// statements compare it with, fails here.
#[tokio::test]
async fn hot_lookups_use_an_index_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite_file(dir.path()).await.unwrap();
    for i in 0..20u8 {
        store.insert_user_op(&op(sender(i), 0, 1, 1, 1), 4).await.unwrap();
    }
    let statements = hot_statements(|bytes| format!("X'{}'", alloy::hex::encode(bytes)));
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

/// The statements of the hot path as the repositories write them, with literal values (`blob`
/// writes a byte string in the backend's syntax).
fn hot_statements(blob: impl Fn(&[u8]) -> String) -> Vec<String> {
    let (key, hash, addr) = (blob(&[0; 32]), blob(&[0x11; 32]), blob(&[0x22; 20]));
    let ep = blob(ep().as_slice());
    let ops = format!("user_ops WHERE chain_id = {CHAIN} AND entry_point = {ep}");
    vec![
        format!("SELECT op_z FROM {ops} AND hash = {hash}"),
        format!("SELECT facts_json FROM {ops} AND hash = {hash}"),
        format!("SELECT hash, arrived_ns FROM {ops} AND status IN ('pending', 'submitted')"),
        format!(
            "SELECT u.status, b.sent_at_block FROM user_ops u LEFT JOIN bundles b ON b.tx_hash = u.bundle_tx \
             WHERE u.chain_id = {CHAIN} AND u.entry_point = {ep} AND u.hash = {hash}"
        ),
        format!(
            "SELECT hash, nonce_key, nonce_seq, status FROM {ops} AND hash = {hash} UNION ALL \
             SELECT hash, nonce_key, nonce_seq, status FROM {ops} AND sender = {addr} \
             AND status IN ('pending', 'submitted')"
        ),
        format!(
            "SELECT op_z FROM {ops} AND status = 'pending' ORDER BY created_at, sender, nonce_key, nonce_seq, hash LIMIT 9"
        ),
        format!("SELECT op_z FROM {ops} AND status IN ('pending', 'submitted') ORDER BY created_at, hash"),
        format!("SELECT DISTINCT sender FROM {ops} AND status IN ('pending', 'submitted')"),
        format!("SELECT hash FROM {ops} AND status IN ('pending', 'submitted')"),
        format!("SELECT hash FROM {ops} AND status IN ('pending', 'submitted') AND hash IN ({hash}, {key})"),
        format!(
            "SELECT op_z FROM {ops} AND sender = {addr} AND status IN ('pending', 'submitted') \
             ORDER BY nonce_key, nonce_seq, hash"
        ),
        format!(
            "SELECT nonce_key, nonce_seq FROM {ops} AND sender = {addr} AND status IN ('pending', 'submitted') \
             ORDER BY nonce_key, nonce_seq"
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
        // A bundle's operations claimed, then moved, in one statement each; a block's sponsorships.
        format!(
            "UPDATE user_ops SET claimed_by = {addr}, claimed_until = 5 WHERE chain_id = {CHAIN} \
             AND entry_point = {ep} AND hash IN ({hash}, {key})"
        ),
        format!(
            "UPDATE user_ops SET status = 'submitted', bundle_tx = {hash}, updated_at = 5, claimed_by = {addr} \
             WHERE chain_id = {CHAIN} AND entry_point = {ep} AND (claimed_by = {addr} OR claimed_by IS NULL) \
             AND status IN ('pending', 'submitted') AND hash IN ({hash}, {key})"
        ),
        format!("SELECT policy_id FROM sponsorships WHERE chain_id = {CHAIN} AND user_op_hash IN ({hash}, {key})"),
        // A recorded call ends its prepare's nonce leases by the token its prepared row keeps.
        format!(
            "DELETE FROM wallet_nonce_leases WHERE chain_id = {CHAIN} AND account = '0x{acct}' AND token = \
             (SELECT lease_token FROM wallet_prepared WHERE chain_id = {CHAIN} AND hash = '0x{prepared}')",
            acct = "22".repeat(20),
            prepared = "11".repeat(32),
        ),
    ]
}

/// The same on PostgreSQL, planning with sequential scans disabled (on tables this small the
/// planner would rightly prefer them): a statement still planned as a `Seq Scan` of a per-call
/// table has no index it can use (a missing index, or a key compared across types).
#[tokio::test]
async fn hot_lookups_use_an_index_on_postgres() {
    let Some(db) = TestDb::postgres().await else { return };
    let store = db.open().await;
    for i in 0..20u8 {
        store.insert_user_op(&op(sender(i), 0, 1, 1, 1), 4).await.unwrap();
    }
    let mut conn = store.pool().acquire().await.unwrap();
    sqlx::query("SET enable_seqscan = off").execute(&mut *conn).await.unwrap();
    for sql in hot_statements(|bytes| format!("'\\x{}'::bytea", alloy::hex::encode(bytes))) {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN {sql}"))).fetch_all(&mut *conn).await.unwrap();
        let plan: Vec<String> = rows.iter().map(|r| sqlx::Row::try_get::<String, _>(r, 0).unwrap()).collect();
        assert!(plan.iter().any(|l| l.contains("Index")), "{}\n  in {sql}", plan.join("\n"));
        assert!(!plan.iter().any(|l| l.contains("Seq Scan")), "{}\n  in {sql}", plan.join("\n"));
    }
    drop(conn);
    store.close().await;
    db.cleanup().await;
}
