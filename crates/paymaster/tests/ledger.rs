//! The sponsorship ledger through the Sponsor API, on SQLite and on PostgreSQL: concurrent
//! reservations never pass a policy's or a sender's limit; retries reserve once; settle and release
//! move the totals exactly; expired reservations are released; every policy refusal is precise.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use std::sync::Arc;

use alloy::primitives::{Address, B256, Bytes, U256};
use keyward_paymaster::policy::max_cost;
use keyward_paymaster::{Policy, PolicyError, Sponsor, SponsorError, SponsoredFields, Wei};
use keyward_primitives::UserOperation;
use keyward_store::sponsorship::SponsorshipStatus;
use keyward_testkit::mav2::execute;
use uuid::Uuid;

use keyward_testkit::sponsorship::{Backend, Env, TestDb};

fn target() -> Address {
    Address::with_last_byte(0x55)
}

fn op_of(env: &Env, sender: Address, nonce: u64) -> UserOperation {
    env.m.op(sender, U256::from(nonce), execute(target(), U256::ZERO, Bytes::new()))
}

/// Worst-case cost of every op of [`op_of`] once the paymaster fields are on.
async fn cost_per_op(env: &Env, sponsor: &Sponsor, policy: &str) -> U256 {
    let stub = sponsor.stub(&op_of(env, Address::with_last_byte(1), 0), policy).await.unwrap();
    let mut op = op_of(env, Address::with_last_byte(1), 0);
    op.paymaster = Some(stub.paymaster);
    max_cost(&op)
}

fn exhausted(e: &SponsorError) -> bool {
    matches!(e, SponsorError::Policy(PolicyError::Exhausted { .. }))
}

async fn two_hundred_concurrent_reservations_fit_exactly_fifty(backend: Backend) {
    let Some(db) = TestDb::open(backend).await else { return };
    let env = Env::new().await;
    let id = Uuid::new_v4();
    let probe = env.sponsor(db.store.clone(), vec![Policy::open(id, "probe")]);
    let cost = cost_per_op(&env, &probe, &id.to_string()).await;
    let mut policy = Policy::open(id, "fifty");
    policy.max_total_spend = Some(Wei(cost * U256::from(50)));
    let sponsor = env.sponsor(db.store.clone(), vec![policy]);
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for i in 0..200u64 {
        let sponsor: Arc<Sponsor> = sponsor.clone();
        let op = op_of(&env, Address::left_padding_from(&(1000 + i).to_be_bytes()), i);
        let id = id.to_string();
        tasks.push(tokio::spawn(async move { sponsor.sponsor(&op, &id).await }));
    }
    let mut ok = Vec::new();
    let mut refused = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(f) => ok.push(f),
            Err(e) if exhausted(&e) => refused += 1,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    eprintln!("{backend:?}: 200 concurrent sponsor() calls (50 reserved) in {:?}", started.elapsed());
    assert_eq!(ok.len(), 50, "sponsored");
    assert_eq!(refused, 150, "refused with the policy's error");
    let totals = db.store.policy_totals(&id.to_string()).await.unwrap();
    assert_eq!(totals.reserved, cost * U256::from(50));
    assert_eq!(totals.spent, U256::ZERO);
    // Every sponsored op has its own record, reserved for its worst case.
    for f in &ok {
        assert_eq!(f.max_cost, cost);
        let rec = db.store.get_sponsorship(env.m.chain_id, f.user_op_hash).await.unwrap().unwrap();
        assert_eq!(rec.status, SponsorshipStatus::Reserved);
    }
    // The 51st is refused with a message naming the policy and the amounts.
    let e = sponsor.sponsor(&op_of(&env, Address::with_last_byte(9), 0), &id.to_string()).await.unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains(&id.to_string()) && msg.contains("exhausted"), "{msg}");
    // Settling two ops at half their worst case frees room for exactly one more.
    sponsor.settle(ok[0].user_op_hash, cost / U256::from(2)).await.unwrap();
    assert!(exhausted(
        &sponsor.sponsor(&op_of(&env, Address::with_last_byte(9), 0), &id.to_string()).await.unwrap_err()
    ));
    sponsor.settle(ok[1].user_op_hash, cost - cost / U256::from(2)).await.unwrap();
    sponsor.sponsor(&op_of(&env, Address::with_last_byte(9), 0), &id.to_string()).await.unwrap();
    assert!(exhausted(
        &sponsor.sponsor(&op_of(&env, Address::with_last_byte(10), 0), &id.to_string()).await.unwrap_err()
    ));
    db.cleanup().await;
}

async fn per_sender_limit_holds_under_concurrency(backend: Backend) {
    let Some(db) = TestDb::open(backend).await else { return };
    let env = Env::new().await;
    let id = Uuid::new_v4();
    let probe = env.sponsor(db.store.clone(), vec![Policy::open(id, "probe")]);
    let cost = cost_per_op(&env, &probe, &id.to_string()).await;
    let mut policy = Policy::open(id, "per sender");
    policy.max_spend_per_sender = Some(Wei(cost * U256::from(3)));
    let sponsor = env.sponsor(db.store.clone(), vec![policy]);
    let a = Address::with_last_byte(0xa);
    let mut tasks = Vec::new();
    for i in 0..20u64 {
        let sponsor = sponsor.clone();
        let op = op_of(&env, a, i);
        let id = id.to_string();
        tasks.push(tokio::spawn(async move { sponsor.sponsor(&op, &id).await }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(SponsorError::Policy(PolicyError::SenderExhausted { sender, .. })) => assert_eq!(sender, a),
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(ok, 3);
    assert_eq!(db.store.sender_totals(&id.to_string(), a).await.unwrap().reserved, cost * U256::from(3));
    // Another sender still has its own allowance.
    sponsor.sponsor(&op_of(&env, Address::with_last_byte(0xb), 0), &id.to_string()).await.unwrap();
    db.cleanup().await;
}

async fn a_retried_request_reserves_once_and_gets_the_same_fields(backend: Backend) {
    let Some(db) = TestDb::open(backend).await else { return };
    let env = Env::new().await;
    let id = Uuid::new_v4();
    let sponsor = env.sponsor(db.store.clone(), vec![Policy::open(id, "retry")]);
    let op = op_of(&env, Address::with_last_byte(0xc), 0);
    let first = sponsor.sponsor(&op, &id.to_string()).await.unwrap();
    // Time passes between the attempts: the retry still gets the first window and signature.
    env.m.advance(30).await;
    let again = sponsor.sponsor(&op, &id.to_string()).await.unwrap();
    assert_eq!(again, first);
    // The account signature or stale paymaster fields on the op make no difference.
    let mut decorated = op.clone();
    decorated.signature = Bytes::from(vec![1; 65]);
    decorated.paymaster = Some(first.paymaster.clone());
    assert_eq!(sponsor.sponsor(&decorated, &id.to_string()).await.unwrap(), first);
    assert_eq!(db.store.policy_totals(&id.to_string()).await.unwrap().reserved, first.max_cost);
    // A different op (another fee) is another reservation.
    let mut other = op.clone();
    other.max_fee_per_gas += 1;
    let second = sponsor.sponsor(&other, &id.to_string()).await.unwrap();
    assert_ne!(second.user_op_hash, first.user_op_hash);
    assert_eq!(db.store.policy_totals(&id.to_string()).await.unwrap().reserved, first.max_cost + second.max_cost);
    db.cleanup().await;
}

async fn settle_and_release_move_the_totals_exactly(backend: Backend) {
    let Some(db) = TestDb::open(backend).await else { return };
    let env = Env::new().await;
    let id = Uuid::new_v4();
    let sponsor = env.sponsor(db.store.clone(), vec![Policy::open(id, "ledger")]);
    let pid = id.to_string();
    let s = Address::with_last_byte(0xd);
    let a = sponsor.sponsor(&op_of(&env, s, 0), &pid).await.unwrap();
    let b = sponsor.sponsor(&op_of(&env, s, 1), &pid).await.unwrap();
    let totals = db.store.policy_totals(&pid).await.unwrap();
    assert_eq!((totals.spent, totals.reserved), (U256::ZERO, a.max_cost + b.max_cost));
    let actual = U256::from(123_456_789u64);
    let rec = sponsor.settle(a.user_op_hash, actual).await.unwrap();
    assert_eq!((rec.status, rec.actual_cost), (SponsorshipStatus::Settled, Some(actual)));
    // Settling twice (a retried receipt) counts once.
    sponsor.settle(a.user_op_hash, actual).await.unwrap();
    let totals = db.store.policy_totals(&pid).await.unwrap();
    assert_eq!((totals.spent, totals.reserved), (actual, b.max_cost));
    assert_eq!(db.store.sender_totals(&pid, s).await.unwrap().spent, actual);
    // Release frees the reservation; a second release and a release of a settled op change nothing.
    let rec = sponsor.release(b.user_op_hash, "dropped by the bundler").await.unwrap();
    assert_eq!((rec.status, rec.reason.as_deref()), (SponsorshipStatus::Released, Some("dropped by the bundler")));
    sponsor.release(b.user_op_hash, "again").await.unwrap();
    sponsor.release(a.user_op_hash, "late").await.unwrap();
    let totals = db.store.policy_totals(&pid).await.unwrap();
    assert_eq!((totals.spent, totals.reserved), (actual, U256::ZERO));
    // A released op that is included after all is still counted.
    sponsor.settle(b.user_op_hash, actual).await.unwrap();
    assert_eq!(db.store.policy_totals(&pid).await.unwrap().spent, actual * U256::from(2));
    // Unknown operations are named.
    let unknown = B256::repeat_byte(7);
    let e = sponsor.settle(unknown, actual).await.unwrap_err().to_string();
    assert!(e.contains(&unknown.to_string()), "{e}");
    db.cleanup().await;
}

/// Advances the chain past `sponsored`'s signature window and the release grace.
async fn past_release_of(env: &Env, sponsor: &Sponsor, sponsored: &SponsoredFields) {
    let release_at = sponsored.window.valid_until + keyward_paymaster::sponsor::RELEASE_GRACE;
    while sponsor.now().await.unwrap() <= release_at {
        let gap = release_at - sponsor.now().await.unwrap();
        env.m.advance(gap + 2).await;
    }
}

async fn expired_reservations_are_released_to_make_room(backend: Backend) {
    let Some(db) = TestDb::open(backend).await else { return };
    let env = Env::new().await;
    let id = Uuid::new_v4();
    let probe = env.sponsor(db.store.clone(), vec![Policy::open(id, "probe")]);
    let cost = cost_per_op(&env, &probe, &id.to_string()).await;
    let mut policy = Policy::open(id, "one at a time");
    policy.max_total_spend = Some(Wei(cost));
    let sponsor = env.sponsor(db.store.clone(), vec![policy]);
    let pid = id.to_string();
    let first = sponsor.sponsor(&op_of(&env, Address::with_last_byte(1), 0), &pid).await.unwrap();
    assert!(exhausted(&sponsor.sponsor(&op_of(&env, Address::with_last_byte(2), 0), &pid).await.unwrap_err()));
    // With nothing left, stub data (ERC-7677 pm_getPaymasterStubData) is refused too.
    assert!(exhausted(&sponsor.stub(&op_of(&env, Address::with_last_byte(2), 0), &pid).await.unwrap_err()));
    // Past the signature's window (+ grace), the unsettled reservation no longer holds the budget.
    past_release_of(&env, &sponsor, &first).await;
    sponsor.sponsor(&op_of(&env, Address::with_last_byte(2), 0), &pid).await.unwrap();
    let rec = db.store.get_sponsorship(env.m.chain_id, first.user_op_hash).await.unwrap().unwrap();
    assert_eq!((rec.status, rec.reason.as_deref()), (SponsorshipStatus::Released, Some("expired")));
    assert_eq!(db.store.policy_totals(&pid).await.unwrap().reserved, cost);
    db.cleanup().await;
}

async fn policy_refusals_are_precise(backend: Backend) {
    let Some(db) = TestDb::open(backend).await else { return };
    let env = Env::new().await;
    let now = env.m.now().await;
    let (open, disabled, expired, future, senders, targets, per_op) = (
        Policy::open(Uuid::new_v4(), "open"),
        Policy { enabled: false, ..Policy::open(Uuid::new_v4(), "off") },
        Policy { valid_until: Some(now - 1), ..Policy::open(Uuid::new_v4(), "old") },
        Policy { valid_after: Some(now + 1000), ..Policy::open(Uuid::new_v4(), "later") },
        Policy { allowed_senders: Some(vec![Address::with_last_byte(1)]), ..Policy::open(Uuid::new_v4(), "s") },
        Policy { allowed_targets: Some(vec![Address::with_last_byte(2)]), ..Policy::open(Uuid::new_v4(), "t") },
        Policy { max_gas_cost_per_op: Some(Wei(U256::from(1))), ..Policy::open(Uuid::new_v4(), "cheap") },
    );
    let sponsor = env.sponsor(
        db.store.clone(),
        vec![
            open.clone(),
            disabled.clone(),
            expired.clone(),
            future.clone(),
            senders.clone(),
            targets.clone(),
            per_op.clone(),
        ],
    );
    let op = op_of(&env, Address::with_last_byte(3), 0);
    let err = |r: Result<keyward_paymaster::SponsoredFields, SponsorError>| match r {
        Err(SponsorError::Policy(p)) => p,
        other => panic!("expected a policy error, got {other:?}"),
    };
    let unknown = Uuid::new_v4();
    assert_eq!(err(sponsor.sponsor(&op, &unknown.to_string()).await), PolicyError::Unknown(unknown));
    assert_eq!(err(sponsor.sponsor(&op, "not-a-uuid").await), PolicyError::InvalidId("not-a-uuid".into()));
    assert_eq!(err(sponsor.sponsor(&op, &disabled.id.to_string()).await), PolicyError::Disabled(disabled.id));
    assert!(matches!(err(sponsor.sponsor(&op, &expired.id.to_string()).await), PolicyError::Expired { .. }));
    assert!(matches!(err(sponsor.stub(&op, &future.id.to_string()).await), PolicyError::NotYetActive { .. }));
    assert_eq!(
        err(sponsor.sponsor(&op, &senders.id.to_string()).await),
        PolicyError::SenderNotAllowed { id: senders.id, sender: op.sender }
    );
    assert_eq!(
        err(sponsor.stub(&op, &targets.id.to_string()).await),
        PolicyError::TargetNotAllowed { id: targets.id, target: target() }
    );
    assert!(matches!(err(sponsor.sponsor(&op, &per_op.id.to_string()).await), PolicyError::OpTooExpensive { .. }));
    // Nothing was reserved by any refusal.
    for p in [&disabled, &expired, &senders, &targets, &per_op] {
        assert_eq!(db.store.policy_totals(&p.id.to_string()).await.unwrap().committed(), U256::ZERO);
    }
    sponsor.sponsor(&op, &open.id.to_string()).await.unwrap();
    // Policies can live in the store too.
    let stored = Policy { allowed_senders: Some(vec![op.sender]), ..Policy::open(Uuid::new_v4(), "stored") };
    sponsor.put_policy(&stored).await.unwrap();
    assert_eq!(sponsor.policy(&stored.id.to_string()).await.unwrap(), stored);
    sponsor.sponsor(&op_of(&env, op.sender, 1), &stored.id.to_string()).await.unwrap();
    db.cleanup().await;
}

/// Without a limit a reservation leaves expired ones alone (nothing needs their room); the settler's
/// round releases them.
async fn without_a_limit_the_settler_releases_expired_reservations(backend: Backend) {
    let Some(db) = TestDb::open(backend).await else { return };
    let env = Env::new().await;
    let id = Uuid::new_v4();
    let sponsor = env.sponsor(db.store.clone(), vec![Policy::open(id, "open")]);
    let pid = id.to_string();
    let first = sponsor.sponsor(&op_of(&env, Address::with_last_byte(1), 0), &pid).await.unwrap();
    past_release_of(&env, &sponsor, &first).await;
    let second = sponsor.sponsor(&op_of(&env, Address::with_last_byte(2), 0), &pid).await.unwrap();
    let status = |hash| {
        let store = db.store.clone();
        async move { store.get_sponsorship(env.m.chain_id, hash).await.unwrap().unwrap().status }
    };
    assert_eq!(status(first.user_op_hash).await, SponsorshipStatus::Reserved, "no limit: left to the settler");
    let report = sponsor.settle_events(&[], sponsor.now().await.unwrap()).await.unwrap();
    assert_eq!(report.released, vec![first.user_op_hash]);
    assert_eq!(status(first.user_op_hash).await, SponsorshipStatus::Released);
    assert_eq!(status(second.user_op_hash).await, SponsorshipStatus::Reserved);
    assert_eq!(db.store.policy_totals(&pid).await.unwrap().reserved, second.max_cost);
    db.cleanup().await;
}

keyward_testkit::on_both_backends!(
    without_a_limit_the_settler_releases_expired_reservations,
    two_hundred_concurrent_reservations_fit_exactly_fifty,
    per_sender_limit_holds_under_concurrency,
    a_retried_request_reserves_once_and_gets_the_same_fields,
    settle_and_release_move_the_totals_exactly,
    expired_reservations_are_released_to_make_room,
    policy_refusals_are_precise,
);
