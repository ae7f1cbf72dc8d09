//! The server as clients reach it over HTTP: request ids jsonrpsee does not read (single requests
//! and batches, exact bodies), positional `Hex`/`Address` parameters without `0x`, and the
//! `eth_estimateGas` refusal of a sender that cannot pay.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use std::process::Command;
use std::sync::Arc;

use alloy::primitives::U256;
use jsonrpsee::RpcModule;
use keyward_chain::{Chain, DevChain, EmbeddedChain, EmbeddedConfig};

/// A server with the chain methods of an embedded chain and a stand-in `wallet_getCallsStatus`
/// (answers `"ok"` once its parameters are past the server's checks); returns its URL.
async fn server() -> (String, Arc<EmbeddedChain>, jsonrpsee::server::ServerHandle) {
    let chain = EmbeddedChain::open(EmbeddedConfig::default()).unwrap();
    let mut module = keyward_server::eth::chain_module(chain.clone() as Arc<dyn Chain>, Some(chain.clone()));
    let mut wallet = RpcModule::new(());
    wallet.register_method("wallet_getCallsStatus", |_, _, _| "ok").unwrap();
    module.merge(wallet).unwrap();
    let (addr, handle) = keyward_server::serve("127.0.0.1:0".parse().unwrap(), module, None).await.unwrap();
    (format!("http://{addr}"), chain, handle)
}

/// Posts `body` and returns the answer's body exactly as sent.
async fn post(url: &str, body: &str) -> String {
    let (url, body) = (url.to_string(), body.to_string());
    tokio::task::spawn_blocking(move || {
        let out = Command::new("curl")
            .args(["-s", "-X", "POST", &url, "-H", "content-type: application/json", "--data-binary", &body])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    })
    .await
    .unwrap()
}

const INVALID: &str = r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid request"}}"#;

#[tokio::test]
async fn ids_that_are_objects_arrays_or_booleans_are_invalid_requests() {
    let (url, _chain, _handle) = server().await;
    for id in ["{}", r#"{"a":1}"#, "[]", "[1]", "true", "false"] {
        let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"eth_chainId","params":[]}}"#);
        assert_eq!(post(&url, &body).await, INVALID, "id {id}");
    }
}

#[tokio::test]
async fn numeric_ids_jsonrpsee_cannot_hold_are_answered_with_the_id_as_sent() {
    let (url, _chain, _handle) = server().await;
    for id in ["1.5", "-1", "1e3", "18446744073709551616", "0.0"] {
        let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"eth_chainId","params":[]}}"#);
        assert_eq!(post(&url, &body).await, format!(r#"{{"jsonrpc":"2.0","id":{id},"result":"0x7a69"}}"#));
    }
    // Ids jsonrpsee reads itself are untouched.
    let body = r#"{"jsonrpc":"2.0","id":"x","method":"eth_chainId","params":[]}"#;
    assert_eq!(post(&url, body).await, r#"{"jsonrpc":"2.0","id":"x","result":"0x7a69"}"#);
    let body = r#"{"jsonrpc":"2.0","id":7,"method":"eth_chainId","params":[]}"#;
    assert_eq!(post(&url, body).await, r#"{"jsonrpc":"2.0","id":7,"result":"0x7a69"}"#);
}

#[tokio::test]
async fn a_batch_answers_every_request_in_order() {
    let (url, _chain, _handle) = server().await;
    let batch = r#"[{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]},
        {"jsonrpc":"2.0","id":{"a":1},"method":"eth_chainId","params":[]},
        {"jsonrpc":"2.0","id":1.5,"method":"net_version","params":[]},
        {"jsonrpc":"2.0","method":"eth_chainId","params":[]},
        {"jsonrpc":"2.0","id":true,"method":"eth_chainId","params":[]},
        {"jsonrpc":"2.0","id":"s","method":"eth_nope","params":[]}]"#;
    let expected = format!(
        r#"[{{"jsonrpc":"2.0","id":1,"result":"0x7a69"}},{INVALID},{{"jsonrpc":"2.0","id":1.5,"result":"31337"}},{INVALID},{{"jsonrpc":"2.0","id":"s","error":{{"code":-32601,"message":"Method not found"}}}}]"#
    );
    assert_eq!(post(&url, batch).await, expected);
    // Only invalid ids: the answer is theirs alone.
    let batch =
        r#"[{"jsonrpc":"2.0","id":[],"method":"eth_chainId"},{"jsonrpc":"2.0","id":false,"method":"eth_chainId"}]"#;
    assert_eq!(post(&url, batch).await, format!("[{INVALID},{INVALID}]"));
}

#[tokio::test]
async fn positional_hex_parameters_without_0x_are_refused_naming_the_parameter() {
    let (url, _chain, _handle) = server().await;
    let refusal = r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Invalid params: id: Hex \"00ab\" must start with lowercase 0x","data":"id: Hex \"00ab\" must start with lowercase 0x"}}"#;
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"wallet_getCallsStatus","params":["00ab"]}"#;
    assert_eq!(post(&url, body).await, refusal);
    let body = r#"{"jsonrpc":"2.0","id":2,"method":"wallet_getCallsStatus","params":["0x00ab"]}"#;
    assert_eq!(post(&url, body).await, r#"{"jsonrpc":"2.0","id":2,"result":"ok"}"#);
    // Inside a batch too.
    let batch = r#"[{"jsonrpc":"2.0","id":1,"method":"wallet_getCallsStatus","params":["00ab"]},
                    {"jsonrpc":"2.0","id":2,"method":"wallet_getCallsStatus","params":["0x00ab"]}]"#;
    assert_eq!(post(&url, batch).await, format!(r#"[{refusal},{{"jsonrpc":"2.0","id":2,"result":"ok"}}]"#));
}

#[tokio::test]
async fn estimate_gas_of_a_sender_that_cannot_pay_is_a_clear_server_error() {
    let (url, chain, _handle) = server().await;
    let poor = alloy::primitives::Address::repeat_byte(0x77);
    chain.set_balance(poor, U256::from(21_000u64 * 3_000_000_000 - 1)).await.unwrap();
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"eth_estimateGas","params":[{{"from":"{poor}","to":"{poor}","maxFeePerGas":"0xb2d05e00"}}]}}"#
    );
    let expected = r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"invalid transaction: insufficient funds for gas * price + value: gas required exceeds allowance (20999): balance 62999999999999 wei, value 0 wei, fee 3000000000 wei per gas"}}"#;
    assert_eq!(post(&url, &body).await, expected);
    // Without a fee the same transfer is estimated.
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":2,"method":"eth_estimateGas","params":[{{"from":"{poor}","to":"{poor}"}}]}}"#
    );
    assert_eq!(post(&url, &body).await, r#"{"jsonrpc":"2.0","id":2,"result":"0x5208"}"#);
}
