//! `shared/vectors/userop-v07-hash.json` (computed by viem): packing and userOpHash match byte for byte.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use std::path::PathBuf;

use alloy::primitives::{Address, B256, Bytes, U256};
use keyward_primitives::{FactoryInit, PaymasterInit, UserOperation};
use serde_json::Value;

fn vectors() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../vendor/shared/vectors/userop-v07-hash.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("field {k} missing in {v}"))
}

fn dec_u128(v: &Value, k: &str) -> u128 {
    s(v, k).parse().unwrap()
}

fn dec_u256(v: &Value, k: &str) -> U256 {
    U256::from_str_radix(s(v, k), 10).unwrap()
}

fn op_from(v: &Value) -> UserOperation {
    let factory = v.get("factory").map(|_| FactoryInit {
        factory: s(v, "factory").parse().unwrap(),
        factory_data: s(v, "factoryData").parse().unwrap(),
    });
    let paymaster = v.get("paymaster").map(|_| PaymasterInit {
        paymaster: s(v, "paymaster").parse().unwrap(),
        verification_gas_limit: dec_u128(v, "paymasterVerificationGasLimit"),
        post_op_gas_limit: dec_u128(v, "paymasterPostOpGasLimit"),
        data: s(v, "paymasterData").parse().unwrap(),
    });
    UserOperation {
        sender: s(v, "sender").parse().unwrap(),
        nonce: dec_u256(v, "nonce"),
        factory,
        call_data: s(v, "callData").parse().unwrap(),
        call_gas_limit: dec_u128(v, "callGasLimit"),
        verification_gas_limit: dec_u128(v, "verificationGasLimit"),
        pre_verification_gas: dec_u256(v, "preVerificationGas"),
        max_fee_per_gas: dec_u128(v, "maxFeePerGas"),
        max_priority_fee_per_gas: dec_u128(v, "maxPriorityFeePerGas"),
        paymaster,
        signature: s(v, "signature").parse().unwrap(),
    }
}

#[test]
fn packing_and_hash_match_viem() {
    let v = vectors();
    let cases = v["cases"].as_array().unwrap();
    assert!(cases.len() >= 20, "expected the full vector set, got {}", cases.len());
    for case in cases {
        let name = s(case, "name");
        let input = &case["input"];
        let op = op_from(&input["userOperation"]);
        let packed = op.pack();
        let exp = &case["expected"]["packed"];
        assert_eq!(packed.sender, s(exp, "sender").parse::<Address>().unwrap(), "{name} sender");
        assert_eq!(packed.nonce, dec_u256(exp, "nonce"), "{name} nonce");
        assert_eq!(packed.initCode, s(exp, "initCode").parse::<Bytes>().unwrap(), "{name} initCode");
        assert_eq!(packed.callData, s(exp, "callData").parse::<Bytes>().unwrap(), "{name} callData");
        assert_eq!(
            packed.accountGasLimits,
            s(exp, "accountGasLimits").parse::<B256>().unwrap(),
            "{name} accountGasLimits"
        );
        assert_eq!(packed.preVerificationGas, dec_u256(exp, "preVerificationGas"), "{name} pvg");
        assert_eq!(packed.gasFees, s(exp, "gasFees").parse::<B256>().unwrap(), "{name} gasFees");
        assert_eq!(packed.paymasterAndData, s(exp, "paymasterAndData").parse::<Bytes>().unwrap(), "{name} pmAndData");
        assert_eq!(packed.signature, s(exp, "signature").parse::<Bytes>().unwrap(), "{name} signature");

        let ep: Address = s(input, "entryPointAddress").parse().unwrap();
        let chain_id: u64 = s(input, "chainId").parse().unwrap();
        let expected: B256 = s(&case["expected"], "userOpHash").parse().unwrap();
        assert_eq!(op.hash(ep, chain_id), expected, "{name} userOpHash");

        // Unpacking gives back the same operation, and the JSON form round-trips.
        let back = UserOperation::try_from(packed).unwrap();
        assert_eq!(back, op, "{name} unpack");
        let json = serde_json::to_value(&op).unwrap();
        assert_eq!(serde_json::from_value::<UserOperation>(json).unwrap(), op, "{name} json");
    }
}

#[test]
fn rpc_form_rejects_half_given_paymaster() {
    let json = serde_json::json!({
        "sender": "0x0000000000000000000000000000000000000001", "nonce": "0x0", "callData": "0x",
        "callGasLimit": "0x1", "verificationGasLimit": "0x1", "preVerificationGas": "0x1",
        "maxFeePerGas": "0x1", "maxPriorityFeePerGas": "0x1", "signature": "0x",
        "paymaster": "0x0000000000000000000000000000000000000002"
    });
    let err = serde_json::from_value::<UserOperation>(json).unwrap_err().to_string();
    assert!(err.contains("go together"), "{err}");
}

#[test]
fn short_paymaster_and_data_is_an_error() {
    let mut packed = UserOperation::default().pack();
    packed.paymasterAndData = Bytes::from(vec![1u8; 51]);
    assert!(UserOperation::try_from(packed).is_err());
}
