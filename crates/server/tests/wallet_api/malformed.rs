//! Malformed and unservable requests, sent as raw JSON: each gets its precise JSON-RPC error and
//! leaves no row behind.

use jsonrpsee::core::client::ClientT;
use jsonrpsee::rpc_params;
use keyward_store::wallet::WalletCounts;
use serde_json::{Value, json};

use crate::env::{Env, rpc_error};

const OWNER: &str = "0xE147cc763efcA84A2Eb43F1A2103B40aDE0ae15b";

async fn expect(env: &Env, method: &str, params: Value, code: i32, needle: &str) {
    let before = env.counts().await;
    let r: Result<Value, _> = env.client.request(method, rpc_params![params.clone()]).await;
    let (got, message) = rpc_error(r);
    assert_eq!(got, code, "{method} {params}: {message}");
    assert!(message.contains(needle), "{method} {params}: {message:?} lacks {needle:?}");
    assert_eq!(env.counts().await, before, "{method} {params} left a row behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_precise_errors_and_write_nothing() {
    let env = Env::new().await;
    let chain = env.chain_hex();
    let call = json!([{ "to": "0x1234567890123456789012345678901234567890", "data": "0xdeadbeef" }]);

    // Missing fields, wrong hex.
    expect(&env, "wallet_prepareCalls", json!({ "calls": call, "chainId": chain }), -32602, "from").await;
    expect(&env, "wallet_prepareCalls", json!({ "calls": call, "from": OWNER, "chainId": "7a69" }), -32602, "0x").await;
    expect(
        &env,
        "wallet_prepareCalls",
        json!({ "calls": [{ "to": "0x12" }], "from": OWNER, "chainId": chain }),
        -32602,
        "",
    )
    .await;
    expect(&env, "wallet_requestAccount", json!({ "includeCounterfactualInfo": true }), -32602, "signerAddress").await;
    expect(
        &env,
        "wallet_requestAccount",
        json!({ "signerAddress": OWNER, "id": "0b9f3f0e-6f3a-1c55-9d1e-7c1a2b3c4d5e" }),
        -32602,
        "UUID v4",
    )
    .await;
    // A chain we do not serve.
    expect(&env, "wallet_prepareCalls", json!({ "calls": call, "from": OWNER, "chainId": "0x1" }), 5710, "chain id 1")
        .await;
    let session = |permissions: Value, chain: &str| {
        json!({ "account": OWNER, "chainId": chain, "key": { "type": "secp256k1",
            "publicKey": "0x1959511f59842aE5CcD3C60B24D0d1f679E7bD25" }, "permissions": permissions })
    };
    expect(&env, "wallet_createSession", session(json!([{ "type": "root" }]), "0x1"), 5710, "not supported").await;
    // Unknown permission type; empty permissions; root with data.
    expect(&env, "wallet_createSession", session(json!([{ "type": "everything" }]), &chain), -32602, "everything")
        .await;
    expect(&env, "wallet_createSession", session(json!([]), &chain), -32602, "at least one").await;
    expect(&env, "wallet_createSession", session(json!([{ "type": "root", "data": {} }]), &chain), -32602, "").await;
    // Session id of the wrong length; a context naming no session; an unknown context version.
    let with_perms = |permissions: Value| json!({ "calls": call, "from": OWNER, "chainId": chain, "capabilities": { "permissions": permissions } });
    expect(
        &env,
        "wallet_prepareCalls",
        with_perms(json!({ "sessionId": "0x1234", "signature": format!("0x{}", "11".repeat(65)) })),
        -32602,
        "16 bytes",
    )
    .await;
    let unknown_session = format!("0x00{}{}", "ab".repeat(16), "11".repeat(65));
    expect(&env, "wallet_prepareCalls", with_perms(json!({ "context": unknown_session })), -32602, "unknown session")
        .await;
    expect(&env, "wallet_prepareCalls", with_perms(json!({ "context": "0x07aa" })), -32602, "version 0x07").await;
    // Unknown account; unknown call id; sponsorship not configured.
    expect(
        &env,
        "wallet_requestAccount",
        json!({ "accountAddress": "0x219f6Ac182e5DDa0Cd6374d9C37B38da26889045" }),
        -32602,
        "not known",
    )
    .await;
    let r: Result<Value, _> = env
        .client
        .request("wallet_getCallsStatus", rpc_params![format!("0x{:064x}{}", env.chain_id, "42".repeat(32))])
        .await;
    assert_eq!(rpc_error(r).0, 5730);
    expect(
        &env,
        "wallet_prepareCalls",
        json!({ "calls": call, "from": OWNER, "chainId": chain,
            "capabilities": { "paymasterService": { "policyId": "6b5c1bd4-1d6b-4a5f-9c1e-2f4f1b1a2c3d" } } }),
        5700,
        "not configured",
    )
    .await;
    // A send of something never prepared.
    let never = json!({ "type": "user-operation-v070", "chainId": chain, "data": {
        "sender": OWNER, "nonce": "0x0", "callData": "0x", "callGasLimit": "0x1", "verificationGasLimit": "0x1",
        "preVerificationGas": "0x1", "maxFeePerGas": "0x1", "maxPriorityFeePerGas": "0x1" },
        "signature": { "type": "secp256k1", "data": format!("0x{}1b", "11".repeat(64)) } });
    expect(&env, "wallet_sendPreparedCalls", never, -32602, "was not prepared").await;

    assert_eq!(env.counts().await, WalletCounts::default(), "nothing at all was written");
}
