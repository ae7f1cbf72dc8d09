//! Gas estimation: operations filled with the estimates are accepted and included, the call gas
//! estimate tracks what the execution really used, and reverting executions are reported.
//!
//! Here, at the edge, because reverting executions are checked by their ERC-7769 code
//! (`keyward_server::bundler::reject_code`).

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use alloy::primitives::{Address, Bytes, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolValue};
use keyward_bundler::estimate::GasEstimate;
use keyward_bundler::estimate::estimate_user_op_gas;
use keyward_bundler::validation::Assumptions;
use keyward_bundler::{ValidationConfig, validate_user_op};
use keyward_contracts::bindings::{TestAccountFactory, TestCounter, TestPaymaster};
use keyward_primitives::entry_point::IEntryPoint::IEntryPointEvents;
use keyward_primitives::{FactoryInit, PaymasterInit, UserOperation};
use keyward_server::bundler::reject_code;
use keyward_testkit::ops::{self, count_call, execute_call};
use keyward_testkit::{Harness, ep_events};

const ETH: u64 = 1_000_000_000_000_000_000;

fn apply(op: &mut UserOperation, e: &GasEstimate) {
    op.pre_verification_gas = e.pre_verification_gas;
    op.verification_gas_limit = e.verification_gas_limit.to();
    op.call_gas_limit = e.call_gas_limit.to();
    if let Some(p) = op.paymaster.as_mut() {
        p.verification_gas_limit = e.paymaster_verification_gas_limit.unwrap().to();
        p.post_op_gas_limit = e.paymaster_post_op_gas_limit.unwrap().to();
    }
}

/// Estimates with a dummy signature, applies, signs, validates and runs `op`; returns the gas the
/// execution phase really used (actualGasUsed minus validation) for comparison.
async fn estimate_sign_and_run(h: &Harness, mut op: UserOperation, owner: &PrivateKeySigner) -> (GasEstimate, bool) {
    // A stub like viem's (many zero bytes; a soft signature failure, not a revert) and no gas
    // values yet: the estimate must still cover the real signature and the estimated values.
    let mut stub = vec![0u8; 65];
    stub[..16].fill(0xff);
    stub[64] = 0x1c;
    op.signature = Bytes::from(stub);
    op.pre_verification_gas = U256::ZERO;
    op.call_gas_limit = 0;
    op.verification_gas_limit = 0;
    let config = ValidationConfig::default();
    let est = estimate_user_op_gas(h.chain.as_ref(), &config, &op, Assumptions::default()).await.unwrap();
    apply(&mut op, &est);
    h.sign(&mut op, owner).await;
    validate_user_op(h.chain.as_ref(), &config, &op).await.unwrap();
    let receipt = h.handle_ops(vec![op], Address::with_last_byte(0xbe)).await.unwrap();
    let success =
        ep_events(&receipt, h.ep).iter().any(|e| matches!(e, IEntryPointEvents::UserOperationEvent(u) if u.success));
    (est, success)
}

#[tokio::test]
async fn estimates_run_a_deployed_account_op() {
    let h = Harness::embedded();
    let owner = PrivateKeySigner::random();
    let account = h.test_account(owner.address(), U256::from(ETH)).await;
    let counter = h.counter().await;
    let op = ops::op(account, U256::ZERO, count_call(counter));
    let (est, success) = estimate_sign_and_run(&h, op, &owner).await;
    assert!(success);
    // count() costs ~45k (two fresh slots and an event): the estimate is close, not the probe cap.
    let cgl: u64 = est.call_gas_limit.to();
    assert!((40_000..120_000).contains(&cgl), "call gas limit {cgl}");
}

#[tokio::test]
async fn estimates_run_a_counterfactual_op_with_init_code() {
    let h = Harness::embedded();
    let counter = h.counter().await;
    let factory = h.deploy(keyward_contracts::artifacts::test_account_factory(), &h.ep.abi_encode()).await;
    let owner = PrivateKeySigner::random();
    let salt = U256::from(1);
    let sender = h.read(factory, TestAccountFactory::getAddressCall { owner: owner.address(), salt }).await.unwrap();
    let fund = alloy::rpc::types::TransactionRequest::default();
    let fund = alloy::network::TransactionBuilder::with_value(
        alloy::network::TransactionBuilder::with_to(fund, sender),
        U256::from(ETH),
    );
    h.send_tx(&h.keys[0], fund).await.unwrap();
    let mut op = ops::op(sender, U256::ZERO, count_call(counter));
    op.factory = Some(FactoryInit {
        factory,
        factory_data: TestAccountFactory::createAccountCall { owner: owner.address(), salt }.abi_encode().into(),
    });
    let (est, success) = estimate_sign_and_run(&h, op, &owner).await;
    assert!(success);
    let vgl: u64 = est.verification_gas_limit.to();
    assert!(vgl > 300_000, "creation is part of verification: {vgl}");
}

#[tokio::test]
async fn estimates_run_a_sponsored_op() {
    let h = Harness::embedded();
    let counter = h.counter().await;
    let pm = h.deploy(keyward_contracts::artifacts::test_paymaster(), &h.ep.abi_encode()).await;
    h.transact(pm, TestPaymaster::depositCall {}, U256::from(ETH)).await;
    let owner = PrivateKeySigner::random();
    let account = h.test_account(owner.address(), U256::ZERO).await;
    let mut op = ops::op(account, U256::ZERO, count_call(counter));
    op.paymaster = Some(PaymasterInit {
        paymaster: pm,
        verification_gas_limit: 0,
        post_op_gas_limit: 0,
        data: Bytes::from(vec![1u8]),
    });
    let (est, success) = estimate_sign_and_run(&h, op, &owner).await;
    assert!(success);
    assert!(est.paymaster_verification_gas_limit.is_some() && est.paymaster_post_op_gas_limit.is_some());
}

#[tokio::test]
async fn a_reverting_execution_is_reported() {
    let h = Harness::embedded();
    let owner = PrivateKeySigner::random();
    let account = h.test_account(owner.address(), U256::from(ETH)).await;
    let counter = h.counter().await;
    let fail = execute_call(counter, U256::ZERO, TestCounter::failCall {}.abi_encode().into());
    let mut op = ops::op(account, U256::ZERO, fail);
    op.signature = Bytes::from(vec![0x11; 65]);
    let err = estimate_user_op_gas(h.chain.as_ref(), &ValidationConfig::default(), &op, Assumptions::default())
        .await
        .unwrap_err();
    assert_eq!(reject_code(&err), -32521);
    assert!(err.to_string().contains("TestCounter: failed"), "{err}");
}

/// Regression: an execution that can only run once (an owner installing a session key with hooks
/// and selectors: a second install reverts with ValidationAlreadySet) is estimated from the op's
/// own execution, not from a replay of its callData on the state the op already changed.
#[tokio::test]
async fn a_run_once_execution_is_estimated_and_included() {
    use keyward_testkit::mav2::Mav2;
    let m = Mav2::embedded().await;
    let a = m.account(U256::from(ETH)).await;
    let perms = serde_json::json!([
        {"type": "native-token-transfer", "data": {"allowance": "0x16345785d8a0000"}},
        {"type": "contract-access", "data": {"address": "0x1111111111111111111111111111111111111111"}}
    ]);
    let expiry = m.now().await + 3_600;
    let s = m.compile(&a, 7, perms, expiry).await;
    let mut op = m.owner_op(&a, s.compiled.calldata()).await;
    op.signature = keyward_primitives::mav2::signature::DUMMY_USER_OP_SIGNATURE;
    let e = estimate_user_op_gas(m.h.chain.as_ref(), &ValidationConfig::default(), &op, Assumptions::default())
        .await
        .unwrap();
    apply(&mut op, &e);
    m.sign_owner(&a, &mut op);
    m.send(op).await.success();
    // Installed: the same install again now reverts, and estimation reports it.
    let mut again = m.owner_op(&a, s.compiled.calldata()).await;
    again.signature = keyward_primitives::mav2::signature::DUMMY_USER_OP_SIGNATURE;
    let err = estimate_user_op_gas(m.h.chain.as_ref(), &ValidationConfig::default(), &again, Assumptions::default())
        .await
        .unwrap_err();
    assert_eq!(reject_code(&err), -32521, "{err}");
}
