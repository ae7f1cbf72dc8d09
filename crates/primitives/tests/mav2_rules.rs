//! MAv2 encoders against the constants of account-formats.md and the permission compiler's
//! rejection rules (beyond the vector files).

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use alloy::primitives::{Address, Bytes, FixedBytes, U256, address, keccak256};
use alloy::sol_types::SolCall;
use keyward_api::wallet::Permission as WirePermission;
use keyward_primitives::mav2::{
    HookConfig, ModuleAddresses, ModuleEntity, Permission, PermissionError, ValidationConfig, ValidationLocator,
    abi::{IAccountFactory, IModularAccount, IModuleSetters},
    deferred::DEFERRED_ACTION_TYPEHASH,
    ids::IdError,
    modules::{ModuleError, paymaster_guard_install_data, time_range_install_data},
    permissions::{PermissionCompiler, PermissionsContext, SessionRequest, forbidden_account_selectors},
    signature::REPLAY_SAFE_HASH_TYPEHASH,
};

/// Domain permissions from the Wallet API's JSON (the wire type lives in `keyward-api`).
fn wire_permissions(json: serde_json::Value) -> Vec<Permission> {
    let wire: Vec<WirePermission> = serde_json::from_value(json).unwrap();
    WirePermission::to_domain_list(&wire)
}

fn hx(b: &[u8]) -> String {
    format!("0x{}", alloy::primitives::hex::encode(b))
}

#[test]
fn selectors_and_type_hashes_match_the_spec() {
    use IModularAccount as A;
    assert_eq!(hx(&A::executeCall::SELECTOR), "0xb61d27f6");
    assert_eq!(hx(&A::executeBatchCall::SELECTOR), "0x34fcd5be");
    assert_eq!(hx(&A::executeWithRuntimeValidationCall::SELECTOR), "0xf2680c0f");
    assert_eq!(hx(&A::installValidationCall::SELECTOR), "0x1bbf564c");
    assert_eq!(hx(&A::uninstallValidationCall::SELECTOR), "0xb6b1ccfe");
    assert_eq!(hx(&A::performCreateCall::SELECTOR), "0x5998db5c");
    assert_eq!(hx(&A::upgradeToAndCallCall::SELECTOR), "0x4f1ef286");
    assert_eq!(hx(&A::updateFallbackSignerDataCall::SELECTOR), "0x30009d52");
    assert_eq!(hx(&A::initializeWithValidationCall::SELECTOR), "0xe919a623");
    assert_eq!(hx(&A::initializeCall::SELECTOR), "0xc4d66de8");
    assert_eq!(hx(&A::isValidSignatureCall::SELECTOR), "0x1626ba7e");
    assert_eq!(hx(&IAccountFactory::createSemiModularAccountCall::SELECTOR), "0x8b4e464e");
    assert_eq!(hx(&IAccountFactory::createAccountCall::SELECTOR), "0xafa63a10");
    assert_eq!(hx(&IAccountFactory::getAddressSemiModularCall::SELECTOR), "0x6aa34063");
    assert_eq!(hx(&IModuleSetters::onInstallCall::SELECTOR), "0x6d61fe70");
    assert_eq!(hx(&IModuleSetters::onUninstallCall::SELECTOR), "0x8a91b0e3");
    assert_eq!(hx(&IModuleSetters::transferSignerCall::SELECTOR), "0x4aeb3b03");
    assert_eq!(hx(&IModuleSetters::updateLimits_0Call::SELECTOR), "0x71280be3");
    assert_eq!(hx(&IModuleSetters::updateSpecialPaymasterCall::SELECTOR), "0x5c6e5169");
    assert_eq!(hx(&IModuleSetters::setTimeRangeCall::SELECTOR), "0xe762c77c");
    // installExecution / uninstallExecution from their full signatures (§2.1).
    let sel = |sig: &str| hx(&keccak256(sig)[..4]);
    let manifest = "((bytes4,bool,bool)[],(bytes4,uint32,bool,bool)[],bytes4[])";
    assert_eq!(sel(&format!("installExecution(address,{manifest},bytes)")), "0x001a63e9");
    assert_eq!(sel(&format!("uninstallExecution(address,{manifest},bytes)")), "0x93b1dc61");
    assert_eq!(keccak256("ReplaySafeHash(bytes32 hash)"), REPLAY_SAFE_HASH_TYPEHASH);
    assert_eq!(keccak256("DeferredAction(uint256 nonce,uint48 deadline,bytes call)"), DEFERRED_ACTION_TYPEHASH);
    let forbidden = forbidden_account_selectors();
    for s in ["0x001a63e9", "0x93b1dc61", "0x1d37e7d6", "0x0b7cad71", "0x8dd7712f", "0x30009d52"] {
        assert!(forbidden.contains(&s.parse().unwrap()), "{s} must be forbidden");
    }
}

#[test]
fn packed_ids() {
    let m = address!("0x00000000000099DE0BF6fA90dEB851E2A2df7d83");
    let vc = ValidationConfig::session(m, 7, false);
    assert_eq!(hx(vc.encode().as_slice()), "0x00000000000099de0bf6fa90deb851e2a2df7d830000000701");
    assert_eq!(ValidationConfig::owner(m, 0).flags(), 0x07);
    assert_eq!(ValidationConfig::session(m, 1, true).flags(), 0x05);
    let mut bad = vc.encode();
    bad[24] = 0x09;
    assert_eq!(ValidationConfig::decode(bad), Err(IdError::UnusedValidationFlags(0x09)));
    assert_eq!(HookConfig::validation_hook(m, 3).flags(), 0x05);
    assert_eq!(HookConfig::bare_validation_hook(m, 3).flags(), 0x01);
    assert_eq!(HookConfig::execution_hook(m, 3, true, true).flags(), 0x06);
    let me = ModuleEntity::new(m, 0xdeadbeef);
    assert_eq!(ModuleEntity::decode(me.encode()), me);
    assert_eq!(ModuleEntity::owner().encode(), FixedBytes::<24>::ZERO);
    // Locators.
    assert_eq!(hx(ValidationLocator::owner().encode().as_slice()), "0x000000000000000000000000000000000000000001");
    let direct = ValidationLocator::direct_call(m, true);
    assert_eq!(hx(&direct.encode_packed()), "0x0500000000000099de0bf6fa90deb851e2a2df7d83");
    assert_eq!(ValidationLocator::decode_packed(&direct.encode_packed()).unwrap().0, direct);
    assert_eq!(ValidationLocator::decode_packed(&[0x00, 0, 0]), Err(IdError::ShortPackedLocator { needed: 5, got: 3 }));
    assert_eq!(
        ValidationConfig::new(m, u32::MAX, false, false, true).lookup_key(),
        ValidationLocator::direct_call(m, false)
    );
    assert_eq!(ValidationLocator::regular(9, true, true).lookup_key(), ValidationLocator::regular(9, false, false));
}

#[test]
fn module_encoders_reject_what_modules_reject() {
    assert_eq!(time_range_install_data(1, 0, 0), Err(ModuleError::EmptyTimeRange));
    assert_eq!(
        time_range_install_data(1, 5, 5),
        Err(ModuleError::TimeRangeNotAfter { valid_until: 5, valid_after: 5 })
    );
    assert_eq!(time_range_install_data(1, 1 << 48, 0), Err(ModuleError::TimeOverflow(1 << 48)));
    assert!(time_range_install_data(1, 0, 5).is_ok());
    assert_eq!(paymaster_guard_install_data(1, Address::ZERO), Err(ModuleError::ZeroPaymaster));
}

fn request(perms: &str, expiry: u64) -> SessionRequest {
    SessionRequest {
        account: address!("0x65b5DE0251f553B2208762a4724303E750294D96"),
        session_key: address!("0x70997970C51812dc3A010C7d01b50e0d17dc79C8"),
        entity_id: 7,
        permissions: wire_permissions(serde_json::from_str(perms).unwrap()),
        expiry_sec: expiry,
    }
}

fn compile(perms: &str) -> Result<keyward_primitives::mav2::CompiledSession, PermissionError> {
    PermissionCompiler::mav2().compile(&request(perms, 0), 1_000)
}

#[test]
fn permission_compiler_errors() {
    let c = PermissionCompiler::mav2();
    let mut r = request(r#"[{"type":"root"}]"#, 0);
    r.entity_id = 0;
    assert_eq!(c.compile(&r, 0), Err(PermissionError::InvalidEntityId(0)));
    r.entity_id = 0x7fff_ffff;
    assert_eq!(c.compile(&r, 0), Err(PermissionError::InvalidEntityId(0x7fff_ffff)));
    r.entity_id = 0x7fff_fffe;
    assert!(c.compile(&r, 0).is_ok());
    r.session_key = Address::ZERO;
    assert_eq!(c.compile(&r, 0), Err(PermissionError::ZeroSessionKey));
    assert_eq!(
        c.compile(&request(r#"[{"type":"root"}]"#, 999), 1_000),
        Err(PermissionError::ExpiredDeadline { expiry: 999, now: 1_000 })
    );
    assert!(c.compile(&request(r#"[{"type":"root"}]"#, 1_000), 1_000).is_ok());
    assert_eq!(
        c.compile(&request(r#"[{"type":"root"}]"#, 1 << 48), 0),
        Err(PermissionError::DeadlineOverLimit(1 << 48))
    );
    assert_eq!(compile("[]"), Err(PermissionError::NoPermissions));
    assert_eq!(compile(r#"[{"type":"root"},{"type":"root"}]"#), Err(PermissionError::RootPermissionOnly));
    assert_eq!(
        compile(
            r#"[{"type":"contract-access","data":{"address":"0x1111111111111111111111111111111111111111"}},{"type":"root"}]"#
        ),
        Err(PermissionError::RootPermissionOnly)
    );
    assert_eq!(
        compile(r#"[{"type":"gas-limit","data":{"limit":"0x1"}},{"type":"gas-limit","data":{"limit":"0x2"}}]"#),
        Err(PermissionError::MultipleGasLimit { index: 1 })
    );
    assert_eq!(
        compile(
            r#"[{"type":"functions-on-contract","data":{"address":"0x1111111111111111111111111111111111111111","functions":[]}}]"#
        ),
        Err(PermissionError::NoFunctionsProvided { index: 0, kind: "functions-on-contract" })
    );
    assert_eq!(
        compile(
            r#"[{"type":"account-functions","data":{"functions":["0x12345678"]}},{"type":"account-functions","data":{"functions":["0x12345678"]}}]"#
        ),
        Err(PermissionError::DuplicateSelector {
            index: 1,
            kind: "account-functions",
            selector: "0x12345678".parse().unwrap()
        })
    );
    assert_eq!(
        compile(r#"[{"type":"account-functions","data":{"functions":["0x001a63e9"]}}]"#),
        Err(PermissionError::SelectorNotAllowed { index: 0, selector: "0x001a63e9".parse().unwrap() })
    );
    assert_eq!(
        compile(
            r#"[{"type":"erc20-token-transfer","data":{"address":"0x0000000000000000000000000000000000000000","allowance":"0x1"}}]"#
        ),
        Err(PermissionError::ZeroAddress { index: 0, kind: "erc20-token-transfer" })
    );
    let t = r#"{"address":"0x1111111111111111111111111111111111111111","allowance":"0x1"}"#;
    assert_eq!(
        compile(&format!(
            r#"[{{"type":"erc20-token-transfer","data":{t}}},{{"type":"erc20-token-transfer","data":{t}}}]"#
        )),
        Err(PermissionError::DuplicateErc20Token {
            index: 1,
            token: address!("0x1111111111111111111111111111111111111111")
        })
    );
    // Modules and the EntryPoint are never targets; module setters never wildcard selectors.
    let al = ModuleAddresses::mav2().allowlist;
    assert_eq!(
        compile(&format!(r#"[{{"type":"contract-access","data":{{"address":"{al}"}}}}]"#)),
        Err(PermissionError::ForbiddenTarget { index: 0, kind: "contract-access", address: al })
    );
    let ep = keyward_primitives::ENTRY_POINT_V07;
    assert_eq!(
        compile(&format!(
            r#"[{{"type":"functions-on-contract","data":{{"address":"{ep}","functions":["0x12345678"]}}}}]"#
        )),
        Err(PermissionError::ForbiddenTarget { index: 0, kind: "functions-on-contract", address: ep })
    );
    assert_eq!(
        compile(r#"[{"type":"functions-on-all-contracts","data":{"functions":["0x71280be3"]}}]"#),
        Err(PermissionError::ForbiddenWildcardSelector { index: 0, selector: "0x71280be3".parse().unwrap() })
    );
    // Error messages are specific.
    let msg = compile(r#"[{"type":"native-token-transfer","data":{"allowance":"0x1"}}]"#).unwrap_err().to_string();
    assert!(msg.contains("no callable function"), "{msg}");
}

#[test]
fn uninstall_pairs_hooks_in_reverse_per_group() {
    let compiled = compile(
        r#"[{"type":"native-token-transfer","data":{"allowance":"0x1"}},
            {"type":"erc20-token-transfer","data":{"address":"0x2222222222222222222222222222222222222222","allowance":"0x5"}},
            {"type":"gas-limit","data":{"limit":"0x9"}},
            {"type":"contract-access","data":{"address":"0x1111111111111111111111111111111111111111"}}]"#,
    )
    .unwrap();
    let m = ModuleAddresses::mav2();
    let hooks = &compiled.install.hooks;
    // Install order: NTL exec E, AL exec E', NTL validation E', AL validation E.
    assert_eq!(hooks.len(), 4);
    let u = compiled.uninstall(&m);
    assert_eq!(u.validation, ModuleEntity::new(m.single_signer_validation, 7));
    assert_eq!(hx(&u.uninstall_data), format!("0x{:064x}", 7));
    let e2 = 7u32 + 0x7fff_ffff;
    assert_eq!(
        u.hook_uninstall_data,
        vec![
            hooks[3].install_data.clone(), // AL validation (last validation hook)
            Bytes::from(U256::from(e2).to_be_bytes::<32>().to_vec()), // NTL validation E'
            hooks[1].install_data.clone(), // AL exec (last execution hook)
            Bytes::from(U256::from(7).to_be_bytes::<32>().to_vec()), // NTL exec E
        ]
    );
    assert_eq!(hx(&u.calldata()[..4]), "0xb6b1ccfe");
}

#[test]
fn permissions_context() {
    let sig = Bytes::from(vec![0x11; 65]);
    let ctx = PermissionsContext::RemoteDeferred { session_id: [0xab; 16], owner_signature: sig };
    let enc = ctx.encode();
    assert_eq!(enc.len(), 82);
    assert_eq!(PermissionsContext::decode(&enc).unwrap(), ctx);
    let nd = PermissionsContext::NonDeferred { is_global: true, entity_id: 0x0102_0304 };
    assert_eq!(hx(&nd.encode()), "0x020101020304");
    assert_eq!(PermissionsContext::decode(&nd.encode()).unwrap(), nd);
    assert!(PermissionsContext::decode(&[0x02, 0x03, 0, 0, 0, 1]).is_err());
    assert!(PermissionsContext::decode(&[0x07]).is_err());
    assert!(PermissionsContext::decode(&[]).is_err());
}
