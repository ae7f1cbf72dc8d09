//! Keyward's EntryPoint v0.7: every AAxx failure, with its exact reason string, error kind and
//! op index (spec §7, §10.3), plus the reentrancy guard, the all-or-nothing validation loop and
//! `UserOperationPrefundTooLow`.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use alloy::primitives::{Address, Bytes, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolValue};
use keyward_contracts::bindings::{TestAccountFactory, TestCounter, TestPaymaster};
use keyward_primitives::entry_point::IEntryPoint::{self, IEntryPointEvents};
use keyward_primitives::{FactoryInit, PackedUserOperation, PaymasterInit, UserOperation};
use keyward_testkit::conformance::{validation_data_hook, windowed_signature};
use keyward_testkit::ops::{self, count_call, execute_call};
use keyward_testkit::{EpError, Harness, ep_events};

const ETH: u64 = 1_000_000_000_000_000_000;

fn eth() -> U256 {
    U256::from(ETH)
}

fn ben() -> Address {
    Address::with_last_byte(0xbe)
}

/// Asserts `FailedOp(index, reason)` exactly.
#[track_caller]
fn assert_failed_op(result: Result<alloy::rpc::types::TransactionReceipt, EpError>, index: u64, reason: &str) {
    match result {
        Err(EpError::FailedOp { index: i, reason: r }) => {
            assert_eq!((i, r.as_str()), (U256::from(index), reason), "FailedOp index and reason");
        }
        Err(other) => panic!("expected FailedOp({index}, {reason:?}), got {other:?}"),
        Ok(r) => {
            panic!("expected FailedOp({index}, {reason:?}), but the bundle succeeded (tx {:?})", r.transaction_hash)
        }
    }
}

/// Asserts `Error(reason)` exactly.
#[track_caller]
fn assert_message(result: Result<alloy::rpc::types::TransactionReceipt, EpError>, reason: &str) {
    match result {
        Err(EpError::Message(m)) => assert_eq!(m, reason),
        Err(other) => panic!("expected Error({reason:?}), got {other:?}"),
        Ok(_) => panic!("expected Error({reason:?}), but the bundle succeeded"),
    }
}

/// An account owned by a fresh key, funded with 1 ETH, and a signed op calling `count()`.
async fn signed_count_op(h: &Harness) -> (UserOperation, PrivateKeySigner) {
    let owner = PrivateKeySigner::random();
    let account = h.test_account(owner.address(), eth()).await;
    let counter = h.counter().await;
    let mut op = ops::op(account, U256::ZERO, count_call(counter));
    h.sign(&mut op, &owner).await;
    (op, owner)
}

async fn factory(h: &Harness) -> Address {
    h.deploy(keyward_contracts::artifacts::test_account_factory(), &h.ep.abi_encode()).await
}

async fn paymaster(h: &Harness, deposit: U256) -> Address {
    let pm = h.deploy(keyward_contracts::artifacts::test_paymaster(), &h.ep.abi_encode()).await;
    if deposit > U256::ZERO {
        h.transact(pm, TestPaymaster::depositCall {}, deposit).await;
    }
    pm
}

fn pm_init(pm: Address, data: Vec<u8>) -> Option<PaymasterInit> {
    Some(PaymasterInit {
        paymaster: pm,
        verification_gas_limit: 100_000,
        post_op_gas_limit: 100_000,
        data: data.into(),
    })
}

/// An op whose sender is the counterfactual `getAddress(owner, salt)` of `factory`, with initCode
/// calling `factory_data` (one of the TestAccountFactory functions), funded and signed.
async fn init_code_op(
    h: &Harness,
    factory: Address,
    factory_data: Bytes,
    owner: &PrivateKeySigner,
    salt: U256,
) -> UserOperation {
    let sender: Address =
        h.read(factory, TestAccountFactory::getAddressCall { owner: owner.address(), salt }).await.unwrap();
    h.fund(sender, eth()).await;
    let mut op = ops::op(sender, U256::ZERO, Bytes::new());
    op.factory = Some(FactoryInit { factory, factory_data });
    op.verification_gas_limit = 1_000_000;
    h.sign(&mut op, owner).await;
    op
}

// ---------------------------------------------------------------------------------------------
// AA1x: sender creation
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn aa10_sender_already_constructed() {
    let h = Harness::embedded();
    let f = factory(&h).await;
    let (mut op, owner) = signed_count_op(&h).await;
    op.factory = Some(FactoryInit {
        factory: f,
        factory_data: TestAccountFactory::createAccountCall { owner: owner.address(), salt: U256::ZERO }
            .abi_encode()
            .into(),
    });
    op.verification_gas_limit = 1_000_000;
    h.sign(&mut op, &owner).await;
    assert_failed_op(h.handle_ops(vec![op], ben()).await, 0, "AA10 sender already constructed");
}

#[tokio::test]
async fn aa13_init_code_failed_or_oog() {
    let h = Harness::embedded();
    let f = factory(&h).await;
    let owner = PrivateKeySigner::random();
    let salt = U256::from(1);
    let data = TestAccountFactory::createAccountRevertingCall { _0: owner.address(), _1: salt }.abi_encode();
    let op = init_code_op(&h, f, data.into(), &owner, salt).await;
    assert_failed_op(h.handle_ops(vec![op.clone()], ben()).await, 0, "AA13 initCode failed or OOG");

    // A working factory that runs out of gas is AA13 too: createAccount with far too little VGL.
    let mut oog = op;
    oog.factory = Some(FactoryInit {
        factory: f,
        factory_data: TestAccountFactory::createAccountCall { owner: owner.address(), salt }.abi_encode().into(),
    });
    oog.verification_gas_limit = 60_000;
    h.sign(&mut oog, &owner).await;
    assert_failed_op(h.handle_ops(vec![oog], ben()).await, 0, "AA13 initCode failed or OOG");
}

#[tokio::test]
async fn aa14_init_code_must_return_sender() {
    let h = Harness::embedded();
    let f = factory(&h).await;
    let owner = PrivateKeySigner::random();
    let salt = U256::from(2);
    let data = TestAccountFactory::createAccountWrongAddressCall { owner: owner.address(), salt }.abi_encode();
    let op = init_code_op(&h, f, data.into(), &owner, salt).await;
    assert_failed_op(h.handle_ops(vec![op], ben()).await, 0, "AA14 initCode must return sender");
}

#[tokio::test]
async fn aa15_init_code_must_create_sender() {
    let h = Harness::embedded();
    let f = factory(&h).await;
    let owner = PrivateKeySigner::random();
    let salt = U256::from(3);
    let data = TestAccountFactory::createAccountWithoutDeployingCall { owner: owner.address(), salt }.abi_encode();
    let op = init_code_op(&h, f, data.into(), &owner, salt).await;
    assert_failed_op(h.handle_ops(vec![op], ben()).await, 0, "AA15 initCode must create sender");
}

// ---------------------------------------------------------------------------------------------
// AA2x: account validation
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn aa20_account_not_deployed() {
    let h = Harness::embedded();
    let codeless = PrivateKeySigner::random().address();
    h.fund(codeless, eth()).await;
    let mut op = ops::op(codeless, U256::ZERO, Bytes::new());
    op.signature = vec![0u8; 65].into();
    // Keyward's documented v0.8-style behaviour: FailedOp, not an empty revert.
    assert_failed_op(h.handle_ops(vec![op], ben()).await, 0, "AA20 account not deployed");
}

#[tokio::test]
async fn aa21_didnt_pay_prefund() {
    let h = Harness::embedded();
    let account = h.test_account(Address::with_last_byte(1), eth()).await;
    let mut op = ops::op(account, U256::ZERO, Bytes::new());
    op.signature = Bytes::from_static(&[0x0b, 0xad, 0x0b, 0xad]);
    assert_failed_op(h.handle_ops(vec![op.clone()], ben()).await, 0, "AA21 didn't pay prefund");

    // A deposit one wei short of the prefund is still AA21; exactly the prefund passes.
    let prefund = op.required_prefund();
    h.transact(h.ep, IEntryPoint::depositToCall { account }, prefund - U256::from(1)).await;
    assert_failed_op(h.handle_ops(vec![op.clone()], ben()).await, 0, "AA21 didn't pay prefund");
    h.transact(h.ep, IEntryPoint::depositToCall { account }, U256::from(1)).await;
    h.handle_ops(vec![op], ben()).await.expect("a deposit equal to the prefund is enough");
}

#[tokio::test]
async fn aa22_expired_or_not_due() {
    let h = Harness::embedded();
    let owner = PrivateKeySigner::random();
    let account = h.test_account(owner.address(), eth()).await;
    let now = h.latest_timestamp().await;
    let chain_id = h.chain_id().await;

    let windowed = |valid_after: u64, valid_until: u64| {
        let mut op = ops::op(account, U256::ZERO, Bytes::new());
        ops::sign(&mut op, &owner, h.ep, chain_id);
        op.signature = windowed_signature(&op.signature, valid_after, valid_until);
        op
    };

    // Not yet due: validAfter one hour ahead.
    let not_due = windowed(now + 3600, 0);
    assert_failed_op(h.handle_ops(vec![not_due.clone()], ben()).await, 0, "AA22 expired or not due");

    // Valid until 100 s from now: passes now (checked with eth_call only), expired after time moves on.
    let expiring = windowed(0, now + 100);
    let tx = alloy::rpc::types::TransactionRequest::default()
        .from(h.keys[9].address())
        .to(h.ep)
        .input(Harness::handle_ops_data(vec![expiring.pack()], ben()).into());
    h.chain.call(tx, None).await.expect("inside its window the op is valid");
    h.chain.increase_time(1000).await.unwrap();
    h.chain.mine().await.unwrap();
    assert_failed_op(h.handle_ops(vec![expiring], ben()).await, 0, "AA22 expired or not due");

    // An hour and more later the not-yet-due op is due and executes.
    h.chain.increase_time(3600).await.unwrap();
    h.chain.mine().await.unwrap();
    h.handle_ops(vec![not_due], ben()).await.expect("due now");
    assert_eq!(h.nonce(account, 0).await, U256::from(1));
}

#[tokio::test]
async fn aa23_reverted() {
    let h = Harness::embedded();
    let account = h.test_account(Address::with_last_byte(1), eth()).await;
    let mut op = ops::op(account, U256::ZERO, Bytes::new());
    op.signature = Bytes::from_static(&[0xde, 0xad, 0xde, 0xad]);
    match h.handle_ops(vec![op], ben()).await {
        Err(EpError::FailedOpWithRevert { index, reason, inner }) => {
            assert_eq!(index, U256::ZERO);
            assert_eq!(reason, "AA23 reverted");
            let decoded = <alloy::sol_types::Revert as alloy::sol_types::SolError>::abi_decode(&inner)
                .expect("inner revert data is Error(string)");
            assert_eq!(decoded.reason, "TestAccount: forced revert");
        }
        other => panic!("expected FailedOpWithRevert AA23, got {other:?}"),
    }
}

#[tokio::test]
async fn aa24_signature_error() {
    let h = Harness::embedded();
    let account = h.test_account(Address::with_last_byte(1), eth()).await;
    let mut op = ops::op(account, U256::ZERO, Bytes::new());
    h.sign(&mut op, &PrivateKeySigner::random()).await; // not the owner
    assert_failed_op(h.handle_ops(vec![op], ben()).await, 0, "AA24 signature error");
    // An aggregator address as authorizer is AA24 in handleOps as well.
    let mut op = ops::op(account, U256::ZERO, Bytes::new());
    op.signature = validation_data_hook(U256::from_be_slice(Address::with_last_byte(0x77).as_slice()));
    assert_failed_op(h.handle_ops(vec![op], ben()).await, 0, "AA24 signature error");
}

#[tokio::test]
async fn aa25_invalid_account_nonce_too_high_and_reused() {
    let h = Harness::embedded();
    let (op, owner) = signed_count_op(&h).await;
    // Too high: sequence 1 while the account is at 0.
    let mut high = op.clone();
    high.nonce = U256::from(1);
    h.sign(&mut high, &owner).await;
    assert_failed_op(h.handle_ops(vec![high], ben()).await, 0, "AA25 invalid account nonce");
    // Another key's sequence 0 is fine (keys are independent), but key 5 sequence 1 is not.
    let mut other_key = op.clone();
    other_key.nonce = (U256::from(5) << 64) | U256::from(1);
    h.sign(&mut other_key, &owner).await;
    assert_failed_op(h.handle_ops(vec![other_key], ben()).await, 0, "AA25 invalid account nonce");

    // Reused: the same op twice.
    h.handle_ops(vec![op.clone()], ben()).await.expect("first use");
    assert_failed_op(h.handle_ops(vec![op.clone()], ben()).await, 0, "AA25 invalid account nonce");
    // Twice in one bundle: the second is index 1.
    let mut next = op.clone();
    next.nonce = U256::from(1);
    h.sign(&mut next, &owner).await;
    assert_failed_op(h.handle_ops(vec![next.clone(), next], ben()).await, 1, "AA25 invalid account nonce");
}

#[tokio::test]
async fn aa26_over_verification_gas_limit() {
    let h = Harness::embedded();
    let account = h.test_account(Address::with_last_byte(1), eth()).await;
    let mut op = ops::op(account, U256::ZERO, Bytes::new());
    op.signature = Bytes::from_static(&[0xb0, 0x42, 0xb0, 0x42]);
    assert_failed_op(h.handle_ops(vec![op], ben()).await, 0, "AA26 over verificationGasLimit");
}

// ---------------------------------------------------------------------------------------------
// AA3x: paymaster validation
// ---------------------------------------------------------------------------------------------

async fn paymaster_op(h: &Harness, pm: Address, data: Vec<u8>) -> UserOperation {
    let owner = PrivateKeySigner::random();
    let account = h.test_account(owner.address(), U256::ZERO).await;
    let mut op = ops::op(account, U256::ZERO, Bytes::new());
    op.paymaster = pm_init(pm, data);
    h.sign(&mut op, &owner).await;
    op
}

#[tokio::test]
async fn aa30_paymaster_not_deployed() {
    let h = Harness::embedded();
    let op = paymaster_op(&h, Address::with_last_byte(0x5a), vec![]).await;
    assert_failed_op(h.handle_ops(vec![op], ben()).await, 0, "AA30 paymaster not deployed");
}

#[tokio::test]
async fn aa31_paymaster_deposit_too_low() {
    let h = Harness::embedded();
    let pm = paymaster(&h, U256::ZERO).await;
    let op = paymaster_op(&h, pm, vec![]).await;
    assert_failed_op(h.handle_ops(vec![op.clone()], ben()).await, 0, "AA31 paymaster deposit too low");
    // One wei short of the prefund still fails.
    h.transact(h.ep, IEntryPoint::depositToCall { account: pm }, op.required_prefund() - U256::from(1)).await;
    assert_failed_op(h.handle_ops(vec![op], ben()).await, 0, "AA31 paymaster deposit too low");
}

#[tokio::test]
async fn aa32_paymaster_expired_or_not_due() {
    let h = Harness::embedded();
    let pm = paymaster(&h, eth()).await;
    let op = paymaster_op(&h, pm, vec![4]).await; // validUntil = 1
    assert_failed_op(h.handle_ops(vec![op], ben()).await, 0, "AA32 paymaster expired or not due");
    // Mode 7: a window starting in an hour.
    let now = h.latest_timestamp().await;
    let mut data = vec![7u8];
    data.extend_from_slice(&(now + 3600).to_be_bytes()[2..]);
    data.extend_from_slice(&0u64.to_be_bytes()[2..]);
    let op = paymaster_op(&h, pm, data).await;
    assert_failed_op(h.handle_ops(vec![op], ben()).await, 0, "AA32 paymaster expired or not due");
}

#[tokio::test]
async fn aa33_paymaster_reverted() {
    let h = Harness::embedded();
    let pm = paymaster(&h, eth()).await;
    let op = paymaster_op(&h, pm, vec![2]).await;
    match h.handle_ops(vec![op], ben()).await {
        Err(EpError::FailedOpWithRevert { index, reason, inner }) => {
            assert_eq!(index, U256::ZERO);
            assert_eq!(reason, "AA33 reverted");
            let decoded = <alloy::sol_types::Revert as alloy::sol_types::SolError>::abi_decode(&inner).unwrap();
            assert_eq!(decoded.reason, "TestPaymaster: validation reverted");
        }
        other => panic!("expected FailedOpWithRevert AA33, got {other:?}"),
    }
}

#[tokio::test]
async fn aa34_paymaster_signature_error() {
    let h = Harness::embedded();
    let pm = paymaster(&h, eth()).await;
    let op = paymaster_op(&h, pm, vec![3]).await;
    assert_failed_op(h.handle_ops(vec![op], ben()).await, 0, "AA34 signature error");
}

#[tokio::test]
async fn aa36_over_paymaster_verification_gas_limit() {
    let h = Harness::embedded();
    let pm = paymaster(&h, eth()).await;
    let op = paymaster_op(&h, pm, vec![5]).await;
    assert_failed_op(h.handle_ops(vec![op], ben()).await, 0, "AA36 over paymasterVerificationGasLimit");
}

// ---------------------------------------------------------------------------------------------
// AA9x: bundle-level errors (Error(string))
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn aa90_invalid_beneficiary() {
    let h = Harness::embedded();
    let (op, _) = signed_count_op(&h).await;
    assert_message(h.handle_ops(vec![op.clone()], Address::ZERO).await, "AA90 invalid beneficiary");
    h.handle_ops(vec![op], ben()).await.expect("same op, valid beneficiary");
}

#[tokio::test]
async fn aa91_failed_send_to_beneficiary() {
    let h = Harness::embedded();
    let (op, _) = signed_count_op(&h).await;
    // TestAccountFactory has neither receive nor fallback: it refuses ETH.
    let refuses = factory(&h).await;
    assert_message(h.handle_ops(vec![op], refuses).await, "AA91 failed send to beneficiary");
}

alloy::sol! {
    struct MemoryUserOp {
        address sender;
        uint256 nonce;
        uint256 verificationGasLimit;
        uint256 callGasLimit;
        uint256 paymasterVerificationGasLimit;
        uint256 paymasterPostOpGasLimit;
        uint256 preVerificationGas;
        address paymaster;
        uint256 maxFeePerGas;
        uint256 maxPriorityFeePerGas;
    }
    struct UserOpInfo {
        MemoryUserOp mUserOp;
        bytes32 userOpHash;
        uint256 prefund;
        uint256 contextOffset;
        uint256 preOpGas;
    }
    function innerHandleOp(bytes callData, UserOpInfo opInfo, bytes context) external returns (uint256 actualGasCost);
}

#[tokio::test]
async fn aa92_internal_call_only() {
    let h = Harness::embedded();
    assert_eq!(innerHandleOpCall::SELECTOR, [0x00, 0x42, 0xdc, 0x53]);
    let call = innerHandleOpCall {
        callData: Bytes::new(),
        opInfo: UserOpInfo {
            mUserOp: MemoryUserOp {
                sender: h.keys[0].address(),
                nonce: U256::ZERO,
                verificationGasLimit: U256::from(100_000),
                callGasLimit: U256::from(100_000),
                paymasterVerificationGasLimit: U256::ZERO,
                paymasterPostOpGasLimit: U256::ZERO,
                preVerificationGas: U256::ZERO,
                paymaster: Address::ZERO,
                maxFeePerGas: U256::from(1),
                maxPriorityFeePerGas: U256::from(1),
            },
            userOpHash: Default::default(),
            prefund: U256::from(1_000_000),
            contextOffset: U256::ZERO,
            preOpGas: U256::ZERO,
        },
        context: Bytes::new(),
    };
    let tx = alloy::rpc::types::TransactionRequest::default()
        .from(h.keys[0].address())
        .to(h.ep)
        .input(call.abi_encode().into());
    match h.chain.call(tx, None).await {
        Err(keyward_chain::ChainError::Reverted { data, .. }) => {
            assert_eq!(keyward_testkit::decode_ep_error(&data), EpError::Message("AA92 internal call only".into()));
        }
        other => panic!("innerHandleOp from an EOA must revert AA92, got {other:?}"),
    }
}

#[tokio::test]
async fn aa93_invalid_paymaster_and_data() {
    let h = Harness::embedded();
    let (op, _) = signed_count_op(&h).await;
    let pm = paymaster(&h, eth()).await;
    for len in [1usize, 19, 20, 36, 51] {
        let mut packed: PackedUserOperation = op.pack();
        let full = [pm.as_slice(), &[0u8; 32][..]].concat();
        packed.paymasterAndData = full[..len].to_vec().into();
        assert_message(h.handle_packed(vec![packed], ben(), None).await, "AA93 invalid paymasterAndData");
    }
    // 52 bytes is a well-formed paymasterAndData (gas limits 0): no AA93, the paymaster runs out of gas.
    let mut packed = op.pack();
    packed.paymasterAndData = [pm.as_slice(), &[0u8; 32][..]].concat().into();
    let err = h.handle_packed(vec![packed], ben(), None).await.expect_err("pmVGL 0 cannot validate");
    assert!(err.reason().is_some(), "52 bytes passes the AA93 check and fails per op: {err:?}");
}

/// Writes one gas field of an operation.
type SetGasField = fn(&mut UserOperation, u128);

#[tokio::test]
async fn aa94_gas_values_overflow() {
    let h = Harness::embedded();
    let (op, owner) = signed_count_op(&h).await;
    let pm = paymaster(&h, eth()).await;
    let too_big: u128 = 1 << 120;
    let fields: [(&str, SetGasField); 7] = [
        ("preVerificationGas", |o, v| o.pre_verification_gas = U256::from(v)),
        ("verificationGasLimit", |o, v| o.verification_gas_limit = v),
        ("callGasLimit", |o, v| o.call_gas_limit = v),
        ("paymasterVerificationGasLimit", |o, v| o.paymaster.as_mut().unwrap().verification_gas_limit = v),
        ("paymasterPostOpGasLimit", |o, v| o.paymaster.as_mut().unwrap().post_op_gas_limit = v),
        ("maxFeePerGas", |o, v| o.max_fee_per_gas = v),
        ("maxPriorityFeePerGas", |o, v| o.max_priority_fee_per_gas = v),
    ];
    for (name, set) in fields {
        let mut bad = op.clone();
        bad.paymaster = pm_init(pm, vec![]);
        set(&mut bad, too_big);
        h.sign(&mut bad, &owner).await;
        match h.handle_ops(vec![bad.clone()], ben()).await {
            Err(EpError::Message(m)) => assert_eq!(m, "AA94 gas values overflow", "{name} = 2^120"),
            other => panic!("{name} = 2^120: expected AA94, got {other:?}"),
        }
        // 2^120 − 1 passes the overflow check (and fails later for other reasons, or not at all).
        set(&mut bad, too_big - 1);
        h.sign(&mut bad, &owner).await;
        if let Err(EpError::Message(m)) = h.handle_ops(vec![bad], ben()).await {
            assert_ne!(m, "AA94 gas values overflow", "{name} = 2^120 − 1 must not overflow");
        }
    }
}

#[tokio::test]
async fn aa95_out_of_gas() {
    let h = Harness::embedded();
    let owner = PrivateKeySigner::random();
    let account = h.test_account(owner.address(), eth()).await;
    let counter = h.counter().await;
    let mut op = ops::op(account, U256::ZERO, count_call(counter));
    op.call_gas_limit = 10_000_000;
    h.sign(&mut op, &owner).await;
    assert_failed_op(h.handle_packed(vec![op.pack()], ben(), Some(1_000_000)).await, 0, "AA95 out of gas");
    // With enough gas the same op runs.
    h.handle_packed(vec![op.pack()], ben(), Some(12_000_000)).await.expect("enough gas");
}

#[tokio::test]
async fn aa96_invalid_aggregator() {
    let h = Harness::embedded();
    let (op, _) = signed_count_op(&h).await;
    let call = IEntryPoint::handleAggregatedOpsCall {
        opsPerAggregator: vec![keyward_primitives::entry_point::UserOpsPerAggregator {
            userOps: vec![op.pack()],
            aggregator: Address::with_last_byte(1),
            signature: Bytes::new(),
        }],
        beneficiary: ben(),
    };
    let tx = alloy::rpc::types::TransactionRequest::default()
        .from(h.keys[9].address())
        .to(h.ep)
        .input(call.abi_encode().into());
    match h.chain.call(tx, None).await {
        Err(keyward_chain::ChainError::Reverted { data, .. }) => {
            assert_eq!(keyward_testkit::decode_ep_error(&data), EpError::Message("AA96 invalid aggregator".into()));
        }
        other => panic!("expected AA96, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Reentrancy, atomic validation, prefund too low
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn reentrant_handle_ops_reverts_reentrancy_guard_reentrant_call() {
    let h = Harness::embedded();
    let owner = PrivateKeySigner::random();
    let account = h.test_account(owner.address(), eth()).await;
    let reenter = execute_call(h.ep, U256::ZERO, Harness::handle_ops_data(vec![], ben()));
    let mut op = ops::op(account, U256::ZERO, reenter);
    h.sign(&mut op, &owner).await;
    let receipt = h.handle_ops(vec![op], ben()).await.expect("the outer bundle succeeds");
    let events = ep_events(&receipt, h.ep);
    let reason = events.iter().find_map(|e| match e {
        IEntryPointEvents::UserOperationRevertReason(r) => Some(r.revertReason.clone()),
        _ => None,
    });
    assert_eq!(
        reason.expect("UserOperationRevertReason").as_ref(),
        &[0x3e, 0xe5, 0xae, 0xb5],
        "ReentrancyGuardReentrantCall()"
    );
    let uo = events.iter().find_map(|e| match e {
        IEntryPointEvents::UserOperationEvent(u) => Some(u.clone()),
        _ => None,
    });
    assert!(!uo.expect("UserOperationEvent").success);
}

#[tokio::test]
async fn failed_validation_of_second_op_reverts_the_whole_bundle() {
    let h = Harness::embedded();
    let (good, _) = signed_count_op(&h).await;
    let (mut bad, _) = signed_count_op(&h).await;
    h.sign(&mut bad, &PrivateKeySigner::random()).await;
    let accounts = [good.sender, bad.sender];
    let balances_before = [h.balance(accounts[0]).await, h.balance(accounts[1]).await];

    assert_failed_op(h.handle_ops(vec![good.clone(), bad.clone()], ben()).await, 1, "AA24 signature error");

    // Send it anyway (no eth_call): the transaction reverts and leaves nothing behind.
    let data = Harness::handle_ops_data(vec![good.pack(), bad.pack()], ben());
    let receipt = h.send_to_ep_unchecked(&h.keys[9], data, 3_000_000).await;
    assert!(!receipt.status(), "the bundle reverts onchain");
    assert!(receipt.inner.logs().is_empty());
    for (i, a) in accounts.iter().enumerate() {
        assert_eq!(h.nonce(*a, 0).await, U256::ZERO, "nonce of op {i} unchanged");
        assert_eq!(h.deposit_of(*a).await, U256::ZERO, "deposit of op {i} unchanged");
        assert_eq!(h.balance(*a).await, balances_before[i], "prefund of op {i} not taken");
    }
    assert_eq!(h.balance(ben()).await, U256::ZERO);
    // The good op alone still goes through.
    h.handle_ops(vec![good], ben()).await.expect("the valid op alone");
}

#[tokio::test]
async fn user_operation_prefund_too_low_charges_the_whole_prefund() {
    // actualGas counts EntryPoint overhead that no limit covers. With PVG 0, a VGL barely above
    // what validation uses, and execution that uses its entire CGL (a reverting gas burner), the
    // cost exceeds (VGL + CGL) × maxFee: spec §7.4 "revert with 0xdeadaa51… → charge the prefund".
    let h = Harness::embedded();
    let counter = h.counter().await;
    let account = h.test_account(Address::with_last_byte(1), eth()).await;
    let burn = execute_call(
        counter,
        U256::ZERO,
        TestCounter::burnGasCall { amount: U256::from(10_000_000) }.abi_encode().into(),
    );
    let mut op = ops::op(account, U256::ZERO, burn);
    op.pre_verification_gas = U256::ZERO;
    op.call_gas_limit = 60_000;
    op.max_fee_per_gas = 2_000_000_000;
    op.max_priority_fee_per_gas = 2_000_000_000; // legacy mode: price = maxFee exactly
    op.signature = validation_data_hook(U256::ZERO);
    let measured = h.simulate_validation(&op).await.expect("simulation").returnInfo.preOpGas;
    let measured: u128 = measured.to();

    let mut outcome = None;
    // Simulation's depositTo costs a little more than the real one, so search upward from below
    // the measured figure for the first VGL that passes AA26.
    for vgl in (measured - 5000..measured + 3000).step_by(50) {
        let mut tight = op.clone();
        tight.verification_gas_limit = vgl;
        match h.handle_ops(vec![tight.clone()], ben()).await {
            Err(EpError::FailedOp { reason, .. }) if reason == "AA26 over verificationGasLimit" => continue,
            Err(e) => panic!("VGL {}: unexpected {e:?}", tight.verification_gas_limit),
            Ok(r) => {
                outcome = Some((tight, r));
                break;
            }
        }
    }
    let (tight, receipt) = outcome.expect("some VGL within [measured − 5000, measured + 3000) passes AA26");
    let events = ep_events(&receipt, h.ep);
    let prefund = tight.required_prefund();
    let too_low =
        events.iter().any(|e| matches!(e, IEntryPointEvents::UserOperationPrefundTooLow(p) if p.sender == account));
    let uo = events
        .iter()
        .find_map(|e| match e {
            IEntryPointEvents::UserOperationEvent(u) => Some(u.clone()),
            _ => None,
        })
        .unwrap();
    println!(
        "prefund-too-low: VGL {} (validation measured {measured}), prefund {prefund}, charged {} for {} gas",
        tight.verification_gas_limit, uo.actualGasCost, uo.actualGasUsed
    );
    assert!(too_low, "UserOperationPrefundTooLow emitted (events: {events:?})");
    assert!(!uo.success);
    assert_eq!(uo.actualGasCost, prefund, "the whole prefund is charged");
    assert_eq!(h.balance(ben()).await, prefund);
    assert_eq!(h.deposit_of(account).await, U256::ZERO, "no refund");
    let order: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| {
            matches!(e, IEntryPointEvents::UserOperationPrefundTooLow(_) | IEntryPointEvents::UserOperationEvent(_))
        })
        .map(|(i, _)| i)
        .collect();
    assert!(
        matches!(events[order[0]], IEntryPointEvents::UserOperationPrefundTooLow(_)),
        "PrefundTooLow before UserOperationEvent"
    );
}
