//! `shared/vectors/eip712-deferred-action.json` (account-kit deferral actions and
//! `PermissionBuilder.compileDeferred`): DeferredAction typed data and digests, and the complete
//! session-key deferred-action flow (prefix, SDK blobs, owner and session-key signatures, first
//! user-op signature and calldata) match byte for byte.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

mod mav2_common;

use alloy::primitives::{Address, U256};
use alloy::signers::{SignerSync, local::PrivateKeySigner};
use alloy::sol_types::SolStruct;
use keyward_api::wallet::Permission as WirePermission;
use keyward_primitives::mav2::{
    DeferredAction, DeferredActionPrefix, Permission, ValidationLocator,
    abi::{encode_execute, user_op_call_data},
    deferred::DEFERRED_ACTION_TYPEHASH,
    permissions::{PermissionCompiler, SessionRequest},
    signature::{eoa_user_op_signature, eoa_validation_data, user_op_signing_hash},
};
use mav2_common::*;
use serde_json::{Value, json};

const NOW: u64 = 1_700_000_000;

/// Domain permissions from the Wallet API's JSON (the wire type lives in `keyward-api`).
fn wire_permissions(json: serde_json::Value) -> Vec<Permission> {
    let wire: Vec<WirePermission> = serde_json::from_value(json).unwrap();
    WirePermission::to_domain_list(&wire)
}

/// Checks the typed data object account-kit hands to the signer.
fn check_typed_data(name: &str, td: &Value, chain_id: u64, account: Address, action: &DeferredAction) {
    assert_eq!(dec_u64(&td["domain"], "chainId"), chain_id, "{name}: domain.chainId");
    assert_eq!(addr(&td["domain"], "verifyingContract"), account, "{name}: domain.verifyingContract");
    assert_eq!(td["domain"].as_object().unwrap().len(), 2, "{name}: domain has only chainId, verifyingContract");
    assert_eq!(
        td["types"],
        json!({"DeferredAction": [
            {"name": "nonce", "type": "uint256"},
            {"name": "deadline", "type": "uint48"},
            {"name": "call", "type": "bytes"}
        ]}),
        "{name}: types"
    );
    assert_eq!(s(td, "primaryType"), "DeferredAction");
    let m = &td["message"];
    assert_eq!(dec_u256(m, "nonce"), action.nonce, "{name}: message.nonce");
    assert_eq!(dec_u64(m, "deadline"), action.deadline_secs(), "{name}: message.deadline");
    assert_eq!(bytes(m, "call"), action.call, "{name}: message.call");
    assert_eq!(action.eip712_type_hash(), DEFERRED_ACTION_TYPEHASH);
    // The typed data built from the same struct hashes to the digest.
    let built = action.typed_data(chain_id, account);
    assert_eq!(built.eip712_signing_hash().unwrap(), action.digest(chain_id, account), "{name}: typed data hash");
    assert_eq!(built.primary_type, "DeferredAction");
    assert_eq!(built.message["nonce"], json!(format!("{:#x}", action.nonce)), "{name}: typed nonce");
    assert_eq!(built.message["deadline"], json!(format!("{:#x}", action.deadline_secs())), "{name}: typed deadline");
    assert_eq!(built.message["call"], json!(action.call.to_string()), "{name}: typed call");
}

#[test]
fn deferred_actions_match_account_kit() {
    let cases = cases("eip712-deferred-action.json", 21);
    let compiler = PermissionCompiler::mav2();
    let (mut typed, mut full) = (0, 0);
    for case in &cases {
        let name = s(case, "name");
        let (i, e) = (&case["input"], &case["expected"]);
        let chain_id = dec_u64(i, "chainId");
        match s(i, "kind") {
            "typedData" => {
                let account = addr(i, "account");
                let action = DeferredAction::build(dec_u256(i, "nonce"), dec_u64(i, "deadline"), bytes(i, "call"))
                    .unwrap_or_else(|err| panic!("{name}: {err}"));
                check_typed_data(name, &e["typedData"], chain_id, account, &action);
                assert_eq!(action.digest(chain_id, account), b256(e, "digest"), "{name}: digest");
                typed += 1;
            }
            "fullDeferredAction" => {
                let owner: PrivateKeySigner = s(i, "ownerPrivateKey").parse().unwrap();
                let session: PrivateKeySigner = s(i, "sessionKeyPrivateKey").parse().unwrap();
                assert_eq!(session.address(), addr(i, "sessionKeyAddress"), "{name}: session key address");
                // The account address: for 7702 the owner EOA; for the default (counterfactual
                // SMA) mode it needs the factory's proxy creation code, which primitives does not
                // carry, so the vector's value is used (see mav2_account_address_vectors.rs).
                let account = addr(e, "account");
                if s(i, "mode") == "7702" {
                    assert_eq!(account, owner.address(), "{name}: 7702 account is the owner EOA");
                }

                let permissions = wire_permissions(i["permissions"].clone());
                let request = SessionRequest {
                    account,
                    session_key: session.address(),
                    entity_id: dec_u32(i, "entityId"),
                    permissions,
                    expiry_sec: dec_u64(i, "expirySec"),
                };
                let compiled = compiler.compile(&request, NOW).unwrap_or_else(|err| panic!("{name}: {err}"));
                assert_eq!(compiled.is_global, boolean(i, "isGlobalValidation"), "{name}: isGlobalValidation");
                assert_eq!(
                    hex(compiled.install.validation.encode().as_slice()),
                    s(&e["validationConfig"], "serialized"),
                    "{name}: validationConfig"
                );
                assert_eq!(compiled.calldata(), bytes(e, "installValidationCallData"), "{name}: installValidation");
                assert_eq!(compiled.has_execution_hooks(), boolean(e, "hasAssociatedExecHooks"), "{name}: exec hooks");

                // Nonce of the op carrying the grant.
                let action = compiled
                    .deferred_action(dec_u256(i, "nonceKey"), dec_u64(i, "nonceSequence"))
                    .unwrap_or_else(|err| panic!("{name}: {err}"));
                assert_eq!(action.nonce, dec_u256(e, "nonce"), "{name}: nonce");
                assert_eq!(action.nonce, dec_u256(e, "userOpNonce"), "{name}: userOpNonce");
                check_typed_data(name, &e["typedData"], chain_id, account, &action);
                let digest = action.digest(chain_id, account);
                assert_eq!(digest, b256(e, "digest"), "{name}: digest");

                // Owner signs the digest directly (no ReplaySafeHash wrap).
                let owner_sig = owner.sign_hash_sync(&digest).unwrap();
                assert_eq!(hex(&owner_sig.as_bytes()), s(e, "ownerRawSignature"), "{name}: ownerRawSignature");
                let deferred_signature = eoa_validation_data(&owner_sig);
                assert_eq!(deferred_signature, bytes(e, "ownerDeferredActionSignature"), "{name}: owner 1271 data");

                let prefix = DeferredActionPrefix {
                    inner_locator: ValidationLocator::owner(),
                    deadline: compiled.deadline,
                    call: compiled.calldata(),
                    deferred_signature,
                };
                let has_hooks = compiled.has_execution_hooks();
                assert_eq!(
                    hex(&prefix.pre_signature().unwrap()),
                    s(e, "preSignatureDeferredActionDigest"),
                    "{name}: preSignature"
                );
                assert_eq!(
                    hex(&prefix.full_pre_signature(has_hooks, action.nonce).unwrap()),
                    s(e, "fullPreSignatureDeferredActionDigest"),
                    "{name}: fullPreSignature"
                );
                let blob = prefix.sdk_blob(has_hooks, action.nonce).unwrap();
                assert_eq!(blob, bytes(e, "deferredAction"), "{name}: deferredAction");

                // The session key signs the first op.
                let session_sig = session.sign_hash_sync(&user_op_signing_hash(b256(i, "userOpHash"))).unwrap();
                assert_eq!(hex(&session_sig.as_bytes()), s(e, "sessionKeyRawSignature"), "{name}: session sig");
                let outer = eoa_user_op_signature(&session_sig);
                let sig = prefix.user_op_signature(&outer).unwrap();
                assert_eq!(sig, bytes(e, "userOpSignature"), "{name}: userOpSignature");
                assert_eq!(&sig[..], &[&blob[33..], &outer[..]].concat()[..], "{name}: §8.5 relation");

                let fc = &i["firstCall"];
                let inner = encode_execute(addr(fc, "target"), dec_u256(fc, "value"), bytes(fc, "data"));
                assert_eq!(user_op_call_data(&inner, has_hooks), bytes(e, "firstUserOpCallData"), "{name}: callData");

                // Decoding gives everything back.
                let (back, rest) = DeferredActionPrefix::decode(&sig).unwrap();
                assert_eq!((&back, rest), (&prefix, &outer[..]), "{name}: decode prefix");
                let (flag, nonce, back2, rest2) = DeferredActionPrefix::decode_sdk_blob(&blob).unwrap();
                assert_eq!((flag, nonce, &back2, rest2.len()), (has_hooks, action.nonce, &prefix, 0), "{name}: blob");
                assert_eq!(back.typed_data(action.nonce).unwrap(), action, "{name}: typed data from prefix");
                full += 1;
            }
            other => panic!("{name}: unknown kind {other}"),
        }
    }
    assert_eq!((typed, full), (12, 9));
}

#[test]
fn spec_worked_example_deferred_action() {
    // account-formats.md §14.3–14.4.
    let account: Address = "0x65b5DE0251f553B2208762a4724303E750294D96".parse().unwrap();
    let request = SessionRequest {
        account,
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
    let action = compiled.deferred_action(U256::ZERO, 0).unwrap();
    assert_eq!(action.nonce, U256::from_str_radix("7020000000000000000", 16).unwrap());
    let domain = DeferredAction::domain(31337, account);
    assert_eq!(
        hex(domain.separator().as_slice()),
        "0xa038502cbd6f32e0a2d59f8a1678aa8338de7f64f3be3903ddcd568012be5e45"
    );
    assert_eq!(
        hex(action.eip712_hash_struct().as_slice()),
        "0xb1a0d2fd43f763e8799d5a3fa834399a6cf29ec1134fa47f9321b5c750c43d97"
    );
    let digest = action.digest(31337, account);
    assert_eq!(hex(digest.as_slice()), "0xdc727e79058a60a46a456a7de25c77de063b97aea4138b365a9b01052a2e44f9");
    let owner: PrivateKeySigner = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80".parse().unwrap();
    let session: PrivateKeySigner =
        "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d".parse().unwrap();
    let owner_sig = owner.sign_hash_sync(&digest).unwrap();
    assert_eq!(
        hex(&owner_sig.as_bytes()),
        "0x4c309523b1247fb266d8df56b46a901bc0ef4389c48e448e986add5573d650180f276140177209703bb7af8972de172caeaa2c0fa082784f48a3196038d0a92e1b"
    );
    let user_op_hash = "0x5298e2768fa2a6e89a5e4cf1d2cb996f522242106bfa717c0a02fff680e9ac68".parse().unwrap();
    let session_sig = session.sign_hash_sync(&user_op_signing_hash(user_op_hash)).unwrap();
    let prefix = DeferredActionPrefix {
        inner_locator: ValidationLocator::owner(),
        deadline: compiled.deadline,
        call: compiled.calldata(),
        deferred_signature: eoa_validation_data(&owner_sig),
    };
    let sig = prefix.user_op_signature(&eoa_user_op_signature(&session_sig)).unwrap();
    assert_eq!(sig.len(), 1292);
    assert_eq!(hex(&sig[0..4]), "0x0000047f");
    assert_eq!(hex(&sig[4..25]), "0x000000000000000000000000000000000000000001");
    assert_eq!(hex(&sig[25..31]), "0x00006b36ec80");
    assert_eq!(&sig[31..1155], &compiled.calldata()[..]);
    assert_eq!(hex(&sig[1155..1159]), "0x00000042");
    assert_eq!(sig[1159], 0x00);
    assert_eq!(hex(&sig[1225..1227]), "0xff00");
    assert_eq!(
        hex(&sig[1227..]),
        "0xbd9b80eaf46bf81ba76320da93559f0d721c97088f25fe3d9493ebb49521dcab3323c2416e67ec737ed66bca857fe20c063c99ff7bb0814779b3f04ff2d8d9af1c"
    );
    let full_pre = prefix.full_pre_signature(compiled.has_execution_hooks(), action.nonce).unwrap();
    assert_eq!(full_pre[0], 0x01);
    assert_eq!(hex(&full_pre[1..33]), "0x0000000000000000000000000000000000000000000007020000000000000000");
}

#[test]
fn deadline_must_fit_uint48() {
    assert!(DeferredAction::build(U256::ZERO, (1 << 48) - 1, Default::default()).is_ok());
    assert!(DeferredAction::build(U256::ZERO, 1 << 48, Default::default()).is_err());
}
