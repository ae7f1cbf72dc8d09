//! Our ModularAccount's outputs against the account-kit / viem vectors in ../shared/vectors:
//! nonce keys and nonces, user-op signatures (owner and session key, and the dummy), factory
//! arguments, `installValidation` calldata with every hook kind, and the spec's worked owner op.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use std::path::PathBuf;

use alloy::primitives::{Address, B256, Bytes, FixedBytes, U256, address, b256, hex};
use alloy::signers::local::PrivateKeySigner;
use keyward_primitives::mav2::ModuleAddresses;
use keyward_primitives::mav2::abi::AllowlistInput;
use keyward_primitives::mav2::factory::MAV2_SMA_BYTECODE_IMPL;
use keyward_primitives::{ENTRY_POINT_V07, UserOperation};
use keyward_sdk::modular_account::{HookKind, SessionHook, SessionKeyConnection, SessionKeyValidation};
use keyward_sdk::{AccountContracts, ModularAccount, SignerEntity};
use serde_json::Value;

fn vectors(file: &str) -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../vendor/shared/vectors").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc: Value = serde_json::from_str(&text).unwrap();
    let cases = doc["cases"].as_array().unwrap().clone();
    assert!(!cases.is_empty(), "{file} has cases");
    cases
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}
fn u256(v: &Value) -> U256 {
    U256::from_str_radix(s(v), 10).unwrap()
}
fn u64v(v: &Value) -> u64 {
    s(v).parse().unwrap()
}
fn u32v(v: &Value) -> u32 {
    s(v).parse().unwrap()
}
fn addr(v: &Value) -> Address {
    s(v).parse().unwrap()
}
fn bytes(v: &Value) -> Bytes {
    s(v).parse().unwrap()
}

/// MAv2's contracts (what the vectors were generated with).
fn mav2_contracts(factory: Address) -> AccountContracts {
    AccountContracts {
        entry_point: ENTRY_POINT_V07,
        factory,
        semi_modular_account_impl: MAV2_SMA_BYTECODE_IMPL,
        modules: ModuleAddresses::mav2(),
    }
}

fn session(
    key: PrivateKeySigner,
    account: Address,
    entity: SignerEntity,
    chain_id: u64,
) -> ModularAccount<PrivateKeySigner> {
    let connection = SessionKeyConnection { account_address: account, signer_entity: entity, factory_args: None };
    ModularAccount::session_key(key, connection, chain_id, mav2_contracts(Address::ZERO)).unwrap()
}

#[test]
fn nonce_keys_and_nonces_match_account_kit() {
    let mut checked = 0;
    for case in vectors("mav2-nonce.json") {
        let (i, e) = (&case["input"], &case["expected"]);
        let deferred = i["isDeferredAction"].as_bool().unwrap();
        let entity = SignerEntity::new(u32v(&i["entityId"]), i["isGlobalValidation"].as_bool().unwrap());
        let account = session(PrivateKeySigner::random(), Address::with_last_byte(1), entity, 1)
            .with_parallel_key(u256(&i["nonceKey"]))
            .unwrap();
        // The first op of a deferred-action session uses the same key with option 0x02.
        let key = account.nonce_key().with_deferred_action(deferred);
        assert_eq!(U256::from(key.full_key()), u256(&e["fullNonceKey"]), "{}", case["name"]);
        assert_eq!(key.nonce(u64v(&i["sequence"])), u256(&e["nonce"]), "{}", case["name"]);
        if !deferred {
            assert_eq!(account.nonce(u64v(&i["sequence"])), u256(&e["nonce"]), "{}", case["name"]);
        }
        checked += 1;
    }
    assert_eq!(checked, 20);
}

#[test]
fn parallel_key_over_152_bits_is_refused() {
    let account = session(PrivateKeySigner::random(), Address::with_last_byte(1), SignerEntity::new(1, true), 1);
    assert!(account.with_parallel_key(U256::from(1) << 152).is_err());
}

#[test]
fn user_op_signatures_match_account_kit() {
    let mut checked = 0;
    for case in vectors("mav2-signatures.json") {
        let (i, e) = (&case["input"], &case["expected"]);
        if s(&i["kind"]) != "userOpSignature" {
            continue;
        }
        let key: PrivateKeySigner = s(&i["privateKey"]).parse().unwrap();
        assert_eq!(key.address(), addr(&e["signerAddress"]));
        let entity = SignerEntity::new(u32v(&i["entityId"]), i["isGlobalValidation"].as_bool().unwrap());
        let account = session(key, addr(&i["account"]), entity, u64v(&i["chainId"]));
        let hash: B256 = s(&i["userOpHash"]).parse().unwrap();
        assert_eq!(
            account.sign_user_operation_hash_sync(hash).unwrap(),
            bytes(&e["userOpSignature"]),
            "{}",
            case["name"]
        );
        assert_eq!(account.dummy_signature(), bytes(&e["dummySignature"]), "{}", case["name"]);
        checked += 1;
    }
    assert_eq!(checked, 10);
}

#[test]
fn owner_factory_args_and_address_match_account_kit() {
    for case in vectors("mav2-account-address.json") {
        let (i, e) = (&case["input"], &case["expected"]);
        let key: PrivateKeySigner = s(&i["ownerPrivateKey"]).parse().unwrap();
        let contracts = AccountContracts {
            semi_modular_account_impl: addr(&i["implementationAddress"]),
            ..mav2_contracts(addr(&i["factoryAddress"]))
        };
        let account = ModularAccount::owner(key, u256(&i["salt"]), u64v(&i["chainId"]), contracts);
        let args = account.factory_args().unwrap();
        assert_eq!(args.factory, addr(&e["factory"]), "{}", case["name"]);
        assert_eq!(args.factory_data, bytes(&e["factoryData"]), "{}", case["name"]);
        assert_eq!(account.init_code(), bytes(&e["initCode"]), "{}", case["name"]);
        // From the factory and implementation alone, as MAv2 clients compute it (our factory deploys
        // the same proxy; session_key_flow.rs checks it against our factory's getAddressSemiModular).
        assert_eq!(account.address(), addr(&e["accountAddress"]), "{}", case["name"]);
    }
}

fn allowlist_inputs(v: &Value) -> Vec<AllowlistInput> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| AllowlistInput {
            target: addr(&x["target"]),
            hasSelectorAllowlist: x["hasSelectorAllowlist"].as_bool().unwrap(),
            hasERC20SpendLimit: x["hasERC20SpendLimit"].as_bool().unwrap(),
            erc20SpendLimit: u256(&x["erc20SpendLimit"]),
            selectors: x["selectors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| bytes(s).as_ref().try_into().map(FixedBytes).unwrap())
                .collect(),
        })
        .collect()
}

fn hook_kind(v: &Value) -> HookKind {
    match s(v) {
        "validation" => HookKind::Validation,
        "execution" => HookKind::Execution,
        other => panic!("hook type {other}"),
    }
}

#[test]
fn install_validation_with_every_hook_kind_matches_account_kit() {
    let mut checked = 0;
    for case in vectors("mav2-install-validation.json") {
        let (i, e) = (&case["input"], &case["expected"]);
        if s(&i["kind"]) != "encodeInstallValidation" {
            continue;
        }
        let v = &i["validation"];
        assert_eq!(addr(&v["moduleAddress"]), ModuleAddresses::mav2().single_signer_validation);
        assert!(v["isUserOpValidation"].as_bool().unwrap());
        let mut session = SessionKeyValidation::new(u32v(&v["entityId"]), addr(&i["signer"]))
            .global(v["isGlobal"].as_bool().unwrap())
            .signature_validation(v["isSignatureValidation"].as_bool().unwrap())
            .selectors(
                i["selectors"].as_array().unwrap().iter().map(|x| FixedBytes(bytes(x).as_ref().try_into().unwrap())),
            );
        for h in i["hooks"].as_array().unwrap() {
            let entity_id = u32v(&h["entityId"]);
            let hook = match s(&h["kind"]) {
                "timeRange" => SessionHook::TimeRange {
                    entity_id,
                    valid_until: u64v(&h["validUntil"]),
                    valid_after: u64v(&h["validAfter"]),
                },
                "nativeTokenLimit" => SessionHook::NativeTokenLimit {
                    entity_id,
                    kind: hook_kind(&h["hookType"]),
                    limit: u256(&h["spendLimit"]),
                },
                "allowlist" => SessionHook::Allowlist {
                    entity_id,
                    kind: hook_kind(&h["hookType"]),
                    inputs: allowlist_inputs(&h["inputs"]),
                },
                "paymasterGuard" => SessionHook::PaymasterGuard { entity_id, paymaster: addr(&h["paymaster"]) },
                other => panic!("hook kind {other}"),
            };
            session = session.hook(hook);
        }
        let account = session_for_install(u64v(&i["chainId"]), addr(&i["account"]));
        let calldata = account.encode_install_session_key(&session).unwrap();
        assert_eq!(calldata, bytes(&e["calldata"]), "{}", case["name"]);
        checked += 1;
    }
    assert_eq!(checked, 10);
}

fn session_for_install(chain_id: u64, account: Address) -> ModularAccount<PrivateKeySigner> {
    // The owner (entity 0) sends installValidation; the key does not matter for calldata.
    session(PrivateKeySigner::random(), account, SignerEntity::OWNER, chain_id)
}

/// account-formats.md §14.1 (values computed with viem 2.57.20 and account-kit 4.88.5): the owner
/// op of key #0's MAv2 account on chain 31337.
#[test]
fn worked_example_owner_op_matches_the_spec() {
    let key: PrivateKeySigner = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80".parse().unwrap();
    let contracts = mav2_contracts(address!("0x00000000000017c61b5bEe81050EC8eFc9c6fecd"));
    let owner = ModularAccount::owner(key, U256::ZERO, 31337, contracts);
    let sender = address!("0x65b5DE0251f553B2208762a4724303E750294D96");
    let mut op = UserOperation {
        sender,
        nonce: owner.nonce(0),
        factory: owner.factory_args(),
        call_data: owner.encode_execute(
            address!("0x000000000000000000000000000000000000beef"),
            U256::from(10_000_000_000_000_000u64),
            Bytes::new(),
            false,
        ),
        call_gas_limit: 100_000,
        verification_gas_limit: 300_000,
        pre_verification_gas: U256::from(50_000),
        max_fee_per_gas: 2_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        ..Default::default()
    };
    assert_eq!(op.nonce, U256::from(1) << 64);
    assert_eq!(
        op.call_data,
        Bytes::from(hex!(
            "b61d27f6000000000000000000000000000000000000000000000000000000000000beef000000000000000000000000000000000000000000000000002386f26fc1000000000000000000000000000000000000000000000000000000000000000000600000000000000000000000000000000000000000000000000000000000000000"
        ))
    );
    assert_eq!(owner.user_op_hash(&op), b256!("0x0138efd7a4f2af06c116783b8f5a8aa6cab48255714074fe41bf8f23249e22b7"));
    op.signature = owner.sign_user_operation_hash_sync(owner.user_op_hash(&op)).unwrap();
    assert_eq!(
        op.signature,
        Bytes::from(hex!(
            "ff0048231f5cde04e20163d9d96e021f3790b85c88c5897d3aeb9921e8714a6e21e62cff3516fb522c992ad4cacabedeb6dcdd6d7a5d95a0db7a60be0b598dc21f6c1b"
        ))
    );
}

/// The whole deferred-session flow of `eip712-deferred-action.json` (account-kit's
/// PermissionBuilder.compileDeferred + the session client's first op): the owner's grant (nonce,
/// signature, blob), the first op's callData and its signature (prefix ‖ 0xFF 0x00 ‖ session sig).
#[test]
fn deferred_session_grant_and_first_op_match_account_kit() {
    use keyward_api::wallet::Permission;
    use keyward_primitives::mav2::SessionRequest;
    use keyward_primitives::mav2::permissions::PermissionCompiler;
    let mut checked = 0;
    for case in vectors("eip712-deferred-action.json") {
        let (i, e) = (&case["input"], &case["expected"]);
        if s(&i["kind"]) != "fullDeferredAction" {
            continue;
        }
        let name = s(&case["name"]);
        let chain_id = u64v(&i["chainId"]);
        let account = addr(&e["account"]);
        let owner_key: PrivateKeySigner = s(&i["ownerPrivateKey"]).parse().unwrap();
        let owner = ModularAccount::owner_of(owner_key, account, chain_id, mav2_contracts(Address::ZERO));
        let wire: Vec<Permission> = serde_json::from_value(i["permissions"].clone()).unwrap();
        let permissions = Permission::to_domain_list(&wire);
        let request = SessionRequest {
            account,
            session_key: addr(&i["sessionKeyAddress"]),
            entity_id: u32v(&i["entityId"]),
            permissions,
            expiry_sec: u64v(&i["expirySec"]),
        };
        let compiled = PermissionCompiler::mav2().compile(&request, 0).unwrap();
        assert_eq!(compiled.calldata(), bytes(&e["installValidationCallData"]), "{name}");
        let grant = tokio_block_on(owner.grant_deferred_install(
            &compiled.install,
            compiled.is_global,
            compiled.deadline,
            u256(&i["nonceKey"]),
            u64v(&i["nonceSequence"]),
        ))
        .unwrap();
        assert_eq!(grant.nonce, u256(&e["nonce"]), "{name}");
        assert_eq!(grant.has_execution_hooks, e["hasAssociatedExecHooks"].as_bool().unwrap(), "{name}");
        assert_eq!(grant.prefix.deferred_signature, bytes(&e["ownerDeferredActionSignature"]), "{name}");
        assert_eq!(grant.to_sdk_blob().unwrap(), bytes(&e["deferredAction"]), "{name}");

        let session_key: PrivateKeySigner = s(&i["sessionKeyPrivateKey"]).parse().unwrap();
        let entity = SignerEntity::new(u32v(&i["entityId"]), i["isGlobalValidation"].as_bool().unwrap());
        let blob = grant.to_sdk_blob().unwrap();
        let sk = session(session_key, account, entity, chain_id)
            .with_deferred_action(keyward_sdk::modular_account::DeferredSessionGrant::from_sdk_blob(&blob).unwrap())
            .unwrap();
        let call = &i["firstCall"];
        let call_data = sk.encode_execute(
            addr(&call["target"]),
            u256(&call["value"]),
            bytes(&call["data"]),
            grant.has_execution_hooks,
        );
        assert_eq!(call_data, bytes(&e["firstUserOpCallData"]), "{name}");
        let hash: B256 = s(&i["userOpHash"]).parse().unwrap();
        let outer = sk.sign_user_operation_hash_sync(hash).unwrap();
        assert_eq!(sk.with_grant_prefix(grant.nonce, &outer).unwrap(), bytes(&e["userOpSignature"]), "{name}");
        // A later op (another nonce) carries no prefix.
        assert_eq!(sk.with_grant_prefix(grant.nonce + U256::from(1), &outer).unwrap(), outer, "{name}");
        checked += 1;
    }
    assert!(checked >= 9, "checked {checked} full flows");
}

#[test]
fn deferred_grant_for_another_entity_is_refused() {
    let owner = ModularAccount::owner_of(
        PrivateKeySigner::random(),
        Address::with_last_byte(9),
        1,
        mav2_contracts(Address::ZERO),
    );
    let key = PrivateKeySigner::random();
    let install =
        SessionKeyValidation::new(3, key.address()).global(true).to_install(&ModuleAddresses::mav2()).unwrap();
    let grant = tokio_block_on(owner.grant_deferred_install(&install, true, 0, U256::ZERO, 0)).unwrap();
    let err = session(key, Address::with_last_byte(9), SignerEntity::new(4, true), 1)
        .with_deferred_action(grant)
        .unwrap_err();
    assert!(matches!(err, keyward_sdk::AccountError::GrantForOtherEntity { entity: 4, grant_entity: 3, .. }), "{err}");
}

fn tokio_block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
}
