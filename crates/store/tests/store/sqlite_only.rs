//! SQLite specifics: durability pragmas, file layout, in-memory URLs, bad URLs.

use keyward_store::{Backend, InsertOutcome, SQLITE_FILE_NAME, Store, StoreError};

use crate::ops::{CHAIN, ep, op, sender};

#[tokio::test]
async fn file_store_uses_wal_and_normal_sync() {
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
            ("wal", 1, 10_000),
            "journal_mode, synchronous (1 = NORMAL: durability comes from Store::durable), busy_timeout"
        );
        conns.push(c);
    }
    drop(conns);
    assert_eq!(store.insert_user_op(&op(sender(1), 0, 1, 1, 1), 4).await.unwrap(), InsertOutcome::Inserted);
}

/// On a file, the read pool cannot write: every write goes through the one writer connection, so
/// writers queue in the process instead of sleeping in SQLite's busy handler.
#[tokio::test]
async fn file_store_reads_on_query_only_connections_and_writes_through_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite_file(dir.path()).await.unwrap();
    let refused = sqlx::query("DELETE FROM user_ops").execute(store.pool()).await.unwrap_err();
    assert!(refused.to_string().contains("readonly"), "{refused}");
    // Many concurrent writers all land (none fails on a lock), and the reads see them.
    let mut writes = tokio::task::JoinSet::new();
    for i in 0..32u8 {
        let store = store.clone();
        writes.spawn(async move { store.insert_user_op(&op(sender(i), 0, 1, 1, 1), 4).await });
    }
    while let Some(outcome) = writes.join_next().await {
        assert_eq!(outcome.unwrap().unwrap(), InsertOutcome::Inserted);
    }
    assert_eq!(store.count_unfinished(CHAIN, ep()).await.unwrap().0, 32);
}

/// Group commit: `durable` fsyncs the WAL once for every write finished before it, callers waiting
/// together share one round, and nothing written means no round.
#[tokio::test]
async fn durable_makes_one_round_for_the_writes_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite_file(dir.path()).await.unwrap();
    store.durable().await.unwrap();
    let opened = store.durable_rounds();
    assert_eq!(opened, 1, "the migrations' writes are synced by the first call");
    store.durable().await.unwrap();
    assert_eq!(store.durable_rounds(), opened, "nothing written since: no fsync");

    let rec = op(sender(1), 0, 1, 1, 1);
    store.insert_user_op(&rec, 4).await.unwrap();
    assert!(store.get_user_op(CHAIN, ep(), rec.hash).await.unwrap().is_some());
    store.durable().await.unwrap();
    assert_eq!(store.durable_rounds(), opened + 1, "one write: one fsync");
    assert!(store.get_user_op(CHAIN, ep(), rec.hash).await.unwrap().is_some());
    store.durable().await.unwrap();
    assert_eq!(store.durable_rounds(), opened + 1, "reads write nothing");

    for i in 2..12u8 {
        store.insert_user_op(&op(sender(i), 0, 1, 1, 1), 4).await.unwrap();
    }
    let mut waiting = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let store = store.clone();
        waiting.spawn(async move { store.durable().await });
    }
    while let Some(done) = waiting.join_next().await {
        done.unwrap().unwrap();
    }
    assert_eq!(store.durable_rounds(), opened + 2, "ten callers after ten writes share one fsync");
    store.close().await;
    let reopened = Store::open_sqlite_file(dir.path()).await.unwrap();
    assert_eq!(reopened.count_unfinished(CHAIN, ep()).await.unwrap().0, 11);
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
    store.durable().await.unwrap();
    assert_eq!(store.durable_rounds(), 0, "a memory store has nothing to sync");
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
