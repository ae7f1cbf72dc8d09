//! One async function per behaviour; `main.rs` runs each against SQLite and PostgreSQL.

use std::collections::BTreeMap;

use alloy::primitives::{B256, U256};
use keyward_store::{BundleStatus, InsertOutcome, MempoolError, OpStatus, StoreError};

use crate::harness::TestDb;
use crate::ops::{CHAIN, bundle, ep, fence, h, op, sender};

/// Insert then read back, every field exact, including values at the edges of their ranges.
pub(crate) async fn insert_and_get(db: &TestDb) {
    let store = db.open().await;
    let mut rec = op(sender(1), u64::MAX, u128::MAX, u128::MAX - 1, 1_700_000_000);
    rec.nonce_key = (U256::from(1u8) << 191) + U256::from(7u8);
    assert_eq!(store.insert_user_op(&rec, 4).await.unwrap(), InsertOutcome::Inserted);
    let got = store.get_user_op(CHAIN, ep(), rec.hash).await.unwrap().expect("stored");
    assert_eq!(got, rec);
    assert_eq!(store.get_user_op(CHAIN, ep(), h(9)).await.unwrap(), None);
    assert_eq!(store.get_user_op(CHAIN + 1, ep(), rec.hash).await.unwrap(), None, "chain is part of the key");
    assert_eq!(store.get_user_op(CHAIN, sender(9), rec.hash).await.unwrap(), None, "EntryPoint is part of the key");
}

/// The same hash again is AlreadyKnown whatever its status, and changes nothing.
pub(crate) async fn idempotent_insert(db: &TestDb) {
    let store = db.open().await;
    let f = fence(&store).await;
    let rec = op(sender(1), 0, 1000, 100, 10);
    assert_eq!(store.insert_user_op(&rec, 4).await.unwrap(), InsertOutcome::Inserted);
    assert_eq!(store.insert_user_op(&rec, 4).await.unwrap(), InsertOutcome::AlreadyKnown);
    // A retry is known even when the sender is at its cap.
    assert_eq!(store.insert_user_op(&rec, 1).await.unwrap(), InsertOutcome::AlreadyKnown);
    store.mark_included(&f, CHAIN, ep(), rec.hash, h(0xa1), 5, h(0xb5), "{}").await.unwrap();
    assert_eq!(store.insert_user_op(&rec, 4).await.unwrap(), InsertOutcome::AlreadyKnown);
    let got = store.get_user_op(CHAIN, ep(), rec.hash).await.unwrap().unwrap();
    // Included straight from pending (seen onchain by the chain watcher): its transaction recorded.
    assert_eq!((got.status, got.bundle_tx), (OpStatus::Included, Some(h(0xa1))));
    assert_eq!(store.count_by_status(CHAIN, ep()).await.unwrap()["included"], 1);
}

/// Replacement needs both fees at old × 110 % (ceil): exactly that is accepted, one wei less refused.
pub(crate) async fn replacement_fee_bump(db: &TestDb) {
    let store = db.open().await;
    let f = fence(&store).await;
    let s = sender(2);
    let old = op(s, 7, 1000, 105, 10);
    assert_eq!(store.insert_user_op(&old, 4).await.unwrap(), InsertOutcome::Inserted);
    let needed = (1100u128, 116u128); // 1000 × 1.1 = 1100, 105 × 1.1 = 115.5 → 116

    for (max_fee, prio) in [(needed.0 - 1, needed.1), (needed.0, needed.1 - 1), (needed.0 - 1, needed.1 - 1)] {
        match store.insert_user_op(&op(s, 7, max_fee, prio, 11), 4).await {
            Err(MempoolError::Underpriced { needed_max_fee, needed_priority_fee }) => {
                assert_eq!((needed_max_fee, needed_priority_fee), needed, "fees {max_fee}/{prio}");
            }
            other => panic!("fees {max_fee}/{prio}: expected Underpriced, got {other:?}"),
        }
    }
    let err = store.insert_user_op(&op(s, 7, 1099, 116, 11), 4).await.unwrap_err();
    assert!(err.to_string().contains("1100") && err.to_string().contains("116"), "message: {err}");
    assert_eq!(store.get_user_op(CHAIN, ep(), old.hash).await.unwrap().unwrap().status, OpStatus::Pending);

    let new = op(s, 7, needed.0, needed.1, 12);
    assert_eq!(store.insert_user_op(&new, 4).await.unwrap(), InsertOutcome::Replaced { old_hash: old.hash });
    let old_now = store.get_user_op(CHAIN, ep(), old.hash).await.unwrap().unwrap();
    assert_eq!(old_now.status, OpStatus::Dropped);
    assert_eq!(old_now.failure.as_deref(), Some(format!("replaced by {}", new.hash).as_str()));
    let pending = store.pending_user_ops(CHAIN, ep(), 10).await.unwrap();
    assert_eq!(pending.iter().map(|o| o.hash).collect::<Vec<_>>(), vec![new.hash]);

    // Another nonce key is another nonce: no replacement.
    let mut other_key = op(s, 7, 1, 1, 13);
    other_key.nonce_key = U256::from(1u8);
    assert_eq!(store.insert_user_op(&other_key, 4).await.unwrap(), InsertOutcome::Inserted);

    // Only PENDING ops are replaced: once submitted, a same-nonce op is a new insert (subject to the cap).
    store.mark_submitted(&f, CHAIN, ep(), &[new.hash], h(0xbb)).await.unwrap();
    let after_submit = op(s, 7, 1, 1, 14);
    assert_eq!(store.insert_user_op(&after_submit, 4).await.unwrap(), InsertOutcome::Inserted);
}

/// The sender cap counts Pending and Submitted only.
pub(crate) async fn sender_cap(db: &TestDb) {
    let store = db.open().await;
    let f = fence(&store).await;
    let (a, b) = (sender(3), sender(4));
    let ops: Vec<_> = (0..3).map(|n| op(a, n, 100, 10, 20 + n)).collect();
    assert_eq!(store.insert_user_op(&ops[0], 2).await.unwrap(), InsertOutcome::Inserted);
    assert_eq!(store.insert_user_op(&ops[1], 2).await.unwrap(), InsertOutcome::Inserted);
    match store.insert_user_op(&ops[2], 2).await {
        Err(MempoolError::SenderCap { sender, cap }) => assert_eq!((sender, cap), (a, 2)),
        other => panic!("expected SenderCap, got {other:?}"),
    }
    assert_eq!(store.insert_user_op(&op(b, 0, 100, 10, 20), 2).await.unwrap(), InsertOutcome::Inserted);
    // Replacing at the cap is still allowed (it does not add an op).
    assert!(matches!(store.insert_user_op(&op(a, 0, 200, 20, 30), 2).await, Ok(InsertOutcome::Replaced { .. })));

    // Submitted still counts.
    let cur: Vec<_> =
        store.pending_user_ops(CHAIN, ep(), 10).await.unwrap().into_iter().filter(|o| o.sender == a).collect();
    assert_eq!(cur.len(), 2);
    store.mark_submitted(&f, CHAIN, ep(), &[cur[0].hash], h(0xb1)).await.unwrap();
    assert!(matches!(store.insert_user_op(&ops[2], 2).await, Err(MempoolError::SenderCap { .. })));
    // Included and failed do not.
    store.mark_included(&f, CHAIN, ep(), cur[0].hash, h(0xa1), 1, h(0xc1), "{}").await.unwrap();
    store.mark_failed(&f, CHAIN, ep(), cur[1].hash, "AA25 invalid account nonce").await.unwrap();
    assert_eq!(store.insert_user_op(&ops[2], 2).await.unwrap(), InsertOutcome::Inserted);
    assert_eq!(store.insert_user_op(&op(a, 9, 100, 10, 40), 2).await.unwrap(), InsertOutcome::Inserted);
    assert!(matches!(store.insert_user_op(&op(a, 10, 100, 10, 41), 2).await, Err(MempoolError::SenderCap { .. })));
    // Dropped does not count either.
    store.mark_dropped(&f, CHAIN, ep(), ops[2].hash, "expired").await.unwrap();
    assert_eq!(store.insert_user_op(&op(a, 10, 100, 10, 41), 2).await.unwrap(), InsertOutcome::Inserted);
    // A cap of zero refuses everything new.
    assert!(matches!(
        store.insert_user_op(&op(sender(5), 0, 1, 1, 1), 0).await,
        Err(MempoolError::SenderCap { cap: 0, .. })
    ));
}

/// Many concurrent inserts for one sender: the cap holds exactly (the check and insert are atomic).
pub(crate) async fn concurrent_inserts_respect_cap(db: &TestDb) {
    let store = db.open().await;
    let s = sender(6);
    let mut tasks = Vec::new();
    for n in 0..24u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move { store.insert_user_op(&op(s, n, 100, 10, n), 5).await }));
    }
    let (mut inserted, mut capped) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(InsertOutcome::Inserted) => inserted += 1,
            Err(MempoolError::SenderCap { .. }) => capped += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((inserted, capped), (5, 19));
    assert_eq!(store.unfinished_user_ops(CHAIN, ep()).await.unwrap().len(), 5);

    // Concurrent replacements of one pending op: exactly one wins, the others see it and are underpriced.
    let base = op(sender(7), 0, 1000, 100, 1);
    store.insert_user_op(&base, 5).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..8u128 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move { store.insert_user_op(&op(sender(7), 0, 1100 + i, 110, 2), 5).await }));
    }
    let mut replaced = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(InsertOutcome::Replaced { old_hash }) => {
                assert_eq!(old_hash, base.hash);
                replaced += 1
            }
            Err(MempoolError::Underpriced { .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(replaced, 1);
    let pending: Vec<_> =
        store.pending_user_ops(CHAIN, ep(), 100).await.unwrap().into_iter().filter(|o| o.sender == sender(7)).collect();
    assert_eq!(pending.len(), 1);
}

/// Lifecycle: submitted → included (idempotent), final states refuse changes, errors are precise.
pub(crate) async fn status_transitions(db: &TestDb) {
    let store = db.open().await;
    let f = fence(&store).await;
    let s = sender(8);
    let (o1, o2, o3) = (op(s, 1, 10, 1, 1), op(s, 2, 10, 1, 2), op(s, 3, 10, 1, 3));
    // o1 and o2 admitted with their first validation's facts (arrivals 1 and 2), o3 without.
    for (o, facts) in [(&o1, Some(("{}", 1))), (&o2, Some(("{}", 2))), (&o3, None)] {
        let admission = keyward_store::Admission { first_validation: facts, ..Default::default() };
        store.admit_user_op(o, 10, &admission).await.unwrap();
    }
    store.mark_submitted(&f, CHAIN, ep(), &[o1.hash, o2.hash], h(0xa1)).await.unwrap();
    let got = store.get_user_op(CHAIN, ep(), o1.hash).await.unwrap().unwrap();
    assert_eq!((got.status, got.bundle_tx), (OpStatus::Submitted, Some(h(0xa1))));
    // Re-submitted in a replacement transaction.
    store.mark_submitted(&f, CHAIN, ep(), &[o1.hash, o2.hash], h(0xa2)).await.unwrap();
    assert_eq!(store.get_user_op(CHAIN, ep(), o2.hash).await.unwrap().unwrap().bundle_tx, Some(h(0xa2)));

    // Validation facts serve operations in the mempool only: a final state forgets them.
    for o in [&o1, &o2] {
        assert!(store.op_facts(CHAIN, ep(), o.hash).await.unwrap().is_some());
    }
    assert!(store.op_facts(CHAIN, ep(), o3.hash).await.unwrap().is_none());
    store.mark_included(&f, CHAIN, ep(), o1.hash, h(0xa2), 42, h(0xb4), r#"{"success":true}"#).await.unwrap();
    assert!(store.op_facts(CHAIN, ep(), o1.hash).await.unwrap().is_none(), "forgotten at inclusion");
    assert_eq!(store.op_arrivals(CHAIN, ep()).await.unwrap(), vec![(o2.hash, 2)]);
    let got = store.get_user_op(CHAIN, ep(), o1.hash).await.unwrap().unwrap();
    assert_eq!(got.status, OpStatus::Included);
    assert_eq!((got.block_number, got.block_hash, got.bundle_tx), (Some(42), Some(h(0xb4)), Some(h(0xa2))));
    assert_eq!(got.receipt_json.as_deref(), Some(r#"{"success":true}"#));
    // o2 and o3 are still unfinished: their sender, once.
    assert_eq!(store.unfinished_senders(CHAIN, ep()).await.unwrap(), vec![s]);
    // Among some hashes (a block's events), the unfinished ones: not the included, not the unknown.
    let mut among = store.unfinished_among(CHAIN, ep(), &[o1.hash, o2.hash, h(0xee), o3.hash]).await.unwrap();
    among.sort();
    let mut expected = vec![o2.hash, o3.hash];
    expected.sort();
    assert_eq!(among, expected);
    assert!(store.unfinished_among(CHAIN, ep(), &[]).await.unwrap().is_empty());
    // A long list (more than one statement's worth) finds them wherever they stand in it.
    let mut long: Vec<B256> = (0..300u32).map(|i| B256::left_padding_from(&(i + 1_000).to_be_bytes())).collect();
    long[150] = o2.hash;
    long[299] = o3.hash;
    long[5] = o1.hash;
    let mut among = store.unfinished_among(CHAIN, ep(), &long).await.unwrap();
    among.sort();
    assert_eq!(among, expected);
    // Its progress alone (what status polls read) is the record's lifecycle part.
    let progress = store.user_op_progress(CHAIN, ep(), o1.hash).await.unwrap().unwrap();
    assert_eq!(
        (progress.status, progress.bundle_tx, progress.block_number, progress.block_hash),
        (got.status, got.bundle_tx, got.block_number, got.block_hash)
    );
    assert_eq!((progress.receipt_json, progress.failure), (got.receipt_json.clone(), got.failure.clone()));
    assert!(store.user_op_progress(CHAIN, ep(), h(0xee)).await.unwrap().is_none());
    // With the block its bundle went out at, once that bundle is recorded (in-flight polls).
    assert_eq!(store.user_op_progress(CHAIN, ep(), o2.hash).await.unwrap().unwrap().sent_at_block, None);
    store.record_bundle(&bundle(0xa2, sender(9), 40, vec![o1.hash, o2.hash])).await.unwrap();
    let in_flight = store.user_op_progress(CHAIN, ep(), o2.hash).await.unwrap().unwrap();
    assert_eq!((in_flight.status, in_flight.sent_at_block), (OpStatus::Submitted, Some(40)));
    assert_eq!(store.user_op_progress(CHAIN, ep(), o3.hash).await.unwrap().unwrap().sent_at_block, None);
    // Same inclusion again: fine. Another block: refused.
    store.mark_included(&f, CHAIN, ep(), o1.hash, h(0xa2), 42, h(0xb4), "{}").await.unwrap();
    match store.mark_included(&f, CHAIN, ep(), o1.hash, h(0xa2), 43, h(0xb5), "{}").await {
        Err(MempoolError::InvalidTransition { hash, from, to }) => {
            assert_eq!((hash, from.as_str(), to.as_str()), (o1.hash, "included", "included"))
        }
        other => panic!("expected InvalidTransition, got {other:?}"),
    }
    assert!(matches!(
        store.mark_failed(&f, CHAIN, ep(), o1.hash, "x").await,
        Err(MempoolError::InvalidTransition { .. })
    ));
    assert!(matches!(
        store.mark_dropped(&f, CHAIN, ep(), o1.hash, "x").await,
        Err(MempoolError::InvalidTransition { .. })
    ));

    // mark_submitted is all or nothing.
    let err = store.mark_submitted(&f, CHAIN, ep(), &[o3.hash, o1.hash], h(0xa3)).await.unwrap_err();
    assert!(matches!(err, MempoolError::InvalidTransition { ref from, .. } if from == "included"), "{err}");
    assert_eq!(store.get_user_op(CHAIN, ep(), o3.hash).await.unwrap().unwrap().status, OpStatus::Pending);
    let err = store.mark_submitted(&f, CHAIN, ep(), &[o3.hash, h(0xee)], h(0xa3)).await.unwrap_err();
    assert!(matches!(err, MempoolError::NotFound { hash } if hash == h(0xee)), "{err}");
    assert!(err.to_string().contains("not found"));

    // Failed / dropped carry the reason; repeating is fine; moving between final states is not.
    store.mark_failed(&f, CHAIN, ep(), o2.hash, "AA23 reverted").await.unwrap();
    assert!(store.op_arrivals(CHAIN, ep()).await.unwrap().is_empty(), "forgotten at failure");
    store.mark_failed(&f, CHAIN, ep(), o2.hash, "again").await.unwrap();
    let got = store.get_user_op(CHAIN, ep(), o2.hash).await.unwrap().unwrap();
    assert_eq!((got.status, got.failure.as_deref()), (OpStatus::Failed, Some("AA23 reverted")));
    assert!(matches!(
        store.mark_dropped(&f, CHAIN, ep(), o2.hash, "x").await,
        Err(MempoolError::InvalidTransition { .. })
    ));
    store.mark_dropped(&f, CHAIN, ep(), o3.hash, "expired").await.unwrap();
    assert_eq!(store.get_user_op(CHAIN, ep(), o3.hash).await.unwrap().unwrap().status, OpStatus::Dropped);
    assert!(matches!(
        store.mark_included(&f, CHAIN, ep(), o3.hash, h(0xa1), 1, h(1), "{}").await,
        Err(MempoolError::InvalidTransition { .. })
    ));
    assert!(matches!(store.mark_dropped(&f, CHAIN, ep(), h(0xef), "x").await, Err(MempoolError::NotFound { .. })));
    assert!(matches!(
        store.mark_included(&f, CHAIN, ep(), h(0xef), h(0xa1), 1, h(1), "{}").await,
        Err(MempoolError::NotFound { .. })
    ));
    assert!(store.unfinished_user_ops(CHAIN, ep()).await.unwrap().is_empty());
}

/// Pending list: oldest first, then by sender and nonce (so a sender's next op always comes before
/// its later ones, whatever their hashes), limit; unfinished list: oldest first, hash breaks ties;
/// both scoped by chain and EntryPoint.
pub(crate) async fn ordering(db: &TestDb) {
    let store = db.open().await;
    let f = fence(&store).await;
    let mut ops = vec![op(sender(10), 0, 1, 1, 300), op(sender(11), 0, 1, 1, 100), op(sender(12), 0, 1, 1, 200)];
    // Same created_at: by sender, then nonce — sender 13's sequence 1 after its sequence 0.
    ops.push(op(sender(14), 0, 1, 1, 200));
    ops.push(op(sender(13), 1, 1, 1, 200));
    ops.push(op(sender(13), 0, 1, 1, 200));
    for o in &ops {
        store.insert_user_op(o, 4).await.unwrap();
    }
    let mut other_chain = op(sender(10), 1, 1, 1, 1);
    other_chain.chain_id = CHAIN + 1;
    store.insert_user_op(&other_chain, 4).await.unwrap();
    let mut other_ep = op(sender(10), 2, 1, 1, 1);
    other_ep.entry_point = sender(0xee);
    store.insert_user_op(&other_ep, 4).await.unwrap();

    let mut by_nonce = ops.clone();
    by_nonce.sort_by_key(|o| (o.created_at, o.sender, o.nonce_key, o.nonce_seq, o.hash));
    let expected: Vec<_> = by_nonce.iter().map(|o| o.hash).collect();
    let pending: Vec<_> = store.pending_user_ops(CHAIN, ep(), 100).await.unwrap().iter().map(|o| o.hash).collect();
    assert_eq!(pending, expected);
    let s13: Vec<_> = by_nonce.iter().filter(|o| o.sender == sender(13)).map(|o| o.nonce_seq).collect();
    assert_eq!(s13, vec![0, 1], "a sender's next op first");
    let first3: Vec<_> = store.pending_user_ops(CHAIN, ep(), 3).await.unwrap().iter().map(|o| o.hash).collect();
    assert_eq!(first3, expected[..3]);
    assert!(store.pending_user_ops(CHAIN, ep(), 0).await.unwrap().is_empty());

    store.mark_submitted(&f, CHAIN, ep(), &[expected[1]], h(0xa0)).await.unwrap();
    store.mark_failed(&f, CHAIN, ep(), expected[2], "x").await.unwrap();
    let pending: Vec<_> = store.pending_user_ops(CHAIN, ep(), 100).await.unwrap().iter().map(|o| o.hash).collect();
    let still: Vec<_> = expected.iter().enumerate().filter(|(i, _)| *i != 1 && *i != 2).map(|(_, h)| *h).collect();
    assert_eq!(pending, still);
    let mut by_hash = ops.clone();
    by_hash.sort_by_key(|o| (o.created_at, o.hash));
    let unfinished_expected: Vec<_> = by_hash.iter().map(|o| o.hash).filter(|h| *h != expected[2]).collect();
    let unfinished: Vec<_> = store.unfinished_user_ops(CHAIN, ep()).await.unwrap().iter().map(|o| o.hash).collect();
    assert_eq!(unfinished, unfinished_expected);

    assert_eq!(store.unfinished_user_ops(CHAIN + 1, ep()).await.unwrap().len(), 1);
    assert_eq!(store.pending_user_ops(CHAIN, sender(0xee), 10).await.unwrap()[0].hash, other_ep.hash);
}

/// Reorgs: ops included in a block go back to Submitted in their bundle (which is pending again),
/// never through Pending; ops submitted in a dropped transaction go back to Pending.
pub(crate) async fn reorg_resets(db: &TestDb) {
    let store = db.open().await;
    let f = fence(&store).await;
    let ops: Vec<_> = (0..5).map(|n| op(sender(20 + n as u8), 0, 1, 1, n)).collect();
    for o in &ops {
        store.insert_user_op(o, 4).await.unwrap();
    }
    let hashes: Vec<_> = ops.iter().map(|o| o.hash).collect();
    store.submit_bundle(&f, &bundle(0xa1, sender(0xbb), 1, hashes[..3].to_vec()), ep()).await.unwrap();
    store.submit_bundle(&f, &bundle(0xa2, sender(0xbb), 2, hashes[3..].to_vec()), ep()).await.unwrap();
    store.mark_included(&f, CHAIN, ep(), hashes[0], h(0xa1), 7, h(0xb7), "{}").await.unwrap();
    store.mark_included(&f, CHAIN, ep(), hashes[1], h(0xa1), 7, h(0xb7), "{}").await.unwrap();
    store.mark_bundle(&f, h(0xa1), BundleStatus::Mined).await.unwrap();

    let mut want = vec![hashes[0], hashes[1]];
    want.sort();
    assert_eq!(store.reopen_block(&f, CHAIN, ep(), (7, h(0xb7))).await.unwrap(), want);
    for hash in &want {
        let o = store.get_user_op(CHAIN, ep(), *hash).await.unwrap().unwrap();
        assert_eq!(o.status, OpStatus::Submitted);
        assert_eq!((o.bundle_tx, o.block_number, o.block_hash, o.receipt_json), (Some(h(0xa1)), None, None, None));
    }
    assert_eq!(store.bundle_by_tx(h(0xa1)).await.unwrap().unwrap().status, BundleStatus::Pending);
    assert!(store.pending_user_ops(CHAIN, ep(), 10).await.unwrap().is_empty(), "nothing claimable meanwhile");
    assert!(store.reopen_block(&f, CHAIN, ep(), (7, h(0xb7))).await.unwrap().is_empty());
    // A block is named by number and hash: the same hash at another number is not it.
    store.mark_included(&f, CHAIN, ep(), hashes[0], h(0xa1), 7, h(0xb7), "{}").await.unwrap();
    assert!(store.reopen_block(&f, CHAIN, ep(), (8, h(0xb7))).await.unwrap().is_empty());
    assert_eq!(store.reopen_block(&f, CHAIN, ep(), (7, h(0xb7))).await.unwrap(), vec![hashes[0]]);
    // Another chain's block with the same hash is untouched (none here): scoped.
    assert!(store.reopen_block(&f, CHAIN + 1, ep(), (7, h(0xb7))).await.unwrap().is_empty());

    // The bundle was dropped by the node after all: all three of 0xa1 come back.
    let mut want = hashes[..3].to_vec();
    want.sort();
    assert_eq!(store.reset_to_pending_by_bundle(&f, CHAIN, ep(), h(0xa1)).await.unwrap(), want);
    let mut want = vec![hashes[3], hashes[4]];
    want.sort();
    assert_eq!(store.reset_to_pending_by_bundle(&f, CHAIN, ep(), h(0xa2)).await.unwrap(), want);
    assert_eq!(store.pending_user_ops(CHAIN, ep(), 10).await.unwrap().len(), 5);
    let o = store.get_user_op(CHAIN, ep(), hashes[4]).await.unwrap().unwrap();
    assert_eq!(o.bundle_tx, None);

    // An included op is not reset by its bundle transaction (only by its block).
    store.mark_submitted(&f, CHAIN, ep(), &[hashes[0]], h(0xa3)).await.unwrap();
    store.mark_included(&f, CHAIN, ep(), hashes[0], h(0xa1), 8, h(0xb8), "{}").await.unwrap();
    assert!(store.reset_to_pending_by_bundle(&f, CHAIN, ep(), h(0xa3)).await.unwrap().is_empty());
}

/// count_by_status lists every status; clear deletes one chain/EntryPoint only.
pub(crate) async fn clear_and_counts(db: &TestDb) {
    let store = db.open().await;
    let f = fence(&store).await;
    let zero: BTreeMap<String, u64> = OpStatus::ALL.iter().map(|s| (s.to_string(), 0)).collect();
    assert_eq!(store.count_by_status(CHAIN, ep()).await.unwrap(), zero);
    let ops: Vec<_> = (0..4).map(|n| op(sender(30), n, 1, 1, n)).collect();
    for o in &ops {
        store.insert_user_op(o, 10).await.unwrap();
    }
    let mut other = op(sender(30), 0, 1, 1, 0);
    other.chain_id = 1;
    store.insert_user_op(&other, 10).await.unwrap();
    store.mark_submitted(&f, CHAIN, ep(), &[ops[0].hash, ops[1].hash], h(0xa1)).await.unwrap();
    store.mark_included(&f, CHAIN, ep(), ops[1].hash, h(0xa1), 1, h(0xb1), "{}").await.unwrap();
    store.mark_dropped(&f, CHAIN, ep(), ops[2].hash, "x").await.unwrap();
    let counts = store.count_by_status(CHAIN, ep()).await.unwrap();
    let want: BTreeMap<String, u64> =
        [("pending", 1), ("submitted", 1), ("included", 1), ("failed", 0), ("dropped", 1)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
    assert_eq!(counts, want);

    assert_eq!(store.clear_user_ops(CHAIN, ep()).await.unwrap(), 4);
    assert_eq!(store.count_by_status(CHAIN, ep()).await.unwrap(), zero);
    assert_eq!(store.clear_user_ops(CHAIN, ep()).await.unwrap(), 0);
    assert_eq!(store.count_by_status(1, ep()).await.unwrap()["pending"], 1);
    // After a clear the same op can come back.
    assert_eq!(store.insert_user_op(&ops[0], 10).await.unwrap(), InsertOutcome::Inserted);
}

/// Bundles: record (idempotent), pending by bundler, mark, lookup.
pub(crate) async fn bundles(db: &TestDb) {
    let store = db.open().await;
    let f = fence(&store).await;
    let (me, other) = (sender(40), sender(41));
    let b1 = bundle(0xa1, me, 5, vec![h(1), h(2)]);
    let b2 = bundle(0xa2, me, 4, vec![h(3)]);
    let b3 = bundle(0xa3, other, 4, vec![]);
    for b in [&b1, &b2, &b3] {
        assert!(store.record_bundle(b).await.unwrap());
    }
    assert!(!store.record_bundle(&b1).await.unwrap(), "duplicate tx hash");
    assert_eq!(store.bundle_by_tx(h(0xa1)).await.unwrap(), Some(b1.clone()));
    assert_eq!(store.bundle_by_tx(h(0xff)).await.unwrap(), None);
    assert_eq!(store.pending_bundles(CHAIN, me).await.unwrap(), vec![b2.clone(), b1.clone()]);
    assert!(store.pending_bundles(CHAIN + 1, me).await.unwrap().is_empty());

    store.mark_bundle(&f, h(0xa2), BundleStatus::Replaced).await.unwrap();
    store.mark_bundle(&f, h(0xa1), BundleStatus::Mined).await.unwrap();
    assert!(store.pending_bundles(CHAIN, me).await.unwrap().is_empty());
    assert_eq!(store.bundle_by_tx(h(0xa1)).await.unwrap().unwrap().status, BundleStatus::Mined);
    assert_eq!(store.pending_bundles(CHAIN, other).await.unwrap(), vec![b3]);
    match store.mark_bundle(&f, h(0xff), BundleStatus::Failed).await {
        Err(e @ StoreError::NotFound(_)) => assert!(e.to_string().contains(&h(0xff).to_string())),
        other => panic!("expected NotFound, got {other:?}"),
    }
}

/// Data written through one Store is there after it is closed and the database reopened.
pub(crate) async fn durable_across_reopen(db: &TestDb) {
    let rec = op(sender(50), 0, 1, 1, 1);
    {
        let store = db.open().await;
        let f = fence(&store).await;
        store.insert_user_op(&rec, 4).await.unwrap();
        store.record_bundle(&bundle(0xa1, sender(51), 0, vec![rec.hash])).await.unwrap();
        store.mark_submitted(&f, CHAIN, ep(), &[rec.hash], h(0xa1)).await.unwrap();
        store.close().await;
    }
    {
        // Dropped without close: committed data must not depend on a clean shutdown.
        let store = db.open().await;
        let f = fence(&store).await;
        store.mark_included(&f, CHAIN, ep(), rec.hash, h(0xa1), 3, h(0xb3), "{}").await.unwrap();
        drop(store);
    }
    let store = db.open().await; // migrations run again: must be a no-op
    let got = store.get_user_op(CHAIN, ep(), rec.hash).await.unwrap().unwrap();
    assert_eq!((got.status, got.block_number), (OpStatus::Included, Some(3)));
    assert_eq!(store.bundle_by_tx(h(0xa1)).await.unwrap().unwrap().op_hashes, vec![rec.hash]);
}

/// A child process inserts an op and is SIGKILLed right after the insert returns; the op is there.
pub(crate) async fn survives_sigkill(db: &TestDb) {
    crate::child::run_and_kill(db).await;
}

/// API keys: stored by secret hash, listed oldest first, revoked once (the first time kept),
/// a second key with the same secret refused; count_unfinished reads pending and submitted.
pub(crate) async fn api_keys(db: &TestDb) {
    use alloy::primitives::B256;
    use keyward_store::ApiKeyRecord;
    let store = db.open().await;
    let key = |id: &str, secret: u8, created_at: u64| ApiKeyRecord {
        id: id.into(),
        name: format!("name of {id}"),
        secret_hash: B256::repeat_byte(secret),
        chains: vec![1, 31337],
        policies: vec!["p-1".into()],
        rate_per_minute: 600,
        created_at,
        revoked_at: None,
    };
    assert_eq!(store.api_keys().await.unwrap(), vec![]);
    store.insert_api_key(&key("key_b", 2, 20)).await.unwrap();
    store.insert_api_key(&key("key_a", 1, 10)).await.unwrap();
    let same_secret = store.insert_api_key(&key("key_c", 1, 30)).await.unwrap_err();
    assert!(matches!(same_secret, StoreError::InvalidInput(_)), "{same_secret}");
    assert_eq!(store.api_key_by_secret(B256::repeat_byte(1)).await.unwrap(), Some(key("key_a", 1, 10)));
    assert_eq!(store.api_key_by_secret(B256::repeat_byte(9)).await.unwrap(), None);
    let ids: Vec<String> = store.api_keys().await.unwrap().into_iter().map(|k| k.id).collect();
    assert_eq!(ids, ["key_a", "key_b"]);
    assert!(store.revoke_api_key("key_a", 100).await.unwrap());
    assert!(store.revoke_api_key("key_a", 200).await.unwrap());
    assert!(!store.revoke_api_key("key_zzz", 100).await.unwrap());
    let revoked = store.api_key_by_secret(B256::repeat_byte(1)).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(100));

    assert_eq!(store.count_unfinished(CHAIN, ep()).await.unwrap(), (0, 0));
    for n in 0..3 {
        store.insert_user_op(&op(sender(40), n, 1, 1, n), 10).await.unwrap();
    }
    assert_eq!(store.count_unfinished(CHAIN, ep()).await.unwrap(), (3, 0));
}

/// Two bundler keys over one mempool: claims are disjoint, a sender's operations in flight stay
/// with the key that holds one of them, a bundle records only operations its key holds (all or
/// nothing), and an expired claim goes to the other key.
pub(crate) async fn claims(db: &TestDb) {
    use std::time::Duration;
    let store = db.open().await;
    let f = fence(&store).await;
    let (a, b) = (sender(71), sender(72));
    let (s1, s2) = (sender(1), sender(2));
    let s1_ops: Vec<_> = (0..3).map(|n| op(s1, n, 1, 1, 10)).collect();
    let s2_op = op(s2, 0, 1, 1, 11);
    for o in s1_ops.iter().chain([&s2_op]) {
        store.insert_user_op(o, 10).await.unwrap();
    }
    let long = Duration::from_secs(60);
    let hashes = |ops: &[keyward_store::OpRecord]| ops.iter().map(|o| o.hash).collect::<Vec<_>>();
    // One sender's operations in flight, by the sender index.
    let of = |sender| {
        let store = store.clone();
        async move { hashes(&store.unfinished_user_ops_of(CHAIN, ep(), sender).await.unwrap()) }
    };
    assert_eq!(of(s1).await, hashes(&s1_ops));
    assert_eq!(of(s2).await, vec![s2_op.hash]);
    // A takes the oldest (s1's first); B gets nothing of s1 while A holds one of its operations.
    let by_a = store.claim_pending_user_ops(&f, CHAIN, ep(), a, 1, long).await.unwrap();
    assert_eq!(hashes(&by_a), vec![s1_ops[0].hash]);
    let by_b = store.claim_pending_user_ops(&f, CHAIN, ep(), b, 10, long).await.unwrap();
    assert_eq!(hashes(&by_b), vec![s2_op.hash], "only s2: s1 is A's");
    // A bundle of B's with an operation A holds writes nothing.
    let stolen = bundle(1, b, 0, vec![s2_op.hash, s1_ops[0].hash]);
    let refused = store.submit_bundle(&f, &stolen, ep()).await.unwrap_err();
    assert!(matches!(refused, MempoolError::InvalidTransition { hash, .. } if hash == s1_ops[0].hash), "{refused}");
    assert_eq!(store.bundle_by_tx(stolen.tx_hash).await.unwrap(), None, "no bundle recorded");
    assert_eq!(store.get_user_op(CHAIN, ep(), s2_op.hash).await.unwrap().unwrap().status, OpStatus::Pending);
    // A submits its own: s1 stays A's while submitted.
    store.submit_bundle(&f, &bundle(2, a, 0, vec![s1_ops[0].hash]), ep()).await.unwrap();
    assert_eq!(store.get_user_op(CHAIN, ep(), s1_ops[0].hash).await.unwrap().unwrap().status, OpStatus::Submitted);
    assert_eq!(store.claim_pending_user_ops(&f, CHAIN, ep(), b, 10, long).await.unwrap().len(), 1, "only s2 again");
    // Included: s1's next operations are free for any key.
    store.mark_included(&f, CHAIN, ep(), s1_ops[0].hash, h(2), 5, h(50), "{}").await.unwrap();
    assert_eq!(of(s1).await, vec![s1_ops[1].hash, s1_ops[2].hash], "included: no longer in flight");
    let nonces = store.unfinished_nonces_of(CHAIN, ep(), s1).await.unwrap();
    let expected: Vec<_> = s1_ops[1..].iter().map(|o| (o.nonce_key, o.nonce_seq)).collect();
    assert_eq!(nonces, expected, "the nonces of the same operations, without reading them");
    let next = store.claim_pending_user_ops(&f, CHAIN, ep(), b, 10, long).await.unwrap();
    assert_eq!(hashes(&next), vec![s1_ops[1].hash, s1_ops[2].hash, s2_op.hash]);
    // An expired claim goes to the other key.
    let short = store.claim_pending_user_ops(&f, CHAIN, ep(), b, 10, Duration::ZERO).await.unwrap();
    assert_eq!(short.len(), 3);
    let taken = store.claim_pending_user_ops(&f, CHAIN, ep(), a, 10, long).await.unwrap();
    assert_eq!(hashes(&taken), vec![s1_ops[1].hash, s1_ops[2].hash, s2_op.hash]);
}

/// Role leases: one holder at a time; renewing keeps the token; another replica takes it only
/// after expiry (+ patience) with a new token; a stale fence writes nothing; release hands over at
/// once; chain cursors are fenced; heartbeats list the live replicas.
pub(crate) async fn role_leases_and_fences(db: &TestDb) {
    use keyward_store::Acquire;
    use std::time::Duration;
    let store = db.open().await;
    let long = Acquire { term: Duration::from_secs(60), patience: Duration::ZERO };
    let short = Acquire { term: Duration::from_millis(1), patience: Duration::ZERO };
    let a = store.acquire_role("bundler:1:0xaa", "replica-a", short).await.unwrap().expect("free role taken");
    assert_eq!(a.token(), 1);
    assert_eq!(
        store.acquire_role("bundler:1:0xaa", "replica-a", long).await.unwrap(),
        Some(a.clone()),
        "renewed, same token"
    );
    assert_eq!(store.acquire_role("bundler:1:0xaa", "replica-b", long).await.unwrap(), None, "held by a");
    // a's lease runs out (renewed with a 1 ms term); patience makes b wait, then b takes it.
    store.acquire_role("bundler:1:0xaa", "replica-a", short).await.unwrap().unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let patient = Acquire { term: Duration::from_secs(60), patience: Duration::from_secs(60) };
    assert_eq!(store.acquire_role("bundler:1:0xaa", "replica-b", patient).await.unwrap(), None, "patience");
    let b = store.acquire_role("bundler:1:0xaa", "replica-b", long).await.unwrap().expect("expired lease taken");
    assert_eq!(b.token(), 2, "a new token at takeover");
    assert_eq!(store.acquire_role("bundler:1:0xaa", "replica-a", long).await.unwrap(), None, "a lost it");

    // A's fence is stale: none of its writes land, b's do.
    let rec = op(sender(90), 0, 1, 1, 1);
    store.insert_user_op(&rec, 4).await.unwrap();
    let lost = store.mark_failed(&a, CHAIN, ep(), rec.hash, "late").await.unwrap_err();
    assert!(matches!(lost, MempoolError::LeaseLost(ref role) if role == "bundler:1:0xaa"), "{lost}");
    assert!(store.claim_pending_user_ops(&a, CHAIN, ep(), sender(1), 10, Duration::from_secs(9)).await.is_err());
    let sent = bundle(0xc1, sender(1), 0, vec![rec.hash]);
    assert!(matches!(store.submit_bundle(&a, &sent, ep()).await, Err(MempoolError::LeaseLost(_))));
    assert_eq!(store.bundle_by_tx(sent.tx_hash).await.unwrap(), None);
    assert_eq!(store.get_user_op(CHAIN, ep(), rec.hash).await.unwrap().unwrap().status, OpStatus::Pending);
    assert_eq!(
        store.claim_pending_user_ops(&b, CHAIN, ep(), sender(1), 10, Duration::from_secs(9)).await.unwrap().len(),
        1
    );
    store.submit_bundle(&b, &sent, ep()).await.unwrap();
    assert!(matches!(store.mark_bundle(&a, sent.tx_hash, BundleStatus::Failed).await, Err(StoreError::LeaseLost(_))));
    store.mark_bundle(&b, sent.tx_hash, BundleStatus::Mined).await.unwrap();

    // Release: the next holder gets it at once, with a new token; the released fence is stale.
    store.release_role(&b).await.unwrap();
    let c = store.acquire_role("bundler:1:0xaa", "replica-c", long).await.unwrap().expect("released role taken");
    assert_eq!(c.token(), 3);
    store.release_role(&b).await.unwrap();
    assert_eq!(
        store.acquire_role("bundler:1:0xaa", "replica-a", long).await.unwrap(),
        None,
        "a stale release is a no-op"
    );
    let leases = store.role_leases().await.unwrap();
    assert_eq!(leases.len(), 1);
    assert_eq!((leases[0].holder.as_str(), leases[0].token), ("replica-c", 3));

    // Cursors: written only under the role's current fence.
    assert_eq!(store.chain_cursor("settler:1").await.unwrap(), None);
    store.set_chain_cursor(&c, "settler:1", 10, h(0x10)).await.unwrap();
    store.set_chain_cursor(&c, "settler:1", 11, h(0x11)).await.unwrap();
    assert!(matches!(store.set_chain_cursor(&b, "settler:1", 99, h(0x99)).await, Err(StoreError::LeaseLost(_))));
    assert_eq!(store.chain_cursor("settler:1").await.unwrap(), Some((11, h(0x11))));

    // Heartbeats: both replicas live; a replica not seen within the window is gone.
    store.heartbeat("replica-a", 1).await.unwrap();
    store.heartbeat("replica-b", 2).await.unwrap();
    let live = store.live_replicas(Duration::from_secs(30)).await.unwrap();
    assert_eq!(live.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(), vec!["replica-a", "replica-b"]);
    tokio::time::sleep(Duration::from_millis(600)).await;
    store.heartbeat("replica-b", 2).await.unwrap();
    let live = store.live_replicas(Duration::from_millis(300)).await.unwrap();
    assert_eq!(live.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(), vec!["replica-b"]);
}

/// Many replicas racing for one expired role: exactly one wins each round, and the token rises
/// whenever the holder changes; each winner's write lands only while it is the holder.
pub(crate) async fn fenced_writes_race_a_takeover(db: &TestDb) {
    use keyward_store::Acquire;
    use std::time::Duration;
    let store = db.open().await;
    // A term far longer than one round of attempts takes, even on a loaded machine.
    let short = Acquire { term: Duration::from_millis(1000), patience: Duration::ZERO };
    let (mut last, mut last_holder) = (0, String::new());
    for round in 0..4 {
        let mut attempts = tokio::task::JoinSet::new();
        for r in 0..6 {
            let store = store.clone();
            attempts.spawn(async move { store.acquire_role("chain:1", &format!("replica-{r}"), short).await.unwrap() });
        }
        let winners: Vec<_> = attempts.join_all().await.into_iter().flatten().collect();
        assert_eq!(winners.len(), 1, "round {round}: one holder");
        let w = &winners[0];
        let holder = store.role_leases().await.unwrap()[0].holder.clone();
        // A new holder gets a new token; the same one winning again kept its lease (none between).
        assert!(w.token() > last || (w.token() == last && holder == last_holder), "tokens rise");
        (last, last_holder) = (w.token(), holder);
        store.set_chain_cursor(w, "reorgs:1", round, h(round as u8)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    assert_eq!(store.chain_cursor("reorgs:1").await.unwrap(), Some((3, h(3))));
}

/// A mined bundle is recorded in one transaction: its included operations (block and outcome),
/// the ones missing from its events (failed), the bundle mined; an operation forgotten since is
/// skipped; a refused change (one included in another block already) writes nothing at all.
pub(crate) async fn mined_bundle_in_one_commit(db: &TestDb) {
    use keyward_store::MinedOp;
    let store = db.open().await;
    let f = fence(&store).await;
    let bundler = sender(81);
    let ops: Vec<_> = (0..3u8).map(|n| op(sender(90 + n), 0, 1, 1, 20 + u64::from(n))).collect();
    for (arrival, o) in (1..).zip(&ops) {
        let admission = keyward_store::Admission { first_validation: Some(("{}", arrival)), ..Default::default() };
        store.admit_user_op(o, 10, &admission).await.unwrap();
    }
    assert_eq!(store.unfinished_senders(CHAIN, ep()).await.unwrap().len(), 3);
    let claimed = store.claim_pending_user_ops(&f, CHAIN, ep(), bundler, 10, std::time::Duration::from_secs(60));
    assert_eq!(claimed.await.unwrap().len(), 3);
    let forgotten = h(0xf0);
    let mut hashes: Vec<_> = ops.iter().map(|o| o.hash).collect();
    hashes.push(forgotten);
    let b = bundle(0xd1, bundler, 0, hashes.clone());
    store.submit_bundle(&f, &bundle(0xd1, bundler, 0, hashes[..3].to_vec()), ep()).await.unwrap();

    // Every included operation names the same paymaster-like entity, to count its inclusions.
    let entity = sender(99);
    let entities: &[_] = &[entity];
    let included_count = || async {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        store.reputation_of(CHAIN, ep(), entity, now).await.unwrap().ops_included
    };

    // Refused: op 0 is already included in another block; nothing of the batch is written.
    store.mark_included(&f, CHAIN, ep(), ops[0].hash, h(0xd0), 4, h(0xb4), "{}").await.unwrap();
    let batch = |block_hash| {
        vec![
            MinedOp::Included { hash: hashes[0], block_number: 5, block_hash, receipt_json: r#"{"n":0}"#, entities },
            MinedOp::Included { hash: hashes[1], block_number: 5, block_hash, receipt_json: r#"{"n":1}"#, entities },
            MinedOp::Missing { hash: hashes[2], reason: "no event" },
            MinedOp::Included { hash: forgotten, block_number: 5, block_hash, receipt_json: "{}", entities },
        ]
    };
    let refused = store.record_mined_bundle(&f, CHAIN, ep(), b.tx_hash, &batch(h(0xb5))).await.unwrap_err();
    assert!(matches!(refused, MempoolError::InvalidTransition { hash, .. } if hash == ops[0].hash), "{refused}");
    for o in &ops[1..] {
        assert_eq!(store.get_user_op(CHAIN, ep(), o.hash).await.unwrap().unwrap().status, OpStatus::Submitted);
    }
    assert_eq!(store.bundle_by_tx(b.tx_hash).await.unwrap().unwrap().status, BundleStatus::Pending);
    assert_eq!(included_count().await, 0, "a refused batch counts no inclusion");
    for o in &ops[1..] {
        assert!(store.op_facts(CHAIN, ep(), o.hash).await.unwrap().is_some(), "a refused batch forgets nothing");
    }

    // Accepted (op 0 in the same block as its first inclusion is a repeat, the forgotten one skipped).
    let included = store.record_mined_bundle(&f, CHAIN, ep(), b.tx_hash, &batch(h(0xb4))).await.unwrap();
    assert_eq!(included, vec![ops[0].hash, ops[1].hash]);
    let one = store.get_user_op(CHAIN, ep(), ops[1].hash).await.unwrap().unwrap();
    assert_eq!(
        (one.status, one.block_hash, one.receipt_json.as_deref()),
        (OpStatus::Included, Some(h(0xb4)), Some(r#"{"n":1}"#))
    );
    let missing = store.get_user_op(CHAIN, ep(), ops[2].hash).await.unwrap().unwrap();
    assert_eq!((missing.status, missing.failure.as_deref()), (OpStatus::Failed, Some("no event")));
    assert_eq!(store.bundle_by_tx(b.tx_hash).await.unwrap().unwrap().status, BundleStatus::Mined);
    // Every operation is final: no sender has one unfinished (before the batch, all three did).
    assert!(store.unfinished_senders(CHAIN, ep()).await.unwrap().is_empty());
    // Op 1 counted; op 0 was included before (a repeat), the forgotten one is skipped.
    assert_eq!(included_count().await, 1);
    // Included or failed, each is final: its validation facts are forgotten.
    for o in &ops {
        assert!(store.op_facts(CHAIN, ep(), o.hash).await.unwrap().is_none(), "facts of a final op");
    }
}

/// An admission is one commit: the op, its first validation's facts and its entities' `opsSeen`;
/// a repeat of a known op and a refused one (the sender at its cap) change none of them.
pub(crate) async fn admission_in_one_commit(db: &TestDb) {
    use keyward_store::Admission;
    let store = db.open().await;
    let (a, paymaster) = (sender(70), sender(71));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let seen = |address| {
        let store = store.clone();
        async move { store.reputation_of(CHAIN, ep(), address, now).await.unwrap().ops_seen }
    };
    let entities = [a, paymaster];
    let admission = |facts| Admission { first_validation: Some((facts, 7)), seen: &entities, now, call: None };

    let first = op(a, 0, 100, 10, 20);
    let got = store.admit_user_op(&first, 1, &admission(r#"[["0x01"]]"#)).await.unwrap();
    assert_eq!(got, InsertOutcome::Inserted);
    assert_eq!(store.op_facts(CHAIN, ep(), first.hash).await.unwrap().as_deref(), Some(r#"[["0x01"]]"#));
    assert_eq!(store.op_arrivals(CHAIN, ep()).await.unwrap(), vec![(first.hash, 7)]);
    assert_eq!((seen(a).await, seen(paymaster).await), (1, 1));

    // The same op again: known, nothing counted, its first facts kept.
    let again = store.admit_user_op(&first, 1, &admission("[]")).await.unwrap();
    assert_eq!(again, InsertOutcome::AlreadyKnown);
    assert_eq!(store.op_facts(CHAIN, ep(), first.hash).await.unwrap().as_deref(), Some(r#"[["0x01"]]"#));
    assert_eq!((seen(a).await, seen(paymaster).await), (1, 1));

    // Refused at the cap: no op, no facts, no count.
    let second = op(a, 1, 100, 10, 21);
    let refused = store.admit_user_op(&second, 1, &admission("[]")).await;
    assert!(matches!(refused, Err(MempoolError::SenderCap { .. })), "{refused:?}");
    assert!(store.get_user_op(CHAIN, ep(), second.hash).await.unwrap().is_none());
    assert!(store.op_facts(CHAIN, ep(), second.hash).await.unwrap().is_none());
    assert_eq!((seen(a).await, seen(paymaster).await), (1, 1));

    // A replacement is new: counted, with its own facts.
    let replacement = op(a, 0, 200, 20, 22);
    let got = store.admit_user_op(&replacement, 1, &admission("[]")).await.unwrap();
    assert!(matches!(got, InsertOutcome::Replaced { old_hash } if old_hash == first.hash), "{got:?}");
    assert_eq!(store.op_facts(CHAIN, ep(), replacement.hash).await.unwrap().as_deref(), Some("[]"));
    assert!(store.op_facts(CHAIN, ep(), first.hash).await.unwrap().is_none(), "the replaced op is final");
    assert_eq!(store.op_arrivals(CHAIN, ep()).await.unwrap(), vec![(replacement.hash, 7)]);
    assert_eq!((seen(a).await, seen(paymaster).await), (2, 2));

    // Entities with a row this hour and one without, counted together: each once.
    let (b, factory) = (sender(72), sender(73));
    let mixed = [paymaster, b, factory];
    let third = op(b, 0, 100, 10, 23);
    let mixed_admission = Admission { first_validation: None, seen: &mixed, now, call: None };
    store.admit_user_op(&third, 1, &mixed_admission).await.unwrap();
    assert_eq!((seen(a).await, seen(paymaster).await, seen(b).await, seen(factory).await), (2, 3, 1, 1));

    // The wallet call an admission answers is recorded in its commit: with a new operation, with a
    // known one (a retried send), never with a refused one.
    let call = |hash| keyward_store::wallet::CallRecord {
        chain_id: CHAIN,
        hash,
        account: b,
        calls_json: "[]".into(),
        session_id: None,
        created_at: 1,
    };
    let answering = |c| Admission { call: Some((c, false)), ..mixed_admission };
    let fourth = op(b, 1, 100, 10, 24);
    let c4 = call(fourth.hash);
    assert_eq!(store.admit_user_op(&fourth, 4, &answering(&c4)).await.unwrap(), InsertOutcome::Inserted);
    assert_eq!(store.call(CHAIN, fourth.hash).await.unwrap().as_ref(), Some(&c4));
    let c3 = call(third.hash);
    assert_eq!(store.admit_user_op(&third, 4, &answering(&c3)).await.unwrap(), InsertOutcome::AlreadyKnown);
    assert_eq!(store.call(CHAIN, third.hash).await.unwrap().as_ref(), Some(&c3));
    let over_cap = op(b, 2, 100, 10, 25);
    let refused_call = call(over_cap.hash);
    let refused = store.admit_user_op(&over_cap, 2, &answering(&refused_call)).await;
    assert!(matches!(refused, Err(MempoolError::SenderCap { .. })), "{refused:?}");
    assert_eq!(store.call(CHAIN, over_cap.hash).await.unwrap(), None, "a refused admission records no call");
}

/// Admissions naming the same entities in opposite orders, many at once: each counts them in one
/// (address) order, so none waits on another in a cycle (PostgreSQL would answer "deadlock
/// detected"), and every count lands.
pub(crate) async fn concurrent_admissions_count_entities_without_deadlock(db: &TestDb) {
    use keyward_store::Admission;
    let store = db.open().await;
    let (x, y) = (sender(0x41), sender(0x42));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..24u8 {
        let store = store.clone();
        tasks.spawn(async move {
            let seen = if n % 2 == 0 { [x, y] } else { [y, x] };
            let admission = Admission { first_validation: None, seen: &seen, now, call: None };
            let o = op(sender(0x80 + n), 0, 1, 1, u64::from(n));
            store.admit_user_op(&o, 4, &admission).await.unwrap()
        });
    }
    assert!(tasks.join_all().await.iter().all(|o| *o == InsertOutcome::Inserted));
    for entity in [x, y] {
        assert_eq!(store.reputation_of(CHAIN, ep(), entity, now).await.unwrap().ops_seen, 24);
    }
}
