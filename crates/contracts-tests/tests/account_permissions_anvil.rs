//! A session-key permission suite run on both backends: the embedded chain and a real anvil
//! (through `RpcChain`), with the same contracts, ops and expectations — each permission type in
//! scope and one step out of it, an expiry, a paymaster guard and a deferred install.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use alloy::primitives::{Address, Bytes, U256};
use alloy::sol_types::{SolCall, SolError};
use keyward_contracts::bindings::{AllowlistModule, NativeTokenLimitModule, PaymasterGuardModule, TestToken};
use keyward_testkit::Harness;
use keyward_testkit::mav2::{Mav2, eth, execute, execute_batch, milli, native_to};
use serde_json::json;

fn transfer(to: Address, amount: u64) -> Bytes {
    TestToken::transferCall { to, amount: U256::from(amount) }.abi_encode().into()
}

async fn permission_suite(m: &Mav2) {
    let to = Address::repeat_byte(0x41);

    // native-token-transfer + contract-access: the allowance, one wei beyond, another target.
    let a = m.account(eth(1)).await;
    let s = m.session(&a, 7, native_to(milli(10), to), 0).await;
    m.session_call(&a, &s, &execute(to, milli(10) + U256::from(1), Bytes::new()))
        .await
        .reverted_with(NativeTokenLimitModule::ExceededNativeTokenLimit::SELECTOR);
    m.session_call(&a, &s, &execute(to, milli(6), Bytes::new())).await.success();
    let batch = execute_batch(vec![(to, milli(2), Bytes::new()), (to, milli(2), Bytes::new())]);
    m.session_call(&a, &s, &batch).await.success();
    m.session_call(&a, &s, &execute(to, U256::from(1), Bytes::new()))
        .await
        .reverted_with(NativeTokenLimitModule::ExceededNativeTokenLimit::SELECTOR);
    m.session_call(&a, &s, &execute(Address::repeat_byte(0x42), U256::ZERO, Bytes::new()))
        .await
        .rejected_with("AA23", Some(AllowlistModule::AddressNotAllowed::SELECTOR));
    assert_eq!(m.balance(to).await, milli(10));

    // erc20-token-transfer: the allowance in units, one unit beyond, transferFrom refused.
    let token = m.token(a.address, U256::from(10_000u64)).await;
    let perms = json!([{"type": "erc20-token-transfer",
                        "data": {"address": format!("{token:#x}"), "allowance": "0x3e8"}}]);
    let t = m.session(&a, 8, perms, 0).await;
    m.session_call(&a, &t, &execute(token, U256::ZERO, transfer(to, 1001)))
        .await
        .reverted_with(AllowlistModule::ExceededTokenLimit::SELECTOR);
    m.session_call(&a, &t, &execute(token, U256::ZERO, transfer(to, 1000))).await.success();
    m.session_call(&a, &t, &execute(token, U256::ZERO, transfer(to, 1)))
        .await
        .reverted_with(AllowlistModule::ExceededTokenLimit::SELECTOR);
    let tf: Bytes = TestToken::transferFromCall { from: a.address, to, amount: U256::from(1) }.abi_encode().into();
    m.session_call(&a, &t, &execute(token, U256::ZERO, tf))
        .await
        .rejected_with("AA23", Some(AllowlistModule::SelectorNotAllowed::SELECTOR));
    assert_eq!(m.token_balance(token, to).await, U256::from(1000));

    // functions-on-contract: listed selector only.
    let counter = m.h.counter().await;
    let count: Bytes = keyward_contracts::bindings::TestCounter::countCall {}.abi_encode().into();
    let fail: Bytes = keyward_contracts::bindings::TestCounter::failCall {}.abi_encode().into();
    let perms = json!([{"type": "functions-on-contract",
                        "data": {"address": format!("{counter:#x}"), "functions": [format!("0x{}", alloy::hex::encode(&count[..4]))]}}]);
    let f = m.session(&a, 9, perms, 0).await;
    m.session_call(&a, &f, &execute(counter, U256::ZERO, count)).await.success();
    m.session_call(&a, &f, &execute(counter, U256::ZERO, fail))
        .await
        .rejected_with("AA23", Some(AllowlistModule::SelectorNotAllowed::SELECTOR));

    // expirySec: valid until the deadline, refused after it.
    let expiry = m.now().await + 600;
    let e = m.session(&a, 10, native_to(milli(10), to), expiry).await;
    m.session_call(&a, &e, &execute(to, U256::from(1), Bytes::new())).await.success();
    m.advance(700).await;
    assert!(m.now().await > expiry);
    m.session_call(&a, &e, &execute(to, U256::from(1), Bytes::new())).await.rejected_with("AA22", None);

    // Paymaster guard: its paymaster only.
    let pm = m.test_paymaster().await;
    let other = m.test_paymaster().await;
    let g = m.compile(&a, 11, native_to(milli(10), to), 0).await;
    let g = m.with_paymaster_guard(g, pm);
    m.install(&a, &g).await;
    for (p, ok) in [(pm, true), (other, false)] {
        let mut op = m.session_op(&a, &g, &execute(to, U256::from(1), Bytes::new())).await;
        op.paymaster = Some(m.paymaster(p));
        m.sign_session(&g, &mut op);
        let out = m.send(op).await;
        if ok {
            out.success();
        } else {
            out.rejected_with("AA23", Some(PaymasterGuardModule::BadPaymasterSpecified::SELECTOR));
        }
    }

    // Deferred install on a counterfactual account: deployed, installed and used in one op.
    let b = m.counterfactual_account(eth(1)).await;
    let d = m.compile(&b, 12, native_to(milli(5), to), 0).await;
    let op = m.deferred_session_op(&b, &d, &execute(to, milli(5), Bytes::new())).await;
    m.send(op).await.success();
    assert!(m.deployed(b.address).await);
    m.session_call(&b, &d, &execute(to, U256::from(1), Bytes::new()))
        .await
        .reverted_with(NativeTokenLimitModule::ExceededNativeTokenLimit::SELECTOR);
}

#[tokio::test]
async fn permission_suite_on_the_embedded_chain() {
    permission_suite(&Mav2::embedded().await).await;
}

#[tokio::test]
async fn permission_suite_on_anvil() {
    let m = Mav2::deploy(Harness::anvil().await).await;
    assert!(m.h.anvil_url().is_some());
    permission_suite(&m).await;
}
