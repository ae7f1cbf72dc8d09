//! Every case of `shared/vectors/userop-v07-hash.json` (computed by viem) gives the expected hash
//! from our EntryPoint's `getUserOpHash`, on a chain with the vector's chain id.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use alloy::primitives::{B256, Bytes, U256};
use keyward_chain::{EmbeddedChain, EmbeddedConfig};
use keyward_primitives::entry_point::IEntryPoint;
use keyward_primitives::{ENTRY_POINT_V07, PackedUserOperation};
use keyward_testkit::Harness;
use serde_json::Value;

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("{k} missing"))
}

#[tokio::test]
async fn get_user_op_hash_matches_viem_vectors() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../vendor/shared/vectors/userop-v07-hash.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut by_chain: BTreeMap<u64, Vec<&Value>> = BTreeMap::new();
    for case in v["cases"].as_array().unwrap() {
        by_chain.entry(s(&case["input"], "chainId").parse().unwrap()).or_default().push(case);
    }
    let mut checked = 0;
    for (chain_id, cases) in by_chain {
        let chain = EmbeddedChain::open(EmbeddedConfig { chain_id, ..Default::default() }).unwrap();
        let h = Harness::on(chain);
        for case in cases {
            // Vectors at other EntryPoint addresses: our code placed there (the hash binds
            // `address(this)`).
            let ep: alloy::primitives::Address = s(&case["input"], "entryPointAddress").parse().unwrap();
            if ep != ENTRY_POINT_V07 {
                let code = keyward_contracts::artifacts::entry_point().deployed_bytecode.clone();
                h.chain.set_code(ep, code).await.unwrap();
            }
            let p = &case["expected"]["packed"];
            let packed = PackedUserOperation {
                sender: s(p, "sender").parse().unwrap(),
                nonce: U256::from_str_radix(s(p, "nonce"), 10).unwrap(),
                initCode: s(p, "initCode").parse::<Bytes>().unwrap(),
                callData: s(p, "callData").parse::<Bytes>().unwrap(),
                accountGasLimits: s(p, "accountGasLimits").parse().unwrap(),
                preVerificationGas: U256::from_str_radix(s(p, "preVerificationGas"), 10).unwrap(),
                gasFees: s(p, "gasFees").parse().unwrap(),
                paymasterAndData: s(p, "paymasterAndData").parse::<Bytes>().unwrap(),
                signature: s(p, "signature").parse::<Bytes>().unwrap(),
            };
            let expected: B256 = s(&case["expected"], "userOpHash").parse().unwrap();
            let got = h.read(ep, IEntryPoint::getUserOpHashCall { userOp: packed }).await.unwrap();
            assert_eq!(got, expected, "{} on chain {chain_id}", s(case, "name"));
            checked += 1;
        }
    }
    assert!(checked >= 20, "checked {checked} cases");
}
