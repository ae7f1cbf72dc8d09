//! Every Wallet-API permission type compiled by the permission compiler, installed on a Keyward
//! Semi-Modular Account and exercised with session-key user ops straight to the EntryPoint: a call
//! inside the scope succeeds, one just outside fails; limits hold across ops and batches; a reverted
//! execution consumes nothing.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use alloy::primitives::{Address, Bytes, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolError};
use keyward_contracts::bindings::{
    AllowlistModule, NativeTokenLimitModule, PaymasterGuardModule, SemiModularAccountBytecode, TestCounter, TestToken,
};
use keyward_primitives::mav2::HookInstall;
use keyward_testkit::mav2::{ETH, Mav2, SmaAccount, execute, execute_batch};
use serde_json::{Value, json};

fn eth(n: u128) -> U256 {
    U256::from(n * ETH)
}

fn milli(n: u128) -> U256 {
    U256::from(n * ETH / 1000)
}

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

fn transfer(to: Address, amount: U256) -> Bytes {
    TestToken::transferCall { to, amount }.abi_encode().into()
}

fn approve(spender: Address, amount: U256) -> Bytes {
    TestToken::approveCall { spender, amount }.abi_encode().into()
}

const NTL_EXCEEDED: [u8; 4] = NativeTokenLimitModule::ExceededNativeTokenLimit::SELECTOR;
const AL_ADDRESS: [u8; 4] = AllowlistModule::AddressNotAllowed::SELECTOR;
const AL_SELECTOR: [u8; 4] = AllowlistModule::SelectorNotAllowed::SELECTOR;
const AL_NO_SELECTOR: [u8; 4] = AllowlistModule::NoSelectorSpecified::SELECTOR;
const AL_TOKEN_LIMIT: [u8; 4] = AllowlistModule::ExceededTokenLimit::SELECTOR;

async fn ntl_limit(m: &Mav2, entity: u32, a: &SmaAccount) -> U256 {
    m.h.read(
        m.modules.native_token_limit,
        NativeTokenLimitModule::limitsCall { entityId: U256::from(entity), account: a.address },
    )
    .await
    .unwrap()
}

async fn erc20_limit(m: &Mav2, entity: u32, token: Address, a: &SmaAccount) -> U256 {
    m.h.read(m.modules.allowlist, AllowlistModule::erc20SpendLimitsCall { entityId: entity, token, account: a.address })
        .await
        .unwrap()
}

/// native-token-transfer plus access to `to` (native alone grants no callable function).
fn native_to(allowance: U256, to: Address) -> Value {
    json!([{"type": "native-token-transfer", "data": {"allowance": hex(allowance)}},
           {"type": "contract-access", "data": {"address": addr(to)}}])
}

// ------------------------------------------------------------------ native-token-transfer

#[tokio::test]
async fn native_token_transfer_allows_the_allowance_and_refuses_one_wei_more() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let to = Address::with_last_byte(0x71);
    let s = m.session(&a, 7, native_to(milli(100), to), 0).await;
    let e = s.entity_id();
    // One wei over the whole allowance: the execution hook refuses, nothing is sent or charged.
    m.session_call(&a, &s, &execute(to, milli(100) + U256::from(1), Bytes::new())).await.reverted_with(NTL_EXCEEDED);
    assert_eq!(m.balance(to).await, U256::ZERO);
    assert_eq!(ntl_limit(&m, e, &a).await, milli(100));
    // Exactly the allowance, in two ops.
    m.session_call(&a, &s, &execute(to, milli(60), Bytes::new())).await.success();
    assert_eq!(ntl_limit(&m, e, &a).await, milli(40));
    m.session_call(&a, &s, &execute(to, milli(40), Bytes::new())).await.success();
    assert_eq!(ntl_limit(&m, e, &a).await, U256::ZERO);
    // Exhausted: one wei fails, a zero-value call still works.
    m.session_call(&a, &s, &execute(to, U256::from(1), Bytes::new())).await.reverted_with(NTL_EXCEEDED);
    m.session_call(&a, &s, &execute(to, U256::ZERO, Bytes::new())).await.success();
    assert_eq!(m.balance(to).await, milli(100));
}

#[tokio::test]
async fn native_token_limit_holds_across_many_ops() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let to = Address::with_last_byte(0x72);
    let s = m.session(&a, 8, native_to(milli(50), to), 0).await;
    for i in 1..=5u128 {
        m.session_call(&a, &s, &execute(to, milli(10), Bytes::new())).await.success();
        assert_eq!(ntl_limit(&m, 8, &a).await, milli(50 - 10 * i));
    }
    m.session_call(&a, &s, &execute(to, U256::from(1), Bytes::new())).await.reverted_with(NTL_EXCEEDED);
    assert_eq!(m.balance(to).await, milli(50));
}

#[tokio::test]
async fn native_token_limit_counts_the_sum_of_an_execute_batch() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let to = Address::with_last_byte(0x73);
    let s = m.session(&a, 9, native_to(milli(90), to), 0).await;
    let batch = |v: [U256; 3]| execute_batch(v.into_iter().map(|v| (to, v, Bytes::new())).collect());
    // 30 + 30 + 30 mETH + 1 wei: over by one wei in total, although each call is within the limit.
    m.session_call(&a, &s, &batch([milli(30), milli(30), milli(30) + U256::from(1)])).await.reverted_with(NTL_EXCEEDED);
    assert_eq!(ntl_limit(&m, 9, &a).await, milli(90));
    m.session_call(&a, &s, &batch([milli(20), milli(20), milli(20)])).await.success();
    assert_eq!(ntl_limit(&m, 9, &a).await, milli(30));
    m.session_call(&a, &s, &batch([milli(10), milli(10), milli(10) + U256::from(1)])).await.reverted_with(NTL_EXCEEDED);
    m.session_call(&a, &s, &batch([milli(10), milli(10), milli(10)])).await.success();
    assert_eq!(ntl_limit(&m, 9, &a).await, U256::ZERO);
    assert_eq!(m.balance(to).await, milli(90));
}

#[tokio::test]
async fn reverted_execution_does_not_consume_the_native_limit() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let counter = m.h.counter().await;
    let s = m.session(&a, 10, native_to(milli(50), counter), 0).await;
    // Value within the limit, but the target reverts: the whole execution (hook charge included) unwinds.
    let batch = execute_batch(vec![(counter, milli(40), count()), (counter, U256::ZERO, fail())]);
    let data = m.session_call(&a, &s, &batch).await.reverted();
    assert!(keyward_testkit::mav2::contains(&data, b"TestCounter: failed"), "{data}");
    assert_eq!(m.h.read(counter, TestCounter::counterCall {}).await.unwrap(), U256::ZERO);
    assert_eq!(ntl_limit(&m, 10, &a).await, milli(50));
    // count() is payable: 50 mETH still spendable.
    m.session_call(&a, &s, &execute(counter, milli(50), count())).await.success();
    assert_eq!(ntl_limit(&m, 10, &a).await, U256::ZERO);
}

// ------------------------------------------------------------------ erc20-token-transfer

async fn erc20_setup(m: &Mav2, entity: u32, allowance: U256) -> (SmaAccount, Address, keyward_testkit::mav2::Session) {
    let a = m.account(eth(1)).await;
    let token = m.token(a.address, U256::from(1_000_000u64)).await;
    let s = m
        .session(
            &a,
            entity,
            json!([{"type": "erc20-token-transfer", "data": {"address": addr(token), "allowance": hex(allowance)}}]),
            0,
        )
        .await;
    (a, token, s)
}

#[tokio::test]
async fn erc20_token_transfer_allows_the_allowance_and_refuses_one_unit_more() {
    let m = Mav2::embedded().await;
    let (a, token, s) = erc20_setup(&m, 11, U256::from(1000)).await;
    let e2 = 11 + 0x7fff_ffff; // the spend limit lives under the offset id (§11.3)
    let to = Address::with_last_byte(0x74);
    assert_eq!(erc20_limit(&m, e2, token, &a).await, U256::from(1000));
    m.session_call(&a, &s, &execute(token, U256::ZERO, transfer(to, U256::from(1001))))
        .await
        .reverted_with(AL_TOKEN_LIMIT);
    assert_eq!(erc20_limit(&m, e2, token, &a).await, U256::from(1000));
    m.session_call(&a, &s, &execute(token, U256::ZERO, transfer(to, U256::from(600)))).await.success();
    // approve amounts count as spend.
    m.session_call(&a, &s, &execute(token, U256::ZERO, approve(to, U256::from(400)))).await.success();
    assert_eq!(erc20_limit(&m, e2, token, &a).await, U256::ZERO);
    m.session_call(&a, &s, &execute(token, U256::ZERO, transfer(to, U256::from(1))))
        .await
        .reverted_with(AL_TOKEN_LIMIT);
    assert_eq!(m.token_balance(token, to).await, U256::from(600));
}

#[tokio::test]
async fn erc20_limit_holds_across_an_execute_batch_and_many_ops() {
    let m = Mav2::embedded().await;
    let (a, token, s) = erc20_setup(&m, 12, U256::from(1000)).await;
    let e2 = 12 + 0x7fff_ffff;
    let to = Address::with_last_byte(0x75);
    let batch = |x: u64, y: u64| {
        execute_batch(vec![
            (token, U256::ZERO, transfer(to, U256::from(x))),
            (token, U256::ZERO, transfer(to, U256::from(y))),
        ])
    };
    m.session_call(&a, &s, &batch(500, 501)).await.reverted_with(AL_TOKEN_LIMIT);
    m.session_call(&a, &s, &batch(300, 300)).await.success();
    for _ in 0..4 {
        m.session_call(&a, &s, &execute(token, U256::ZERO, transfer(to, U256::from(100)))).await.success();
    }
    assert_eq!(erc20_limit(&m, e2, token, &a).await, U256::ZERO);
    m.session_call(&a, &s, &batch(0, 1)).await.reverted_with(AL_TOKEN_LIMIT);
    assert_eq!(m.token_balance(token, to).await, U256::from(1000));
}

#[tokio::test]
async fn reverted_token_transfer_does_not_consume_the_erc20_limit() {
    let m = Mav2::embedded().await;
    let (a, token, s) = erc20_setup(&m, 13, U256::from(5_000_000u64)).await;
    let e2 = 13 + 0x7fff_ffff;
    // Within the limit but above the account's balance: TestToken reverts InsufficientBalance.
    m.session_call(&a, &s, &execute(token, U256::ZERO, transfer(Address::with_last_byte(1), U256::from(2_000_000u64))))
        .await
        .reverted_with(TestToken::InsufficientBalance::SELECTOR);
    assert_eq!(erc20_limit(&m, e2, token, &a).await, U256::from(5_000_000u64));
}

#[tokio::test]
async fn erc20_permission_refuses_other_selectors_and_other_targets() {
    let m = Mav2::embedded().await;
    let (a, token, s) = erc20_setup(&m, 14, U256::from(1000)).await;
    let tf: Bytes =
        TestToken::transferFromCall { from: a.address, to: Address::with_last_byte(2), amount: U256::from(1) }
            .abi_encode()
            .into();
    m.session_call(&a, &s, &execute(token, U256::ZERO, tf)).await.rejected_with("AA23", Some(AL_SELECTOR));
    let other = m.token(a.address, U256::from(10)).await;
    m.session_call(&a, &s, &execute(other, U256::ZERO, transfer(Address::with_last_byte(2), U256::from(1))))
        .await
        .rejected_with("AA23", Some(AL_ADDRESS));
    // Native value to the token with empty data: the token is selector-restricted.
    m.session_call(&a, &s, &execute(token, U256::ZERO, Bytes::new())).await.rejected_with("AA23", Some(AL_NO_SELECTOR));
}

// ------------------------------------------------------------------ gas-limit

#[tokio::test]
async fn gas_limit_budget_covers_exactly_its_worst_case_ops() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let to = Address::with_last_byte(0x76);
    let probe = m.op(a.address, U256::ZERO, Bytes::new());
    let per_op =
        (probe.pre_verification_gas + U256::from(probe.verification_gas_limit) + U256::from(probe.call_gas_limit))
            * U256::from(probe.max_fee_per_gas);
    // Budget one wei short of two ops.
    let budget = per_op * U256::from(2) - U256::from(1);
    let s = m
        .session(
            &a,
            15,
            json!([{"type": "gas-limit", "data": {"limit": hex(budget)}},
                   {"type": "contract-access", "data": {"address": addr(to)}}]),
            0,
        )
        .await;
    let e2 = 15 + 0x7fff_ffff;
    m.session_call(&a, &s, &execute(to, U256::ZERO, Bytes::new())).await.success();
    assert_eq!(ntl_limit(&m, e2, &a).await, budget - per_op);
    m.session_call(&a, &s, &execute(to, U256::ZERO, Bytes::new())).await.rejected_with("AA23", Some(NTL_EXCEEDED));
    assert_eq!(ntl_limit(&m, e2, &a).await, per_op - U256::from(1));
    // The same op with one unit less of verification gas fits.
    let mut op = m.session_op(&a, &s, &execute(to, U256::ZERO, Bytes::new())).await;
    op.verification_gas_limit -= 1;
    m.sign_session(&s, &mut op);
    m.send(op).await.success();
    // A plain (non-special) paymaster pays: no deduction even with an empty budget.
    assert!(ntl_limit(&m, e2, &a).await < per_op);
    let pm = m.test_paymaster().await;
    let mut op = m.session_op(&a, &s, &execute(to, U256::ZERO, Bytes::new())).await;
    op.paymaster = Some(m.paymaster(pm));
    m.sign_session(&s, &mut op);
    m.send(op).await.success();
}

// ------------------------------------------------------------------ contract-access

#[tokio::test]
async fn contract_access_allows_any_call_to_the_contract_and_nothing_else() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let counter = m.h.counter().await;
    let other = m.h.counter().await;
    let s = m.session(&a, 16, json!([{"type": "contract-access", "data": {"address": addr(counter)}}]), 0).await;
    m.session_call(&a, &s, &execute(counter, U256::ZERO, count())).await.success();
    m.session_call(&a, &s, &execute(counter, milli(1), Bytes::new())).await.success(); // plain value transfer
    m.session_call(&a, &s, &execute(other, U256::ZERO, count())).await.rejected_with("AA23", Some(AL_ADDRESS));
    m.session_call(&a, &s, &execute(Address::with_last_byte(0x99), U256::ZERO, Bytes::new()))
        .await
        .rejected_with("AA23", Some(AL_ADDRESS));
    // A batch with one disallowed call is refused as a whole.
    let batch = execute_batch(vec![(counter, U256::ZERO, count()), (other, U256::ZERO, count())]);
    m.session_call(&a, &s, &batch).await.rejected_with("AA23", Some(AL_ADDRESS));
    assert_eq!(m.h.read(counter, TestCounter::counterCall {}).await.unwrap(), U256::from(1));
    assert_eq!(m.h.read(other, TestCounter::counterCall {}).await.unwrap(), U256::ZERO);
}

// ------------------------------------------------------------------ functions-on-contract

#[tokio::test]
async fn functions_on_contract_allows_listed_selectors_on_that_contract_only() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let counter = m.h.counter().await;
    let other = m.h.counter().await;
    let sel = format!("0x{}", alloy::hex::encode(TestCounter::countCall::SELECTOR));
    let s = m
        .session(
            &a,
            17,
            json!([{"type": "functions-on-contract", "data": {"address": addr(counter), "functions": [sel]}}]),
            0,
        )
        .await;
    m.session_call(&a, &s, &execute(counter, U256::ZERO, count())).await.success();
    m.session_call(&a, &s, &execute(counter, U256::ZERO, fail())).await.rejected_with("AA23", Some(AL_SELECTOR));
    m.session_call(&a, &s, &execute(counter, U256::ZERO, Bytes::new()))
        .await
        .rejected_with("AA23", Some(AL_NO_SELECTOR));
    m.session_call(&a, &s, &execute(other, U256::ZERO, count())).await.rejected_with("AA23", Some(AL_ADDRESS));
    assert_eq!(m.h.read(counter, TestCounter::counterCall {}).await.unwrap(), U256::from(1));
}

// ------------------------------------------------------------------ functions-on-all-contracts

#[tokio::test]
async fn functions_on_all_contracts_allows_listed_selectors_on_any_target() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let c1 = m.h.counter().await;
    let c2 = m.h.counter().await;
    let sel = format!("0x{}", alloy::hex::encode(TestCounter::countCall::SELECTOR));
    let s = m.session(&a, 18, json!([{"type": "functions-on-all-contracts", "data": {"functions": [sel]}}]), 0).await;
    m.session_call(&a, &s, &execute(c1, U256::ZERO, count())).await.success();
    m.session_call(&a, &s, &execute(c2, U256::ZERO, count())).await.success();
    let batch = execute_batch(vec![(c1, U256::ZERO, count()), (c2, U256::ZERO, count())]);
    m.session_call(&a, &s, &batch).await.success();
    m.session_call(&a, &s, &execute(c1, U256::ZERO, fail())).await.rejected_with("AA23", Some(AL_ADDRESS));
    m.session_call(&a, &s, &execute(c1, milli(1), Bytes::new())).await.rejected_with("AA23", Some(AL_ADDRESS));
    assert_eq!(m.h.read(c1, TestCounter::counterCall {}).await.unwrap(), U256::from(2));
}

// ------------------------------------------------------------------ account-functions

#[tokio::test]
async fn account_functions_allow_listed_account_selectors_only() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let sel = format!("0x{}", alloy::hex::encode(SemiModularAccountBytecode::accountIdCall::SELECTOR));
    let s = m.session(&a, 19, json!([{"type": "account-functions", "data": {"functions": [sel]}}]), 0).await;
    assert_eq!(s.compiled.install.selectors.len(), 1, "no execute/executeBatch without an allowlist");
    let id: Bytes = SemiModularAccountBytecode::accountIdCall {}.abi_encode().into();
    m.session_call(&a, &s, &id).await.success();
    let other: Bytes = SemiModularAccountBytecode::getFallbackSignerDataCall {}.abi_encode().into();
    m.session_call(&a, &s, &other)
        .await
        .rejected_with("AA23", Some(SemiModularAccountBytecode::ValidationFunctionMissing::SELECTOR));
    m.session_call(&a, &s, &execute(Address::with_last_byte(0x99), U256::ZERO, Bytes::new()))
        .await
        .rejected_with("AA23", Some(SemiModularAccountBytecode::ValidationFunctionMissing::SELECTOR));
}

#[tokio::test]
async fn account_functions_refuse_admin_selectors_at_compile_time() {
    let m = Mav2::embedded().await;
    let a = m.account(U256::ZERO).await;
    for sel in [
        SemiModularAccountBytecode::installValidationCall::SELECTOR,
        SemiModularAccountBytecode::uninstallValidationCall::SELECTOR,
        SemiModularAccountBytecode::upgradeToAndCallCall::SELECTOR,
        SemiModularAccountBytecode::performCreateCall::SELECTOR,
        SemiModularAccountBytecode::updateFallbackSignerDataCall::SELECTOR,
        SemiModularAccountBytecode::executeCall::SELECTOR,
    ] {
        let request = keyward_primitives::mav2::SessionRequest {
            account: a.address,
            session_key: Address::with_last_byte(1),
            entity_id: 20,
            permissions: keyward_testkit::mav2::permissions(
                json!([{"type": "account-functions", "data": {"functions": [format!("0x{}", alloy::hex::encode(sel))]}}]),
            ),
            expiry_sec: 0,
        };
        assert!(m.compiler().compile(&request, 0).is_err(), "0x{} must be refused", alloy::hex::encode(sel));
    }
}

// ------------------------------------------------------------------ root

#[tokio::test]
async fn root_session_may_administer_the_account_but_not_call_itself() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let s = m.session(&a, 21, json!([{"type": "root"}]), 0).await;
    assert!(s.compiled.is_global);
    let to = Address::with_last_byte(0x79);
    m.session_call(&a, &s, &execute(to, milli(500), Bytes::new())).await.success();
    // Global pool: it may install another session.
    let other = m.compile(&a, 22, native_to(milli(1), to), 0).await;
    let mut op = m.session_op(&a, &s, &other.compiled.calldata()).await;
    op.call_gas_limit = keyward_testkit::mav2::INSTALL_CALL_GAS;
    m.sign_session(&s, &mut op);
    m.send(op).await.success();
    m.session_call(&a, &other, &execute(to, milli(1), Bytes::new())).await.success();
    // Just outside: execute on the account itself.
    m.session_call(&a, &s, &execute(a.address, U256::ZERO, Bytes::new()))
        .await
        .rejected_with("AA23", Some(SemiModularAccountBytecode::SelfCallRecursionDepthExceeded::SELECTOR));
    // And a root key without the global bit in its nonce matches no selector.
    let key = keyward_primitives::mav2::NonceKey::regular(U256::ZERO, 21, false, false).unwrap();
    let mut op = m.op(a.address, m.ep_nonce(a.address, key.full_key()).await, execute(to, U256::ZERO, Bytes::new()));
    m.sign_session(&s, &mut op);
    m.send(op).await.rejected_with("AA23", Some(SemiModularAccountBytecode::ValidationFunctionMissing::SELECTOR));
}

// ------------------------------------------------------------------ expirySec

#[tokio::test]
async fn expiry_allows_ops_until_the_deadline_and_refuses_them_after() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let to = Address::with_last_byte(0x7a);
    let expiry = m.now().await + 3600;
    let s = m.session(&a, 23, native_to(milli(10), to), expiry).await;
    m.session_call(&a, &s, &execute(to, milli(1), Bytes::new())).await.success();
    m.advance(3000).await;
    m.session_call(&a, &s, &execute(to, milli(1), Bytes::new())).await.success();
    m.advance(700).await;
    assert!(m.now().await > expiry);
    m.session_call(&a, &s, &execute(to, milli(1), Bytes::new())).await.rejected_with("AA22", None);
    assert_eq!(m.balance(to).await, milli(2));
}

#[tokio::test]
async fn time_range_refuses_ops_before_valid_after() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let to = Address::with_last_byte(0x7b);
    let now = m.now().await;
    let mut s = m.compile(&a, 24, native_to(milli(10), to), now + 7200).await;
    // Replace the compiler's expiry hook with a window that opens in an hour.
    s.compiled.install.hooks[0] = HookInstall::time_range(&m.modules, 24, now + 7200, now + 3600).unwrap();
    m.install(&a, &s).await;
    m.session_call(&a, &s, &execute(to, milli(1), Bytes::new())).await.rejected_with("AA22", None);
    m.advance(3700).await;
    m.session_call(&a, &s, &execute(to, milli(1), Bytes::new())).await.success();
    m.advance(3600).await;
    m.session_call(&a, &s, &execute(to, milli(1), Bytes::new())).await.rejected_with("AA22", None);
}

#[tokio::test]
async fn expired_deferred_grant_is_refused() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let to = Address::with_last_byte(0x7c);
    let expiry = m.now().await + 600;
    let s = m.compile(&a, 25, native_to(milli(10), to), expiry).await;
    let op = m.deferred_session_op(&a, &s, &execute(to, milli(1), Bytes::new())).await;
    m.advance(1200).await;
    m.send(op).await.rejected_with("AA22", None);
}

// ------------------------------------------------------------------ paymaster guard

#[tokio::test]
async fn paymaster_guard_allows_its_paymaster_only() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let to = Address::with_last_byte(0x7d);
    let pm = m.test_paymaster().await;
    let other_pm = m.test_paymaster().await;
    let s = m.compile(&a, 26, native_to(milli(10), to), 0).await;
    let s = m.with_paymaster_guard(s, pm);
    m.install(&a, &s).await;
    let send_with = |p: Option<Address>| {
        let (m, a, s) = (&m, &a, &s);
        async move {
            let mut op = m.session_op(a, s, &execute(to, milli(1), Bytes::new())).await;
            op.paymaster = p.map(|p| m.paymaster(p));
            m.sign_session(s, &mut op);
            m.send(op).await
        }
    };
    let balance = m.balance(a.address).await;
    send_with(Some(pm)).await.success();
    assert_eq!(m.balance(a.address).await, balance - milli(1), "the paymaster paid the gas");
    send_with(Some(other_pm)).await.rejected_with("AA23", Some(PaymasterGuardModule::BadPaymasterSpecified::SELECTOR));
    send_with(None).await.rejected_with("AA23", Some(PaymasterGuardModule::InvalidPaymaster::SELECTOR));
    let _ = PrivateKeySigner::random();
}
