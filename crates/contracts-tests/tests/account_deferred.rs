//! Deferred actions (account-formats.md §8): a grant works once, for the account, chain and nonce
//! it was signed for, and nowhere else.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use alloy::primitives::{Address, Bytes, U256};
use alloy::sol_types::SolError;
use keyward_chain::{EmbeddedChain, EmbeddedConfig};
use keyward_contracts::bindings::{SemiModularAccountBytecode, SingleSignerValidationModule};
use keyward_testkit::Harness;
use keyward_testkit::mav2::{ETH, Mav2, SmaAccount, execute};
use serde_json::json;

const BAD_GRANT: [u8; 4] = SemiModularAccountBytecode::DeferredActionSignatureInvalid::SELECTOR;

fn eth(n: u128) -> U256 {
    U256::from(n * ETH)
}

fn perms(to: Address) -> serde_json::Value {
    json!([{"type": "native-token-transfer", "data": {"allowance": "0x2386f26fc10000"}},
           {"type": "contract-access", "data": {"address": format!("{to:#x}")}}])
}

async fn signer_of(m: &Mav2, entity: u32, a: &SmaAccount) -> Address {
    m.h.read(
        m.modules.single_signer_validation,
        SingleSignerValidationModule::signersCall { entityId: entity, account: a.address },
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn deferred_grant_cannot_be_replayed_on_another_account_of_the_same_owner() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let b = m.account_of(a.owner.clone(), U256::from(1), eth(1)).await;
    assert_ne!(a.address, b.address);
    let to = Address::with_last_byte(0x61);
    let s = m.compile(&a, 7, perms(to), 0).await;
    // The grant signed for `a` (same owner key, same nonce value), carried by an op of `b`.
    let nonce = m.ep_nonce(b.address, s.nonce_key(true).full_key()).await;
    let grant_for_a = m.deferred_prefix(&a.owner, a.address, m.chain_id, nonce, 0, s.compiled.calldata());
    let op = m.deferred_op_with(&b, &s, &execute(to, U256::from(1), Bytes::new()), nonce, &grant_for_a).await;
    m.send(op).await.rejected_with("AA23", Some(BAD_GRANT));
    assert_eq!(signer_of(&m, 7, &b).await, Address::ZERO);
    // The same grant on `a` itself works.
    let op = m.deferred_op_with(&a, &s, &execute(to, U256::from(1), Bytes::new()), nonce, &grant_for_a).await;
    m.send(op).await.success();
    assert_eq!(signer_of(&m, 7, &a).await, s.key.address());
}

#[tokio::test]
async fn deferred_grant_cannot_be_replayed_on_another_chain() {
    let m1 = Mav2::embedded().await;
    let chain2 = EmbeddedChain::open(EmbeddedConfig { chain_id: 31_338, ..Default::default() }).unwrap();
    let m2 = Mav2::deploy(Harness::on(chain2)).await;
    assert_eq!(m2.chain_id, 31_338);
    assert_eq!((m1.factory, m1.modules), (m2.factory, m2.modules), "same deployer and nonces: same addresses");
    let a1 = m1.account(eth(1)).await;
    let a2 = m2.account_of(a1.owner.clone(), U256::ZERO, eth(1)).await;
    assert_eq!(a1.address, a2.address, "the same account address on both chains");
    let to = Address::with_last_byte(0x62);
    let s = m1.compile(&a1, 7, perms(to), 0).await;
    let nonce = m1.ep_nonce(a1.address, s.nonce_key(true).full_key()).await;
    let grant_31337 = m1.deferred_prefix(&a1.owner, a1.address, 31_337, nonce, 0, s.compiled.calldata());
    let op = m2.deferred_op_with(&a2, &s, &execute(to, U256::from(1), Bytes::new()), nonce, &grant_31337).await;
    m2.send(op).await.rejected_with("AA23", Some(BAD_GRANT));
    assert_eq!(signer_of(&m2, 7, &a2).await, Address::ZERO);
    let op = m1.deferred_op_with(&a1, &s, &execute(to, U256::from(1), Bytes::new()), nonce, &grant_31337).await;
    m1.send(op).await.success();
}

#[tokio::test]
async fn deferred_grant_cannot_be_replayed_with_another_nonce() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let to = Address::with_last_byte(0x63);
    let s = m.compile(&a, 7, perms(to), 0).await;
    let key = s.nonce_key(true);
    let nonce0 = key.nonce(0);
    let grant = m.deferred_prefix(&a.owner, a.address, m.chain_id, nonce0, 0, s.compiled.calldata());
    // Another parallel key: a different full nonce, so a different digest.
    let other_key = keyward_primitives::mav2::NonceKey::regular(U256::from(5), 7, false, true).unwrap();
    let op = m.deferred_op_with(&a, &s, &execute(to, U256::from(1), Bytes::new()), other_key.nonce(0), &grant).await;
    m.send(op).await.rejected_with("AA23", Some(BAD_GRANT));
    // Used once at its nonce...
    let op = m.deferred_op_with(&a, &s, &execute(to, U256::from(1), Bytes::new()), nonce0, &grant).await;
    m.send(op).await.success();
    // ...then the same grant at the next sequence is refused, and the old nonce is gone.
    let op = m.deferred_op_with(&a, &s, &execute(to, U256::from(1), Bytes::new()), key.nonce(1), &grant).await;
    m.send(op).await.rejected_with("AA23", Some(BAD_GRANT));
    // (The account validates before the EntryPoint checks the sequence: the re-run install fails
    // first with ValidationAlreadySet, AA23; without it the nonce check would give AA25.)
    let op = m.deferred_op_with(&a, &s, &execute(to, U256::from(1), Bytes::new()), nonce0, &grant).await;
    let e = m.send(op).await.rejected();
    assert!(matches!(e.reason(), Some(r) if r.starts_with("AA23") || r.starts_with("AA25")), "{e:?}");
    assert_eq!(m.balance(to).await, U256::from(1));
}

#[tokio::test]
async fn deferred_grant_with_a_tampered_call_is_refused() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let to = Address::with_last_byte(0x64);
    let s = m.compile(&a, 7, perms(to), 0).await;
    let nonce = s.nonce_key(true).nonce(0);
    let mut grant = m.deferred_prefix(&a.owner, a.address, m.chain_id, nonce, 0, s.compiled.calldata());
    // Swap in a root session's install under the owner's signature of the scoped one.
    let root = m.compile(&a, 7, json!([{"type": "root"}]), 0).await;
    grant.call = root.compiled.calldata();
    let op = m.deferred_op_with(&a, &s, &execute(to, U256::from(1), Bytes::new()), nonce, &grant).await;
    m.send(op).await.rejected_with("AA23", Some(BAD_GRANT));
    // Or a later deadline.
    let mut grant =
        m.deferred_prefix(&a.owner, a.address, m.chain_id, nonce, m.now().await + 100, s.compiled.calldata());
    grant.deadline += 1000;
    let op = m.deferred_op_with(&a, &s, &execute(to, U256::from(1), Bytes::new()), nonce, &grant).await;
    m.send(op).await.rejected_with("AA23", Some(BAD_GRANT));
}

#[tokio::test]
async fn deferred_grant_is_signed_by_the_owner_not_the_session_key() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let to = Address::with_last_byte(0x65);
    let s = m.compile(&a, 7, perms(to), 0).await;
    let nonce = s.nonce_key(true).nonce(0);
    let grant = m.deferred_prefix(&s.key, a.address, m.chain_id, nonce, 0, s.compiled.calldata());
    let op = m.deferred_op_with(&a, &s, &execute(to, U256::from(1), Bytes::new()), nonce, &grant).await;
    m.send(op).await.rejected_with("AA23", Some(BAD_GRANT));
}

/// Keyward's signer type `0x02`: the owner personal_signed the grant's digest (a Wallet-API
/// `rawPayload` signed with EIP-191, as some clients do). It installs the session like the EIP-712
/// form; the same signature under type `0x00`, or `0x02` by another key, is refused.
#[tokio::test]
async fn deferred_grant_signed_as_a_personal_message_of_the_digest_installs() {
    use alloy::signers::SignerSync;
    use keyward_primitives::mav2::signature::{eoa_personal_sign_validation_data, eoa_validation_data};
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let to = Address::with_last_byte(0x62);
    let s = m.compile(&a, 9, perms(to), 0).await;
    let nonce = m.ep_nonce(a.address, s.nonce_key(true).full_key()).await;
    let mut prefix = m.deferred_prefix(&a.owner, a.address, m.chain_id, nonce, 0, s.compiled.calldata());
    let digest = keyward_primitives::mav2::DeferredAction::build(nonce, 0, s.compiled.calldata())
        .unwrap()
        .digest(m.chain_id, a.address);
    let personal = a.owner.sign_message_sync(digest.as_slice()).unwrap();
    let stranger = alloy::signers::local::PrivateKeySigner::random().sign_message_sync(digest.as_slice()).unwrap();
    let inner = execute(to, U256::from(1000), Bytes::new());

    for wrong in [eoa_validation_data(&personal), eoa_personal_sign_validation_data(&stranger)] {
        prefix.deferred_signature = wrong;
        let op = m.deferred_op_with(&a, &s, &inner, nonce, &prefix).await;
        m.send(op).await.rejected_with("AA23", Some(BAD_GRANT));
    }
    prefix.deferred_signature = eoa_personal_sign_validation_data(&personal);
    let op = m.deferred_op_with(&a, &s, &inner, nonce, &prefix).await;
    m.send(op).await.success();
    assert_eq!(signer_of(&m, 9, &a).await, s.key.address());
    assert_eq!(m.balance(to).await, U256::from(1000));
}
