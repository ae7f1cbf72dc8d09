//! The non-semi-modular ModularAccount (account-formats.md §12.2): created by the factory with the
//! owner as a SingleSigner validation, driven by that validation's nonce key; `execute` and
//! `executeBatch`; no built-in fallback owner; a session key with hooks enforced like on the SMA.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes, U256};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolError};
use keyward_chain::ChainError;
use keyward_contracts::bindings::{AccountFactory, AllowlistModule, TestCounter};
use keyward_primitives::mav2::NonceKey;
use keyward_primitives::mav2::factory::SemiModularAccountInit;
use keyward_primitives::{FactoryInit, UserOperation};
use keyward_testkit::mav2::{
    INSTALL_CALL_GAS, Mav2, Session, SmaAccount, VERIFICATION_GAS_HEAVY, eth, execute, execute_batch, milli,
};
use serde_json::json;

alloy::sol!(ModularAccount, "../../contracts/artifacts/ModularAccount.json");

const OWNER_ENTITY: u32 = 1;

/// A ModularAccount of `owner` (counterfactual until its first op).
struct Ma {
    address: Address,
    owner: PrivateKeySigner,
    salt: U256,
}

impl Ma {
    /// The account as the SMA-shaped handle the shared session helpers take (they use only the
    /// address; the `init` is never used for a ModularAccount).
    fn handle(&self, m: &Mav2) -> SmaAccount {
        let init = SemiModularAccountInit { factory: m.factory, owner: self.owner.address(), salt: self.salt };
        SmaAccount { address: self.address, owner: self.owner.clone(), init }
    }
}

async fn counterfactual(m: &Mav2, fund: U256) -> Ma {
    let owner = PrivateKeySigner::random();
    let salt = U256::from(3);
    let address =
        m.h.read(m.factory, AccountFactory::getAddressCall { owner_: owner.address(), salt, entityId: OWNER_ENTITY })
            .await
            .unwrap();
    if fund > U256::ZERO {
        m.fund(address, fund).await;
    }
    Ma { address, owner, salt }
}

/// An owner op (the SingleSigner validation at OWNER_ENTITY, global) running `call`; carries the
/// factory call while the account is not deployed. Signed.
async fn owner_op(m: &Mav2, a: &Ma, call: Bytes) -> UserOperation {
    let key = NonceKey::regular(U256::ZERO, OWNER_ENTITY, true, false).unwrap();
    let nonce = m.ep_nonce(a.address, key.full_key()).await;
    let mut op = m.op(a.address, nonce, call);
    if !m.deployed(a.address).await {
        let data =
            AccountFactory::createAccountCall { owner_: a.owner.address(), salt: a.salt, entityId: OWNER_ENTITY }
                .abi_encode();
        op.factory = Some(FactoryInit { factory: m.factory, factory_data: data.into() });
        op.verification_gas_limit = VERIFICATION_GAS_HEAVY;
    }
    op.signature = m.ecdsa_user_op_signature(&a.owner, &op);
    op
}

async fn deployed(m: &Mav2, fund: U256) -> Ma {
    let a = counterfactual(m, fund).await;
    let r =
        m.h.transact(
            m.factory,
            AccountFactory::createAccountCall { owner_: a.owner.address(), salt: a.salt, entityId: OWNER_ENTITY },
            U256::ZERO,
        )
        .await;
    assert!(r.status());
    assert!(m.deployed(a.address).await);
    a
}

async fn install_session(m: &Mav2, a: &Ma, s: &Session) {
    let mut op = owner_op(m, a, s.compiled.calldata()).await;
    op.call_gas_limit = INSTALL_CALL_GAS;
    op.signature = m.ecdsa_user_op_signature(&a.owner, &op);
    m.send(op).await.success();
}

#[tokio::test]
async fn modular_account_is_created_and_initialized_by_its_first_op() {
    let m = Mav2::embedded().await;
    let a = counterfactual(&m, eth(1)).await;
    assert!(!m.deployed(a.address).await);
    let to = Address::repeat_byte(0x31);
    let op = owner_op(&m, &a, execute(to, milli(1), Bytes::new())).await;
    assert!(op.factory.is_some());
    m.send(op).await.success();
    assert!(m.deployed(a.address).await, "deployed at the predicted address");
    assert_eq!(m.balance(to).await, milli(1));
    assert_eq!(m.signer_of(OWNER_ENTITY, a.address).await, a.owner.address(), "owner installed at creation");
    let id = m.h.read(a.address, ModularAccount::accountIdCall {}).await.unwrap();
    assert_eq!(id, "keyward.modular-account.1.1.0");
    // The owner validation is global, user-op and signature capable (flags 0x07) with no hooks.
    let locator =
        keyward_primitives::mav2::ModuleEntity { module: m.modules.single_signer_validation, entity_id: OWNER_ENTITY };
    let d =
        m.h.read(a.address, ModularAccount::getValidationDataCall { validationFunction: locator.encode() })
            .await
            .unwrap();
    assert_eq!(d.validationFlags, 0x07);
    assert!(d.validationHooks.is_empty() && d.executionHooks.is_empty());
    // Calling the factory again returns the existing account and changes nothing.
    let again =
        m.h.read(
            m.factory,
            AccountFactory::createAccountCall { owner_: a.owner.address(), salt: a.salt, entityId: OWNER_ENTITY },
        )
        .await
        .unwrap();
    assert_eq!(again, a.address);
}

#[tokio::test]
async fn modular_account_owner_runs_execute_and_execute_batch() {
    let m = Mav2::embedded().await;
    let a = deployed(&m, eth(1)).await;
    let counter = m.h.counter().await;
    let to = Address::repeat_byte(0x32);
    m.send(owner_op(&m, &a, execute(to, milli(2), Bytes::new())).await).await.success();
    let count: Bytes = TestCounter::countCall {}.abi_encode().into();
    let batch = execute_batch(vec![
        (counter, U256::ZERO, count.clone()),
        (to, milli(3), Bytes::new()),
        (counter, U256::ZERO, count),
    ]);
    m.send(owner_op(&m, &a, batch).await).await.success();
    assert_eq!(m.balance(to).await, milli(5));
    let n = m.h.read(counter, TestCounter::countOfCall(a.address)).await.unwrap();
    assert_eq!(n, U256::from(2));
    // A batch is all or nothing: a failing call reverts the transfer before it.
    let fail: Bytes = TestCounter::failCall {}.abi_encode().into();
    let batch = execute_batch(vec![(to, milli(1), Bytes::new()), (counter, U256::ZERO, fail)]);
    m.send(owner_op(&m, &a, batch).await).await.reverted();
    assert_eq!(m.balance(to).await, milli(5));
    // Another key on the owner's nonce key: signature failure.
    let mut op = owner_op(&m, &a, execute(to, U256::from(1), Bytes::new())).await;
    op.signature = m.ecdsa_user_op_signature(&PrivateKeySigner::random(), &op);
    m.send(op).await.rejected_with("AA24", None);
}

#[tokio::test]
async fn modular_account_has_no_fallback_owner() {
    let m = Mav2::embedded().await;
    let a = deployed(&m, eth(1)).await;
    let to = Address::repeat_byte(0x33);
    // The SMA's fallback-owner nonce key (entity 0) selects nothing on a ModularAccount.
    let key = NonceKey::owner();
    let mut op = m.op(a.address, m.ep_nonce(a.address, key.full_key()).await, execute(to, U256::from(1), Bytes::new()));
    op.signature = m.ecdsa_user_op_signature(&a.owner, &op);
    let e = m.send(op).await.rejected();
    assert!(matches!(e.reason(), Some(r) if r.starts_with("AA23") || r.starts_with("AA24")), "{e:?}");
    // And the owner's EOA calling the account directly is not a validation either.
    let tx = TransactionRequest::default().with_from(a.owner.address()).with_to(a.address).with_input(execute(
        to,
        U256::from(1),
        Bytes::new(),
    ));
    match m.h.chain.call(tx, None).await {
        Err(ChainError::Reverted { .. }) => {}
        other => panic!("direct call by the owner EOA must revert, got {other:?}"),
    }
    assert_eq!(m.balance(to).await, U256::ZERO);
}

#[tokio::test]
async fn session_key_with_hooks_on_a_modular_account() {
    let m = Mav2::embedded().await;
    let a = deployed(&m, eth(1)).await;
    let handle = a.handle(&m);
    let to = Address::repeat_byte(0x34);
    let perms = json!([
        {"type": "native-token-transfer", "data": {"allowance": format!("{:#x}", milli(10))}},
        {"type": "gas-limit", "data": {"limit": format!("{:#x}", milli(50))}},
        {"type": "contract-access", "data": {"address": format!("{to:#x}")}},
    ]);
    let s = m.compile(&handle, 7, perms, m.now().await + 600).await;
    install_session(&m, &a, &s).await;
    assert_eq!(m.signer_of(7, a.address).await, s.key.address());
    // Inside the scope, then one wei beyond what is left.
    m.session_call(&handle, &s, &execute(to, milli(4), Bytes::new())).await.success();
    m.session_call(&handle, &s, &execute(to, milli(6) + U256::from(1), Bytes::new())).await.reverted();
    m.session_call(&handle, &s, &execute(to, milli(6), Bytes::new())).await.success();
    assert_eq!(m.balance(to).await, milli(10));
    // Another target: refused in validation by the allowlist hook.
    m.session_call(&handle, &s, &execute(Address::repeat_byte(0x35), U256::ZERO, Bytes::new()))
        .await
        .rejected_with("AA23", Some(AllowlistModule::AddressNotAllowed::SELECTOR));
    // The session cannot administer the account (not global, no selectors for it).
    let root = m.compile(&handle, 8, json!([{"type": "root"}]), 0).await;
    m.session_call(&handle, &s, &root.compiled.calldata())
        .await
        .rejected_with("AA23", Some(ModularAccount::ValidationFunctionMissing::SELECTOR));
    assert_eq!(m.signer_of(8, a.address).await, Address::ZERO);
    // Expired: refused (AA22) once the time range ends.
    m.advance(700).await;
    m.session_call(&handle, &s, &execute(to, U256::ZERO, Bytes::new())).await.rejected_with("AA22", None);
    // The owner uninstalls a session through its own validation; the key stops at once.
    let s2 =
        m.compile(&handle, 9, json!([{"type": "contract-access", "data": {"address": format!("{to:#x}")}}]), 0).await;
    install_session(&m, &a, &s2).await;
    m.session_call(&handle, &s2, &execute(to, U256::ZERO, Bytes::new())).await.success();
    let uninstall = s2.compiled.uninstall(&m.modules).calldata();
    let mut op = owner_op(&m, &a, uninstall).await;
    op.call_gas_limit = INSTALL_CALL_GAS;
    op.signature = m.ecdsa_user_op_signature(&a.owner, &op);
    m.send(op).await.success();
    let e = m.session_call(&handle, &s2, &execute(to, U256::ZERO, Bytes::new())).await.rejected();
    assert!(matches!(e.reason(), Some(r) if r.starts_with("AA23") || r.starts_with("AA24")), "{e:?}");
    assert_eq!(m.signer_of(9, a.address).await, Address::ZERO);
}

#[tokio::test]
async fn deferred_session_install_granted_by_the_modular_owner_validation() {
    use alloy::signers::SignerSync;
    use keyward_primitives::mav2::signature::eoa_validation_data;
    use keyward_primitives::mav2::{DeferredAction, DeferredActionPrefix, ReplaySafeDomain, ValidationLocator};

    let m = Mav2::embedded().await;
    let a = deployed(&m, eth(1)).await;
    let handle = a.handle(&m);
    let to = Address::repeat_byte(0x36);
    let perms = json!([
        {"type": "native-token-transfer", "data": {"allowance": format!("{:#x}", milli(3))}},
        {"type": "contract-access", "data": {"address": format!("{to:#x}")}},
    ]);
    let s = m.compile(&handle, 12, perms, 0).await;
    let nonce = s.nonce_key(true).nonce(0);
    let digest = DeferredAction::build(nonce, 0, s.compiled.calldata()).unwrap().digest(m.chain_id, a.address);
    let grant = |signed: alloy::primitives::B256| DeferredActionPrefix {
        inner_locator: ValidationLocator::regular(OWNER_ENTITY, true, false),
        deadline: 0,
        call: s.compiled.calldata(),
        deferred_signature: eoa_validation_data(&a.owner.sign_hash_sync(&signed).unwrap()),
    };
    let inner = execute(to, milli(2), Bytes::new());
    // The module validation verifies a ReplaySafeHash in its own domain: the bare digest (what an
    // SMA owner signs) is refused.
    let bare = grant(digest);
    let op = m.deferred_op_with(&handle, &s, &inner, nonce, &bare).await;
    m.send(op).await.rejected_with("AA23", Some(ModularAccount::DeferredActionSignatureInvalid::SELECTOR));
    let domain = ReplaySafeDomain::Module {
        chain_id: m.chain_id,
        module: m.modules.single_signer_validation,
        account: a.address,
    };
    let wrapped = grant(domain.replay_safe_hash(digest));
    let op = m.deferred_op_with(&handle, &s, &inner, nonce, &wrapped).await;
    m.send(op).await.success();
    assert_eq!(m.signer_of(12, a.address).await, s.key.address());
    assert_eq!(m.balance(to).await, milli(2));
    // Installed with its limits: 1 mETH left, one wei more is refused.
    m.session_call(&handle, &s, &execute(to, milli(1) + U256::from(1), Bytes::new())).await.reverted();
    m.session_call(&handle, &s, &execute(to, milli(1), Bytes::new())).await.success();
}
