//! The Sponsor against the real VerifyingPaymaster on the embedded chain: an operation from an
//! account with zero ETH is included and paid from the deposit; the ledger is settled from the
//! chain; a reservation never sent is released once its window is over. (Through the ERC-7677
//! JSON-RPC methods: keyward-server's `tests/paymaster_rpc.rs`.)

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use alloy::primitives::{Bytes, U256};
use keyward_paymaster::Policy;
use keyward_primitives::entry_point::IEntryPoint::IEntryPointEvents;
use keyward_store::sponsorship::SponsorshipStatus;
use keyward_testkit::entry_point::ep_events;
use keyward_testkit::mav2::execute;
use uuid::Uuid;

use keyward_testkit::sponsorship::{Backend, Env, TestDb};

#[tokio::test]
async fn sponsor_api_op_is_included_and_settled_from_the_chain() {
    let db = TestDb::open(Backend::Sqlite).await.unwrap();
    let env = Env::new().await;
    let id = Uuid::new_v4();
    let sponsor = env.sponsor(db.store.clone(), vec![Policy::open(id, "app")]);
    let watcher = env.watcher(db.store.clone(), &sponsor);
    let counter = env.m.h.counter().await;
    let a = env.m.counterfactual_account(U256::ZERO).await;
    let count =
        Bytes::from(alloy::sol_types::SolCall::abi_encode(&keyward_contracts::bindings::TestCounter::countCall {}));
    let mut op = env.m.owner_op(&a, execute(counter, U256::ZERO, count)).await;
    let f = sponsor.sponsor(&op, &id.to_string()).await.unwrap();
    op.paymaster = Some(f.paymaster.clone());
    assert_eq!(op.hash(env.m.h.ep, env.m.chain_id), f.user_op_hash);
    env.m.sign_owner(&a, &mut op);
    let deposit = env.m.h.deposit_of(env.paymaster).await;
    let receipt = env.m.send(op).await.success();
    let cost = ep_events(&receipt, env.m.h.ep)
        .into_iter()
        .find_map(|e| match e {
            IEntryPointEvents::UserOperationEvent(u) => Some(u.actualGasCost),
            _ => None,
        })
        .unwrap();
    assert_eq!(env.m.h.deposit_of(env.paymaster).await, deposit - cost);
    assert_eq!(env.m.balance(a.address).await, U256::ZERO);
    assert!(cost <= f.max_cost);
    // The ledger learns the actual cost from the chain, read by the chain watcher.
    assert_eq!(watcher.round().await.unwrap().events, 1);
    let rec = db.store.get_sponsorship(env.m.chain_id, f.user_op_hash).await.unwrap().unwrap();
    assert_eq!((rec.status, rec.actual_cost), (SponsorshipStatus::Settled, Some(cost)));
    let totals = db.store.policy_totals(&id.to_string()).await.unwrap();
    assert_eq!((totals.spent, totals.reserved), (cost, U256::ZERO));
    // A reservation never sent is released once its window is over; nothing is settled twice.
    let idle = sponsor.sponsor(&env.m.op(a.address, U256::from(99), Bytes::new()), &id.to_string()).await.unwrap();
    watcher.round().await.unwrap();
    let rec = db.store.get_sponsorship(env.m.chain_id, idle.user_op_hash).await.unwrap().unwrap();
    assert_eq!(rec.status, SponsorshipStatus::Reserved, "its window is still open");
    let release_at = idle.window.valid_until + keyward_paymaster::sponsor::RELEASE_GRACE;
    while sponsor.now().await.unwrap() <= release_at {
        let gap = release_at - sponsor.now().await.unwrap();
        env.m.advance(gap + 2).await;
    }
    let report = watcher.round().await.unwrap();
    assert_eq!(report.events, 0, "{report:?}");
    let rec = db.store.get_sponsorship(env.m.chain_id, idle.user_op_hash).await.unwrap().unwrap();
    assert_eq!(rec.status, SponsorshipStatus::Released);
    let totals = db.store.policy_totals(&id.to_string()).await.unwrap();
    assert_eq!((totals.spent, totals.reserved), (cost, U256::ZERO), "settled once, released once");
    db.cleanup().await;
}
