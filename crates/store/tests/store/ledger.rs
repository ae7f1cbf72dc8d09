//! The sponsorship ledger's totals, checked against a model kept in U256 by the test: amounts that
//! cross gwei boundaries (the totals are two BIGINT limbs each), limits met to the wei, and the
//! conversion of the hex-text totals of migration 0014.

use std::collections::BTreeMap;

use alloy::primitives::{Address, B256, U256, keccak256};
use keyward_store::Store;
use keyward_store::sponsorship::{
    Reservation, ReservationRequest, ReserveOutcome, Reserving, SpendLimits, SpendTotals, SponsorshipError,
    SponsorshipStatus,
};
use keyward_store::wallet::PreparedRecord;
use sqlx::{AssertSqlSafe, Executor};

use crate::harness::TestDb;

const CHAIN: u64 = 31337;
const FAR: u64 = 4_000_000_000;

/// Amounts around the limbs' edges, then pseudo-random ones up to 2⁸⁰ wei.
fn amounts(n: usize) -> Vec<U256> {
    let gwei = 1_000_000_000u128;
    let mut out: Vec<U256> =
        [1, gwei - 1, gwei, gwei + 1, 2 * gwei - 1, 123_456_789_987_654_321, 10u128.pow(18) + gwei - 1]
            .into_iter()
            .map(U256::from)
            .collect();
    let mut x = 0x9e37_79b9_7f4a_7c15u128;
    while out.len() < n {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        out.push(U256::from(x >> 48));
    }
    out.truncate(n);
    out
}

fn request(policy: &str, i: u64, sender: Address, max_cost: U256, valid_until: u64) -> ReservationRequest {
    let key = |tag: &str| keccak256(format!("{tag}/{policy}/{i}"));
    ReservationRequest {
        policy_id: policy.into(),
        chain_id: CHAIN,
        request_key: key("request"),
        user_op_hash: key("op"),
        sender,
        max_cost,
        valid_until,
        valid_after: 0,
    }
}

/// What the test expects: (spent, reserved) per policy and per (policy, sender).
#[derive(Default)]
struct Model {
    policies: BTreeMap<String, (U256, U256)>,
    senders: BTreeMap<(String, Address), (U256, U256)>,
}

impl Model {
    fn change(&mut self, req: &ReservationRequest, spent: U256, reserved_in: U256, reserved_out: U256) {
        for t in [
            self.policies.entry(req.policy_id.clone()).or_default(),
            self.senders.entry((req.policy_id.clone(), req.sender)).or_default(),
        ] {
            t.0 += spent;
            t.1 = t.1 + reserved_in - reserved_out;
        }
    }

    async fn check(&self, store: &Store, when: &str) {
        for (policy, (spent, reserved)) in &self.policies {
            let got = store.policy_totals(policy).await.unwrap();
            assert_eq!(got, SpendTotals { spent: *spent, reserved: *reserved }, "{when}: policy {policy}");
        }
        for ((policy, sender), (spent, reserved)) in &self.senders {
            let got = store.sender_totals(policy, *sender).await.unwrap();
            assert_eq!(got, SpendTotals { spent: *spent, reserved: *reserved }, "{when}: {policy} / {sender}");
        }
    }
}

/// Reservations, settlements (in batches, some late: released first), releases and repeats move
/// the totals of the policy and of each sender exactly as U256 arithmetic does.
pub(crate) async fn totals_add_up_exactly_across_gwei_boundaries(db: &TestDb) {
    let store = db.open().await;
    let senders = [Address::repeat_byte(0xa1), Address::repeat_byte(0xa2), Address::repeat_byte(0xa3)];
    let costs = amounts(24);
    let actuals = amounts(31)[7..].to_vec();
    let mut model = Model::default();
    let mut reqs = Vec::new();
    for (i, cost) in costs.iter().enumerate() {
        let policy = if i % 5 == 4 { "p-2" } else { "p-1" };
        let req = request(policy, i as u64, senders[i % 3], *cost, FAR);
        let got = store.reserve_sponsorship(&req, SpendLimits::default(), 0).await.unwrap();
        assert_eq!(got, ReserveOutcome::Reserved);
        model.change(&req, U256::ZERO, *cost, U256::ZERO);
        reqs.push(req);
    }
    model.check(&store, "after the reservations").await;
    // A retried reservation counts nothing more.
    assert!(matches!(
        store.reserve_sponsorship(&reqs[3], SpendLimits::default(), 0).await.unwrap(),
        ReserveOutcome::AlreadyReserved(_)
    ));
    model.check(&store, "after a retry").await;
    // Settle the first twelve in batches of five (one block's operations each).
    for batch in (0..12).collect::<Vec<_>>().chunks(5) {
        let settled: Vec<(B256, U256)> = batch.iter().map(|&i| (reqs[i].user_op_hash, actuals[i])).collect();
        let done = store.settle_sponsorships(CHAIN, &settled).await.unwrap();
        assert_eq!(done.len(), batch.len());
        for &i in batch {
            model.change(&reqs[i], actuals[i], U256::ZERO, reqs[i].max_cost);
        }
    }
    model.check(&store, "after settling").await;
    // Settling again (a block read twice) changes nothing and reports nothing settled.
    let again: Vec<(B256, U256)> = (0..5).map(|i| (reqs[i].user_op_hash, actuals[i])).collect();
    assert!(store.settle_sponsorships(CHAIN, &again).await.unwrap().is_empty());
    let one = store.settle_sponsorship(CHAIN, reqs[0].user_op_hash, actuals[0]).await.unwrap();
    assert_eq!((one.status, one.actual_cost), (SponsorshipStatus::Settled, Some(actuals[0])));
    model.check(&store, "after settling again").await;
    // Release six; twice is once; a settled one stays settled.
    for req in &reqs[12..18] {
        let rec = store.release_sponsorship(CHAIN, req.user_op_hash, "dropped").await.unwrap();
        assert_eq!(rec.status, SponsorshipStatus::Released);
        model.change(req, U256::ZERO, U256::ZERO, req.max_cost);
    }
    store.release_sponsorship(CHAIN, reqs[12].user_op_hash, "again").await.unwrap();
    assert_eq!(
        store.release_sponsorship(CHAIN, reqs[1].user_op_hash, "late").await.unwrap().status,
        SponsorshipStatus::Settled
    );
    model.check(&store, "after releasing").await;
    // One batch mixing a reserved, a released (included after all) and an unknown operation.
    let unknown = (B256::repeat_byte(0x77), U256::from(5u8));
    let mixed = [(reqs[18].user_op_hash, actuals[18]), (reqs[13].user_op_hash, actuals[13]), unknown];
    let done = store.settle_sponsorships(CHAIN, &mixed).await.unwrap();
    assert_eq!(done.len(), 2);
    model.change(&reqs[18], actuals[18], U256::ZERO, reqs[18].max_cost);
    model.change(&reqs[13], actuals[13], U256::ZERO, U256::ZERO);
    model.check(&store, "after the mixed batch").await;
    assert!(matches!(
        store.settle_sponsorship(CHAIN, unknown.0, unknown.1).await,
        Err(SponsorshipError::NotFound(h)) if h == unknown.0
    ));
    store.close().await;
}

/// A round settling more operations, of more senders, than one statement names (300 operations
/// of 70 senders, three of them released first) settles every one, to the wei.
pub(crate) async fn a_large_round_settles_in_several_statements(db: &TestDb) {
    let store = db.open().await;
    let costs = amounts(300);
    let mut model = Model::default();
    let mut reqs = Vec::new();
    for (i, cost) in costs.iter().enumerate() {
        let sender = Address::left_padding_from(&(i as u64 % 70 + 1).to_be_bytes());
        let req = request("p-big", i as u64, sender, *cost, FAR);
        store.reserve_sponsorship(&req, SpendLimits::default(), 0).await.unwrap();
        model.change(&req, U256::ZERO, *cost, U256::ZERO);
        reqs.push(req);
    }
    for req in &reqs[100..103] {
        store.release_sponsorship(CHAIN, req.user_op_hash, "expired").await.unwrap();
        model.change(req, U256::ZERO, U256::ZERO, req.max_cost);
    }
    let actuals: Vec<U256> = costs.iter().map(|c| *c / U256::from(3u8) + U256::from(1u8)).collect();
    let round: Vec<(B256, U256)> = reqs.iter().zip(&actuals).map(|(r, a)| (r.user_op_hash, *a)).collect();
    let done = store.settle_sponsorships(CHAIN, &round).await.unwrap();
    assert_eq!(done.len(), 300);
    assert!(done.iter().all(|r| r.status == SponsorshipStatus::Settled));
    for (i, (req, actual)) in reqs.iter().zip(&actuals).enumerate() {
        let freed = if (100..103).contains(&i) { U256::ZERO } else { req.max_cost };
        model.change(req, *actual, U256::ZERO, freed);
    }
    model.check(&store, "after one round of 300").await;
    store.close().await;
}

/// A limit admits reservations up to the wei and refuses one wei more, naming the amounts; a
/// settlement below the reservation makes exactly the difference available; an expired
/// reservation standing in the way is released to make room.
pub(crate) async fn a_limit_admits_exactly_up_to_it(db: &TestDb) {
    let store = db.open().await;
    let (a, b) = (Address::repeat_byte(0xb1), Address::repeat_byte(0xb2));
    let costs = amounts(3);
    let limit: U256 = costs.iter().copied().sum::<U256>() + U256::from(2_000_000_000u64);
    let limits = SpendLimits { policy_total: Some(limit), per_sender: None };
    let mut next = 0u64;
    let mut reserve = |sender: Address, cost: U256, valid_until: u64, limits: SpendLimits, release_before: u64| {
        next += 1;
        let req = request("capped", next, sender, cost, valid_until);
        let store = store.clone();
        async move { (store.reserve_sponsorship(&req, limits, release_before).await, req) }
    };
    for cost in &costs {
        assert_eq!(reserve(a, *cost, FAR, limits, 0).await.0.unwrap(), ReserveOutcome::Reserved);
    }
    // Room left: 2 gwei exactly (a carry in the comparison when the costs' wei add past a gwei).
    let (refused, _) = reserve(b, U256::from(2_000_000_001u64), FAR, limits, 0).await;
    match refused {
        Err(SponsorshipError::PolicyExhausted { limit: l, committed, requested, .. }) => {
            assert_eq!(
                (l, committed, requested),
                (limit, limit - U256::from(2_000_000_000u64), U256::from(2_000_000_001u64))
            );
        }
        other => panic!("expected PolicyExhausted, got {other:?}"),
    }
    let (fits, _) = reserve(b, U256::from(1_999_999_999u64), FAR, limits, 0).await;
    assert_eq!(fits.unwrap(), ReserveOutcome::Reserved);
    let (last, last_req) = reserve(b, U256::from(1u8), 100, limits, 0).await;
    assert_eq!(last.unwrap(), ReserveOutcome::Reserved);
    assert_eq!(store.policy_totals("capped").await.unwrap().committed(), limit);
    assert!(reserve(b, U256::from(1u8), FAR, limits, 0).await.0.is_err(), "full to the wei");
    // The last reservation's window ended at 100: past it, it makes room for one of its size.
    let (room, _) = reserve(b, U256::from(1u8), FAR, limits, 200).await;
    assert_eq!(room.unwrap(), ReserveOutcome::Reserved);
    let released = store.get_sponsorship(CHAIN, last_req.user_op_hash).await.unwrap().unwrap();
    assert_eq!((released.status, released.reason.as_deref()), (SponsorshipStatus::Released, Some("expired")));
    assert_eq!(store.policy_totals("capped").await.unwrap().committed(), limit);
    // Settled 5 wei below its reservation of one gwei, the third operation frees exactly 5 wei.
    let first = request("capped", 3, a, costs[2], FAR);
    let actual = costs[2] - U256::from(5u8);
    store.settle_sponsorship(CHAIN, first.user_op_hash, actual).await.unwrap();
    assert!(reserve(b, U256::from(6u8), FAR, limits, 0).await.0.is_err());
    assert_eq!(reserve(b, U256::from(5u8), FAR, limits, 0).await.0.unwrap(), ReserveOutcome::Reserved);
    // A per-sender limit is held the same way, and named.
    let per = SpendLimits { policy_total: None, per_sender: Some(U256::from(3_000_000_000u64)) };
    let c = Address::repeat_byte(0xb3);
    assert_eq!(reserve(c, U256::from(2_999_999_999u64), FAR, per, 0).await.0.unwrap(), ReserveOutcome::Reserved);
    match reserve(c, U256::from(2u8), FAR, per, 0).await.0 {
        Err(SponsorshipError::SenderExhausted { sender, committed, .. }) => {
            assert_eq!((sender, committed), (c, U256::from(2_999_999_999u64)));
        }
        other => panic!("expected SenderExhausted, got {other:?}"),
    }
    assert_eq!(reserve(c, U256::from(1u8), FAR, per, 0).await.0.unwrap(), ReserveOutcome::Reserved);
    // A cost above the limit on a policy's first reservation is refused too.
    let fresh = SpendLimits { policy_total: Some(U256::from(10u8)), per_sender: None };
    let req = request("fresh", 1, a, U256::from(11u8), FAR);
    assert!(matches!(
        store.reserve_sponsorship(&req, fresh, 0).await,
        Err(SponsorshipError::PolicyExhausted { committed, .. }) if committed == U256::ZERO
    ));
    assert_eq!(store.get_sponsorship(CHAIN, req.user_op_hash).await.unwrap(), None, "nothing written");
    store.close().await;
}

/// A sponsored prepare stores its reservation and its prepared row in one transaction: both or
/// neither (a limit's refusal writes no row), and a retry of the same operation writes nothing and
/// returns the reservation found.
pub(crate) async fn prepared_row_and_reservation_are_one_write(db: &TestDb) {
    let store = db.open().await;
    let sender = Address::repeat_byte(0xd1);
    let limits = SpendLimits { policy_total: Some(U256::from(10u8)), per_sender: None };
    let reservation = |i: u64, cost: u64| Reservation {
        request: request("joint", i, sender, U256::from(cost), FAR),
        limits,
        release_before: 0,
    };
    let row = |r: &Reservation, token: &str| PreparedRecord {
        chain_id: CHAIN,
        hash: r.request.user_op_hash,
        account: sender,
        op_json: format!(r#"{{"sender":"{sender}","i":"{token}"}}"#),
        session_id: None,
        signer: Address::ZERO,
        authorization_json: None,
        deferred: false,
        owner_signature: None,
        calls_json: "[]".into(),
        created_at: 7,
    };
    let first = reservation(1, 6);
    match store.insert_prepared_reserving(&first, &row(&first, "a"), Some("lease-a")).await.unwrap() {
        Reserving::Stored(stored) => assert_eq!(*stored, row(&first, "a")),
        other => panic!("expected Stored, got {other:?}"),
    }
    assert_eq!(store.prepared(CHAIN, first.request.user_op_hash).await.unwrap(), Some(row(&first, "a")));
    assert_eq!(store.policy_totals("joint").await.unwrap().reserved, U256::from(6u8));
    // The same operation again: the reservation found, nothing written.
    let mut retry = first.clone();
    retry.request.user_op_hash = B256::repeat_byte(0x99);
    match store.insert_prepared_reserving(&retry, &row(&retry, "b"), Some("lease-b")).await.unwrap() {
        Reserving::AlreadyReserved(rec) => assert_eq!(rec.request, first.request),
        other => panic!("expected AlreadyReserved, got {other:?}"),
    }
    assert_eq!(store.prepared(CHAIN, retry.request.user_op_hash).await.unwrap(), None);
    // Past the limit: refused, and neither the reservation nor the row exists.
    let over = reservation(2, 5);
    assert!(matches!(
        store.insert_prepared_reserving(&over, &row(&over, "c"), None).await,
        Err(SponsorshipError::PolicyExhausted { .. })
    ));
    assert_eq!(store.prepared(CHAIN, over.request.user_op_hash).await.unwrap(), None);
    assert_eq!(store.get_sponsorship(CHAIN, over.request.user_op_hash).await.unwrap(), None);
    assert_eq!(store.policy_totals("joint").await.unwrap().reserved, U256::from(6u8));
    store.close().await;
}

/// A store at migration 0014 (hex-text totals) opens with the same totals, policy and sender rows
/// alike, and the old tables gone.
pub(crate) async fn migration_0015_converts_hex_totals(db: &TestDb) {
    sqlx::any::install_default_drivers();
    let all = sqlx::migrate::Migrator::new(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations")))
        .await
        .unwrap();
    let mut at_14 = sqlx::migrate::Migrator::DEFAULT;
    at_14.migrations = all.migrations.iter().filter(|m| m.version <= 14).cloned().collect::<Vec<_>>().into();
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    at_14.run(&pool).await.unwrap();
    let (spent, reserved) = (U256::from(5_000_000_000_123u64), U256::from(999_999_999u64));
    let big = U256::from(10u128.pow(27) + 7);
    let sender = Address::repeat_byte(0xc1);
    let hex = |v: U256| format!("0x{v:064x}");
    pool.execute(AssertSqlSafe(format!(
        "INSERT INTO sponsorship_totals (policy_id, spent, reserved, updated_at) VALUES ('old', '{}', '{}', 1)",
        hex(spent),
        hex(reserved)
    )))
    .await
    .unwrap();
    pool.execute(AssertSqlSafe(format!(
        "INSERT INTO sponsorship_sender_totals (policy_id, sender, spent, reserved, updated_at) \
         VALUES ('old', '{sender:#x}', '{}', '{}', 1)",
        hex(big),
        hex(U256::ZERO)
    )))
    .await
    .unwrap();
    pool.close().await;
    let store = db.open().await;
    assert_eq!(store.policy_totals("old").await.unwrap(), SpendTotals { spent, reserved });
    assert_eq!(store.sender_totals("old", sender).await.unwrap(), SpendTotals { spent: big, reserved: U256::ZERO });
    // The converted totals count on.
    let req = request("old", 1, sender, U256::from(1u8), FAR);
    let limits = SpendLimits { policy_total: Some(spent + reserved + U256::from(1u8)), per_sender: None };
    assert_eq!(store.reserve_sponsorship(&req, limits, 0).await.unwrap(), ReserveOutcome::Reserved);
    let req = request("old", 2, sender, U256::from(1u8), FAR);
    assert!(store.reserve_sponsorship(&req, limits, 0).await.is_err());
    store.close().await;
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM store_upgrades").fetch_one(&pool).await.unwrap();
    assert_eq!(pending, 0);
    for old in ["sponsorship_totals_0014", "sponsorship_sender_totals_0014"] {
        assert!(pool.execute(AssertSqlSafe(format!("SELECT 1 FROM {old}"))).await.is_err(), "{old} is dropped");
    }
    pool.close().await;
}
