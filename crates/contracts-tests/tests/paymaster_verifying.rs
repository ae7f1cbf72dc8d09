//! Keyward's `VerifyingPaymaster` onchain, through the EntryPoint, with Keyward's modular accounts:
//! the Rust hash equals the contract's `getHash`; a signed op from an account holding zero ETH is paid
//! from the paymaster's deposit; tampered fields, windows out of range, foreign signers and malformed
//! data are refused with the EntryPoint's codes; the owner rotates the signer and moves the deposit;
//! a session key's `gas-limit` budget is not charged for sponsored ops.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use alloy::primitives::{Address, Bytes, U256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolError, SolValue};
use keyward_contracts::artifacts;
use keyward_contracts::bindings::{NativeTokenLimitModule, TestCounter, VerifyingPaymaster};
use keyward_primitives::entry_point::IEntryPoint::{self, IEntryPointEvents};
use keyward_primitives::mav2::ids::HALF_UINT32;
use keyward_primitives::paymaster::{
    ValidityWindow, VerifyingPaymasterData, paymaster_init, sponsorship_hash, sponsorship_signing_digest,
};
use keyward_primitives::{FactoryInit, UserOperation};
use keyward_testkit::entry_point::ep_events;
use keyward_testkit::mav2::{ETH, Mav2, SmaAccount, execute};
use serde_json::json;

/// Gas limits of the paymaster in these tests.
const PM_VERIFICATION_GAS: u128 = 60_000;
const PM_POST_OP_GAS: u128 = 1;

struct Pm {
    address: Address,
    signer: PrivateKeySigner,
    owner: PrivateKeySigner,
}

/// Deploys a VerifyingPaymaster (owner dev key 1, a fresh signer) with a 10 ETH deposit.
async fn paymaster(m: &Mav2) -> Pm {
    let signer = PrivateKeySigner::random();
    let owner = m.h.keys[1].clone();
    let address =
        m.h.deploy(artifacts::verifying_paymaster(), &(m.h.ep, owner.address(), signer.address()).abi_encode_params())
            .await;
    let r = m.h.transact(address, VerifyingPaymaster::depositCall {}, U256::from(10 * ETH)).await;
    assert!(r.status(), "deposit");
    Pm { address, signer, owner }
}

/// A window valid for the next hour.
async fn open_window(m: &Mav2) -> ValidityWindow {
    let now = m.now().await;
    ValidityWindow { valid_until: now + 3600, valid_after: now.saturating_sub(10) }
}

/// Puts the paymaster fields on `op` and signs them with `key` over `window`.
fn sponsor_with(op: &mut UserOperation, pm: Address, key: &PrivateKeySigner, chain_id: u64, window: ValidityWindow) {
    op.paymaster =
        Some(paymaster_init(pm, PM_VERIFICATION_GAS, PM_POST_OP_GAS, &VerifyingPaymasterData::stub(window)).unwrap());
    let digest = sponsorship_signing_digest(op, chain_id, window).unwrap();
    let sig = key.sign_hash_sync(&digest).unwrap();
    let data = VerifyingPaymasterData { window, signature: sig.as_bytes().to_vec().into() };
    op.paymaster.as_mut().unwrap().data = data.encode().unwrap();
}

/// An owner op on `a` running `call`, sponsored by `pm` over `window` and signed by the owner.
async fn sponsored_owner_op(m: &Mav2, a: &SmaAccount, pm: &Pm, call: Bytes, window: ValidityWindow) -> UserOperation {
    let mut op = m.owner_op(a, call).await;
    sponsor_with(&mut op, pm.address, &pm.signer, m.chain_id, window);
    m.sign_owner(a, &mut op);
    op
}

fn count_on(counter: Address) -> Bytes {
    execute(counter, U256::ZERO, TestCounter::countCall {}.abi_encode())
}

async fn counter_value(m: &Mav2, counter: Address) -> U256 {
    m.h.read(counter, TestCounter::counterCall {}).await.unwrap()
}

#[tokio::test]
async fn rust_hash_equals_the_contract_get_hash() {
    let m = Mav2::embedded().await;
    let pm = paymaster(&m).await;
    let a = m.counterfactual_account(U256::ZERO).await;
    let mut with_init = m.owner_op(&a, count_on(Address::with_last_byte(0x42))).await;
    assert!(with_init.factory.is_some());
    let mut plain = m.op(Address::with_last_byte(7), U256::from(1) << 64, Bytes::from(vec![1, 2, 3]));
    plain.max_fee_per_gas = u128::MAX - 1;
    for (op, window) in [
        (&mut with_init, ValidityWindow { valid_until: 1_900_000_000, valid_after: 1_700_000_000 }),
        (&mut plain, ValidityWindow { valid_until: 0, valid_after: (1 << 48) - 1 }),
    ] {
        sponsor_with(op, pm.address, &pm.signer, m.chain_id, window);
        op.signature = Bytes::from(vec![0xaa; 70]);
        let onchain =
            m.h.read(
                pm.address,
                VerifyingPaymaster::getHashCall {
                    userOp: abi_op(op),
                    validUntil: alloy::primitives::aliases::U48::from(window.valid_until),
                    validAfter: alloy::primitives::aliases::U48::from(window.valid_after),
                },
            )
            .await
            .unwrap();
        assert_eq!(onchain, sponsorship_hash(op, m.chain_id, window).unwrap());
    }
}

/// The op in the paymaster binding's struct type (same ABI as the EntryPoint's).
fn abi_op(op: &UserOperation) -> VerifyingPaymaster::PackedUserOperation {
    let p = op.pack();
    VerifyingPaymaster::PackedUserOperation {
        sender: p.sender,
        nonce: p.nonce,
        initCode: p.initCode,
        callData: p.callData,
        accountGasLimits: p.accountGasLimits,
        preVerificationGas: p.preVerificationGas,
        gasFees: p.gasFees,
        paymasterAndData: p.paymasterAndData,
        signature: p.signature,
    }
}

#[tokio::test]
async fn sponsored_op_from_an_account_with_zero_eth_is_paid_from_the_deposit() {
    let m = Mav2::embedded().await;
    let pm = paymaster(&m).await;
    let counter = m.h.counter().await;
    // Counterfactual, holding nothing: the first op deploys it and runs a call.
    let a = m.counterfactual_account(U256::ZERO).await;
    assert_eq!(m.balance(a.address).await, U256::ZERO);
    let deposit_before = m.h.deposit_of(pm.address).await;
    let op = sponsored_owner_op(&m, &a, &pm, count_on(counter), open_window(&m).await).await;
    let receipt = m.send(op).await.success();
    let event = ep_events(&receipt, m.h.ep)
        .into_iter()
        .find_map(|e| match e {
            IEntryPointEvents::UserOperationEvent(u) => Some(u),
            _ => None,
        })
        .unwrap();
    assert_eq!(event.paymaster, pm.address);
    assert!(event.actualGasCost > U256::ZERO);
    assert_eq!(m.h.deposit_of(pm.address).await, deposit_before - event.actualGasCost);
    assert_eq!(m.balance(a.address).await, U256::ZERO);
    assert_eq!(m.h.deposit_of(a.address).await, U256::ZERO);
    assert!(m.deployed(a.address).await);
    assert_eq!(counter_value(&m, counter).await, U256::from(1));
    // A second op (deployed account now) is sponsored too.
    let op = sponsored_owner_op(&m, &a, &pm, count_on(counter), open_window(&m).await).await;
    m.send(op).await.success();
    assert_eq!(counter_value(&m, counter).await, U256::from(2));
    assert_eq!(m.balance(a.address).await, U256::ZERO);
}

/// Changes one field of an operation after it was signed.
type EditOp = Box<dyn Fn(&mut UserOperation)>;

#[tokio::test]
async fn every_signed_field_changed_after_signing_is_refused_aa34() {
    let m = Mav2::embedded().await;
    let pm = paymaster(&m).await;
    let counter = m.h.counter().await;
    let a = m.account(U256::ZERO).await;
    let window = open_window(&m).await;
    let base = sponsored_owner_op(&m, &a, &pm, count_on(counter), window).await;
    let edits: Vec<(&str, EditOp)> = vec![
        ("callData", Box::new(move |o| o.call_data = count_on(Address::with_last_byte(0x43)))),
        ("callGasLimit", Box::new(|o| o.call_gas_limit += 1)),
        ("verificationGasLimit", Box::new(|o| o.verification_gas_limit += 1)),
        ("preVerificationGas", Box::new(|o| o.pre_verification_gas += U256::from(1))),
        ("maxFeePerGas", Box::new(|o| o.max_fee_per_gas += 1)),
        ("maxPriorityFeePerGas", Box::new(|o| o.max_priority_fee_per_gas += 1)),
        ("paymasterVerificationGasLimit", Box::new(|o| o.paymaster.as_mut().unwrap().verification_gas_limit += 1)),
        ("paymasterPostOpGasLimit", Box::new(|o| o.paymaster.as_mut().unwrap().post_op_gas_limit += 1)),
        ("validUntil", Box::new(|o| set_window(o, |w| w.valid_until -= 1))),
        ("validAfter", Box::new(|o| set_window(o, |w| w.valid_after += 1))),
    ];
    for (field, edit) in edits {
        let mut op = base.clone();
        edit(&mut op);
        // The account owner re-signs: only the paymaster's signature is stale.
        m.sign_owner(&a, &mut op);
        match m.send(op).await {
            keyward_testkit::mav2::Outcome::Rejected(e) => {
                assert_eq!(e.reason(), Some("AA34 signature error"), "{field}: {e:?}")
            }
            other => panic!("{field}: expected AA34, got {other:?}"),
        }
    }
    // The nonce: approved for the next sequence, used for the current one.
    let mut op = base.clone();
    op.nonce += U256::from(1);
    sponsor_with(&mut op, pm.address, &pm.signer, m.chain_id, window);
    op.nonce -= U256::from(1);
    m.sign_owner(&a, &mut op);
    assert_eq!(m.send(op).await.rejected().reason(), Some("AA34 signature error"), "nonce");
    // The untouched op still goes through: nothing above consumed it.
    m.send(base).await.success();
    assert_eq!(counter_value(&m, counter).await, U256::from(1));
}

#[tokio::test]
async fn a_sponsorship_moved_to_another_sender_is_refused() {
    let m = Mav2::embedded().await;
    let pm = paymaster(&m).await;
    let counter = m.h.counter().await;
    let a = m.counterfactual_account(U256::ZERO).await;
    let b = m.counterfactual_account(U256::ZERO).await;
    let window = open_window(&m).await;
    let signed_for_a = sponsored_owner_op(&m, &a, &pm, count_on(counter), window).await;
    // The same sponsorship moved to another sender (its own initCode and signature).
    let mut op = signed_for_a.clone();
    op.sender = b.address;
    op.factory = Some(FactoryInit { factory: b.init.factory, factory_data: b.init.factory_data() });
    m.sign_owner(&b, &mut op);
    assert_eq!(m.send(op).await.rejected().reason(), Some("AA34 signature error"));
    m.send(signed_for_a).await.success();
}

/// Re-encodes the window in `op`'s paymasterData, keeping the signature.
fn set_window(op: &mut UserOperation, f: impl Fn(&mut ValidityWindow)) {
    let pm = op.paymaster.as_mut().unwrap();
    let mut data = VerifyingPaymasterData::decode(&pm.data).unwrap();
    f(&mut data.window);
    pm.data = data.encode().unwrap();
}

#[tokio::test]
async fn windows_out_of_range_are_refused_aa32() {
    let m = Mav2::embedded().await;
    let pm = paymaster(&m).await;
    let counter = m.h.counter().await;
    let a = m.account(U256::ZERO).await;
    let now = m.now().await;
    let expired = ValidityWindow { valid_until: now - 1, valid_after: 0 };
    let op = sponsored_owner_op(&m, &a, &pm, count_on(counter), expired).await;
    assert_eq!(m.send(op).await.rejected().reason(), Some("AA32 paymaster expired or not due"));
    let not_yet = ValidityWindow { valid_until: 0, valid_after: now + 1000 };
    let op = sponsored_owner_op(&m, &a, &pm, count_on(counter), not_yet).await;
    assert_eq!(m.send(op.clone()).await.rejected().reason(), Some("AA32 paymaster expired or not due"));
    // Once the clock reaches validAfter the very same signed op is accepted.
    // (Blocks mined within one second run ahead of the clock, so advance until the chain is there.)
    while m.now().await <= not_yet.valid_after {
        let gap = not_yet.valid_after - m.now().await;
        m.advance(gap + 2).await;
    }
    m.send(op).await.success();
    assert_eq!(counter_value(&m, counter).await, U256::from(1));
}

#[tokio::test]
async fn another_key_and_malformed_data_are_refused() {
    let m = Mav2::embedded().await;
    let pm = paymaster(&m).await;
    let counter = m.h.counter().await;
    let a = m.account(U256::ZERO).await;
    let window = open_window(&m).await;
    // Signed by a key that is not the paymaster's signer (the owner's key, even).
    for key in [PrivateKeySigner::random(), pm.owner.clone()] {
        let mut op = m.owner_op(&a, count_on(counter)).await;
        sponsor_with(&mut op, pm.address, &key, m.chain_id, window);
        m.sign_owner(&a, &mut op);
        assert_eq!(m.send(op).await.rejected().reason(), Some("AA34 signature error"));
    }
    // The estimation stub is a signature failure, never a revert.
    let mut op = m.owner_op(&a, count_on(counter)).await;
    op.paymaster = Some(
        paymaster_init(pm.address, PM_VERIFICATION_GAS, PM_POST_OP_GAS, &VerifyingPaymasterData::stub(window)).unwrap(),
    );
    m.sign_owner(&a, &mut op);
    assert_eq!(m.send(op).await.rejected().reason(), Some("AA34 signature error"));
    // A high-s twin of a valid signature is refused (no malleability).
    let mut op = sponsored_owner_op(&m, &a, &pm, count_on(counter), window).await;
    let mut data = VerifyingPaymasterData::decode(&op.paymaster.as_ref().unwrap().data).unwrap();
    let sig = alloy::primitives::Signature::try_from(data.signature.as_ref()).unwrap();
    let n = U256::from_str_radix("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", 16).unwrap();
    let twin = alloy::primitives::Signature::new(sig.r(), n - sig.s(), !sig.v());
    data.signature = twin.as_bytes().to_vec().into();
    op.paymaster.as_mut().unwrap().data = data.encode().unwrap();
    m.sign_owner(&a, &mut op);
    assert_eq!(m.send(op).await.rejected().reason(), Some("AA34 signature error"));
    // paymasterData of the wrong length: the paymaster reverts (AA33) with its error.
    let mut op = sponsored_owner_op(&m, &a, &pm, count_on(counter), window).await;
    let full = op.paymaster.as_ref().unwrap().data.clone();
    op.paymaster.as_mut().unwrap().data = full.slice(..full.len() - 1);
    m.sign_owner(&a, &mut op);
    let e = m.send(op).await.rejected();
    assert_eq!(e.reason(), Some("AA33 reverted"), "{e:?}");
    assert_eq!(counter_value(&m, counter).await, U256::ZERO);
    // Only the EntryPoint may call validatePaymasterUserOp.
    let op = sponsored_owner_op(&m, &a, &pm, count_on(counter), window).await;
    let call =
        VerifyingPaymaster::validatePaymasterUserOpCall { userOp: abi_op(&op), _1: Default::default(), _2: U256::ZERO };
    let out = m.call_from(Address::with_last_byte(5), pm.address, call).await;
    match out {
        Err(keyward_chain::ChainError::Reverted { data, .. }) => {
            assert_eq!(data.as_ref(), VerifyingPaymaster::NotFromEntryPoint {}.abi_encode().as_slice())
        }
        other => panic!("expected NotFromEntryPoint, got {other:?}"),
    }
}

#[tokio::test]
async fn owner_rotates_the_signer_and_moves_the_deposit() {
    let m = Mav2::embedded().await;
    let pm = paymaster(&m).await;
    let counter = m.h.counter().await;
    let a = m.account(U256::ZERO).await;
    let window = open_window(&m).await;
    let stale = sponsored_owner_op(&m, &a, &pm, count_on(counter), window).await;
    let new_signer = PrivateKeySigner::random();
    // Not the owner: refused with NotOwner.
    let call = VerifyingPaymaster::setSignerCall { newSigner: new_signer.address() };
    match m.call_from(m.h.keys[0].address(), pm.address, call.clone()).await {
        Err(keyward_chain::ChainError::Reverted { data, .. }) => {
            assert_eq!(data.as_ref(), VerifyingPaymaster::NotOwner {}.abi_encode().as_slice())
        }
        other => panic!("expected NotOwner, got {other:?}"),
    }
    let tx = owner_tx(pm.address, call.abi_encode());
    assert!(m.h.send_tx(&pm.owner, tx).await.unwrap().status());
    assert_eq!(m.h.read(pm.address, VerifyingPaymaster::verifyingSignerCall {}).await.unwrap(), new_signer.address());
    // The old signer's approval no longer counts; the new one's does.
    assert_eq!(m.send(stale).await.rejected().reason(), Some("AA34 signature error"));
    let mut op = m.owner_op(&a, count_on(counter)).await;
    sponsor_with(&mut op, pm.address, &new_signer, m.chain_id, window);
    m.sign_owner(&a, &mut op);
    m.send(op).await.success();
    // Withdraw part of the deposit to an address of the owner's choice.
    let to = Address::with_last_byte(0x77);
    let before = m.h.deposit_of(pm.address).await;
    let call = VerifyingPaymaster::withdrawToCall { to, amount: U256::from(ETH) };
    let tx = owner_tx(pm.address, call.abi_encode());
    assert!(m.h.send_tx(&pm.owner, tx).await.unwrap().status());
    assert_eq!(m.balance(to).await, U256::from(ETH));
    assert_eq!(m.h.deposit_of(pm.address).await, before - U256::from(ETH));
    assert_eq!(m.h.read(pm.address, VerifyingPaymaster::getDepositCall {}).await.unwrap(), before - U256::from(ETH));
    // A deposit too small for the op's prefund: AA31.
    let rest = m.h.deposit_of(pm.address).await;
    let call = VerifyingPaymaster::withdrawToCall { to, amount: rest };
    let tx = owner_tx(pm.address, call.abi_encode());
    assert!(m.h.send_tx(&pm.owner, tx).await.unwrap().status());
    let mut op = m.owner_op(&a, count_on(counter)).await;
    sponsor_with(&mut op, pm.address, &new_signer, m.chain_id, window);
    m.sign_owner(&a, &mut op);
    assert_eq!(m.send(op).await.rejected().reason(), Some("AA31 paymaster deposit too low"));
}

fn owner_tx(to: Address, input: Vec<u8>) -> alloy::rpc::types::TransactionRequest {
    use alloy::network::TransactionBuilder;
    alloy::rpc::types::TransactionRequest::default().with_to(to).with_input(input)
}

async fn gas_budget(m: &Mav2, entity: u32, a: &SmaAccount) -> U256 {
    m.h.read(
        m.modules.native_token_limit,
        NativeTokenLimitModule::limitsCall { entityId: U256::from(entity + HALF_UINT32), account: a.address },
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn session_gas_limit_is_not_charged_for_sponsored_ops() {
    let m = Mav2::embedded().await;
    let pm = paymaster(&m).await;
    let counter = m.h.counter().await;
    let a = m.account(U256::from(ETH)).await;
    let probe = m.op(a.address, U256::ZERO, Bytes::new());
    let per_op =
        (probe.pre_verification_gas + U256::from(probe.verification_gas_limit) + U256::from(probe.call_gas_limit))
            * U256::from(probe.max_fee_per_gas);
    // Room for exactly one unsponsored op.
    let budget = per_op * U256::from(2) - U256::from(1);
    let entity = 21;
    let s = m
        .session(
            &a,
            entity,
            json!([{"type": "gas-limit", "data": {"limit": format!("{budget:#x}")}},
                   {"type": "contract-access", "data": {"address": format!("{counter:#x}")}}]),
            0,
        )
        .await;
    assert_eq!(gas_budget(&m, entity, &a).await, budget);
    let window = open_window(&m).await;
    // Several sponsored ops: the budget does not move, the account's ETH does not move.
    let eth_before = m.balance(a.address).await;
    for _ in 0..3 {
        let mut op = m.session_op(&a, &s, &count_on(counter)).await;
        sponsor_with(&mut op, pm.address, &pm.signer, m.chain_id, window);
        m.sign_session(&s, &mut op);
        m.send(op).await.success();
    }
    assert_eq!(gas_budget(&m, entity, &a).await, budget);
    assert_eq!(m.balance(a.address).await, eth_before);
    assert_eq!(counter_value(&m, counter).await, U256::from(3));
    // Unsponsored: charged the worst case, then refused once the rest is below it.
    m.session_call(&a, &s, &count_on(counter)).await.success();
    assert_eq!(gas_budget(&m, entity, &a).await, budget - per_op);
    m.session_call(&a, &s, &count_on(counter))
        .await
        .rejected_with("AA23", Some(NativeTokenLimitModule::ExceededNativeTokenLimit::SELECTOR));
    assert_eq!(counter_value(&m, counter).await, U256::from(4));
    // Sponsored still works with the budget spent.
    let mut op = m.session_op(&a, &s, &count_on(counter)).await;
    sponsor_with(&mut op, pm.address, &pm.signer, m.chain_id, window);
    m.sign_session(&s, &mut op);
    m.send(op).await.success();
    assert_eq!(counter_value(&m, counter).await, U256::from(5));
    assert_eq!(gas_budget(&m, entity, &a).await, budget - per_op);
}

#[tokio::test]
async fn paymaster_constructor_refuses_zero_addresses_and_post_op_is_unreachable() {
    let m = Mav2::embedded().await;
    let pm = paymaster(&m).await;
    assert_eq!(m.h.read(pm.address, VerifyingPaymaster::ownerCall {}).await.unwrap(), pm.owner.address());
    assert_eq!(m.h.read(pm.address, VerifyingPaymaster::entryPointCall {}).await.unwrap(), m.h.ep);
    let call = IEntryPoint::balanceOfCall { account: pm.address };
    assert_eq!(m.h.read(m.h.ep, call).await.unwrap(), U256::from(10 * ETH));
    let create = alloy::rpc::types::TransactionRequest {
        input: Bytes::from(
            [
                artifacts::verifying_paymaster().bytecode.as_ref(),
                &(m.h.ep, Address::ZERO, Address::with_last_byte(1)).abi_encode_params(),
            ]
            .concat(),
        )
        .into(),
        to: Some(alloy::primitives::TxKind::Create),
        ..Default::default()
    };
    match m.h.chain.call(create, None).await {
        Err(keyward_chain::ChainError::Reverted { data, .. }) => {
            assert_eq!(data.as_ref(), VerifyingPaymaster::ZeroAddress {}.abi_encode().as_slice())
        }
        other => panic!("expected ZeroAddress, got {other:?}"),
    }
}
