//! The ERC-7677 JSON-RPC methods over the Sponsor and the real VerifyingPaymaster on the embedded
//! chain (wire JSON in, wire JSON out): stub data, then data, then inclusion of an operation from
//! an account with zero ETH, paid from the deposit and settled from the chain; every malformed or
//! refused request gets a precise JSON-RPC error.
//!
//! Here, at the edge, because the methods are `keyward_server::paymaster::PaymasterRpc`'s; the
//! Sponsor alone is keyward-paymaster's `tests/sponsor_onchain.rs`.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use alloy::primitives::{Address, Bytes, U256};
use jsonrpsee::RpcModule;
use keyward_api::paymaster::PaymasterApiServer;
use keyward_paymaster::Policy;
use keyward_primitives::UserOperation;
use keyward_server::paymaster::PaymasterRpc;
use keyward_testkit::mav2::execute;
use serde_json::{Value, json};
use uuid::Uuid;

use keyward_testkit::sponsorship::{Backend, Env, TestDb};

async fn call(module: &RpcModule<PaymasterRpc>, method: &str, params: Value) -> Value {
    let req = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
    let (resp, _) = module.raw_json_request(&req, 1).await.unwrap();
    serde_json::from_str(resp.get()).unwrap()
}

/// The op's wire JSON without paymaster fields and signature (what a wallet sends for stub data).
fn wire(op: &UserOperation) -> Value {
    let mut v = serde_json::to_value(op).unwrap();
    let o = v.as_object_mut().unwrap();
    for k in ["paymaster", "paymasterData", "paymasterVerificationGasLimit", "paymasterPostOpGasLimit", "signature"] {
        o.remove(k);
    }
    v
}

fn u128_of(v: &Value) -> u128 {
    u128::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

#[tokio::test]
async fn erc7677_stub_then_data_then_inclusion() {
    let db = TestDb::open(Backend::Sqlite).await.unwrap();
    let env = Env::new().await;
    let id = Uuid::new_v4();
    let sponsor = env.sponsor(db.store.clone(), vec![Policy::open(id, "Keyward dev")]);
    let watcher = env.watcher(db.store.clone(), &sponsor);
    let module = PaymasterRpc::new(sponsor.clone()).into_rpc();
    let counter = env.m.h.counter().await;
    let a = env.m.counterfactual_account(U256::ZERO).await;
    let count =
        Bytes::from(alloy::sol_types::SolCall::abi_encode(&keyward_contracts::bindings::TestCounter::countCall {}));
    let mut op = env.m.owner_op(&a, execute(counter, U256::ZERO, count)).await;
    let ep = format!("{:#x}", env.m.h.ep);
    let chain = format!("{:#x}", env.m.chain_id);
    let ctx = json!({"policyId": id.to_string()});

    let stub = call(&module, "pm_getPaymasterStubData", json!([wire(&op), ep, chain, ctx])).await;
    let r = &stub["result"];
    assert_eq!(r["isFinal"], json!(false), "{stub}");
    assert_eq!(r["paymaster"].as_str().unwrap().to_lowercase(), format!("{:#x}", env.paymaster));
    assert_eq!(r["sponsor"]["name"], json!("Keyward dev"));
    let stub_data: Bytes = serde_json::from_value(r["paymasterData"].clone()).unwrap();
    assert_eq!(stub_data.len(), keyward_primitives::paymaster::PAYMASTER_DATA_LEN);
    // Nothing is reserved for stub data.
    assert_eq!(db.store.policy_totals(&id.to_string()).await.unwrap().committed(), U256::ZERO);

    let data = call(&module, "pm_getPaymasterData", json!([wire(&op), ep, chain, ctx])).await;
    let r = &data["result"];
    assert!(r.get("isFinal").is_none(), "{data}");
    op.paymaster = Some(keyward_primitives::PaymasterInit {
        paymaster: serde_json::from_value(r["paymaster"].clone()).unwrap(),
        verification_gas_limit: u128_of(&r["paymasterVerificationGasLimit"]),
        post_op_gas_limit: u128_of(&r["paymasterPostOpGasLimit"]),
        data: serde_json::from_value(r["paymasterData"].clone()).unwrap(),
    });
    env.m.sign_owner(&a, &mut op);
    env.m.send(op).await.success();
    assert_eq!(
        env.m.h.read(counter, keyward_contracts::bindings::TestCounter::counterCall {}).await.unwrap(),
        U256::from(1)
    );
    assert_eq!(env.m.balance(a.address).await, U256::ZERO);
    assert_eq!(watcher.round().await.unwrap().events, 1);
    let totals = db.store.policy_totals(&id.to_string()).await.unwrap();
    assert!(totals.spent > U256::ZERO && totals.reserved == U256::ZERO, "settled from the chain: {totals:?}");
    db.cleanup().await;
}

#[tokio::test]
async fn erc7677_errors_are_precise() {
    let db = TestDb::open(Backend::Sqlite).await.unwrap();
    let env = Env::new().await;
    let id = Uuid::new_v4();
    let mut closed = Policy::open(Uuid::new_v4(), "closed");
    closed.enabled = false;
    let sponsor = env.sponsor(db.store.clone(), vec![Policy::open(id, "p"), closed.clone()]);
    let module = PaymasterRpc::new(sponsor).into_rpc();
    let op = env.m.op(Address::with_last_byte(1), U256::ZERO, Bytes::new());
    let ep = format!("{:#x}", env.m.h.ep);
    let chain = format!("{:#x}", env.m.chain_id);
    let ctx = json!({"policyId": id.to_string()});
    let cases: Vec<(Value, i64, &str)> = vec![
        (
            json!([wire(&op), format!("{:#x}", Address::with_last_byte(9)), chain, ctx]),
            -32602,
            "unsupported entryPoint",
        ),
        (json!([wire(&op), ep, "0x1", ctx]), -32602, "unsupported chainId 0x1"),
        (json!([wire(&op), ep, chain]), -32602, "context.policyId is required"),
        (json!([wire(&op), ep, chain, {"webhookData": "x"}]), -32602, "policyId"),
        (json!([wire(&op), ep, chain, {"policyId": "nope"}]), -32602, "policy id \"nope\" is not a UUID"),
        (json!([{"sender": "0x12"}, ep, chain, ctx]), -32602, "invalid string length"),
        (json!([wire(&op), ep, chain, {"policyId": closed.id.to_string()}]), -32000, "is disabled"),
    ];
    for (params, code, needle) in cases {
        for method in ["pm_getPaymasterStubData", "pm_getPaymasterData"] {
            let resp = call(&module, method, params.clone()).await;
            let e = &resp["error"];
            assert_eq!(e["code"].as_i64(), Some(code), "{method} {params}: {resp}");
            // jsonrpsee reports parameter decoding errors as "Invalid params" with the detail in data.
            let text = format!("{} {}", e["message"].as_str().unwrap(), e["data"]);
            assert!(text.contains(needle), "{method}: {resp} lacks {needle:?}");
        }
    }
    // Final data needs final gas values: each missing one is named.
    for field in ["callGasLimit", "verificationGasLimit", "preVerificationGas", "maxFeePerGas", "maxPriorityFeePerGas"]
    {
        let mut partial = wire(&op);
        partial.as_object_mut().unwrap().remove(field);
        let resp = call(&module, "pm_getPaymasterData", json!([partial, ep, chain, ctx])).await;
        assert_eq!(resp["error"]["code"], json!(-32602), "{resp}");
        let msg = resp["error"]["message"].as_str().unwrap();
        assert!(msg.starts_with(&format!("userOp.{field} is required")), "{msg}");
        // Stub data does not need them.
        let resp = call(&module, "pm_getPaymasterStubData", json!([partial, ep, chain, ctx])).await;
        assert!(resp.get("result").is_some(), "{resp}");
    }
    let unknown = Uuid::new_v4();
    let resp =
        call(&module, "pm_getPaymasterData", json!([wire(&op), ep, chain, {"policyId": unknown.to_string()}])).await;
    assert_eq!(resp["error"]["code"], json!(-32000));
    assert_eq!(resp["error"]["message"], json!(format!("unknown policy {unknown}")));
    assert_eq!(resp["error"]["data"], json!({"policyId": unknown.to_string(), "reason": "unknown"}));
    assert_eq!(db.store.policy_totals(&id.to_string()).await.unwrap().committed(), U256::ZERO);
    db.cleanup().await;
}
