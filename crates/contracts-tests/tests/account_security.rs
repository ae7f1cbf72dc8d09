//! What a non-root session key can never do, and one test per testable audit lesson of
//! account-formats.md §13 (named `rNN_…`).

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolError, SolValue};
use keyward_contracts::bindings::{
    AllowlistModule, NativeTokenLimitModule, PaymasterGuardModule, SemiModularAccountBytecode as Sma,
    SingleSignerValidationModule, TestToken, TimeRangeModule,
};
use keyward_primitives::entry_point::IEntryPoint;
use keyward_primitives::mav2::abi::{AllowlistInput, IModuleSetters};
use keyward_primitives::mav2::modules::{allow_target, entity_uninstall_data, single_signer_install_data};
use keyward_primitives::mav2::signature::{
    DUMMY_USER_OP_SIGNATURE, eoa_user_op_signature, eoa_validation_data, locator_prefixed_signature,
    user_op_signing_hash,
};
use keyward_primitives::mav2::{
    HookConfig, HookInstall, InstallValidation, NonceKey, ReplaySafeDomain, ValidationConfig, ValidationLocator,
};
use keyward_testkit::mav2::{Mav2, Session, SmaAccount, contains, eth, execute, execute_batch, milli, native_to};
use serde_json::{Value, json};

fn access(to: Address) -> Value {
    json!([{"type": "contract-access", "data": {"address": format!("{to:#x}")}}])
}

/// A scoped session with execution hooks (callData prefixed with executeUserOp) and one without.
async fn two_sessions(m: &Mav2, a: &SmaAccount, to: Address) -> [Session; 2] {
    [m.session(a, 40, native_to(milli(100), to), 0).await, m.session(a, 41, access(to), 0).await]
}

const MISSING: [u8; 4] = Sma::ValidationFunctionMissing::SELECTOR;
const RECURSION: [u8; 4] = Sma::SelfCallRecursionDepthExceeded::SELECTOR;
const TARGET: [u8; 4] = Sma::TargetNotAllowed::SELECTOR;

// ------------------------------------------------------------------ what a non-root session cannot reach

#[tokio::test]
async fn non_root_session_cannot_reach_account_administration() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let to = Address::with_last_byte(0x51);
    let sessions = two_sessions(&m, &a, to).await;
    let root = m.compile(&a, 42, json!([{"type": "root"}]), 0).await;
    let admin: Vec<Bytes> = vec![
        root.compiled.calldata(),
        sessions[0].compiled.uninstall(&m.modules).calldata(),
        Sma::upgradeToAndCallCall { newImplementation: m.sma_impl, data: Bytes::new() }.abi_encode().into(),
        Sma::performCreateCall {
            value: U256::ZERO,
            initCode: Bytes::from(vec![0x00]),
            isCreate2: false,
            salt: B256::ZERO,
        }
        .abi_encode()
        .into(),
        Sma::updateFallbackSignerDataCall { fallbackSigner: Address::with_last_byte(1), isDisabled: false }
            .abi_encode()
            .into(),
    ];
    for s in &sessions {
        for call in &admin {
            m.session_call(&a, s, call).await.rejected_with("AA23", Some(MISSING));
        }
        // The same, smuggled as a self-call in executeBatch.
        for call in &admin {
            let batch = execute_batch(vec![(to, U256::ZERO, Bytes::new()), (a.address, U256::ZERO, call.clone())]);
            m.session_call(&a, s, &batch).await.rejected_with("AA23", Some(MISSING));
        }
        // execute on the account itself, and nested execute/executeBatch self-calls.
        m.session_call(&a, s, &execute(a.address, U256::ZERO, root.compiled.calldata()))
            .await
            .rejected_with("AA23", Some(RECURSION));
        let nested = execute_batch(vec![(a.address, U256::ZERO, execute(to, U256::ZERO, Bytes::new()))]);
        m.session_call(&a, s, &nested).await.rejected_with("AA23", Some(RECURSION));
    }
    // Still scoped: the sessions' own validation is unchanged and no new one appeared.
    let flags =
        m.h.read(
            a.address,
            Sma::getValidationDataCall { validationFunction: root.compiled.install.validation.entity.encode() },
        )
        .await
        .unwrap()
        .validationFlags;
    assert_eq!(flags, 0);
}

#[tokio::test]
async fn r18_session_cannot_target_modules_or_the_entry_point() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let to = Address::with_last_byte(0x52);
    let sessions = two_sessions(&m, &a, to).await;
    let raise: Bytes = IModuleSetters::updateLimits_0Call { entityId: 40, newLimit: U256::MAX }.abi_encode().into();
    let signer: Bytes =
        IModuleSetters::transferSignerCall { entityId: 40, newSigner: Address::with_last_byte(9) }.abi_encode().into();
    let allow: Bytes =
        IModuleSetters::updateAllowlistCall { entityId: 40, inputs: vec![allow_target(Address::with_last_byte(9))] }
            .abi_encode()
            .into();
    let withdraw: Bytes =
        IEntryPoint::withdrawToCall { withdrawAddress: Address::with_last_byte(9), withdrawAmount: U256::from(1) }
            .abi_encode()
            .into();
    let nonce: Bytes = IEntryPoint::incrementNonceCall { key: Default::default() }.abi_encode().into();
    for s in &sessions {
        for (target, data) in [
            (m.modules.native_token_limit, raise.clone()),
            (m.modules.single_signer_validation, signer.clone()),
            (m.modules.allowlist, allow.clone()),
            (m.h.ep, withdraw.clone()),
            (m.h.ep, nonce.clone()),
        ] {
            m.session_call(&a, s, &execute(target, U256::ZERO, data.clone())).await.rejected_with("AA23", Some(TARGET));
            let batch = execute_batch(vec![(to, U256::ZERO, Bytes::new()), (target, U256::ZERO, data)]);
            m.session_call(&a, s, &batch).await.rejected_with("AA23", Some(TARGET));
        }
    }
    // Even an allowlist that names a module (the compiler refuses it; built by hand here).
    let mut s = m.compile(&a, 43, access(to), 0).await;
    let last = s.compiled.install.hooks.len() - 1;
    s.compiled.install.hooks[last] =
        HookInstall::allowlist_validation(&m.modules, 43, &[allow_target(m.modules.native_token_limit)]).unwrap();
    m.install(&a, &s).await;
    let raise43: Bytes = IModuleSetters::updateLimits_0Call { entityId: 43, newLimit: U256::MAX }.abi_encode().into();
    m.session_call(&a, &s, &execute(m.modules.native_token_limit, U256::ZERO, raise43))
        .await
        .rejected_with("AA23", Some(TARGET));
    // The compiler refuses module and EntryPoint targets up front.
    for target in [m.modules.allowlist, m.h.ep] {
        let req = keyward_primitives::mav2::SessionRequest {
            account: a.address,
            session_key: Address::with_last_byte(1),
            entity_id: 44,
            permissions: keyward_testkit::mav2::permissions(access(target)),
            expiry_sec: 0,
        };
        assert!(m.compiler().compile(&req, 0).is_err());
    }
}

// ------------------------------------------------------------------ audit lessons

/// Installs SingleSigner at `entity` with explicit flags and selectors, no hooks; returns its key.
async fn install_plain_validation(
    m: &Mav2,
    a: &SmaAccount,
    entity: u32,
    is_global: bool,
    is_sig: bool,
    selectors: Vec<[u8; 4]>,
    signer: Address,
) {
    let install = InstallValidation {
        validation: ValidationConfig::new(m.modules.single_signer_validation, entity, is_global, is_sig, true),
        selectors: selectors.into_iter().map(Into::into).collect(),
        install_data: single_signer_install_data(entity, signer),
        hooks: vec![],
    };
    m.owner_call_with_gas(a, install.calldata(), keyward_testkit::mav2::INSTALL_CALL_GAS).await.success();
}

#[tokio::test]
async fn r1_deferred_granter_must_cover_batch_self_calls() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let to = Address::with_last_byte(0x53);
    // Granter G: ERC-1271-capable, scoped to `execute` only.
    let g = PrivateKeySigner::random();
    install_plain_validation(&m, &a, 30, false, true, vec![Sma::executeCall::SELECTOR], g.address()).await;
    let g_sign = |nonce: U256, call: Bytes| {
        let action = keyward_primitives::mav2::DeferredAction::build(nonce, 0, call.clone()).unwrap();
        let digest = action.digest(m.chain_id, a.address);
        let wrapped = ReplaySafeDomain::Module {
            chain_id: m.chain_id,
            module: m.modules.single_signer_validation,
            account: a.address,
        }
        .replay_safe_hash(digest);
        keyward_primitives::mav2::DeferredActionPrefix {
            inner_locator: ValidationLocator::regular(30, false, false),
            deadline: 0,
            call,
            deferred_signature: eoa_validation_data(&g.sign_hash_sync(&wrapped).unwrap()),
        }
    };
    let g_op = |nonce: U256, prefix: keyward_primitives::mav2::DeferredActionPrefix| {
        let mut op = m.op(a.address, nonce, execute(to, U256::ZERO, Bytes::new()));
        op.verification_gas_limit = keyward_testkit::mav2::VERIFICATION_GAS_HEAVY;
        let outer = m.ecdsa_user_op_signature(&g, &op);
        op.signature = prefix.user_op_signature(&outer).unwrap();
        op
    };
    let key = NonceKey::regular(U256::ZERO, 30, false, true).unwrap();
    // Control: G may grant a call inside its scope (execute to a plain address).
    let nonce = key.nonce(0);
    m.send(g_op(nonce, g_sign(nonce, execute(to, milli(1), Bytes::new())))).await.success();
    assert_eq!(m.balance(to).await, milli(1));
    // But not an installValidation hidden as a batch self-call.
    let session = m.compile(&a, 31, json!([{"type": "root"}]), 0).await;
    let batch = execute_batch(vec![(a.address, U256::ZERO, session.compiled.calldata())]);
    let nonce = key.nonce(1);
    m.send(g_op(nonce, g_sign(nonce, batch))).await.rejected_with("AA23", Some(MISSING));
}

#[tokio::test]
async fn r2_session_with_execution_hooks_requires_the_execute_user_op_context() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let to = Address::with_last_byte(0x54);
    let s = m.session(&a, 45, native_to(milli(10), to), 0).await;
    assert!(s.compiled.has_execution_hooks());
    // Without the 0x8dd7712f prefix the account could not tell which hooks to run: refused.
    let mut op = m.session_op(&a, &s, &[]).await;
    op.call_data = execute(to, milli(20), Bytes::new());
    m.sign_session(&s, &mut op);
    m.send(op).await.rejected_with("AA23", Some(Sma::RequireUserOperationContext::SELECTOR));
    // With it, the hooks of the nonce's validation run (and refuse 20 mETH over a 10 mETH limit).
    m.session_call(&a, &s, &execute(to, milli(20), Bytes::new()))
        .await
        .reverted_with(NativeTokenLimitModule::ExceededNativeTokenLimit::SELECTOR);
}

#[tokio::test]
async fn r3_validation_with_validation_hooks_cannot_grant_deferred_actions() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let to = Address::with_last_byte(0x55);
    attach_owner_validation_hook(&m, &a).await;
    m.owner_call(&a, execute(to, milli(1), Bytes::new())).await.success(); // the owner still works
    owner_grant_is_refused(&m, &a, 46, to).await;
}

/// Attaches a validation hook (an open time range) to the owner (entity 0).
async fn attach_owner_validation_hook(m: &Mav2, a: &SmaAccount) {
    let tr = HookInstall::time_range(&m.modules, 0x7000_0000, m.now().await + 86_400, 0).unwrap();
    let install = InstallValidation {
        validation: ValidationConfig::new(Address::ZERO, 0, true, true, true),
        selectors: vec![],
        install_data: Bytes::new(),
        hooks: vec![tr],
    };
    m.owner_call_with_gas(a, install.calldata(), keyward_testkit::mav2::INSTALL_CALL_GAS).await.success();
}

/// A deferred session grant by the owner (entity `entity`, native spend to `to`) is refused
/// because the owner's validation has validation hooks.
async fn owner_grant_is_refused(m: &Mav2, a: &SmaAccount, entity: u32, to: Address) {
    let s = m.compile(a, entity, native_to(milli(10), to), 0).await;
    let op = m.deferred_session_op(a, &s, &execute(to, milli(1), Bytes::new())).await;
    m.send(op).await.rejected_with("AA23", Some(Sma::DeferredValidationHasValidationHooks::SELECTOR));
}

/// Uninstalling an entity id under module 0 that was never installed names an empty record: it
/// must not clear the owner's record flag, which would hide the owner's hooks (and so let the owner,
/// hooks and all, grant deferred actions again). Found in review of the gas work.
#[tokio::test]
async fn uninstalling_an_empty_fallback_entity_keeps_the_owners_hooks() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let to = Address::with_last_byte(0x56);
    attach_owner_validation_hook(&m, &a).await;
    let empty = keyward_primitives::mav2::UninstallValidation {
        validation: keyward_primitives::mav2::ModuleEntity::new(Address::ZERO, 7),
        ..Default::default()
    };
    m.owner_call(&a, empty.calldata()).await.success();
    // The owner's validation hook is still there: a deferred grant by the owner is still refused.
    owner_grant_is_refused(&m, &a, 47, to).await;
}

#[tokio::test]
async fn r4_every_state_changing_native_function_is_in_the_global_pool() {
    let m = Mav2::embedded().await;
    let a = m.account(U256::ZERO).await;
    for sel in [
        Sma::executeCall::SELECTOR,
        Sma::executeBatchCall::SELECTOR,
        Sma::executeUserOpCall::SELECTOR,
        Sma::executeWithRuntimeValidationCall::SELECTOR,
        Sma::installValidationCall::SELECTOR,
        Sma::uninstallValidationCall::SELECTOR,
        Sma::installExecutionCall::SELECTOR,
        Sma::uninstallExecutionCall::SELECTOR,
        Sma::performCreateCall::SELECTOR,
        Sma::upgradeToAndCallCall::SELECTOR,
        Sma::updateFallbackSignerDataCall::SELECTOR,
    ] {
        let d = m.h.read(a.address, Sma::getExecutionDataCall { selector: sel.into() }).await.unwrap();
        assert!(d.allowGlobalValidation, "0x{} not in the global pool", alloy::hex::encode(sel));
        assert_eq!(d.module, a.address);
    }
    // Views are native but not validation-callable.
    let d =
        m.h.read(a.address, Sma::getExecutionDataCall { selector: Sma::accountIdCall::SELECTOR.into() }).await.unwrap();
    assert!(!d.allowGlobalValidation);
}

#[tokio::test]
async fn r5_time_range_rejects_empty_and_inverted_ranges() {
    let m = Mav2::embedded().await;
    let from = Address::with_last_byte(0x42);
    let set = |until: u64, after: u64| -> Bytes {
        TimeRangeModule::setTimeRangeCall {
            entityId: 1,
            validUntil: alloy::primitives::aliases::U48::from(until),
            validAfter: alloy::primitives::aliases::U48::from(after),
        }
        .abi_encode()
        .into()
    };
    let bad = TimeRangeModule::TimeRangeNotValid::SELECTOR;
    for (until, after) in [(0, 0), (100, 200), (200, 200)] {
        let e = m.eth_call_from(from, m.modules.time_range, set(until, after)).await.unwrap_err();
        assert!(e.starts_with(&bad), "({until},{after}) → {e}");
    }
    assert!(m.eth_call_from(from, m.modules.time_range, set(200, 100)).await.is_ok());
    assert!(m.eth_call_from(from, m.modules.time_range, set(0, 100)).await.is_ok(), "open end");
}

#[tokio::test]
async fn r6_paymaster_guard_rejects_a_zero_paymaster_at_install_and_at_check() {
    let m = Mav2::embedded().await;
    let install: Bytes = PaymasterGuardModule::onInstallCall { data: (1u32, Address::ZERO).abi_encode_params().into() }
        .abi_encode()
        .into();
    let e = m.eth_call_from(Address::with_last_byte(0x42), m.modules.paymaster_guard, install).await.unwrap_err();
    assert!(e.starts_with(&PaymasterGuardModule::InvalidPaymaster::SELECTOR));
    // At check time: a session guarded by a real paymaster sends an op with paymaster 0.
    let a = m.account(eth(1)).await;
    let to = Address::with_last_byte(0x56);
    let pm = m.test_paymaster().await;
    let s = m.with_paymaster_guard(m.compile(&a, 47, native_to(milli(10), to), 0).await, pm);
    m.install(&a, &s).await;
    let mut op = m.session_op(&a, &s, &execute(to, U256::ZERO, Bytes::new())).await;
    op.paymaster = Some(m.paymaster(Address::ZERO));
    m.sign_session(&s, &mut op);
    let e = m.send(op).await.rejected();
    assert!(e.reason().unwrap().starts_with("AA"), "{e:?}");
    if let keyward_testkit::EpError::FailedOpWithRevert { inner, .. } = &e {
        assert!(contains(inner, &PaymasterGuardModule::InvalidPaymaster::SELECTOR), "{e:?}");
    }
}

#[tokio::test]
async fn r9_hooks_refuse_per_hook_data_and_segments_must_be_canonical() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let to = Address::with_last_byte(0x57);
    let s = m.session(&a, 48, native_to(milli(10), to), m.now().await + 86_400).await;
    let send_with_sig = |prefix: Vec<u8>| {
        let (m, a, s) = (&m, &a, &s);
        async move {
            let mut op = m.session_op(a, s, &execute(to, U256::ZERO, Bytes::new())).await;
            let sig = s.key.sign_hash_sync(&user_op_signing_hash(op.hash(m.h.ep, m.chain_id))).unwrap();
            let tail = eoa_user_op_signature(&sig); // 0xFF 0x00 r s v
            op.signature = [prefix, tail.to_vec()].concat().into();
            m.send(op).await
        }
    };
    // Segment for hook 0 (time range) with one byte of data.
    send_with_sig(vec![0x00, 0, 0, 0, 1, 0xaa])
        .await
        .rejected_with("AA23", Some(TimeRangeModule::UnexpectedDataPassed::SELECTOR));
    // Segment for hook 1 (allowlist) likewise.
    send_with_sig(vec![0x01, 0, 0, 0, 1, 0xaa])
        .await
        .rejected_with("AA23", Some(AllowlistModule::UnexpectedDataPassed::SELECTOR));
    // Empty segment: non-canonical.
    send_with_sig(vec![0x00, 0, 0, 0, 0]).await.rejected_with("AA23", Some(Sma::NonCanonicalEncoding::SELECTOR));
    // Out of order.
    send_with_sig(vec![0x01, 0, 0, 0, 1, 0xaa, 0x00, 0, 0, 0, 1, 0xaa])
        .await
        .rejected_with("AA23", Some(Sma::SegmentOutOfOrder::SELECTOR));
    send_with_sig(vec![]).await.success();
}

#[tokio::test]
async fn r10_spend_limited_token_allows_only_transfer_and_approve_in_execution() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let token = m.token(a.address, U256::from(1000)).await;
    let mut s = m
        .compile(
            &a,
            49,
            json!([{"type": "erc20-token-transfer", "data": {"address": format!("{token:#x}"), "allowance": "0x64"}}]),
            0,
        )
        .await;
    // Widen the validation allowlist to any call on the token, so only the execution hook stands.
    let last = s.compiled.install.hooks.len() - 1;
    s.compiled.install.hooks[last] = HookInstall::allowlist_validation(&m.modules, 49, &[allow_target(token)]).unwrap();
    m.install(&a, &s).await;
    let spender = Address::with_last_byte(0x58);
    let tf: Bytes =
        TestToken::transferFromCall { from: a.address, to: spender, amount: U256::from(1) }.abi_encode().into();
    m.session_call(&a, &s, &execute(token, U256::ZERO, tf))
        .await
        .reverted_with(AllowlistModule::SelectorNotAllowed::SELECTOR);
    // increaseAllowance(address,uint256) 0x39509351 with a well-formed body.
    let inc: Bytes = [&[0x39, 0x50, 0x93, 0x51][..], &(spender, U256::from(1)).abi_encode_params()].concat().into();
    m.session_call(&a, &s, &execute(token, U256::ZERO, inc))
        .await
        .reverted_with(AllowlistModule::SelectorNotAllowed::SELECTOR);
    m.session_call(&a, &s, &execute(token, U256::ZERO, Bytes::from(vec![0xa9, 0x05, 0x9c, 0xbb])))
        .await
        .reverted_with(AllowlistModule::InvalidCalldataLength::SELECTOR);
    let ok: Bytes = TestToken::transferCall { to: spender, amount: U256::from(100) }.abi_encode().into();
    m.session_call(&a, &s, &execute(token, U256::ZERO, ok)).await.success();
}

#[tokio::test]
async fn r11_erc1271_signature_is_bound_to_the_account() {
    let m = Mav2::embedded().await;
    let a = m.account(U256::ZERO).await;
    let b = m.account_of(a.owner.clone(), U256::from(1), U256::ZERO).await;
    let hash = B256::repeat_byte(0x11);
    let digest = ReplaySafeDomain::Account { chain_id: m.chain_id, account: a.address }.replay_safe_hash(hash);
    let sig = a.owner.sign_hash_sync(&digest).unwrap();
    let full =
        locator_prefixed_signature(&ValidationLocator::regular(0, false, false), &[], &eoa_validation_data(&sig))
            .unwrap();
    let on = |acct: Address| m.h.read(acct, Sma::isValidSignatureCall { hash, signature: full.clone() });
    assert_eq!(on(a.address).await.unwrap(), [0x16, 0x26, 0xba, 0x7e]);
    assert_eq!(on(b.address).await.unwrap(), [0xff, 0xff, 0xff, 0xff], "same owner, other account");
    // Nor does a raw signature of the hash pass.
    let raw = a.owner.sign_hash_sync(&hash).unwrap();
    let raw = locator_prefixed_signature(&ValidationLocator::regular(0, false, false), &[], &eoa_validation_data(&raw))
        .unwrap();
    assert_eq!(
        m.h.read(a.address, Sma::isValidSignatureCall { hash, signature: raw }).await.unwrap(),
        [0xff, 0xff, 0xff, 0xff]
    );
}

#[tokio::test]
async fn r12_contract_owner_signature_by_the_account_itself_is_refused() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let to = Address::with_last_byte(0x59);
    // A validation whose "signer" is the account itself (sigType 0x01 → account.isValidSignature).
    install_plain_validation(&m, &a, 50, false, false, vec![Sma::executeCall::SELECTOR], a.address).await;
    let key = NonceKey::regular(U256::ZERO, 50, false, false).unwrap();
    let mut op = m.op(a.address, m.ep_nonce(a.address, key.full_key()).await, execute(to, milli(1), Bytes::new()));
    let digest = user_op_signing_hash(op.hash(m.h.ep, m.chain_id));
    // A payload the account's own isValidSignature accepts (owner's 1271 signature)...
    let inner = a
        .owner
        .sign_hash_sync(
            &ReplaySafeDomain::Account { chain_id: m.chain_id, account: a.address }.replay_safe_hash(digest),
        )
        .unwrap();
    let payload =
        locator_prefixed_signature(&ValidationLocator::regular(0, false, false), &[], &eoa_validation_data(&inner))
            .unwrap();
    let magic =
        m.h.read(a.address, Sma::isValidSignatureCall { hash: digest, signature: payload.clone() }).await.unwrap();
    assert_eq!(magic, [0x16, 0x26, 0xba, 0x7e], "control: the account accepts the payload");
    // ...is still refused as the signature of a validation whose signer is the account.
    op.signature = [&[0xff, 0x01][..], &payload].concat().into();
    m.send(op).await.rejected_with("AA24", None);
    assert_eq!(m.balance(to).await, U256::ZERO);
}

#[tokio::test]
async fn r13_allowlist_hook_unwraps_execute_user_op() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let allowed = Address::with_last_byte(0x5a);
    let s = m.session(&a, 51, native_to(milli(10), allowed), 0).await;
    let call_data = m.session_call_data(&s, &execute(Address::with_last_byte(0x5b), U256::ZERO, Bytes::new()));
    assert_eq!(&call_data[..4], &[0x8d, 0xd7, 0x71, 0x2f], "the op's outer selector is executeUserOp");
    m.session_call(&a, &s, &execute(Address::with_last_byte(0x5b), U256::ZERO, Bytes::new()))
        .await
        .rejected_with("AA23", Some(AllowlistModule::AddressNotAllowed::SELECTOR));
    m.session_call(&a, &s, &execute(allowed, U256::ZERO, Bytes::new())).await.success();
    // The runtime path unwraps too (module-level check with a wrapped call).
    let wrapped =
        [&[0x8d, 0xd7, 0x71, 0x2f][..], &execute(Address::with_last_byte(0x5b), U256::ZERO, Bytes::new())].concat();
    let probe: Bytes = AllowlistModule::preRuntimeValidationHookCall {
        entityId: 51,
        _1: Address::ZERO,
        _2: U256::ZERO,
        data: wrapped.into(),
        auth: Bytes::new(),
    }
    .abi_encode()
    .into();
    let e = m.eth_call_from(a.address, m.modules.allowlist, probe).await.unwrap_err();
    assert!(e.starts_with(&AllowlistModule::AddressNotAllowed::SELECTOR));
}

#[tokio::test]
async fn r14_time_range_fails_closed_for_an_unconfigured_entity() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let to = Address::with_last_byte(0x5c);
    let mut s = m.compile(&a, 52, native_to(milli(10), to), 0).await;
    // A time-range hook installed without data: nothing stored for the id.
    s.compiled.install.hooks.insert(
        0,
        HookInstall { config: HookConfig::bare_validation_hook(m.modules.time_range, 52), install_data: Bytes::new() },
    );
    m.install(&a, &s).await;
    m.session_call(&a, &s, &execute(to, U256::ZERO, Bytes::new()))
        .await
        .rejected_with("AA23", Some(TimeRangeModule::TimeRangeNotValid::SELECTOR));
}

#[tokio::test]
async fn r15_gas_and_value_budgets_of_one_session_are_separate() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let to = Address::with_last_byte(0x5d);
    let gas_budget = milli(100);
    let s = m
        .session(
            &a,
            53,
            json!([{"type": "native-token-transfer", "data": {"allowance": format!("{:#x}", milli(50))}},
                   {"type": "gas-limit", "data": {"limit": format!("{gas_budget:#x}")}},
                   {"type": "contract-access", "data": {"address": format!("{to:#x}")}}]),
            0,
        )
        .await;
    let mut op = m.session_op(&a, &s, &execute(to, milli(20), Bytes::new())).await;
    m.sign_session(&s, &mut op);
    let cost = (op.pre_verification_gas + U256::from(op.verification_gas_limit + op.call_gas_limit))
        * U256::from(op.max_fee_per_gas);
    m.send(op).await.success();
    let limit = |e: u32| {
        m.h.read(
            m.modules.native_token_limit,
            NativeTokenLimitModule::limitsCall { entityId: U256::from(e), account: a.address },
        )
    };
    assert_eq!(limit(53).await.unwrap(), milli(30), "value budget: only the 20 mETH sent");
    assert_eq!(limit(53 + 0x7fff_ffff).await.unwrap(), gas_budget - cost, "gas budget: only the gas");
}

#[tokio::test]
async fn r16_non_root_session_is_never_global() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let to = Address::with_last_byte(0x5e);
    let s = m.session(&a, 54, native_to(milli(10), to), 0).await;
    let d =
        m.h.read(
            a.address,
            Sma::getValidationDataCall { validationFunction: s.compiled.install.validation.entity.encode() },
        )
        .await
        .unwrap();
    assert_eq!(d.validationFlags, 0x01);
    // Claiming the global bit in the nonce does not help.
    let key = NonceKey::regular(U256::ZERO, 54, true, false).unwrap();
    let mut op = m.op(
        a.address,
        m.ep_nonce(a.address, key.full_key()).await,
        m.session_call_data(&s, &execute(to, U256::ZERO, Bytes::new())),
    );
    m.sign_session(&s, &mut op);
    m.send(op).await.rejected_with("AA23", Some(MISSING));
}

#[tokio::test]
async fn r17_session_has_no_erc1271_and_cannot_grant_deferred_actions() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let to = Address::with_last_byte(0x5f);
    let s = m.session(&a, 55, native_to(milli(10), to), 0).await;
    let hash = B256::repeat_byte(0x22);
    let digest = ReplaySafeDomain::Module {
        chain_id: m.chain_id,
        module: m.modules.single_signer_validation,
        account: a.address,
    }
    .replay_safe_hash(hash);
    let sig = s.key.sign_hash_sync(&digest).unwrap();
    let full =
        locator_prefixed_signature(&ValidationLocator::regular(55, false, false), &[], &eoa_validation_data(&sig))
            .unwrap();
    let call: Bytes = Sma::isValidSignatureCall { hash, signature: full }.abi_encode().into();
    let e = m.eth_call_from(Address::with_last_byte(1), a.address, call).await.unwrap_err();
    assert!(e.starts_with(&Sma::SignatureValidationInvalid::SELECTOR), "{e}");
    // As a deferred granter (inner locator = the session) for another session.
    let other = m.compile(&a, 56, json!([{"type": "root"}]), 0).await;
    let nonce = other.nonce_key(true).nonce(0);
    let action = keyward_primitives::mav2::DeferredAction::build(nonce, 0, other.compiled.calldata()).unwrap();
    let d = ReplaySafeDomain::Module {
        chain_id: m.chain_id,
        module: m.modules.single_signer_validation,
        account: a.address,
    }
    .replay_safe_hash(action.digest(m.chain_id, a.address));
    let prefix = keyward_primitives::mav2::DeferredActionPrefix {
        inner_locator: ValidationLocator::regular(55, false, false),
        deadline: 0,
        call: other.compiled.calldata(),
        deferred_signature: eoa_validation_data(&s.key.sign_hash_sync(&d).unwrap()),
    };
    let op = m.deferred_op_with(&a, &other, &execute(to, U256::ZERO, Bytes::new()), nonce, &prefix).await;
    let e = m.send(op).await.rejected();
    let keyward_testkit::EpError::FailedOpWithRevert { inner, .. } = &e else { panic!("{e:?}") };
    // The session has validation hooks, is scoped (no installValidation) and lacks the 1271 flag:
    // the first of these checks (hooks, R3) already refuses.
    assert!(
        contains(inner, &Sma::DeferredValidationHasValidationHooks::SELECTOR)
            || contains(inner, &MISSING)
            || contains(inner, &Sma::SignatureValidationInvalid::SELECTOR),
        "{e:?}"
    );
    assert_eq!(
        m.h.read(
            m.modules.single_signer_validation,
            SingleSignerValidationModule::signersCall { entityId: 56, account: a.address }
        )
        .await
        .unwrap(),
        Address::ZERO
    );
}

#[tokio::test]
async fn r19_runtime_path_enforces_the_same_permissions() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let to = Address::with_last_byte(0x60);
    let s = m.session(&a, 57, native_to(milli(10), to), 0).await;
    m.fund(s.key.address(), eth(1)).await;
    let auth = locator_prefixed_signature(&ValidationLocator::regular(57, false, false), &[], &[]).unwrap();
    let rt = |data: Bytes| -> Bytes {
        Sma::executeWithRuntimeValidationCall { data, authorization: auth.clone() }.abi_encode().into()
    };
    // Out of scope (target), over the limit, and an admin call: all refused.
    let e = m
        .eth_call_from(s.key.address(), a.address, rt(execute(Address::with_last_byte(0x61), U256::ZERO, Bytes::new())))
        .await
        .unwrap_err();
    assert!(contains(&e, &AllowlistModule::AddressNotAllowed::SELECTOR), "{e}");
    let e = m.eth_call_from(s.key.address(), a.address, rt(execute(to, milli(11), Bytes::new()))).await.unwrap_err();
    assert!(contains(&e, &NativeTokenLimitModule::ExceededNativeTokenLimit::SELECTOR), "{e}");
    let e =
        m.eth_call_from(s.key.address(), a.address, rt(s.compiled.uninstall(&m.modules).calldata())).await.unwrap_err();
    assert!(contains(&e, &MISSING), "{e}");
    // Someone else cannot use the session's runtime validation.
    let e = m
        .eth_call_from(Address::with_last_byte(0x62), a.address, rt(execute(to, U256::ZERO, Bytes::new())))
        .await
        .unwrap_err();
    assert!(contains(&e, &SingleSignerValidationModule::NotAuthorized::SELECTOR), "{e}");
    // In scope: sent as a transaction by the session key, charged against the same budget.
    let tx = TransactionRequest::default().with_to(a.address).with_input(rt(execute(to, milli(4), Bytes::new())));
    assert!(m.h.send_tx(&s.key, tx).await.unwrap().status());
    assert_eq!(m.balance(to).await, milli(4));
    let left =
        m.h.read(
            m.modules.native_token_limit,
            NativeTokenLimitModule::limitsCall { entityId: U256::from(57), account: a.address },
        )
        .await
        .unwrap();
    assert_eq!(left, milli(6));
}

#[tokio::test]
async fn r20_invalid_and_dummy_signatures_fail_with_aa24_not_a_revert() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let to = Address::with_last_byte(0x63);
    let s = m.session(&a, 58, native_to(milli(10), to), 0).await;
    let mut op = m.session_op(&a, &s, &execute(to, U256::ZERO, Bytes::new())).await;
    op.signature = DUMMY_USER_OP_SIGNATURE;
    m.send(op.clone()).await.rejected_with("AA24", None);
    let mut owner_op = m.owner_op(&a, execute(to, U256::ZERO, Bytes::new())).await;
    owner_op.signature = DUMMY_USER_OP_SIGNATURE;
    m.send(owner_op).await.rejected_with("AA24", None);
}

#[tokio::test]
async fn r21_runtime_validation_refuses_a_module_without_code() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let ghost = Address::with_last_byte(0x64);
    // Installed with empty install data: no ERC-165 check, no onInstall.
    let install = InstallValidation {
        validation: ValidationConfig::new(ghost, 59, true, false, true),
        selectors: vec![],
        install_data: Bytes::new(),
        hooks: vec![],
    };
    m.owner_call(&a, install.calldata()).await.success();
    let auth = locator_prefixed_signature(&ValidationLocator::regular(59, true, false), &[], &[]).unwrap();
    let call: Bytes = Sma::executeWithRuntimeValidationCall {
        data: execute(Address::with_last_byte(0x65), U256::ZERO, Bytes::new()),
        authorization: auth,
    }
    .abi_encode()
    .into();
    let e = m.eth_call_from(Address::with_last_byte(0x66), a.address, call).await.unwrap_err();
    assert!(e.starts_with(&Sma::RuntimeValidationFunctionReverted::SELECTOR), "{e}");
}

#[tokio::test]
async fn r24_uninstall_with_hook_data_clears_every_hooks_state() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let to = Address::with_last_byte(0x67);
    let s = m.session(&a, 60, native_to(milli(10), to), m.now().await + 86_400).await;
    let allowed = || {
        m.h.read(
            m.modules.allowlist,
            AllowlistModule::addressAllowlistCall { entityId: 60, target: to, account: a.address },
        )
    };
    let limit = || {
        m.h.read(
            m.modules.native_token_limit,
            NativeTokenLimitModule::limitsCall { entityId: U256::from(60), account: a.address },
        )
    };
    let range = || m.h.read(m.modules.time_range, TimeRangeModule::timeRangesCall { entityId: 60, account: a.address });
    assert!(allowed().await.unwrap().allowed);
    assert_eq!(limit().await.unwrap(), milli(10));
    assert_ne!(range().await.unwrap().validUntil, alloy::primitives::aliases::U48::ZERO);
    m.owner_call_with_gas(&a, s.compiled.uninstall(&m.modules).calldata(), keyward_testkit::mav2::INSTALL_CALL_GAS)
        .await
        .success();
    assert!(!allowed().await.unwrap().allowed);
    assert_eq!(limit().await.unwrap(), U256::ZERO);
    assert_eq!(range().await.unwrap().validUntil, alloy::primitives::aliases::U48::ZERO);
    let _ = entity_uninstall_data(60);
    let _: Vec<AllowlistInput> = vec![];
}

#[tokio::test]
async fn r25_reinstalling_an_entity_adds_never_removes() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let to = Address::with_last_byte(0x68);
    let s = m.session(&a, 61, native_to(milli(10), to), 0).await;
    // The same install again: its selectors are already set.
    let r = m.owner_call_with_gas(&a, s.compiled.calldata(), keyward_testkit::mav2::INSTALL_CALL_GAS).await.reverted();
    assert!(contains(&r, &Sma::ValidationAlreadySet::SELECTOR), "{r}");
    // A different module under the same entity id is refused.
    let other = InstallValidation {
        validation: ValidationConfig::new(m.modules.allowlist, 61, false, false, true),
        selectors: vec![],
        install_data: Bytes::new(),
        hooks: vec![],
    };
    let r = m.owner_call(&a, other.calldata()).await.reverted();
    assert!(contains(&r, &Sma::ValidationEntityIdInUse::SELECTOR), "{r}");
}

#[tokio::test]
async fn r26_high_s_ecdsa_signature_is_refused() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let to = Address::with_last_byte(0x69);
    let mut op = m.owner_op(&a, execute(to, U256::ZERO, Bytes::new())).await;
    let sig = a.owner.sign_hash_sync(&user_op_signing_hash(op.hash(m.h.ep, m.chain_id))).unwrap();
    let n = U256::from_str_radix("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", 16).unwrap();
    let high = alloy::primitives::Signature::new(sig.r(), n - sig.s(), !sig.v());
    op.signature = eoa_user_op_signature(&high);
    m.send(op.clone()).await.rejected_with("AA24", None);
    // 64-byte compact form: not accepted either.
    let mut compact = vec![0xff, 0x00];
    compact.extend_from_slice(&sig.as_bytes()[..64]);
    op.signature = compact.into();
    m.send(op.clone()).await.rejected_with("AA24", None);
    m.sign_owner(&a, &mut op);
    m.send(op).await.success();
}
