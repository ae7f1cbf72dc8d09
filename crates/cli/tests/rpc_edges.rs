//! `keyward dev` at the edges of its JSON-RPC, over HTTP as a client sees it: request ids the
//! JSON-RPC library does not read, `Hex`/`Address` values without `0x`, Rundler's fee method, and
//! `eth_estimateGas` for a sender holding little ether.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

mod common;

use std::process::Command;

use common::Dev;

/// Posts a raw JSON-RPC body and returns the answer's body exactly as sent.
fn post(url: &str, body: &str) -> String {
    let out = Command::new("curl")
        .args(["-s", "-X", "POST", url, "-H", "content-type: application/json", "--data-binary", body])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn envelope_strict_hex_and_rundler_fees() {
    let dev = Dev::start(&[]);

    // A fractional id is answered with that id; an object id is an invalid request, also in a batch.
    let body = r#"{"jsonrpc":"2.0","id":1.5,"method":"rundler_maxPriorityFeePerGas","params":[]}"#;
    assert_eq!(post(&dev.url, body), r#"{"jsonrpc":"2.0","id":1.5,"result":"0x3b9aca00"}"#);
    let invalid = r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid request"}}"#;
    let body = r#"{"jsonrpc":"2.0","id":{"n":1},"method":"eth_chainId","params":[]}"#;
    assert_eq!(post(&dev.url, body), invalid);
    let batch =
        r#"[{"jsonrpc":"2.0","id":[1],"method":"eth_chainId"},{"jsonrpc":"2.0","id":2,"method":"eth_chainId"}]"#;
    assert_eq!(post(&dev.url, batch), format!(r#"[{invalid},{{"jsonrpc":"2.0","id":2,"result":"0x7a69"}}]"#));

    // The bundler's priority fee is the chain's suggested tip (what the bundler pays itself).
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"eth_maxPriorityFeePerGas","params":[]}"#;
    assert_eq!(post(&dev.url, body), r#"{"jsonrpc":"2.0","id":1,"result":"0x3b9aca00"}"#);

    // A call target without 0x: refused, naming the field.
    let body = r#"{"jsonrpc":"2.0","id":3,"method":"wallet_prepareCalls","params":[{"calls":[{"to":"1234567890123456789012345678901234567890"}],"from":"0xE147cc763efcA84A2Eb43F1A2103B40aDE0ae15b","chainId":"0x7a69"}]}"#;
    let reason = r#"calls[0].to: Address \"1234567890123456789012345678901234567890\" must start with lowercase 0x"#;
    let expected = format!(
        r#"{{"jsonrpc":"2.0","id":3,"error":{{"code":-32602,"message":"Invalid params: {reason}","data":"{reason}"}}}}"#
    );
    assert_eq!(post(&dev.url, body), expected);
    // A call id without 0x (a positional parameter).
    let body = r#"{"jsonrpc":"2.0","id":4,"method":"wallet_getCallsStatus","params":["abcd"]}"#;
    let reason = r#"id: Hex \"abcd\" must start with lowercase 0x"#;
    let expected = format!(
        r#"{{"jsonrpc":"2.0","id":4,"error":{{"code":-32602,"message":"Invalid params: {reason}","data":"{reason}"}}}}"#
    );
    assert_eq!(post(&dev.url, body), expected);

    // A sender holding 0.01 ether estimates a transfer with fee fields (before: refused for lack of
    // funds at the block gas limit).
    let poor = "0x00000000000000000000000000000000000000e7";
    let body =
        format!(r#"{{"jsonrpc":"2.0","id":5,"method":"anvil_setBalance","params":["{poor}","0x2386f26fc10000"]}}"#);
    assert_eq!(post(&dev.url, &body), r#"{"jsonrpc":"2.0","id":5,"result":null}"#);
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":6,"method":"eth_estimateGas","params":[{{"from":"{poor}","to":"{poor}","value":"0x1","maxFeePerGas":"0xb2d05e00","maxPriorityFeePerGas":"0x3b9aca00"}}]}}"#
    );
    assert_eq!(post(&dev.url, &body), r#"{"jsonrpc":"2.0","id":6,"result":"0x5208"}"#);

    assert!(dev.interrupt().success());
}
