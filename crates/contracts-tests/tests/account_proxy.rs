//! The accounts our factory deploys are MAv2's: the same minimal ERC-1967 proxy and CREATE2 inputs,
//! so a client that knows only the factory and the implementation (account-kit's
//! `createModularAccountV2`, our SDK) predicts them. Checked three ways: our factory's views against
//! the one Rust computation (`keyward_primitives::mav2::factory`); the deployed code, implementation
//! slot and the SMA's owner read from its immutable arg; and Alchemy's real MAv2 factory (release
//! runtime code, vendored from ../shared/oracles) placed on the same chain, which must compute the same
//! addresses and deploy byte-identical proxy code.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use std::path::PathBuf;

use alloy::primitives::{Address, B256, Bytes, U256, address};
use alloy::signers::local::PrivateKeySigner;
use keyward_contracts::bindings::{AccountFactory, SemiModularAccountBytecode};
use keyward_primitives::SENDER_CREATOR_V07;
use keyward_primitives::mav2::factory::{
    ERC1967_IMPLEMENTATION_SLOT, SemiModularAccountInit, modular_account_address, proxy_runtime,
};
use keyward_testkit::mav2::{Mav2, eth, execute, milli};

/// MAv2 v2.0.0 ModularAccount implementation (an immutable of the release factory's runtime code).
const MAV2_MA_IMPL: Address = address!("0x00000000000002377B26b1EdA7b0BC371C60DD4f");
/// MAv2 v2.0.0 SemiModularAccountBytecode implementation (likewise).
const MAV2_SMA_IMPL: Address = address!("0x000000000000c5A9089039570Dd36455b5C07383");

alloy::sol! {
    interface Mav2Factory {
        function createSemiModularAccount(address owner, uint256 salt) external returns (address);
        function createAccount(address owner, uint256 salt, uint32 entityId) external returns (address);
        function getAddressSemiModular(address owner, uint256 salt) external view returns (address);
        function getAddress(address owner, uint256 salt, uint32 entityId) external view returns (address);
    }
}

/// The runtime code of MAv2's AccountFactory as aa-benchmarks vendors it (a TS module).
fn mav2_factory_runtime() -> Bytes {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../vendor/shared/oracles/mav2-gas/vendor/aa-benchmarks/modularAccountV2.ts");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let start = text.find("AccountFactory: {").expect("AccountFactory entry");
    let end = text[start..].find("ModularAccount: {").expect("next entry") + start;
    let entry = &text[start..end];
    let code = entry.find("bytecode:").map(|i| &entry[i..]).expect("bytecode field");
    let hex_start = code.find("\"0x").expect("bytecode string") + 1;
    let hex_len = code[hex_start..].find('"').expect("closing quote");
    code[hex_start..hex_start + hex_len].parse().expect("hex bytecode")
}

async fn implementation_slot(m: &Mav2, account: Address) -> Address {
    let word = m.h.chain.storage_at(account, ERC1967_IMPLEMENTATION_SLOT.into()).await.unwrap();
    Address::from_word(word)
}

#[tokio::test]
async fn factory_views_equal_the_local_computation() {
    let m = Mav2::embedded().await;
    for (i, salt) in [U256::ZERO, U256::from(1), U256::MAX].into_iter().enumerate() {
        let owner = PrivateKeySigner::random().address();
        let init = SemiModularAccountInit { factory: m.factory, owner, salt };
        let on_chain =
            m.h.read(m.factory, AccountFactory::getAddressSemiModularCall { owner_: owner, salt }).await.unwrap();
        assert_eq!(on_chain, init.address(m.sma_impl), "case {i}: getAddressSemiModular");
        for entity_id in [0u32, 1, u32::MAX] {
            let on_chain =
                m.h.read(m.factory, AccountFactory::getAddressCall { owner_: owner, salt, entityId: entity_id })
                    .await
                    .unwrap();
            let local = modular_account_address(m.factory, m.ma_impl, owner, salt, entity_id);
            assert_eq!(on_chain, local, "case {i}, entity {entity_id}: getAddress");
        }
    }
}

#[tokio::test]
async fn deployed_proxy_is_mav2s_and_the_sma_reads_its_owner() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let code = m.h.chain.code(a.address).await.unwrap();
    let mut want = proxy_runtime().to_vec();
    want.extend_from_slice(a.owner.address().as_slice());
    assert_eq!(code, Bytes::from(want), "61-byte ERC-1967 proxy runtime, then the owner");
    assert_eq!(implementation_slot(&m, a.address).await, m.sma_impl, "ERC-1967 implementation slot");
    let (signer, disabled) =
        m.h.read(a.address, SemiModularAccountBytecode::getFallbackSignerDataCall {}).await.unwrap().into();
    assert_eq!(signer, a.owner.address(), "the owner is read from the proxy's immutable arg");
    assert!(!disabled);
    // The owner drives it (the proxy forwards calldata and bubbles results).
    let to = Address::repeat_byte(0x51);
    m.owner_call(&a, execute(to, milli(2), Bytes::new())).await.success();
    assert_eq!(m.balance(to).await, milli(2));
}

#[tokio::test]
async fn counterfactual_first_op_deploys_at_the_locally_predicted_address() {
    let m = Mav2::embedded().await;
    let a = m.counterfactual_account(eth(1)).await;
    assert_eq!(a.address, a.init.address(m.sma_impl));
    let to = Address::repeat_byte(0x52);
    m.owner_call(&a, execute(to, milli(1), Bytes::new())).await.success();
    assert!(m.deployed(a.address).await);
    assert_eq!(m.balance(to).await, milli(1));
    assert_eq!(implementation_slot(&m, a.address).await, m.sma_impl);
}

#[tokio::test]
async fn alchemys_mav2_factory_predicts_and_deploys_the_same_proxies() {
    let m = Mav2::embedded().await;
    let mav2 = Address::repeat_byte(0x6a);
    m.h.chain.set_code(mav2, mav2_factory_runtime()).await.unwrap();
    let owner = PrivateKeySigner::random().address();
    let salt = U256::from(9);

    // Addresses: the release factory's views against the local computation with its implementations.
    let init = SemiModularAccountInit { factory: mav2, owner, salt };
    let sma = m.h.read(mav2, Mav2Factory::getAddressSemiModularCall { owner, salt }).await.unwrap();
    assert_eq!(sma, init.address(MAV2_SMA_IMPL), "MAv2 getAddressSemiModular");
    let ma = m.h.read(mav2, Mav2Factory::getAddressCall { owner, salt, entityId: 4 }).await.unwrap();
    assert_eq!(ma, modular_account_address(mav2, MAV2_MA_IMPL, owner, salt, 4), "MAv2 getAddress");

    // Code: MAv2's proxy (its implementation has no code here; creating the proxy never calls it)
    // is byte for byte the proxy our factory deploys for the same owner.
    assert!(m.h.transact(mav2, Mav2Factory::createSemiModularAccountCall { owner, salt }, U256::ZERO).await.status());
    let theirs = m.h.chain.code(sma).await.unwrap();
    assert!(
        m.h.transact(m.factory, AccountFactory::createSemiModularAccountCall { owner_: owner, salt }, U256::ZERO)
            .await
            .status()
    );
    let ours_at = SemiModularAccountInit { factory: m.factory, owner, salt }.address(m.sma_impl);
    let ours = m.h.chain.code(ours_at).await.unwrap();
    assert!(!theirs.is_empty());
    assert_eq!(theirs, ours, "same runtime code");
    assert_eq!(implementation_slot(&m, sma).await, MAV2_SMA_IMPL);

    // The ModularAccount proxy (no immutable args) likewise. MAv2's factory then calls
    // initializeWithValidation through it, which reaches no code here and returns.
    let entity_id = 4;
    assert!(
        m.h.transact(mav2, Mav2Factory::createAccountCall { owner, salt, entityId: entity_id }, U256::ZERO)
            .await
            .status()
    );
    let theirs = m.h.chain.code(ma).await.unwrap();
    assert_eq!(theirs, Bytes::from(proxy_runtime().to_vec()), "MAv2's ModularAccount proxy: the bare runtime");
    assert_eq!(implementation_slot(&m, ma).await, MAV2_MA_IMPL);
    let call = AccountFactory::createAccountCall { owner_: owner, salt, entityId: entity_id };
    assert!(m.h.transact(m.factory, call, U256::ZERO).await.status());
    let ours = modular_account_address(m.factory, m.ma_impl, owner, salt, entity_id);
    assert_eq!(m.h.chain.code(ours).await.unwrap(), theirs, "same runtime code");
    assert_eq!(implementation_slot(&m, ours).await, m.ma_impl);
}

alloy::sol! {
    /// EntryPoint v0.7's SenderCreator (Keyward's serves the EntryPoint only; the canonical one anyone).
    function createSender(bytes initCode) returns (address);
}

/// The factory skips its existence check only when the EntryPoint's SenderCreator calls it (the
/// EntryPoint checked AA10 first); whoever calls, a second creation returns the existing account
/// and leaves its code as it was.
#[tokio::test]
async fn a_second_creation_returns_the_existing_account_to_any_caller() {
    let m = Mav2::embedded().await;
    let a = m.counterfactual_account(eth(1)).await;
    let creation = AccountFactory::createSemiModularAccountCall { owner_: a.owner.address(), salt: a.init.salt };
    let via_sender_creator = createSenderCall { initCode: a.init.init_code() };
    let through_sender_creator = || async {
        let out = m.call_from(m.h.ep, SENDER_CREATOR_V07, via_sender_creator.clone()).await.unwrap();
        Address::from_word(B256::from_slice(&out[..32]))
    };

    // Not deployed yet: both paths give the predicted address.
    assert_eq!(m.h.read(m.factory, creation.clone()).await.unwrap(), a.address);
    assert_eq!(through_sender_creator().await, a.address);

    // Deployed by its first op (the EntryPoint's path), then created again both ways.
    m.owner_call(&a, execute(Address::repeat_byte(0x53), milli(1), Bytes::new())).await.success();
    let code = m.h.chain.code(a.address).await.unwrap();
    assert_eq!(through_sender_creator().await, a.address, "a CREATE2 collision returns the account");
    assert_eq!(m.h.read(m.factory, creation.clone()).await.unwrap(), a.address);
    let r = m.h.transact(m.factory, creation, U256::ZERO).await;
    assert!(r.status(), "a second creation called directly does not revert");
    assert_eq!(m.h.chain.code(a.address).await.unwrap(), code);
    assert_eq!(implementation_slot(&m, a.address).await, m.sma_impl);
}
