//! Keyward's EntryPoint v0.7: deposits and stake (spec §9), nonces (§4), getSenderAddress (§8),
//! ERC-165 (§1), storage layout (§1), and the simulations injected by state override (§11) — ours
//! and the canonical EntryPointSimulations over our EntryPoint's storage.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use alloy::network::TransactionBuilder;
use alloy::primitives::aliases::U192;
use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use alloy::rpc::types::state::{AccountOverride, StateOverride};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolValue};
use keyward_chain::ChainError;
use keyward_contracts::bindings::{TestAccountFactory, TestCounter, TestPaymaster};
use keyward_primitives::entry_point::IEntryPoint::{self, IEntryPointErrors, IEntryPointEvents};
use keyward_primitives::{FactoryInit, PaymasterInit, UserOperation, ValidationData};
use keyward_testkit::conformance::{canonical_artifact, validation_data_hook, windowed_signature};
use keyward_testkit::ops::{self, count_call, execute_call};
use keyward_testkit::{EpError, Harness, decode_ep_error, ep_events};

const ETH: u64 = 1_000_000_000_000_000_000;

fn eth() -> U256 {
    U256::from(ETH)
}

/// `eth_call` of `call` to the EP from `from` with `value`, optionally with a state override.
async fn ep_call<C: SolCall>(
    h: &Harness,
    from: Address,
    call: C,
    value: U256,
    overrides: Option<StateOverride>,
) -> Result<Bytes, EpError> {
    let tx =
        TransactionRequest::default().with_from(from).with_to(h.ep).with_input(call.abi_encode()).with_value(value);
    match h.chain.call(tx, overrides).await {
        Ok(out) => Ok(out),
        Err(ChainError::Reverted { data, .. }) => Err(decode_ep_error(&data)),
        Err(other) => panic!("eth_call failed outside the EVM: {other}"),
    }
}

/// Asserts that `call` from dev key 0 reverts with `Error(msg)`.
async fn assert_reverts<C: SolCall>(h: &Harness, call: C, value: U256, msg: &str) {
    let r = ep_call(h, h.keys[0].address(), call, value, None).await;
    assert_eq!(r.err(), Some(EpError::Message(msg.into())), "expected Error({msg:?})");
}

/// Sends `call` to the EP from dev key 0 and asserts it succeeded.
async fn ep_tx<C: SolCall>(h: &Harness, call: C, value: U256) -> TransactionReceipt {
    let r = h.transact(h.ep, call, value).await;
    assert!(r.status(), "transaction to the EntryPoint reverted");
    r
}

async fn info(h: &Harness, a: Address) -> keyward_primitives::entry_point::DepositInfo {
    h.read(h.ep, IEntryPoint::getDepositInfoCall { account: a }).await.unwrap()
}

// ---------------------------------------------------------------------------------------------
// Deposits
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn deposit_receive_and_withdraw_to() {
    let h = Harness::embedded();
    let me = h.keys[0].address();
    let other = Address::with_last_byte(0x42);

    // depositTo credits the named account.
    let r = ep_tx(&h, IEntryPoint::depositToCall { account: other }, U256::from(1000)).await;
    let ev = ep_events(&r, h.ep);
    assert!(
        matches!(&ev[..], [IEntryPointEvents::Deposited(d)] if d.account == other && d.totalDeposit == U256::from(1000)),
        "{ev:?}"
    );
    assert_eq!(h.deposit_of(other).await, U256::from(1000));
    assert_eq!(h.deposit_of(me).await, U256::ZERO);

    // Plain ETH (receive) credits the sender; totalDeposit is the new total.
    let r =
        h.send_tx(&h.keys[0], TransactionRequest::default().with_to(h.ep).with_value(U256::from(700))).await.unwrap();
    assert!(r.status());
    let _ = ep_tx(&h, IEntryPoint::depositToCall { account: me }, U256::from(300)).await;
    assert_eq!(h.deposit_of(me).await, U256::from(1000));
    let ev = ep_events(&r, h.ep);
    assert!(
        matches!(&ev[..], [IEntryPointEvents::Deposited(d)] if d.account == me && d.totalDeposit == U256::from(700)),
        "{ev:?}"
    );

    // withdrawTo: too much fails, the rest moves ETH and emits Withdrawn.
    assert_reverts(
        &h,
        IEntryPoint::withdrawToCall { withdrawAddress: other, withdrawAmount: U256::from(1001) },
        U256::ZERO,
        "Withdraw amount too large",
    )
    .await;
    let before = h.balance(other).await;
    let r =
        ep_tx(&h, IEntryPoint::withdrawToCall { withdrawAddress: other, withdrawAmount: U256::from(400) }, U256::ZERO)
            .await;
    let ev = ep_events(&r, h.ep);
    assert!(
        matches!(&ev[..], [IEntryPointEvents::Withdrawn(w)] if w.account == me && w.withdrawAddress == other && w.amount == U256::from(400)),
        "{ev:?}"
    );
    assert_eq!(h.balance(other).await, before + U256::from(400));
    assert_eq!(h.deposit_of(me).await, U256::from(600));
    let i = info(&h, me).await;
    assert_eq!(
        (i.deposit, i.staked, i.stake, i.unstakeDelaySec, i.withdrawTime.to::<u64>()),
        (U256::from(600), false, alloy::primitives::aliases::U112::ZERO, 0, 0)
    );
    // The deposit is exactly what is left: withdrawing it all works, one more wei does not.
    assert_reverts(
        &h,
        IEntryPoint::withdrawToCall { withdrawAddress: other, withdrawAmount: U256::from(601) },
        U256::ZERO,
        "Withdraw amount too large",
    )
    .await;
    ep_tx(&h, IEntryPoint::withdrawToCall { withdrawAddress: other, withdrawAmount: U256::from(600) }, U256::ZERO)
        .await;
    assert_eq!(h.deposit_of(me).await, U256::ZERO);
}

// ---------------------------------------------------------------------------------------------
// Stake
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn add_stake_requirements_and_events() {
    let h = Harness::embedded();
    let me = h.keys[0].address();
    assert_reverts(&h, IEntryPoint::addStakeCall { unstakeDelaySec: 0 }, eth(), "must specify unstake delay").await;
    assert_reverts(&h, IEntryPoint::addStakeCall { unstakeDelaySec: 100 }, U256::ZERO, "no stake specified").await;
    // stake overflow: more than 2^112 − 1 wei (balance granted by state override).
    let mut rich = StateOverride::default();
    rich.insert(me, AccountOverride { balance: Some(U256::from(1) << 120), ..Default::default() });
    let r =
        ep_call(&h, me, IEntryPoint::addStakeCall { unstakeDelaySec: 100 }, U256::from(1) << 112, Some(rich.clone()))
            .await;
    assert_eq!(r.err(), Some(EpError::Message("stake overflow".into())));
    let max = (U256::from(1) << 112) - U256::from(1);
    ep_call(&h, me, IEntryPoint::addStakeCall { unstakeDelaySec: 100 }, max, Some(rich)).await.expect("2^112 − 1 fits");

    let r = ep_tx(&h, IEntryPoint::addStakeCall { unstakeDelaySec: 100 }, eth()).await;
    let ev = ep_events(&r, h.ep);
    assert!(
        matches!(&ev[..], [IEntryPointEvents::StakeLocked(s)] if s.account == me && s.totalStaked == eth() && s.unstakeDelaySec == U256::from(100)),
        "{ev:?}"
    );
    assert_reverts(&h, IEntryPoint::addStakeCall { unstakeDelaySec: 99 }, eth(), "cannot decrease unstake time").await;
    // Adding more with the same or a longer delay accumulates.
    let r = ep_tx(&h, IEntryPoint::addStakeCall { unstakeDelaySec: 200 }, eth()).await;
    assert!(
        matches!(&ep_events(&r, h.ep)[..], [IEntryPointEvents::StakeLocked(s)] if s.totalStaked == eth() * U256::from(2) && s.unstakeDelaySec == U256::from(200))
    );
    // "no stake specified" is about the *total* stake: with a stake in place, value 0 is fine.
    ep_tx(&h, IEntryPoint::addStakeCall { unstakeDelaySec: 200 }, U256::ZERO).await;
    let i = info(&h, me).await;
    assert_eq!(i.deposit, U256::ZERO, "stake is not deposit");
    assert!(i.staked);
    assert_eq!(U256::from(i.stake), eth() * U256::from(2));
    assert_eq!(i.unstakeDelaySec, 200);
    assert_eq!(i.withdrawTime.to::<u64>(), 0);
    // The public `deposits` getter agrees (raw call: the binding has no `deposits`).
    alloy::sol! { function deposits(address) external view returns (uint256 deposit, bool staked, uint112 stake, uint32 unstakeDelaySec, uint48 withdrawTime); }
    let d = h.read(h.ep, depositsCall(me)).await.unwrap();
    assert_eq!((d.staked, U256::from(d.stake), d.unstakeDelaySec), (true, eth() * U256::from(2), 200));
}

#[tokio::test]
async fn unlock_and_withdraw_stake() {
    let h = Harness::embedded();
    let me = h.keys[0].address();
    let to = Address::with_last_byte(0x77);
    assert_reverts(&h, IEntryPoint::unlockStakeCall {}, U256::ZERO, "not staked").await;
    assert_reverts(&h, IEntryPoint::withdrawStakeCall { withdrawAddress: to }, U256::ZERO, "No stake to withdraw")
        .await;

    ep_tx(&h, IEntryPoint::addStakeCall { unstakeDelaySec: 3600 }, eth()).await;
    assert_reverts(
        &h,
        IEntryPoint::withdrawStakeCall { withdrawAddress: to },
        U256::ZERO,
        "must call unlockStake() first",
    )
    .await;

    let r = ep_tx(&h, IEntryPoint::unlockStakeCall {}, U256::ZERO).await;
    let block = h.chain.block_by_number(r.block_number.unwrap().into(), false).await.unwrap().unwrap();
    let expected_time = block.header.timestamp + 3600;
    let ev = ep_events(&r, h.ep);
    assert!(
        matches!(&ev[..], [IEntryPointEvents::StakeUnlocked(u)] if u.account == me && u.withdrawTime == U256::from(expected_time)),
        "{ev:?} (expected withdrawTime {expected_time})"
    );
    let i = info(&h, me).await;
    assert!(!i.staked);
    assert_eq!(i.withdrawTime.to::<u64>(), expected_time);
    assert_reverts(&h, IEntryPoint::unlockStakeCall {}, U256::ZERO, "already unstaking").await;
    assert_reverts(
        &h,
        IEntryPoint::withdrawStakeCall { withdrawAddress: to },
        U256::ZERO,
        "Stake withdrawal is not due",
    )
    .await;

    // addStake re-locks an unlocking stake (withdrawTime back to 0), then unlock again.
    ep_tx(&h, IEntryPoint::addStakeCall { unstakeDelaySec: 3600 }, U256::ZERO).await;
    let i = info(&h, me).await;
    assert!(i.staked);
    assert_eq!(i.withdrawTime.to::<u64>(), 0);
    ep_tx(&h, IEntryPoint::unlockStakeCall {}, U256::ZERO).await;

    h.chain.increase_time(3700).await.unwrap();
    h.chain.mine().await.unwrap();
    let before = h.balance(to).await;
    let r = ep_tx(&h, IEntryPoint::withdrawStakeCall { withdrawAddress: to }, U256::ZERO).await;
    let ev = ep_events(&r, h.ep);
    assert!(
        matches!(&ev[..], [IEntryPointEvents::StakeWithdrawn(w)] if w.account == me && w.withdrawAddress == to && w.amount == eth()),
        "{ev:?}"
    );
    assert_eq!(h.balance(to).await, before + eth());
    let i = info(&h, me).await;
    assert_eq!((i.staked, i.stake.to::<u128>(), i.unstakeDelaySec, i.withdrawTime.to::<u64>()), (false, 0, 0, 0));
    assert_reverts(&h, IEntryPoint::withdrawStakeCall { withdrawAddress: to }, U256::ZERO, "No stake to withdraw")
        .await;
    assert_reverts(&h, IEntryPoint::unlockStakeCall {}, U256::ZERO, "not staked").await;
}

// ---------------------------------------------------------------------------------------------
// Nonces, getSenderAddress, ERC-165
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn increment_nonce_and_get_nonce_with_keys() {
    let h = Harness::embedded();
    let me = h.keys[0].address();
    let key = 0xabcdu64;
    assert_eq!(h.nonce(me, key).await, U256::from(key) << 64);
    ep_tx(&h, IEntryPoint::incrementNonceCall { key: U192::from(key) }, U256::ZERO).await;
    ep_tx(&h, IEntryPoint::incrementNonceCall { key: U192::from(key) }, U256::ZERO).await;
    assert_eq!(h.nonce(me, key).await, (U256::from(key) << 64) | U256::from(2));
    assert_eq!(h.nonce(me, 0).await, U256::ZERO, "key 0 untouched");
    assert_eq!(h.nonce(h.keys[1].address(), key).await, U256::from(key) << 64, "other senders untouched");
    let seq: U256 =
        h.read(h.ep, IEntryPoint::nonceSequenceNumberCall { sender: me, key: U192::from(key) }).await.unwrap();
    assert_eq!(seq, U256::from(2));
    // The largest key: getNonce puts it in the top 192 bits.
    let max_key = U192::MAX;
    let n: U256 = h.read(h.ep, IEntryPoint::getNonceCall { sender: me, key: max_key }).await.unwrap();
    assert_eq!(n, U256::from(max_key) << 64);

    // An op using key 7: its sequence advances, key 0 does not.
    let owner = PrivateKeySigner::random();
    let account = h.test_account(owner.address(), eth()).await;
    let mut op = ops::op(account, U256::from(7) << 64, Bytes::new());
    h.sign(&mut op, &owner).await;
    h.handle_ops(vec![op], Address::with_last_byte(0xbe)).await.unwrap();
    assert_eq!(h.nonce(account, 7).await, (U256::from(7) << 64) | U256::from(1));
    assert_eq!(h.nonce(account, 0).await, U256::ZERO);
}

#[tokio::test]
async fn get_sender_address_reverts_with_the_result() {
    let h = Harness::embedded();
    let factory = h.deploy(keyward_contracts::artifacts::test_account_factory(), &h.ep.abi_encode()).await;
    let owner = Address::with_last_byte(0x33);
    let salt = U256::from(9);
    let expected: Address = h.read(factory, TestAccountFactory::getAddressCall { owner, salt }).await.unwrap();
    let init = |data: Vec<u8>| -> Bytes { [factory.as_slice(), &data].concat().into() };

    let r = ep_call(
        &h,
        h.keys[0].address(),
        IEntryPoint::getSenderAddressCall {
            initCode: init(TestAccountFactory::createAccountCall { owner, salt }.abi_encode()),
        },
        U256::ZERO,
        None,
    )
    .await;
    match r {
        Err(EpError::Other(IEntryPointErrors::SenderAddressResult(s))) => assert_eq!(s.sender, expected),
        other => panic!("expected SenderAddressResult({expected}), got {other:?}"),
    }
    assert!(h.chain.code(expected).await.unwrap().is_empty(), "nothing deployed");

    let r = ep_call(
        &h,
        h.keys[0].address(),
        IEntryPoint::getSenderAddressCall {
            initCode: init(TestAccountFactory::createAccountRevertingCall { _0: owner, _1: salt }.abi_encode()),
        },
        U256::ZERO,
        None,
    )
    .await;
    match r {
        Err(EpError::Other(IEntryPointErrors::SenderAddressResult(s))) => assert_eq!(s.sender, Address::ZERO),
        other => panic!("a failing factory yields SenderAddressResult(0), got {other:?}"),
    }

    // Sent as a transaction it reverts too and deploys nothing.
    let tx = TransactionRequest::default()
        .with_to(h.ep)
        .with_input(
            IEntryPoint::getSenderAddressCall {
                initCode: init(TestAccountFactory::createAccountCall { owner, salt }.abi_encode()),
            }
            .abi_encode(),
        )
        .with_gas_limit(2_000_000);
    let receipt = h.send_tx(&h.keys[0], tx).await.unwrap();
    assert!(!receipt.status());
    assert!(h.chain.code(expected).await.unwrap().is_empty());
}

#[tokio::test]
async fn supports_interface_ids() {
    let h = Harness::embedded();
    for (id, expected) in [
        ([0x01, 0xff, 0xc9, 0xa7], true),
        ([0x91, 0x50, 0x74, 0xd8], true),
        ([0xcf, 0x28, 0xef, 0x97], true),
        ([0x3e, 0x84, 0xf0, 0x21], true),
        ([0x60, 0xfc, 0x6b, 0x6e], true),
        ([0xff, 0xff, 0xff, 0xff], false),
        ([0x00, 0x00, 0x00, 0x00], false),
    ] {
        let got: bool = h.read(h.ep, IEntryPoint::supportsInterfaceCall { interfaceId: id.into() }).await.unwrap();
        assert_eq!(got, expected, "supportsInterface(0x{})", alloy::primitives::hex::encode(id));
    }
    // 0x60fc6b6e is the XOR of the other three EntryPoint ids.
    let x: Vec<u8> = (0..4)
        .map(|i| [0x91u8, 0x50, 0x74, 0xd8][i] ^ [0xcf, 0x28, 0xef, 0x97][i] ^ [0x3e, 0x84, 0xf0, 0x21][i])
        .collect();
    assert_eq!(x, vec![0x60, 0xfc, 0x6b, 0x6e]);
}

// ---------------------------------------------------------------------------------------------
// Storage layout
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn storage_slots_two_to_six_stay_zero_and_zero_one_are_canonical() {
    let h = Harness::embedded();
    let counter = h.counter().await;
    let pm = h.deploy(keyward_contracts::artifacts::test_paymaster(), &h.ep.abi_encode()).await;
    h.transact(pm, TestPaymaster::depositCall {}, eth()).await;
    let owner = PrivateKeySigner::random();
    let account = h.test_account(owner.address(), eth()).await;
    let mut a = ops::op(account, U256::ZERO, count_call(counter));
    h.sign(&mut a, &owner).await;
    let mut b = ops::op(account, U256::from(1), count_call(counter));
    b.paymaster = Some(PaymasterInit {
        paymaster: pm,
        verification_gas_limit: 100_000,
        post_op_gas_limit: 100_000,
        data: vec![1u8].into(),
    });
    h.sign(&mut b, &owner).await;
    h.handle_ops(vec![a, b], Address::with_last_byte(0xbe)).await.unwrap();
    ep_tx(&h, IEntryPoint::addStakeCall { unstakeDelaySec: 77 }, eth()).await;

    for slot in 2..=6u64 {
        assert_eq!(h.chain.storage_at(h.ep, U256::from(slot)).await.unwrap(), B256::ZERO, "EP storage slot {slot}");
    }
    // Slot 0: deposits[account] at keccak256(pad32(account) ‖ pad32(0)).
    let base = keccak256((account, U256::ZERO).abi_encode());
    let deposit = h.chain.storage_at(h.ep, base.into()).await.unwrap();
    assert_eq!(U256::from_be_bytes(deposit.0), h.deposit_of(account).await);
    assert!(h.deposit_of(account).await > U256::ZERO);
    // Word +1 of the stake owner: staked (byte 0), stake (1..14), delay (15..18), withdrawTime (19..24).
    let me = h.keys[0].address();
    let base = U256::from_be_bytes(keccak256((me, U256::ZERO).abi_encode()).0);
    let packed = U256::from_be_bytes(h.chain.storage_at(h.ep, base + U256::from(1)).await.unwrap().0);
    assert_eq!(packed & U256::from(0xff), U256::from(1), "staked");
    assert_eq!((packed >> 8) & ((U256::from(1) << 112) - U256::from(1)), eth(), "stake");
    assert_eq!((packed >> 120) & U256::from(u32::MAX), U256::from(77), "unstakeDelaySec");
    // Slot 1: nonceSequenceNumber[account][0] at keccak256(pad32(0) ‖ keccak256(pad32(account) ‖ pad32(1))).
    let inner = keccak256((account, U256::from(1)).abi_encode());
    let slot = keccak256((U256::ZERO, inner).abi_encode());
    assert_eq!(U256::from_be_bytes(h.chain.storage_at(h.ep, slot.into()).await.unwrap().0), U256::from(2));
}

// ---------------------------------------------------------------------------------------------
// simulateValidation / simulateHandleOp (Keyward's EntryPointSimulations)
// ---------------------------------------------------------------------------------------------

async fn account_and_op(h: &Harness) -> (UserOperation, PrivateKeySigner, Address) {
    let owner = PrivateKeySigner::random();
    let account = h.test_account(owner.address(), eth()).await;
    let counter = h.counter().await;
    let mut op = ops::op(account, U256::ZERO, count_call(counter));
    h.sign(&mut op, &owner).await;
    (op, owner, counter)
}

#[tokio::test]
async fn simulate_validation_returns_the_raw_result() {
    let h = Harness::embedded();
    let (op, owner, _) = account_and_op(&h).await;
    let r = h.simulate_validation(&op).await.expect("valid op simulates");
    assert_eq!(r.returnInfo.prefund, op.required_prefund());
    assert!(
        r.returnInfo.preOpGas > op.pre_verification_gas,
        "preOpGas = validation gas + PVG: {}",
        r.returnInfo.preOpGas
    );
    assert!(r.returnInfo.preOpGas < op.pre_verification_gas + U256::from(op.verification_gas_limit));
    assert_eq!(r.returnInfo.accountValidationData, U256::ZERO);
    assert_eq!(r.returnInfo.paymasterValidationData, U256::ZERO);
    assert!(r.returnInfo.paymasterContext.is_empty());
    assert_eq!((r.senderInfo.stake, r.factoryInfo.stake, r.paymasterInfo.stake), (U256::ZERO, U256::ZERO, U256::ZERO));
    assert_eq!(r.aggregatorInfo.aggregator, Address::ZERO);
    assert_eq!(h.nonce(op.sender, 0).await, U256::ZERO, "simulation changes nothing");
    assert_eq!(h.deposit_of(op.sender).await, U256::ZERO);

    // A wrong signature is returned (authorizer 1), not reverted as AA24.
    let mut bad = op.clone();
    h.sign(&mut bad, &PrivateKeySigner::random()).await;
    let r = h.simulate_validation(&bad).await.expect("signature failure is not a revert");
    assert_eq!(r.returnInfo.accountValidationData, U256::from(1));

    // A time window, even an expired one, is returned raw, not checked (no AA22).
    let chain_id = h.chain_id().await;
    let mut windowed = op.clone();
    ops::sign(&mut windowed, &owner, h.ep, chain_id);
    windowed.signature = windowed_signature(&windowed.signature, 5, 6);
    let r = h.simulate_validation(&windowed).await.expect("expired window still simulates");
    let vd = ValidationData::decode(r.returnInfo.accountValidationData);
    assert_eq!((vd.authorizer, vd.valid_after, vd.valid_until), (Address::ZERO, 5, 6));
    assert_eq!(r.returnInfo.accountValidationData, (U256::from(6) << 160) | (U256::from(5) << 208));

    // An aggregator as authorizer is reported with its (zero) stake.
    let agg = Address::with_last_byte(0xa9);
    let mut aggregated = op.clone();
    aggregated.signature = validation_data_hook(U256::from_be_slice(agg.as_slice()));
    let r = h.simulate_validation(&aggregated).await.unwrap();
    assert_eq!(r.aggregatorInfo.aggregator, agg);

    // Real failures still revert FailedOp(0, …).
    let mut reverting = op.clone();
    reverting.signature = Bytes::from_static(&[0xde, 0xad, 0xde, 0xad]);
    let e = h.simulate_validation(&reverting).await.unwrap_err();
    assert_eq!(e.reason(), Some("AA23 reverted"));
    let mut wrong_nonce = op;
    wrong_nonce.nonce = U256::from(3);
    assert_eq!(h.simulate_validation(&wrong_nonce).await.unwrap_err().reason(), Some("AA25 invalid account nonce"));
}

#[tokio::test]
async fn simulate_validation_reports_paymaster_factory_and_stakes() {
    let h = Harness::embedded();
    let pm = h.deploy(keyward_contracts::artifacts::test_paymaster(), &h.ep.abi_encode()).await;
    h.transact(pm, TestPaymaster::depositCall {}, eth()).await;
    h.transact(pm, TestPaymaster::addStakeCall { unstakeDelaySec: 86_400 }, eth() * U256::from(2)).await;
    let factory = h.deploy(keyward_contracts::artifacts::test_account_factory(), &h.ep.abi_encode()).await;
    let owner = PrivateKeySigner::random();
    let salt = U256::from(1);
    let sender: Address =
        h.read(factory, TestAccountFactory::getAddressCall { owner: owner.address(), salt }).await.unwrap();
    let mut op = ops::op(sender, U256::ZERO, Bytes::new());
    op.factory = Some(FactoryInit {
        factory,
        factory_data: TestAccountFactory::createAccountCall { owner: owner.address(), salt }.abi_encode().into(),
    });
    op.verification_gas_limit = 1_000_000;
    op.paymaster = Some(PaymasterInit {
        paymaster: pm,
        verification_gas_limit: 100_000,
        post_op_gas_limit: 100_000,
        data: vec![1u8].into(),
    });
    h.sign(&mut op, &owner).await;
    let r = h.simulate_validation(&op).await.expect("counterfactual op with paymaster simulates");
    assert_eq!(r.returnInfo.prefund, op.required_prefund());
    assert_eq!(r.paymasterInfo.stake, eth() * U256::from(2));
    assert_eq!(r.paymasterInfo.unstakeDelaySec, U256::from(86_400));
    assert_eq!(r.factoryInfo.stake, U256::ZERO);
    assert!(r.returnInfo.preOpGas > U256::from(300_000), "account creation is in preOpGas: {}", r.returnInfo.preOpGas);
    // Context of mode 1: abi.encode(uint8 1, sender, userOpHash).
    let hash = op.hash(h.ep, h.chain_id().await);
    assert_eq!(r.returnInfo.paymasterContext, Bytes::from((U256::from(1), sender, hash).abi_encode()));
    assert!(h.chain.code(sender).await.unwrap().is_empty(), "simulation deploys nothing");

    // Paymaster signature failure returned raw (no AA34); expired window raw (no AA32).
    let mut op3 = op.clone();
    op3.paymaster.as_mut().unwrap().data = vec![3u8].into();
    h.sign(&mut op3, &owner).await;
    assert_eq!(h.simulate_validation(&op3).await.unwrap().returnInfo.paymasterValidationData, U256::from(1));
    let mut op4 = op.clone();
    op4.paymaster.as_mut().unwrap().data = vec![4u8].into();
    h.sign(&mut op4, &owner).await;
    assert_eq!(h.simulate_validation(&op4).await.unwrap().returnInfo.paymasterValidationData, U256::from(1) << 160);
}

#[tokio::test]
async fn simulation_prechecks_aa20_and_aa30() {
    let h = Harness::embedded();
    let mut op = ops::op(PrivateKeySigner::random().address(), U256::ZERO, Bytes::new());
    op.signature = vec![0u8; 65].into();
    assert_eq!(
        h.simulate_validation(&op).await.unwrap_err(),
        EpError::FailedOp { index: U256::ZERO, reason: "AA20 account not deployed".into() }
    );
    assert_eq!(
        h.simulate_handle_op(&op, Address::ZERO, Bytes::new()).await.unwrap_err(),
        EpError::FailedOp { index: U256::ZERO, reason: "AA20 account not deployed".into() }
    );
    let (mut op, owner, _) = account_and_op(&h).await;
    op.paymaster = Some(PaymasterInit {
        paymaster: Address::with_last_byte(0x99),
        verification_gas_limit: 100_000,
        post_op_gas_limit: 0,
        data: Bytes::new(),
    });
    h.sign(&mut op, &owner).await;
    assert_eq!(
        h.simulate_validation(&op).await.unwrap_err(),
        EpError::FailedOp { index: U256::ZERO, reason: "AA30 paymaster not deployed".into() }
    );
}

#[tokio::test]
async fn simulate_handle_op_executes_and_calls_the_target() {
    let h = Harness::embedded();
    let (mut op, owner, counter) = account_and_op(&h).await;
    // Legacy pricing (maxFee == tip): the price is exactly maxFee, so paid/real compare gas.
    op.max_fee_per_gas = 2_000_000_000;
    op.max_priority_fee_per_gas = 2_000_000_000;
    h.sign(&mut op, &owner).await;
    let r = h
        .simulate_handle_op(&op, counter, TestCounter::counterCall {}.abi_encode().into())
        .await
        .expect("simulateHandleOp");
    assert!(r.targetSuccess);
    assert_eq!(U256::abi_decode(&r.targetResult).unwrap(), U256::from(1), "the target sees the state after execution");
    assert!(r.paid > U256::ZERO && r.paid <= op.required_prefund(), "paid {}", r.paid);
    assert!(r.preOpGas > op.pre_verification_gas);
    assert_eq!((r.accountValidationData, r.paymasterValidationData), (U256::ZERO, U256::ZERO));
    assert_eq!(h.read(counter, TestCounter::counterCall {}).await.unwrap(), U256::ZERO, "nothing committed");

    // The real bundle costs about what the simulation said.
    let receipt = h.handle_ops(vec![op.clone()], Address::with_last_byte(0xbe)).await.unwrap();
    let cost = ep_events(&receipt, h.ep)
        .into_iter()
        .find_map(|e| match e {
            IEntryPointEvents::UserOperationEvent(u) => Some(u.actualGasCost),
            _ => None,
        })
        .unwrap();
    // Measured: the simulation says ~183,960 gas, the real bundle charges ~184,745 (simulation
    // ~0.4% *cheaper*; the canonical pair overestimates by ~1,500 instead). Reported to the lead;
    // asserted here within 1% both ways.
    println!(
        "simulateHandleOp paid {} ({} gas) vs handleOps actualGasCost {cost} ({} gas)",
        r.paid,
        r.paid / U256::from(2_000_000_000u64),
        cost / U256::from(2_000_000_000u64)
    );
    let diff = if r.paid > cost { r.paid - cost } else { cost - r.paid };
    assert!(diff * U256::from(100) <= cost, "simulated {} vs real {cost}: more than 1% apart", r.paid);

    // A failing target is reported, not reverted; a reverting execution is charged and reported.
    let mut next = ops::op(
        op.sender,
        U256::from(1),
        execute_call(counter, U256::ZERO, TestCounter::failCall {}.abi_encode().into()),
    );
    h.sign(&mut next, &owner).await;
    let r = h.simulate_handle_op(&next, counter, TestCounter::failCall {}.abi_encode().into()).await.unwrap();
    assert!(!r.targetSuccess);
    let reason = <alloy::sol_types::Revert as alloy::sol_types::SolError>::abi_decode(&r.targetResult).unwrap();
    assert_eq!(reason.reason, "TestCounter: failed");
    assert!(r.paid > U256::ZERO);

    // No target: targetSuccess false, empty result.
    let r = h.simulate_handle_op(&next, Address::ZERO, Bytes::new()).await.unwrap();
    assert!(!r.targetSuccess);
    assert!(r.targetResult.is_empty());
    // Signature failure is returned, not AA24.
    let mut bad = next.clone();
    h.sign(&mut bad, &PrivateKeySigner::random()).await;
    assert_eq!(
        h.simulate_handle_op(&bad, Address::ZERO, Bytes::new()).await.unwrap().accountValidationData,
        U256::from(1)
    );
}

// ---------------------------------------------------------------------------------------------
// The canonical EntryPointSimulations over Keyward's EntryPoint storage
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn canonical_simulations_read_our_storage() {
    let h = Harness::embedded();
    let canonical = canonical_artifact("EntryPointSimulations").deployed_bytecode;
    let (op, owner, counter) = account_and_op(&h).await;
    // Move the account to nonce 1 with a real op, and give it a deposit big enough for the next op.
    h.handle_ops(vec![op.clone()], Address::with_last_byte(0xbe)).await.unwrap();
    ep_tx(&h, IEntryPoint::depositToCall { account: op.sender }, eth()).await;

    // The no-prefund hook: passes only if the simulation reads the deposit from our slot 0.
    let mut next = ops::op(op.sender, U256::from(1), count_call(counter));
    next.signature = Bytes::from_static(&[0x0b, 0xad, 0x0b, 0xad]);
    let theirs = h.simulate_validation_with(&canonical, next.pack()).await.expect("canonical simulation of our op");
    let ours = h.simulate_validation(&next).await.expect("our simulation");
    assert_eq!(theirs.returnInfo.prefund, next.required_prefund());
    assert_eq!(theirs.returnInfo.accountValidationData, U256::ZERO);
    assert!(theirs.returnInfo.preOpGas > next.pre_verification_gas);
    assert_eq!(ours.returnInfo.prefund, theirs.returnInfo.prefund);
    println!(
        "simulateValidation preOpGas: ours {}, canonical code {}",
        ours.returnInfo.preOpGas, theirs.returnInfo.preOpGas
    );

    // It reads the nonce from our slot 1: sequence 0 is already used.
    let mut stale = next.clone();
    stale.nonce = U256::ZERO;
    assert_eq!(
        h.simulate_validation_with(&canonical, stale.pack()).await.unwrap_err().reason(),
        Some("AA25 invalid account nonce")
    );

    // A signed op: the injected code computes the same userOpHash as ours, so the signature holds.
    let mut signed = ops::op(op.sender, U256::from(1), count_call(counter));
    h.sign(&mut signed, &owner).await;
    let r = h.simulate_validation_with(&canonical, signed.pack()).await.unwrap();
    assert_eq!(
        r.returnInfo.accountValidationData,
        U256::ZERO,
        "the canonical code computes the same userOpHash at our address"
    );
    // The injected code's own balanceOf reads our slot 0 too.
    let out = h
        .call_with_ep_code(&canonical, IEntryPoint::balanceOfCall { account: op.sender }.abi_encode().into())
        .await
        .unwrap();
    assert_eq!(U256::abi_decode(&out).unwrap(), h.deposit_of(op.sender).await);

    // Initcode through our SenderCreator at CREATE(EP, 1): the canonical simulation finds it.
    let factory = h.deploy(keyward_contracts::artifacts::test_account_factory(), &h.ep.abi_encode()).await;
    let owner2 = PrivateKeySigner::random();
    let sender: Address = h
        .read(factory, TestAccountFactory::getAddressCall { owner: owner2.address(), salt: U256::ZERO })
        .await
        .unwrap();
    h.fund(sender, eth()).await;
    let mut created = ops::op(sender, U256::ZERO, Bytes::new());
    created.factory = Some(FactoryInit {
        factory,
        factory_data: TestAccountFactory::createAccountCall { owner: owner2.address(), salt: U256::ZERO }
            .abi_encode()
            .into(),
    });
    created.verification_gas_limit = 1_000_000;
    h.sign(&mut created, &owner2).await;
    let r = h
        .simulate_validation_with(&canonical, created.pack())
        .await
        .expect("canonical simulation with initCode over our SenderCreator");
    assert_eq!(r.returnInfo.accountValidationData, U256::ZERO);
}
