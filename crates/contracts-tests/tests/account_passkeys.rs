//! P-256 passkey session keys (P256ValidationModule) on a Keyward Semi-Modular Account, with user
//! operations sent straight to the EntryPoint and signed the way WebCrypto's ECDSA P-256 / SHA-256
//! signs (RustCrypto's `p256`, an independent implementation): a valid signature executes; another
//! key, a tampered operation, a high-s twin of a valid signature and a point off the curve are
//! refused. On the embedded chain (Prague: no P-256 precompile) the Solidity verifier decides; on
//! anvil the RIP-7212 precompile does when the chain has it, the verifier otherwise.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use alloy::primitives::{Address, Bytes, U256};
use alloy::sol_types::SolValue;
use keyward_contracts::bindings::P256ValidationModule;
use keyward_primitives::UserOperation;
use keyward_primitives::mav2::{InstallValidation, ModuleEntity, NonceKey, ValidationConfig};
use keyward_testkit::Harness;
use keyward_testkit::mav2::{ETH, Mav2, SmaAccount, execute};
use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::ecdsa::{Signature, SigningKey};
use sha2::{Digest, Sha256};

const ENTITY: u32 = 21;

/// A passkey installed as a global validation of `a` at [`ENTITY`]; the module's address.
async fn install(m: &Mav2, a: &SmaAccount, key: &SigningKey) -> Address {
    let module = m.modules.p256_validation;
    let point = key.verifying_key().to_encoded_point(false);
    let (x, y) = (U256::from_be_slice(point.x().unwrap()), U256::from_be_slice(point.y().unwrap()));
    let install = InstallValidation {
        validation: ValidationConfig::new(module, ENTITY, true, false, true),
        selectors: vec![],
        install_data: (ENTITY, x, y).abi_encode_params().into(),
        hooks: vec![],
    };
    m.owner_call_with_gas(a, install.calldata(), 1_000_000).await.success();
    let stored =
        m.h.read(module, P256ValidationModule::keysCall { entityId: ENTITY, account: a.address }).await.unwrap();
    assert_eq!((stored.x, stored.y), (x, y));
    module
}

/// An op of `a` through the passkey validation running `inner`.
async fn passkey_op(m: &Mav2, a: &SmaAccount, inner: Bytes) -> UserOperation {
    let key = NonceKey::regular(U256::ZERO, ENTITY, true, false).unwrap();
    let nonce = m.ep_nonce(a.address, key.full_key()).await;
    let mut op = m.op(a.address, nonce, inner);
    op.verification_gas_limit = 2_000_000;
    op
}

/// `0xFF ‖ r ‖ s`: WebCrypto's ECDSA(SHA-256) of the userOpHash, low s.
fn sign(m: &Mav2, key: &SigningKey, op: &UserOperation) -> (Signature, Bytes) {
    let hash = op.hash(m.h.ep, m.chain_id);
    let digest = Sha256::digest(hash.as_slice());
    let sig: Signature = key.sign_prehash(&digest).unwrap();
    let sig = sig.normalize_s().unwrap_or(sig);
    let bytes: Bytes = [&[0xffu8][..], &sig.to_bytes()[..]].concat().into();
    (sig, bytes)
}

/// Returns the gas of the first, valid operation.
async fn passkey_session_sends_calls_and_refuses_every_forgery(m: Mav2) -> u64 {
    let a = m.account(U256::from(ETH)).await;
    let key = SigningKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
    install(&m, &a, &key).await;
    let to = Address::with_last_byte(0x61);

    let mut op = passkey_op(&m, &a, execute(to, U256::from(7), Bytes::new())).await;
    let (sig, bytes) = sign(&m, &key, &op);
    op.signature = bytes;
    let receipt = m.send(op.clone()).await.success();
    assert_eq!(m.balance(to).await, U256::from(7));
    let gas = receipt.gas_used;

    // Another key.
    let other = SigningKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
    let mut forged = passkey_op(&m, &a, execute(to, U256::from(7), Bytes::new())).await;
    forged.signature = sign(&m, &other, &forged).1;
    m.send(forged.clone()).await.rejected_with("AA24", None);
    // The right key's signature of another operation (tampered value).
    let (_, good) = sign(&m, &key, &forged);
    forged.call_data = m.op(a.address, forged.nonce, execute(to, U256::from(8), Bytes::new())).call_data;
    forged.signature = good;
    m.send(forged.clone()).await.rejected_with("AA24", None);
    // The high-s twin of a valid signature (valid for plain ECDSA, refused here).
    let mut twin = passkey_op(&m, &a, execute(to, U256::from(7), Bytes::new())).await;
    let (low, _) = sign(&m, &key, &twin);
    let n = alloy::primitives::uint!(0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551_U256);
    let s_high = n - U256::from_be_slice(&low.s().to_bytes());
    let mut raw = vec![0xffu8];
    raw.extend_from_slice(&low.r().to_bytes());
    raw.extend_from_slice(&s_high.to_be_bytes::<32>());
    twin.signature = raw.into();
    m.send(twin.clone()).await.rejected_with("AA24", None);
    twin.signature = sign(&m, &key, &twin).1;
    m.send(twin).await.success();
    assert_eq!(m.balance(to).await, U256::from(14));
    let _ = sig;
    gas
}

#[tokio::test]
async fn passkey_on_the_embedded_chain() {
    passkey_session_sends_calls_and_refuses_every_forgery(Mav2::embedded().await).await;
}

#[tokio::test]
async fn passkey_on_anvil_with_and_without_the_precompile() {
    let solidity =
        passkey_session_sends_calls_and_refuses_every_forgery(Mav2::deploy(Harness::anvil().await).await).await;
    let precompile =
        passkey_session_sends_calls_and_refuses_every_forgery(Mav2::deploy(Harness::anvil_with("osaka").await).await)
            .await;
    // Osaka's P256VERIFY (RIP-7212 / EIP-7951) decides there: the Solidity verifier's ~0.8M gas is spared.
    assert!(precompile + 500_000 < solidity, "precompile {precompile} vs Solidity {solidity}");
}

#[tokio::test]
async fn a_point_off_the_curve_is_refused_at_install() {
    let m = Mav2::embedded().await;
    let a = m.account(U256::from(ETH)).await;
    let module = m.h.deploy(keyward_contracts::artifacts::p256_validation_module(), &[]).await;
    let install = InstallValidation {
        validation: ValidationConfig::new(module, ENTITY, true, false, true),
        selectors: vec![],
        install_data: (ENTITY, U256::from(1), U256::from(2)).abi_encode_params().into(),
        hooks: vec![],
    };
    m.owner_call_with_gas(&a, install.calldata(), 1_000_000).await.reverted();
    let _ = ModuleEntity::new(module, ENTITY);
}
