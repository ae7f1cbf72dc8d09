//! Audit lessons of account-formats.md §13 that had no test yet (R7, R8, R23, R27, R28), each in a
//! test named after it. R22 (ERC-7562 validation rules) is checked by the tracer suite in
//! `crates/server/tests/bundler_erc7562.rs`.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use alloy::eips::eip7702::Authorization;
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolError, SolValue};
use keyward_chain::send::with_authorizations;
use keyward_contracts::artifacts;
use keyward_contracts::bindings::{AccountFactory, AllowlistModule, SemiModularAccountBytecode as Sma};
use keyward_primitives::mav2::deferred::{DEFERRED_ACTION_TYPEHASH, DeferredError};
use keyward_primitives::mav2::factory::SemiModularAccountInit;
use keyward_primitives::mav2::signature::eoa_validation_data;
use keyward_primitives::mav2::{DeferredAction, DeferredActionPrefix, ValidationLocator};
use keyward_testkit::mav2::{Mav2, SmaAccount, contains, eth, execute, milli, native_to};
use serde_json::json;

alloy::sol!(ModularAccount, "../../contracts/artifacts/ModularAccount.json");
alloy::sol!(StorageOnly, "../../contracts/artifacts/SemiModularAccountStorageOnly.json");
alloy::sol!(Sma7702, "../../contracts/artifacts/SemiModularAccount7702.json");

alloy::sol! {
    /// ERC-4337 v0.7 and ERC-6900 v0.8 interfaces whose functions an execution module may not claim
    /// (their selectors come from the standard signatures, not from our contracts).
    struct PackedUserOperation {
        address sender; uint256 nonce; bytes initCode; bytes callData; bytes32 accountGasLimits;
        uint256 preVerificationGas; bytes32 gasFees; bytes paymasterAndData; bytes signature;
    }
    struct ManifestExecutionFunction { bytes4 executionSelector; bool skipRuntimeValidation; bool allowGlobalValidation; }
    struct ManifestExecutionHook { bytes4 executionSelector; uint32 entityId; bool isPreHook; bool isPostHook; }
    struct ExecutionManifest {
        ManifestExecutionFunction[] executionFunctions; ManifestExecutionHook[] executionHooks; bytes4[] interfaceIds;
    }
    interface IAggregator {
        function validateSignatures(PackedUserOperation[] calldata userOps, bytes calldata signature) external view;
        function validateUserOpSignature(PackedUserOperation calldata userOp) external view returns (bytes memory);
        function aggregateSignatures(PackedUserOperation[] calldata userOps) external view returns (bytes memory);
    }
    interface IPaymaster {
        function validatePaymasterUserOp(PackedUserOperation calldata userOp, bytes32 userOpHash, uint256 maxCost)
            external returns (bytes memory context, uint256 validationData);
        function postOp(uint8 mode, bytes calldata context, uint256 actualGasCost, uint256 actualUserOpFeePerGas) external;
    }
    interface IExecutionModule {
        function executionManifest() external pure returns (ExecutionManifest memory);
    }
    error ExecutionFunctionNotAllowed(bytes4 selector);
    error ExecutionFunctionAlreadySet(bytes4 selector);
}

/// `InvalidInitialization()` of the accounts' `initializer` modifier.
const ALREADY_INITIALIZED: [u8; 4] = StorageOnly::InvalidInitialization::SELECTOR;

// ------------------------------------------------------------------ R7

fn install_execution(module: Address, selector: [u8; 4]) -> Bytes {
    let manifest = Sma::ExecutionManifest {
        executionFunctions: vec![Sma::ManifestExecutionFunction {
            executionSelector: selector.into(),
            skipRuntimeValidation: false,
            allowGlobalValidation: false,
        }],
        executionHooks: vec![],
        interfaceIds: vec![],
    };
    Sma::installExecutionCall { _0: module, _1: manifest, _2: Bytes::new() }.abi_encode().into()
}

/// Every function selector of `artifact`'s ABI whose name is in `names` (all functions if `None`).
fn abi_selectors(artifact: &keyward_contracts::Artifact, names: Option<&[&str]>) -> Vec<(String, [u8; 4])> {
    artifact
        .abi
        .functions()
        .filter(|f| names.is_none_or(|n| n.contains(&f.name.as_str())))
        .map(|f| (format!("{}.{}", artifact.contract_name, f.signature()), f.selector().0))
        .collect()
}

#[tokio::test]
async fn r7_execution_modules_cannot_claim_native_erc4337_or_module_selectors() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let module = m.h.counter().await;
    // Reserved: every function of every account variant (from the compiled ABIs), the ERC-4337
    // paymaster/aggregator functions and the ERC-6900 module-interface functions.
    let mut reserved = Vec::new();
    for art in [
        artifacts::semi_modular_account_bytecode(),
        artifacts::semi_modular_account_storage_only(),
        artifacts::semi_modular_account_7702(),
        artifacts::modular_account(),
    ] {
        reserved.extend(abi_selectors(art, None));
    }
    let module_functions = [
        "onInstall",
        "onUninstall",
        "moduleId",
        "validateUserOp",
        "validateRuntime",
        "validateSignature",
        "preUserOpValidationHook",
        "preRuntimeValidationHook",
        "preSignatureValidationHook",
        "preExecutionHook",
        "postExecutionHook",
    ];
    for art in [
        artifacts::single_signer_validation_module(),
        artifacts::time_range_module(),
        artifacts::native_token_limit_module(),
        artifacts::allowlist_module(),
        artifacts::paymaster_guard_module(),
    ] {
        reserved.extend(abi_selectors(art, Some(&module_functions)));
    }
    for (name, sel) in [
        ("IPaymaster.validatePaymasterUserOp", IPaymaster::validatePaymasterUserOpCall::SELECTOR),
        ("IPaymaster.postOp", IPaymaster::postOpCall::SELECTOR),
        ("IAggregator.validateSignatures", IAggregator::validateSignaturesCall::SELECTOR),
        ("IAggregator.validateUserOpSignature", IAggregator::validateUserOpSignatureCall::SELECTOR),
        ("IAggregator.aggregateSignatures", IAggregator::aggregateSignaturesCall::SELECTOR),
        ("IExecutionModule.executionManifest", IExecutionModule::executionManifestCall::SELECTOR),
    ] {
        reserved.push((name.to_string(), sel));
    }
    // Every hook kind of the ERC-6900 interfaces is present (the modules above implement them all).
    for f in module_functions {
        assert!(reserved.iter().any(|(n, _)| n.contains(&format!(".{f}("))), "no ABI carries {f}");
    }
    assert!(reserved.len() > 100, "{} reserved selectors collected", reserved.len());
    for (name, sel) in &reserved {
        // The owner calls installExecution directly (global validation); the install must refuse.
        let e = m
            .eth_call_from(a.owner.address(), a.address, install_execution(module, *sel))
            .await
            .expect_err(&format!("installExecution of {name} was accepted"));
        let want = ExecutionFunctionNotAllowed { selector: (*sel).into() }.abi_encode();
        assert!(contains(&e, &want), "{name}: unexpected revert {e}");
    }
    // Through a user operation too, and an ordinary selector installs (so the refusals above are
    // about the selector, not the path).
    let sel = IPaymaster::validatePaymasterUserOpCall::SELECTOR;
    m.owner_call(&a, install_execution(module, sel)).await.reverted_with(ExecutionFunctionNotAllowed::SELECTOR);
    let count = keyward_contracts::bindings::TestCounter::countCall::SELECTOR;
    m.owner_call(&a, install_execution(module, count)).await.success();
    let d = m.h.read(a.address, Sma::getExecutionDataCall { selector: count.into() }).await.unwrap();
    assert_eq!(d.module, module);
    // Installing it twice is refused (no silent takeover of an installed function).
    m.owner_call(&a, install_execution(Address::with_last_byte(0x77), count))
        .await
        .reverted_with(ExecutionFunctionAlreadySet::SELECTOR);
    let d = m.h.read(a.address, Sma::getExecutionDataCall { selector: count.into() }).await.unwrap();
    assert_eq!(d.module, module);
}

// ------------------------------------------------------------------ R8

/// The EIP-712 digest of a `DeferredAction` whose deadline word is `deadline_word` (any 256-bit
/// value), computed by hand from the typed-data rules: what a signer that does not mask to 48 bits
/// would sign.
fn digest_with_deadline_word(chain_id: u64, account: Address, nonce: U256, deadline_word: U256, call: &[u8]) -> B256 {
    let domain = DeferredAction::domain(chain_id, account).separator();
    let struct_hash = keccak256((DEFERRED_ACTION_TYPEHASH, nonce, deadline_word, keccak256(call)).abi_encode());
    keccak256([&[0x19u8, 0x01][..], domain.as_slice(), struct_hash.as_slice()].concat())
}

#[tokio::test]
async fn r8_deferred_deadline_is_48_bits_encoded_in_six_bytes() {
    const MAX48: u64 = (1 << 48) - 1;
    // Rust: a deadline beyond uint48 is refused, never truncated.
    let call = Bytes::from(vec![0xab; 3]);
    assert_eq!(
        DeferredAction::build(U256::ZERO, MAX48 + 1, call.clone()).unwrap_err(),
        DeferredError::DeadlineOverflow(MAX48 + 1)
    );
    let prefix = |deadline| DeferredActionPrefix {
        inner_locator: ValidationLocator::owner(),
        deadline,
        call: call.clone(),
        deferred_signature: Bytes::from(vec![0u8; 66]),
    };
    assert_eq!(prefix(MAX48 + 1).encoded_data().unwrap_err(), DeferredError::DeadlineOverflow(MAX48 + 1));
    // Exactly six big-endian bytes between the 21-byte locator and the call.
    let encoded = prefix(0x0102_0304_0506).encoded_data().unwrap();
    assert_eq!(encoded.len(), 21 + 6 + call.len());
    assert_eq!(&encoded[21..27], &[1, 2, 3, 4, 5, 6]);
    assert_eq!(&encoded[27..], call.as_ref());
    let (decoded, _) = DeferredActionPrefix::decode(&prefix(MAX48).encode().unwrap()).unwrap();
    assert_eq!(decoded.deadline, MAX48);
    // The hand-made digest equals the library's for an in-range deadline (so the manual variant
    // below differs only by the deadline word).
    let account = Address::with_last_byte(0x99);
    assert_eq!(
        digest_with_deadline_word(31337, account, U256::from(7), U256::from(MAX48), &call),
        DeferredAction::build(U256::from(7), MAX48, call.clone()).unwrap().digest(31337, account)
    );

    // Onchain: the six bytes carry the deadline and the account hashes exactly that 48-bit value.
    let m = Mav2::embedded().await;
    let to = Address::with_last_byte(0x81);
    let inner = execute(to, U256::from(1), Bytes::new());
    // (a) An owner who signed a deadline with bits above 48 (whose low 48 bits are what the op
    // carries) signed a different digest: refused.
    let a = m.account(eth(1)).await;
    let s = m.compile(&a, 7, native_to(milli(10), to), 0).await;
    let nonce = s.nonce_key(true).nonce(0);
    let low = m.now().await + 3600;
    let dirty = U256::from(low) + (U256::from(1u8) << 48);
    let digest = digest_with_deadline_word(m.chain_id, a.address, nonce, dirty, &s.compiled.calldata());
    let sig = a.owner.sign_hash_sync(&digest).unwrap();
    let grant = DeferredActionPrefix {
        inner_locator: ValidationLocator::owner(),
        deadline: low,
        call: s.compiled.calldata(),
        deferred_signature: eoa_validation_data(&sig),
    };
    let op = m.deferred_op_with(&a, &s, &inner, nonce, &grant).await;
    m.send(op).await.rejected_with("AA23", Some(Sma::DeferredActionSignatureInvalid::SELECTOR));
    assert_eq!(m.signer_of(7, a.address).await, Address::ZERO);
    // (b) The same grant signed over the masked value is accepted.
    let grant = m.deferred_prefix(&a.owner, a.address, m.chain_id, nonce, low, s.compiled.calldata());
    let op = m.deferred_op_with(&a, &s, &inner, nonce, &grant).await;
    m.send(op).await.success();
    // (c) The largest 48-bit deadline is read in full (not truncated to an expired value).
    let b = m.account(eth(1)).await;
    let s = m.compile(&b, 7, native_to(milli(10), to), 0).await;
    let nonce = s.nonce_key(true).nonce(0);
    let grant = m.deferred_prefix(&b.owner, b.address, m.chain_id, nonce, MAX48, s.compiled.calldata());
    let op = m.deferred_op_with(&b, &s, &inner, nonce, &grant).await;
    m.send(op).await.success();
    assert_eq!(m.signer_of(7, b.address).await, s.key.address());
    assert_eq!(m.balance(to).await, U256::from(2));
}

// ------------------------------------------------------------------ R23

#[tokio::test]
async fn r23_one_outstanding_deferred_grant_per_account_and_nonce() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let to = Address::with_last_byte(0x82);
    let inner = execute(to, U256::from(1), Bytes::new());
    // Two grants for the same (account, nonce): a 0.01 ETH session and a changed, larger set under
    // the same entity id. Whichever lands first consumes the nonce; the other is dead.
    let small = m.compile(&a, 7, native_to(milli(10), to), 0).await;
    let mut large = m.compile(&a, 7, native_to(milli(500), to), 0).await;
    assert_eq!(small.nonce_key(true), large.nonce_key(true), "same entity: same deferred nonce key");
    let nonce = small.nonce_key(true).nonce(0);
    let g_small = m.deferred_prefix(&a.owner, a.address, m.chain_id, nonce, 0, small.compiled.calldata());
    let g_large = m.deferred_prefix(&a.owner, a.address, m.chain_id, nonce, 0, large.compiled.calldata());
    m.send(m.deferred_op_with(&a, &small, &inner, nonce, &g_small).await).await.success();
    // Replay of the used grant: refused.
    let e = m.send(m.deferred_op_with(&a, &small, &inner, nonce, &g_small).await).await.rejected();
    assert!(matches!(e.reason(), Some(r) if r.starts_with("AA23") || r.starts_with("AA25")), "{e:?}");
    // The other grant of the same nonce: refused as well, at that nonce and at the next one.
    let e = m.send(m.deferred_op_with(&a, &large, &inner, nonce, &g_large).await).await.rejected();
    assert!(matches!(e.reason(), Some(r) if r.starts_with("AA23") || r.starts_with("AA25")), "{e:?}");
    let next = small.nonce_key(true).nonce(1);
    m.send(m.deferred_op_with(&a, &large, &inner, next, &g_large).await).await.rejected_with("AA23", None);
    // The first session's scope is what holds: 0.01 ETH in total, the large key has no validation.
    assert_eq!(m.signer_of(7, a.address).await, small.key.address());
    m.session_call(&a, &small, &execute(to, milli(10), Bytes::new())).await.reverted();
    m.session_call(&a, &small, &execute(to, milli(10) - U256::from(1), Bytes::new())).await.success();
    m.session_call(&a, &large, &execute(to, U256::from(1), Bytes::new())).await.rejected_with("AA24", None);
    // The changed permission set is granted under a NEW entity id, with its own state.
    large = m.compile(&a, 8, native_to(milli(500), to), 0).await;
    let nonce8 = large.nonce_key(true).nonce(0);
    let g = m.deferred_prefix(&a.owner, a.address, m.chain_id, nonce8, 0, large.compiled.calldata());
    m.send(m.deferred_op_with(&a, &large, &execute(to, milli(400), Bytes::new()), nonce8, &g).await).await.success();
    m.session_call(&a, &small, &execute(to, U256::from(2), Bytes::new())).await.reverted();
    assert_eq!(m.balance(to).await, U256::from(1) + milli(10) - U256::from(1) + milli(400));
}

// ------------------------------------------------------------------ R27

#[tokio::test]
async fn r27_storage_only_initialize_runs_atomically_and_once() {
    let m = Mav2::embedded().await;
    let storage_impl = m.h.deploy(artifacts::semi_modular_account_storage_only(), &m.h.ep.abi_encode()).await;
    let attacker = PrivateKeySigner::random();
    m.fund(attacker.address(), eth(1)).await;
    let already = ALREADY_INITIALIZED;

    // Upgrade path: upgradeToAndCall(impl, initialize(newOwner)) in ONE owner op.
    let a = m.account(eth(1)).await;
    let new_owner = PrivateKeySigner::random();
    let init: Bytes = StorageOnly::initializeCall { initialSigner: new_owner.address() }.abi_encode().into();
    let upgrade = Sma::upgradeToAndCallCall { newImplementation: storage_impl, data: init }.abi_encode().into();
    m.owner_call(&a, upgrade).await.success();
    let data = m.h.read(a.address, StorageOnly::getFallbackSignerDataCall {}).await.unwrap();
    assert_eq!(data._0, new_owner.address());
    // A second initialize (the front-runner's move) reverts, whoever sends it.
    let again: Bytes = StorageOnly::initializeCall { initialSigner: attacker.address() }.abi_encode().into();
    for from in [attacker.address(), new_owner.address(), a.address] {
        let e = m.eth_call_from(from, a.address, again.clone()).await.unwrap_err();
        assert!(e.starts_with(&already), "initialize again from {from}: {e}");
    }
    // The new owner runs the account; the old owner key no longer does.
    let moved = SmaAccount { owner: new_owner.clone(), ..a.clone() };
    let to = Address::with_last_byte(0x83);
    m.owner_call(&moved, execute(to, U256::from(5), Bytes::new())).await.success();
    m.owner_call(&a, execute(to, U256::from(5), Bytes::new())).await.rejected_with("AA24", None);
    assert_eq!(m.balance(to).await, U256::from(5));

    // Why it must be atomic: an upgrade WITHOUT the initialize call leaves the account ownerless,
    // and the first outsider to call initialize takes it over.
    let b = m.account(eth(1)).await;
    let upgrade = Sma::upgradeToAndCallCall { newImplementation: storage_impl, data: Bytes::new() }.abi_encode().into();
    m.owner_call(&b, upgrade).await.success();
    let tx = TransactionRequest::default().with_to(b.address).with_input(again.clone());
    assert!(m.h.send_tx(&attacker, tx).await.unwrap().status(), "front-runner initializes");
    let data = m.h.read(b.address, StorageOnly::getFallbackSignerDataCall {}).await.unwrap();
    assert_eq!(data._0, attacker.address());
    let stolen = SmaAccount { owner: attacker.clone(), ..b.clone() };
    m.owner_call(&stolen, execute(attacker.address(), eth(1) / U256::from(2), Bytes::new())).await.success();

    // Factory path of ModularAccount: createAccount deploys and initializes in one transaction;
    // initializeWithValidation cannot run a second time.
    let owner = PrivateKeySigner::random();
    let create = AccountFactory::createAccountCall { owner_: owner.address(), salt: U256::ZERO, entityId: 3 };
    let predicted =
        m.h.read(m.factory, AccountFactory::getAddressCall { owner_: owner.address(), salt: U256::ZERO, entityId: 3 })
            .await
            .unwrap();
    assert!(m.h.transact(m.factory, create, U256::ZERO).await.status());
    assert_eq!(m.signer_of(3, predicted).await, owner.address(), "initialized in the creating transaction");
    let reinit: Bytes = ModularAccount::initializeWithValidationCall {
        validationConfig: Default::default(),
        selectors: vec![],
        installData: (3u32, attacker.address()).abi_encode_params().into(),
        hooks: vec![],
    }
    .abi_encode()
    .into();
    let e = m.eth_call_from(attacker.address(), predicted, reinit).await.unwrap_err();
    assert!(e.starts_with(&already), "initializeWithValidation again: {e}");
    // The SMA factory path stores no owner at all (the owner is in the proxy's code): nothing to
    // front-run, and initialize is not even a function of that variant.
    let c = m.account(U256::ZERO).await;
    m.eth_call_from(attacker.address(), c.address, again).await.unwrap_err();
    let data = m.h.read(c.address, Sma::getFallbackSignerDataCall {}).await.unwrap();
    assert_eq!(data._0, c.owner.address());
}

// ------------------------------------------------------------------ R28

/// Delegates a fresh funded EOA to the SMA7702 implementation with a type-4 transaction sent by dev
/// key 0; returns it as an account whose owner is the EOA's own key.
async fn delegated_eoa(m: &Mav2, fund: U256) -> SmaAccount {
    let implementation = m.h.deploy(artifacts::semi_modular_account_7702(), &m.h.ep.abi_encode()).await;
    let eoa = PrivateKeySigner::random();
    m.fund(eoa.address(), fund).await;
    let auth = Authorization { chain_id: U256::from(m.chain_id), address: implementation, nonce: 0 };
    let sig = eoa.sign_hash_sync(&auth.signature_hash()).unwrap();
    let tx = with_authorizations(TransactionRequest::default().with_to(eoa.address()), vec![auth.into_signed(sig)]);
    let r = m.h.send_tx(&m.h.keys[0], tx).await.unwrap();
    assert!(r.status());
    assert_eq!(r.inner.tx_type() as u8, 4);
    let code = m.h.chain.code(eoa.address()).await.unwrap();
    assert_eq!(code.as_ref(), [&[0xef, 0x01, 0x00][..], implementation.as_slice()].concat().as_slice());
    let init = SemiModularAccountInit { factory: m.factory, owner: eoa.address(), salt: U256::ZERO };
    SmaAccount { address: eoa.address(), owner: eoa, init }
}

#[tokio::test]
async fn r28_eip7702_eoa_key_stays_all_powerful_and_sessions_bind_only_session_keys() {
    let m = Mav2::embedded().await;
    let a = delegated_eoa(&m, eth(3)).await;
    let data = m.h.read(a.address, Sma::getFallbackSignerDataCall {}).await.unwrap();
    assert_eq!(data._0, a.address, "the EOA itself is the owner");
    let to = Address::with_last_byte(0x84);
    // A session limited to 0.01 ETH to `to`, installed by an owner user op signed by the EOA key.
    let s = m.session(&a, 9, native_to(milli(10), to), 0).await;
    m.session_call(&a, &s, &execute(to, milli(10) + U256::from(1), Bytes::new())).await.reverted();
    m.session_call(&a, &s, &execute(to, U256::from(1), Bytes::new())).await.success();
    m.session_call(&a, &s, &execute(Address::with_last_byte(0x85), U256::from(1), Bytes::new()))
        .await
        .rejected_with("AA23", Some(AllowlistModule::AddressNotAllowed::SELECTOR));

    // The EOA's own transactions skip validation entirely: a plain value transfer, a call of the
    // account's `execute` as msg.sender == address(this) far beyond the session's scope, and an
    // installValidation without any signature or user op.
    let direct = |input: Bytes, value: U256| {
        TransactionRequest::default().with_to(a.address).with_input(input).with_value(value)
    };
    let other = Address::with_last_byte(0x86);
    let tx = TransactionRequest::default().with_to(other).with_value(eth(1));
    assert!(m.h.send_tx(&a.owner, tx).await.unwrap().status());
    assert!(m.h.send_tx(&a.owner, direct(execute(to, milli(500), Bytes::new()), U256::ZERO)).await.unwrap().status());
    let root = m.compile(&a, 10, json!([{"type": "root"}]), 0).await;
    assert!(m.h.send_tx(&a.owner, direct(root.compiled.calldata(), U256::ZERO)).await.unwrap().status());
    assert_eq!(m.signer_of(10, a.address).await, root.key.address());
    assert_eq!(m.balance(other).await, eth(1));
    assert_eq!(m.balance(to).await, U256::from(1) + milli(500));
    // ...and the session's budget is untouched by the owner's spending: it still has exactly
    // 0.01 ETH - 1 wei left, and no more.
    m.session_call(&a, &s, &execute(to, milli(10), Bytes::new())).await.reverted();
    m.session_call(&a, &s, &execute(to, milli(10) - U256::from(1), Bytes::new())).await.success();

    // Upgrades are refused on every path (the EOA re-delegates instead).
    let upgrade: Bytes =
        Sma::upgradeToAndCallCall { newImplementation: m.sma_impl, data: Bytes::new() }.abi_encode().into();
    m.owner_call(&a, upgrade.clone()).await.reverted_with(Sma7702::UpgradeNotAllowed::SELECTOR);
    let e = m.eth_call_from(a.address, a.address, upgrade.clone()).await.unwrap_err();
    assert!(e.starts_with(&Sma7702::UpgradeNotAllowed::SELECTOR), "{e}");
    let tx = direct(upgrade, U256::ZERO).with_gas_limit(200_000);
    assert!(!m.h.send_tx(&a.owner, tx).await.unwrap().status(), "a direct upgrade transaction reverts");
    // A session key (even root) cannot send the EOA's transactions: it only has user-op power.
    m.session_call(&a, &root, &execute(other, U256::from(1), Bytes::new())).await.success();
    assert_eq!(m.h.chain.transaction_count(root.key.address(), false).await.unwrap(), 0);
}

/// R27's window with a disabled owner: an upgrade without `initialize`, then an outsider's
/// `initialize`, names a signer but keeps the owner disabled (the owner-slot flag of issue #17 must
/// not turn `initialize` into an enable; security review of the fourth gas pass).
#[tokio::test]
async fn r27_a_late_initialize_keeps_a_disabled_owner_disabled() {
    let m = Mav2::embedded().await;
    let storage_impl = m.h.deploy(artifacts::semi_modular_account_storage_only(), &m.h.ep.abi_encode()).await;
    let a = m.account(eth(1)).await;
    let root = m.session(&a, 12, json!([{"type": "root"}]), 0).await;
    let disable: Bytes =
        Sma::updateFallbackSignerDataCall { fallbackSigner: Address::ZERO, isDisabled: true }.abi_encode().into();
    m.owner_call(&a, disable).await.success();
    let upgrade: Bytes =
        Sma::upgradeToAndCallCall { newImplementation: storage_impl, data: Bytes::new() }.abi_encode().into();
    m.session_call(&a, &root, &upgrade).await.success();

    let attacker = PrivateKeySigner::random();
    m.fund(attacker.address(), eth(1)).await;
    let init: Bytes = StorageOnly::initializeCall { initialSigner: attacker.address() }.abi_encode().into();
    let tx = TransactionRequest::default().with_to(a.address).with_input(init);
    assert!(m.h.send_tx(&attacker, tx).await.unwrap().status());
    let data = m.h.read(a.address, StorageOnly::getFallbackSignerDataCall {}).await.unwrap();
    assert_eq!((data._0, data._1), (attacker.address(), true), "the owner stays disabled");
    let stolen = SmaAccount { owner: attacker.clone(), ..a.clone() };
    m.owner_call(&stolen, execute(attacker.address(), milli(1), Bytes::new())).await.rejected_with("AA23", None);
}
