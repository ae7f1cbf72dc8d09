//! Keyward's session rules (SessionRulesModule, compiled from the Wallet-API extension permission
//! types) on a Keyward Semi-Modular Account, exercised with session-key user operations sent
//! straight to the EntryPoint: periodic native and ERC-20 limits (in scope, one wei / one unit
//! more, the last second of a period and the first of the next), call-count limits (per period and
//! in total, across batches), argument conditions (`eq`, `one-of`, `lte`, `gte`), reverted
//! executions consuming nothing, and uninstall clearing every rule.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::sol_types::{SolCall, SolError};
use keyward_contracts::bindings::{SessionRulesModule, TestCounter, TestToken};
use keyward_testkit::Harness;
use keyward_testkit::mav2::{ETH, Mav2, Session, SmaAccount, execute, execute_batch, milli};
use serde_json::{Value, json};

const SPEND: [u8; 4] = SessionRulesModule::SpendLimitExceeded::SELECTOR;
const CALLS: [u8; 4] = SessionRulesModule::CallLimitExceeded::SELECTOR;
const ARGUMENT: [u8; 4] = SessionRulesModule::ArgumentConditionFailed::SELECTOR;

fn hex(v: U256) -> String {
    format!("{v:#x}")
}

fn addr(a: Address) -> String {
    format!("{a:#x}")
}

fn count() -> Bytes {
    TestCounter::countCall {}.abi_encode().into()
}

fn fail() -> Bytes {
    TestCounter::failCall {}.abi_encode().into()
}

fn transfer(to: Address, amount: u64) -> Bytes {
    TestToken::transferCall { to, amount: U256::from(amount) }.abi_encode().into()
}

fn approve(spender: Address, amount: u64) -> Bytes {
    TestToken::approveCall { spender, amount: U256::from(amount) }.abi_encode().into()
}

async fn remaining(m: &Mav2, s: &Session, token: Address, a: &SmaAccount) -> U256 {
    let call = SessionRulesModule::remainingCall { entityId: s.entity_id(), token, account: a.address };
    m.h.read(m.modules.session_rules, call).await.unwrap()
}

async fn calls_left(m: &Mav2, s: &Session, a: &SmaAccount) -> U256 {
    let call = SessionRulesModule::callsRemainingCall { entityId: s.entity_id(), account: a.address };
    m.h.read(m.modules.session_rules, call).await.unwrap()
}

/// A token minted to `a`.
async fn token(m: &Mav2, a: &SmaAccount, amount: u64) -> Address {
    let t = m.h.deploy(keyward_contracts::artifacts::test_token(), &[]).await;
    m.h.transact(t, TestToken::mintCall { to: a.address, amount: U256::from(amount) }, U256::ZERO).await;
    t
}

/// Sets the timestamp of anvil's next block (the next user operation's).
async fn next_block_at(h: &Harness, timestamp: u64) {
    let url = h.anvil_url().expect("an anvil harness").parse().unwrap();
    let provider = ProviderBuilder::new().connect_http(url);
    let _: Value = provider.raw_request("evm_setNextBlockTimestamp".into(), (timestamp,)).await.unwrap();
}

// ------------------------------------------------------------------ native-token-periodic

#[tokio::test]
async fn periodic_native_limit_refills_at_the_first_second_of_the_next_period() {
    let m = Mav2::deploy(Harness::anvil().await).await;
    let a = m.account(U256::from(ETH)).await;
    let to = Address::with_last_byte(0x71);
    let period = 1000u64;
    let start = m.now().await + 10;
    let perms = json!([
        {"type": "native-token-periodic", "data": {"allowance": hex(milli(100)), "periodSec": period, "startSec": start}},
        {"type": "contract-access", "data": {"address": addr(to)}},
    ]);
    let s = m.session(&a, 7, perms, 0).await;
    // Period 0: the whole allowance in two ops, then one wei more is refused.
    next_block_at(&m.h, start).await;
    m.session_call(&a, &s, &execute(to, milli(60), Bytes::new())).await.success();
    m.session_call(&a, &s, &execute(to, milli(40), Bytes::new())).await.success();
    assert_eq!(remaining(&m, &s, Address::ZERO, &a).await, U256::ZERO);
    // The last second of the period: still spent.
    next_block_at(&m.h, start + period - 1).await;
    m.session_call(&a, &s, &execute(to, U256::from(1), Bytes::new())).await.reverted_with(SPEND);
    // The first second of the next period: the allowance again, and not one wei more.
    next_block_at(&m.h, start + period).await;
    m.session_call(&a, &s, &execute(to, milli(100), Bytes::new())).await.success();
    m.session_call(&a, &s, &execute(to, U256::from(1), Bytes::new())).await.reverted_with(SPEND);
    assert_eq!(m.balance(to).await, milli(200));
}

#[tokio::test]
async fn periodic_native_limit_counts_a_batch_and_a_reverted_execution_consumes_nothing() {
    let m = Mav2::embedded().await;
    let a = m.account(U256::from(ETH)).await;
    let counter = m.h.counter().await;
    let perms = json!([
        {"type": "native-token-periodic", "data": {"allowance": hex(milli(10)), "periodSec": 86400}},
        {"type": "contract-access", "data": {"address": addr(counter)}},
    ]);
    let s = m.session(&a, 8, perms, 0).await;
    // A batch of 6 + 5 milli exceeds 10: refused whole.
    let batch = execute_batch(vec![(counter, milli(6), count()), (counter, milli(5), count())]);
    m.session_call(&a, &s, &batch).await.reverted_with(SPEND);
    // A call that reverts after being charged: nothing is consumed.
    m.session_call(&a, &s, &execute(counter, milli(10), fail())).await.reverted();
    assert_eq!(remaining(&m, &s, Address::ZERO, &a).await, milli(10));
    let batch = execute_batch(vec![(counter, milli(6), count()), (counter, milli(4), count())]);
    m.session_call(&a, &s, &batch).await.success();
    assert_eq!(remaining(&m, &s, Address::ZERO, &a).await, U256::ZERO);
}

// ------------------------------------------------------------------ erc20-token-periodic

#[tokio::test]
async fn periodic_erc20_limit_pays_exactly_the_allowance_each_period() {
    let m = Mav2::deploy(Harness::anvil().await).await;
    let a = m.account(U256::from(ETH)).await;
    let t = token(&m, &a, 1_000).await;
    let payee = Address::with_last_byte(0x99);
    let period = 3600u64;
    let start = m.now().await + 10;
    let perms = json!([{"type": "erc20-token-periodic",
        "data": {"address": addr(t), "allowance": "0xa", "periodSec": period, "startSec": start}}]);
    let s = m.session(&a, 9, perms, 0).await;
    // A subscription: 10 units per period, three periods; one unit more is refused in each.
    for p in 0..3u64 {
        next_block_at(&m.h, start + p * period).await;
        m.session_call(&a, &s, &execute(t, U256::ZERO, transfer(payee, 10))).await.success();
        m.session_call(&a, &s, &execute(t, U256::ZERO, transfer(payee, 1))).await.reverted_with(SPEND);
        // approve counts against the same budget.
        m.session_call(&a, &s, &execute(t, U256::ZERO, approve(payee, 1))).await.reverted_with(SPEND);
    }
    let paid = m.h.read(t, TestToken::balanceOfCall(payee)).await.unwrap();
    assert_eq!(paid, U256::from(30));
    // Any other function of the token stays out of reach (the allowlist grants transfer/approve).
    let other = TestToken::mintCall { to: payee, amount: U256::from(1) }.abi_encode();
    m.session_call(&a, &s, &execute(t, U256::ZERO, Bytes::from(other))).await.rejected_with("AA23", None);
}

// ------------------------------------------------------------------ call-limit

#[tokio::test]
async fn call_limit_per_period_counts_every_call_of_a_batch() {
    let m = Mav2::deploy(Harness::anvil().await).await;
    let a = m.account(U256::from(ETH)).await;
    let counter = m.h.counter().await;
    let period = 600u64;
    let start = m.now().await + 10;
    let perms = json!([
        {"type": "call-limit", "data": {"count": 3, "periodSec": period, "startSec": start}},
        {"type": "contract-access", "data": {"address": addr(counter)}},
    ]);
    let s = m.session(&a, 10, perms, 0).await;
    next_block_at(&m.h, start).await;
    let two = execute_batch(vec![(counter, U256::ZERO, count()), (counter, U256::ZERO, count())]);
    m.session_call(&a, &s, &two).await.success();
    assert_eq!(calls_left(&m, &s, &a).await, U256::from(1));
    // Two more would be four: refused whole; one more is the third.
    m.session_call(&a, &s, &two).await.reverted_with(CALLS);
    m.session_call(&a, &s, &execute(counter, U256::ZERO, count())).await.success();
    next_block_at(&m.h, start + period - 1).await;
    m.session_call(&a, &s, &execute(counter, U256::ZERO, count())).await.reverted_with(CALLS);
    next_block_at(&m.h, start + period).await;
    m.session_call(&a, &s, &execute(counter, U256::ZERO, count())).await.success();
    assert_eq!(calls_left(&m, &s, &a).await, U256::from(2));
    let counted = m.h.read(counter, TestCounter::countOfCall(a.address)).await.unwrap();
    assert_eq!(counted, U256::from(4));
}

#[tokio::test]
async fn lifetime_call_limit_never_refills() {
    let m = Mav2::embedded().await;
    let a = m.account(U256::from(ETH)).await;
    let counter = m.h.counter().await;
    let perms = json!([
        {"type": "call-limit", "data": {"count": 2}},
        {"type": "contract-access", "data": {"address": addr(counter)}},
    ]);
    let s = m.session(&a, 11, perms, 0).await;
    for _ in 0..2 {
        m.session_call(&a, &s, &execute(counter, U256::ZERO, count())).await.success();
    }
    m.session_call(&a, &s, &execute(counter, U256::ZERO, count())).await.reverted_with(CALLS);
    m.advance(10 * 365 * 86_400).await;
    m.session_call(&a, &s, &execute(counter, U256::ZERO, count())).await.reverted_with(CALLS);
}

// ------------------------------------------------------------------ function-arguments

#[tokio::test]
async fn argument_conditions_bound_recipients_and_amounts() {
    let m = Mav2::embedded().await;
    let a = m.account(U256::from(ETH)).await;
    let t = token(&m, &a, 1_000).await;
    let (alice, bob, carol) =
        (Address::with_last_byte(0xa1), Address::with_last_byte(0xb0), Address::with_last_byte(0xc0));
    // "USDC transfer only to alice or bob, at most 100 per call; approve only carol, at least 5."
    let transfer_sel = "0xa9059cbb";
    let approve_sel = "0x095ea7b3";
    let perms = json!([
        {"type": "functions-on-contract", "data": {"address": addr(t), "functions": [transfer_sel, approve_sel]}},
        {"type": "function-arguments", "data": {"address": addr(t), "function": transfer_sel, "conditions": [
            {"arg": 0, "op": "one-of", "values": [addr(alice), addr(bob)]},
            {"arg": 1, "op": "lte", "values": ["0x64"]},
        ]}},
        {"type": "function-arguments", "data": {"address": addr(t), "function": approve_sel, "conditions": [
            {"arg": 0, "op": "eq", "values": [addr(carol)]},
            {"arg": 1, "op": "gte", "values": ["0x05"]},
        ]}},
    ]);
    let s = m.session(&a, 12, perms, 0).await;
    let run = |data: Bytes| execute(t, U256::ZERO, data);
    m.session_call(&a, &s, &run(transfer(alice, 100))).await.success();
    m.session_call(&a, &s, &run(transfer(bob, 1))).await.success();
    m.session_call(&a, &s, &run(transfer(alice, 101))).await.reverted_with(ARGUMENT);
    m.session_call(&a, &s, &run(transfer(carol, 1))).await.reverted_with(ARGUMENT);
    m.session_call(&a, &s, &run(approve(carol, 5))).await.success();
    m.session_call(&a, &s, &run(approve(carol, 4))).await.reverted_with(ARGUMENT);
    m.session_call(&a, &s, &run(approve(alice, 5))).await.reverted_with(ARGUMENT);
    // In a batch, one failing call refuses the whole operation.
    let batch = execute_batch(vec![(t, U256::ZERO, transfer(alice, 1)), (t, U256::ZERO, transfer(carol, 1))]);
    m.session_call(&a, &s, &batch).await.reverted_with(ARGUMENT);
    let mut paid = Vec::new();
    for who in [alice, bob, carol] {
        paid.push(m.h.read(t, TestToken::balanceOfCall(who)).await.unwrap());
    }
    assert_eq!(paid, vec![U256::from(100), U256::from(1), U256::ZERO]);
}

// ------------------------------------------------------------------ uninstall

#[tokio::test]
async fn uninstall_clears_every_rule() {
    let m = Mav2::embedded().await;
    let a = m.account(U256::from(ETH)).await;
    let t = token(&m, &a, 1_000).await;
    let perms = json!([
        {"type": "erc20-token-periodic", "data": {"address": addr(t), "allowance": "0xa", "periodSec": 60}},
        {"type": "native-token-periodic", "data": {"allowance": "0x64", "periodSec": 60}},
        {"type": "call-limit", "data": {"count": 5}},
        {"type": "function-arguments", "data": {"address": addr(t), "function": "0xa9059cbb",
            "conditions": [{"arg": 1, "op": "lte", "values": ["0x05"]}]}},
    ]);
    let s = m.session(&a, 13, perms, 0).await;
    m.session_call(&a, &s, &execute(t, U256::ZERO, transfer(Address::with_last_byte(1), 5))).await.success();
    assert_eq!(remaining(&m, &s, t, &a).await, U256::from(5));
    m.owner_call(&a, s.compiled.uninstall(&m.modules).calldata()).await.success();
    assert_eq!(remaining(&m, &s, t, &a).await, U256::ZERO);
    assert_eq!(remaining(&m, &s, Address::ZERO, &a).await, U256::ZERO);
    assert_eq!(calls_left(&m, &s, &a).await, U256::ZERO);
    let conditions = SessionRulesModule::conditionCountCall {
        entityId: s.entity_id(),
        target: t,
        selector: TestToken::transferCall::SELECTOR.into(),
        account: a.address,
    };
    assert_eq!(m.h.read(m.modules.session_rules, conditions).await.unwrap(), U256::ZERO);
}
