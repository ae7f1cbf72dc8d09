//! Keyward's Semi-Modular Account on the embedded chain, user ops sent straight to the EntryPoint:
//! creation by user op, owner ops, installing and using a session key, revocation.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use alloy::primitives::{Address, Bytes, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use keyward_contracts::bindings::{SingleSignerValidationModule, TestCounter};
use keyward_primitives::entry_point::IEntryPoint;
use keyward_primitives::mav2::ModuleEntity;
use keyward_testkit::mav2::{ETH, Mav2, execute};
use serde_json::json;

fn eth(n: u128) -> U256 {
    U256::from(n * ETH)
}

fn milli(n: u128) -> U256 {
    U256::from(n * ETH / 1000)
}

fn native(allowance: U256) -> serde_json::Value {
    json!([{"type": "native-token-transfer", "data": {"allowance": format!("{allowance:#x}")}},
           {"type": "contract-access", "data": {"address": format!("{:#x}", Address::with_last_byte(0x77))}}])
}

#[tokio::test]
async fn account_is_created_by_its_first_owner_op_and_the_owner_sends_eth() {
    let m = Mav2::embedded().await;
    let a = m.counterfactual_account(eth(1)).await;
    assert!(!m.deployed(a.address).await);
    let to = PrivateKeySigner::random().address();
    let r = m.owner_call(&a, execute(to, milli(10), Bytes::new())).await.success();
    assert!(m.deployed(a.address).await, "initCode deployed the account");
    assert_eq!(m.balance(to).await, milli(10));
    let (op_gas, tx_gas) = m.gas_of(&r);
    println!(
        "GAS account creation + owner native transfer by user op: actualGasUsed {op_gas}, handleOps gasUsed {tx_gas}"
    );
    // Deployed: the owner's next transfer has no initCode.
    let op = m.owner_op(&a, execute(to, milli(5), Bytes::new())).await;
    assert!(op.factory.is_none());
    assert_eq!(op.nonce, U256::from(1) | (U256::from(1) << 64), "owner key 0x01, sequence 1");
    let r = m.owner_call(&a, execute(to, milli(5), Bytes::new())).await.success();
    assert_eq!(m.balance(to).await, milli(15));
    let (op_gas, tx_gas) = m.gas_of(&r);
    println!("GAS owner native transfer: actualGasUsed {op_gas}, handleOps gasUsed {tx_gas}");
}

#[tokio::test]
async fn creation_only_op_gas() {
    // An op whose only effect is the deployment (execute to a fresh EOA with value 0).
    let m = Mav2::embedded().await;
    let a = m.counterfactual_account(eth(1)).await;
    let r = m.owner_call(&a, execute(PrivateKeySigner::random().address(), U256::ZERO, Bytes::new())).await.success();
    let (op_gas, tx_gas) = m.gas_of(&r);
    assert!(m.deployed(a.address).await);
    println!("GAS account creation by user op (no-op call): actualGasUsed {op_gas}, handleOps gasUsed {tx_gas}");
}

#[tokio::test]
async fn wrong_owner_signature_fails_validation_with_aa24() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let mut op = m.owner_op(&a, execute(Address::with_last_byte(0x99), U256::ZERO, Bytes::new())).await;
    op.signature = m.ecdsa_user_op_signature(&PrivateKeySigner::random(), &op);
    m.send(op).await.rejected_with("AA24", None);
}

#[tokio::test]
async fn session_key_installed_by_owner_op_sends_eth_within_its_scope() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let s = m.session(&a, 7, native(milli(100)), 0).await;
    // Installed: the validation is scoped (user op only), on SingleSigner, with the session key.
    let signer =
        m.h.read(
            m.modules.single_signer_validation,
            SingleSignerValidationModule::signersCall { entityId: 7, account: a.address },
        )
        .await
        .unwrap();
    assert_eq!(signer, s.key.address());
    let to = Address::with_last_byte(0x77);
    let r = m.session_call(&a, &s, &execute(to, milli(30), Bytes::new())).await.success();
    assert_eq!(m.balance(to).await, milli(30));
    let (op_gas, tx_gas) = m.gas_of(&r);
    println!(
        "GAS session-key native transfer (time-range-free, NTL exec hook + allowlist): actualGasUsed {op_gas}, handleOps gasUsed {tx_gas}"
    );
    // A second op with the next sequence of the session's key.
    m.session_call(&a, &s, &execute(to, milli(30), Bytes::new())).await.success();
    assert_eq!(m.ep_nonce(a.address, s.nonce_key(false).full_key()).await & U256::from(u64::MAX), U256::from(2));
}

#[tokio::test]
async fn session_key_signature_by_another_key_fails_with_aa24() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let s = m.session(&a, 3, native(milli(100)), 0).await;
    let mut op = m.session_op(&a, &s, &execute(Address::with_last_byte(0x77), U256::ZERO, Bytes::new())).await;
    op.signature = m.ecdsa_user_op_signature(&a.owner, &op); // the owner's key is not this session's key
    m.send(op).await.rejected_with("AA24", None);
}

#[tokio::test]
async fn root_session_gas_for_a_native_transfer() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let s = m.session(&a, 2, json!([{"type": "root"}]), 0).await;
    let to = Address::with_last_byte(0x78);
    let r = m.session_call(&a, &s, &execute(to, milli(1), Bytes::new())).await.success();
    let (op_gas, tx_gas) = m.gas_of(&r);
    println!("GAS root session-key native transfer (no hooks): actualGasUsed {op_gas}, handleOps gasUsed {tx_gas}");
    assert_eq!(m.balance(to).await, milli(1));
}

#[tokio::test]
async fn uninstall_validation_stops_the_session_key_at_once() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let s = m.session(&a, 9, native(milli(100)), 0).await;
    let to = Address::with_last_byte(0x77);
    m.session_call(&a, &s, &execute(to, milli(1), Bytes::new())).await.success();
    // Build the next session op before revocation, send it after.
    let mut op = m.session_op(&a, &s, &execute(to, milli(1), Bytes::new())).await;
    m.sign_session(&s, &mut op);
    let un = s.compiled.uninstall(&m.modules);
    m.owner_call(&a, un.calldata()).await.success();
    // Hook and module state cleared too.
    let signer =
        m.h.read(
            m.modules.single_signer_validation,
            SingleSignerValidationModule::signersCall { entityId: 9, account: a.address },
        )
        .await
        .unwrap();
    assert_eq!(signer, Address::ZERO);
    let e = m.send(op).await.rejected();
    assert!(e.reason().unwrap().starts_with("AA2"), "{e:?}");
    assert_eq!(m.balance(to).await, milli(1));
}

#[tokio::test]
async fn uninstall_without_hook_data_still_stops_the_key() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let s = m.session(&a, 10, native(milli(100)), 0).await;
    let un = keyward_primitives::mav2::UninstallValidation {
        validation: ModuleEntity::new(m.modules.single_signer_validation, 10),
        uninstall_data: keyward_primitives::mav2::modules::entity_uninstall_data(10),
        hook_uninstall_data: vec![],
    };
    m.owner_call(&a, un.calldata()).await.success();
    m.session_call(&a, &s, &execute(Address::with_last_byte(0x77), U256::ZERO, Bytes::new()))
        .await
        .rejected_with("AA2", None);
}

#[tokio::test]
async fn deferred_install_on_the_session_keys_first_op() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let s = m.compile(&a, 7, native(milli(100)), 0).await;
    let to = Address::with_last_byte(0x77);
    let op = m.deferred_session_op(&a, &s, &execute(to, milli(2), Bytes::new())).await;
    m.send(op).await.success();
    assert_eq!(m.balance(to).await, milli(2));
    // Later ops use the key without the deferred bit.
    m.session_call(&a, &s, &execute(to, milli(3), Bytes::new())).await.success();
    assert_eq!(m.balance(to).await, milli(5));
}

#[tokio::test]
async fn deferred_install_deploys_a_counterfactual_account_in_the_same_op() {
    let m = Mav2::embedded().await;
    let a = m.counterfactual_account(eth(1)).await;
    let s = m.compile(&a, 5, native(milli(100)), 0).await;
    let to = Address::with_last_byte(0x77);
    let op = m.deferred_session_op(&a, &s, &execute(to, milli(2), Bytes::new())).await;
    assert!(op.factory.is_some());
    m.send(op).await.success();
    assert!(m.deployed(a.address).await);
    assert_eq!(m.balance(to).await, milli(2));
}

#[tokio::test]
async fn unused_deferred_grant_dies_with_increment_nonce() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let s = m.compile(&a, 7, native(milli(100)), 0).await;
    let op = m.deferred_session_op(&a, &s, &execute(Address::with_last_byte(0x77), milli(1), Bytes::new())).await;
    // The owner burns the grant's nonce: account → EntryPoint.incrementNonce(grant key).
    let key = s.nonce_key(true).full_key();
    let inc = IEntryPoint::incrementNonceCall { key }.abi_encode();
    m.owner_call(&a, execute(m.h.ep, U256::ZERO, inc)).await.success();
    assert_eq!(m.ep_nonce(a.address, key).await & U256::from(u64::MAX), U256::from(1));
    m.send(op).await.rejected_with("AA25", None);
    // Nothing was installed.
    let signer =
        m.h.read(
            m.modules.single_signer_validation,
            SingleSignerValidationModule::signersCall { entityId: 7, account: a.address },
        )
        .await
        .unwrap();
    assert_eq!(signer, Address::ZERO);
}

#[tokio::test]
async fn session_counter_call_through_contract_access() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let counter = m.h.counter().await;
    let s =
        m.session(&a, 4, json!([{"type": "contract-access", "data": {"address": format!("{counter:#x}")}}]), 0).await;
    let count: Bytes = TestCounter::countCall {}.abi_encode().into();
    m.session_call(&a, &s, &execute(counter, U256::ZERO, count)).await.success();
    assert_eq!(m.h.read(counter, TestCounter::counterCall {}).await.unwrap(), U256::from(1));
}

/// §4: the parallel part of a nonce key only separates EntryPoint sequences — the account reads a
/// regular validation from the key's low 5 bytes — so owner and session ops work on any parallel
/// key, each key with its own sequence.
#[tokio::test]
async fn parallel_nonce_keys_select_the_same_validation() {
    use keyward_primitives::mav2::{NonceKey, ValidationLocator};
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let to = Address::with_last_byte(0x71);
    let send = execute(to, U256::from(1), Bytes::new());
    for parallel in [U256::from(1), U256::from(0xff), (U256::from(1) << 151) | U256::from(3)] {
        let key = NonceKey::new(parallel, ValidationLocator::owner()).unwrap();
        let mut op = m.op(a.address, key.nonce(0), send.clone());
        m.sign_owner(&a, &mut op);
        m.send(op).await.success();
        assert_eq!(m.ep_nonce(a.address, key.full_key()).await, key.nonce(1));
    }
    assert_eq!(m.balance(to).await, U256::from(3));
    let s = m.session(&a, 5, json!([{"type": "root"}]), 0).await;
    let key = s.compiled.nonce_key(U256::from(7), false).unwrap();
    let mut op = m.op(a.address, key.nonce(0), m.session_call_data(&s, &send));
    m.sign_session(&s, &mut op);
    m.send(op).await.success();
    assert_eq!(m.balance(to).await, U256::from(4));
}
