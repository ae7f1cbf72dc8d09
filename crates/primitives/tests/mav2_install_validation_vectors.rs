//! `shared/vectors/mav2-install-validation.json` (account-kit module encoders and
//! `PermissionBuilder`): `installValidation` arguments and calldata match byte for byte, and the
//! permission compiler rejects exactly the inputs the builder rejects.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

mod mav2_common;

use alloy::primitives::{Address, Bytes, U256};
use keyward_api::wallet::Permission as WirePermission;
use keyward_primitives::mav2::{
    HookConfig, HookInstall, InstallValidation, ModuleAddresses, NonceKey, Permission, PermissionError, Selector,
    ValidationConfig,
    abi::AllowlistInput,
    ids::HALF_UINT32,
    modules::single_signer_install_data,
    permissions::{PermissionCompiler, SessionRequest},
};
use mav2_common::*;
use serde_json::Value;

/// Unix time passed as `now`: before every expiry in the file.
const NOW: u64 = 1_700_000_000;

fn modules_of(v: &Value) -> ModuleAddresses {
    let m = ModuleAddresses {
        single_signer_validation: addr(v, "singleSignerValidation"),
        time_range: addr(v, "timeRange"),
        native_token_limit: addr(v, "nativeTokenLimit"),
        allowlist: addr(v, "allowlist"),
        paymaster_guard: addr(v, "paymasterGuard"),
        webauthn_validation: ModuleAddresses::mav2().webauthn_validation,
        session_rules: Address::ZERO,
        p256_validation: Address::ZERO,
    };
    assert_eq!(m, ModuleAddresses::mav2(), "vector module addresses are the MAv2 defaults");
    m
}

fn selectors(v: &Value) -> Vec<Selector> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().parse().unwrap()).collect()
}

fn allowlist_inputs(v: &Value) -> Vec<AllowlistInput> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|i| AllowlistInput {
            target: addr(i, "target"),
            hasSelectorAllowlist: boolean(i, "hasSelectorAllowlist"),
            hasERC20SpendLimit: boolean(i, "hasERC20SpendLimit"),
            erc20SpendLimit: dec_u256(i, "erc20SpendLimit"),
            selectors: selectors(&i["selectors"]),
        })
        .collect()
}

fn hook_from_input(name: &str, h: &Value, m: &ModuleAddresses) -> HookInstall {
    let e = dec_u32(h, "entityId");
    let module = addr(h, "module");
    let hook_type = h.get("hookType").and_then(Value::as_str);
    let hook = match (s(h, "kind"), hook_type) {
        ("timeRange", _) => HookInstall::time_range(m, e, dec_u64(h, "validUntil"), dec_u64(h, "validAfter")).unwrap(),
        ("nativeTokenLimit", Some("execution")) => {
            HookInstall::native_token_limit_execution(m, e, dec_u256(h, "spendLimit"))
        }
        ("nativeTokenLimit", Some("validation")) => {
            HookInstall::native_token_limit_validation(m, e, dec_u256(h, "spendLimit"))
        }
        ("allowlist", Some("validation")) => {
            HookInstall::allowlist_validation(m, e, &allowlist_inputs(&h["inputs"])).unwrap()
        }
        ("allowlist", Some("execution")) => {
            HookInstall::allowlist_execution(m, e, &allowlist_inputs(&h["inputs"])).unwrap()
        }
        ("paymasterGuard", _) => HookInstall::paymaster_guard(m, e, addr(h, "paymaster")).unwrap(),
        other => panic!("{name}: unknown hook {other:?}"),
    };
    assert_eq!(hook.config.entity.module, module, "{name}: hook module");
    hook
}

fn check_validation_config(name: &str, vc: &ValidationConfig, e: &Value) {
    assert_eq!(vc.entity.module, addr(e, "moduleAddress"), "{name}: validation module");
    assert_eq!(vc.entity.entity_id, dec_u32(e, "entityId"), "{name}: validation entity");
    assert_eq!(vc.is_global, boolean(e, "isGlobal"), "{name}: isGlobal");
    assert_eq!(vc.is_signature_validation, boolean(e, "isSignatureValidation"), "{name}: isSignatureValidation");
    assert_eq!(vc.is_user_op_validation, boolean(e, "isUserOpValidation"), "{name}: isUserOpValidation");
    assert_eq!(hex(vc.encode().as_slice()), s(e, "serialized"), "{name}: validationConfig.serialized");
    assert_eq!(ValidationConfig::decode(vc.encode()).unwrap(), *vc, "{name}: config round trip");
}

/// Compares installValidation arguments with `expected` (`expected.installArgs` or the direct form).
fn check_install(name: &str, install: &InstallValidation, e: &Value) {
    check_validation_config(name, &install.validation, &e["validationConfig"]);
    assert_eq!(install.selectors, selectors(&e["selectors"]), "{name}: selectors");
    assert_eq!(install.install_data, bytes(e, "installData"), "{name}: installData");
    let hooks = e["hooks"].as_array().unwrap();
    assert_eq!(install.hooks.len(), hooks.len(), "{name}: hook count");
    for (k, (ours, theirs)) in install.hooks.iter().zip(hooks).enumerate() {
        let hc = &theirs["hookConfig"];
        let c: &HookConfig = &ours.config;
        assert_eq!(c.entity.module, addr(hc, "address"), "{name}: hook {k} address");
        assert_eq!(c.entity.entity_id, dec_u32(hc, "entityId"), "{name}: hook {k} entityId");
        let hook_type = if c.is_validation_hook { "0x01" } else { "0x00" };
        assert_eq!(hook_type, s(hc, "hookType"), "{name}: hook {k} hookType");
        assert_eq!(c.has_pre, boolean(hc, "hasPreHooks"), "{name}: hook {k} hasPreHooks");
        assert_eq!(c.has_post, boolean(hc, "hasPostHooks"), "{name}: hook {k} hasPostHooks");
        assert_eq!(hex(c.encode().as_slice()), s(theirs, "hookConfigSerialized"), "{name}: hook {k} config");
        assert_eq!(ours.install_data, bytes(theirs, "initData"), "{name}: hook {k} initData");
        assert_eq!(ours.encode(), bytes(theirs, "encoded"), "{name}: hook {k} encoded");
        assert_eq!(HookInstall::decode(&ours.encode()).as_ref(), Some(ours), "{name}: hook {k} round trip");
    }
}

fn expected_error(name: &str, err: &PermissionError, class: &str) {
    let ok = match class {
        "ValidationConfigUnsetError" => matches!(err, PermissionError::ValidationConfigUnset),
        "RootPermissionOnlyError" => matches!(err, PermissionError::RootPermissionOnly),
        "DuplicateTargetAddressError" => matches!(err, PermissionError::DuplicateTargetAddress { .. }),
        "ZeroAddressError" => matches!(err, PermissionError::ZeroAddress { .. }),
        "SelectorNotAllowed" => matches!(err, PermissionError::SelectorNotAllowed { .. }),
        "AccountAddressAsTargetError" => matches!(err, PermissionError::AccountAddressAsTarget { .. }),
        "MultipleNativeTokenTransferError" => matches!(err, PermissionError::MultipleNativeTokenTransfer { .. }),
        other => panic!("{name}: error class {other} has no mapping"),
    };
    assert!(ok, "{name}: expected {class}, got {err:?} ({err})");
}

/// Domain permissions from the Wallet API's JSON (the wire type lives in `keyward-api`).
fn wire_permissions(json: serde_json::Value) -> Vec<Permission> {
    let wire: Vec<WirePermission> = serde_json::from_value(json).unwrap();
    WirePermission::to_domain_list(&wire)
}

#[test]
fn install_validation_matches_account_kit() {
    let file = file("mav2-install-validation.json");
    let cases = cases("mav2-install-validation.json", 42);
    let modules = modules_of(&file["modules"]);
    let compiler = PermissionCompiler { modules, entry_point: keyward_primitives::ENTRY_POINT_V07 };
    assert_eq!(compiler, PermissionCompiler::mav2());
    let (mut direct, mut built, mut errors) = (0, 0, 0);
    for case in &cases {
        let name = s(case, "name");
        let (i, e) = (&case["input"], &case["expected"]);
        match s(i, "kind") {
            "encodeInstallValidation" => {
                let v = &i["validation"];
                let validation = ValidationConfig::new(
                    addr(v, "moduleAddress"),
                    dec_u32(v, "entityId"),
                    boolean(v, "isGlobal"),
                    boolean(v, "isSignatureValidation"),
                    boolean(v, "isUserOpValidation"),
                );
                let install_data = if validation.entity.module == Address::ZERO {
                    Bytes::new()
                } else {
                    single_signer_install_data(validation.entity.entity_id, addr(i, "signer"))
                };
                let hooks = i["hooks"].as_array().unwrap().iter().map(|h| hook_from_input(name, h, &modules)).collect();
                let install =
                    InstallValidation { validation, selectors: selectors(&i["selectors"]), install_data, hooks };
                check_install(name, &install, e);
                assert_eq!(install.calldata(), bytes(e, "calldata"), "{name}: calldata");
                assert_eq!(InstallValidation::decode_calldata(&install.calldata()).unwrap(), install, "{name}: decode");
                direct += 1;
            }
            "permissionBuilder" => {
                modules_of(&i["modules"]);
                let wire: Vec<WirePermission> = serde_json::from_value(i["permissions"].clone())
                    .unwrap_or_else(|err| panic!("{name}: permissions parse: {err}"));
                // The wire form round-trips exactly, through the domain values too.
                let permissions = WirePermission::to_domain_list(&wire);
                let back: Vec<WirePermission> = permissions.iter().cloned().map(Into::into).collect();
                assert_eq!(serde_json::to_value(&back).unwrap(), i["permissions"], "{name}: wire round trip");
                let entity_id = dec_u32(i, "entityId");
                let request = SessionRequest {
                    account: addr(i, "account"),
                    session_key: addr(i, "sessionKeyAddress"),
                    entity_id,
                    permissions: permissions.clone(),
                    expiry_sec: dec_u64(i, "expirySec"),
                };
                // The builder's nonce is the session's deferred first-op nonce.
                let is_root = permissions.iter().any(|p| matches!(p, Permission::Root));
                let key = NonceKey::regular(U256::ZERO, entity_id, is_root, true).unwrap();
                assert_eq!(key.nonce(0), dec_u256(i, "nonce"), "{name}: builder nonce");

                match (compiler.compile(&request, NOW), e.get("error")) {
                    (Ok(compiled), None) => {
                        check_install(name, &compiled.install, &e["installArgs"]);
                        assert_eq!(compiled.calldata(), bytes(e, "calldata"), "{name}: calldata");
                        assert_eq!(compiled.nonce_key(U256::ZERO, true).unwrap(), key, "{name}: nonce key");
                        assert_eq!(
                            InstallValidation::decode_calldata(&compiled.calldata()).unwrap(),
                            compiled.install,
                            "{name}: decode"
                        );
                        built += 1;
                    }
                    (Err(err), Some(x)) => {
                        expected_error(name, &err, s(x, "errorClass"));
                        errors += 1;
                    }
                    (Ok(_), Some(x)) => panic!("{name}: expected {x}, compiled fine"),
                    (Err(err), None) => panic!("{name}: unexpected error {err}"),
                }
            }
            other => panic!("{name}: unknown kind {other}"),
        }
    }
    assert_eq!((direct, built, errors), (10, 22, 10));
}

#[test]
fn spec_worked_example_install_validation() {
    // account-formats.md §14.3.
    let request = SessionRequest {
        account: "0x65b5DE0251f553B2208762a4724303E750294D96".parse().unwrap(),
        session_key: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8".parse().unwrap(),
        entity_id: 7,
        permissions: wire_permissions(
            serde_json::from_str(
                r#"[{"type":"native-token-transfer","data":{"allowance":"0x16345785d8a0000"}},
                {"type":"contract-access","data":{"address":"0x1111111111111111111111111111111111111111"}}]"#,
            )
            .unwrap(),
        ),
        expiry_sec: 1798761600,
    };
    let compiled = PermissionCompiler::mav2().compile(&request, NOW).unwrap();
    let calldata = compiled.calldata();
    assert_eq!(calldata.len(), 1124);
    assert_eq!(
        hex(&calldata),
        "0x1bbf564c00000000000099de0bf6fa90deb851e2a2df7d83000000070100000000000000000000000000000000000000000000000000000000000000000000000000008000000000000000000000000000000000000000000000000000000000000000e000000000000000000000000000000000000000000000000000000000000001400000000000000000000000000000000000000000000000000000000000000002b61d27f60000000000000000000000000000000000000000000000000000000034fcd5be000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000040000000000000000000000000000000000000000000000000000000000000000700000000000000000000000070997970c51812dc3a010c7d01b50e0d17dc79c80000000000000000000000000000000000000000000000000000000000000003000000000000000000000000000000000000000000000000000000000000006000000000000000000000000000000000000000000000000000000000000001000000000000000000000000000000000000000000000000000000000000000180000000000000000000000000000000000000000000000000000000000000007900000000000082b8e2012be914dfa4f62a0573ea00000007010000000000000000000000000000000000000000000000000000000000000007000000000000000000000000000000000000000000000000000000006b36ec80000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000005900000000000001e541f0d090868fbe24b59fbe0600000007040000000000000000000000000000000000000000000000000000000000000007000000000000000000000000000000000000000000000000016345785d8a000000000000000000000000000000000000000000000000000000000000000000000000000000015900000000003e826473a313e600b5b9b791f5a59a00000007050000000000000000000000000000000000000000000000000000000000000007000000000000000000000000000000000000000000000000000000000000004000000000000000000000000000000000000000000000000000000000000000010000000000000000000000000000000000000000000000000000000000000020000000000000000000000000111111111111111111111111111111111111111100000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000a0000000000000000000000000000000000000000000000000000000000000000000000000000000"
    );
    assert!(compiled.has_execution_hooks());
    assert_eq!(HALF_UINT32, 2147483647);
}
