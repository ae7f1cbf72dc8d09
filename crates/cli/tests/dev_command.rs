//! `keyward dev` as a user runs it: starts, prints what it promises, serves JSON-RPC, keeps state
//! with `--data-dir`, answers bad input with errors, and stops cleanly on Ctrl-C (SIGINT).

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

mod common;

use std::process::Command;

use common::Dev;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, U256};
use alloy::rpc::types::TransactionRequest;
use keyward_chain::send::send_and_wait;
use keyward_chain::{Chain, RpcChain, dev_keys::dev_signers};

#[tokio::test]
async fn banner_rpc_and_clean_stop() {
    let dev = Dev::start(&[]);
    assert!(dev.banner.contains("Chain id    31337"), "{}", dev.banner);
    assert!(dev.banner.contains("0x0000000071727De22E5E9d8BAf0edAc6f37da032"), "{}", dev.banner);
    assert!(dev.banner.contains("0xEFC2c1444eBCC4Db75e7613d20C6a62fF67A167C"), "{}", dev.banner);
    let keys = dev_signers(10).unwrap();
    for k in &keys {
        assert!(dev.banner.contains(&k.address().to_string()), "missing dev key {}", k.address());
    }
    assert!(dev.banner.contains("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"));

    let chain = RpcChain::connect(&dev.url).unwrap();
    assert_eq!(chain.chain_id().await.unwrap(), 31337);
    // The account stack: printed, and there, at the deterministic addresses of the deployer key.
    let stack = keyward_contracts::Deployment::keyward(
        keyward_chain::dev_keys::dev_signer(keyward_chain::dev_keys::DEPLOYER_KEY_INDEX).unwrap().address(),
    );
    for (name, address) in stack.named() {
        assert!(dev.banner.contains(&format!("{name:<26} {address}")), "{name} not in {}", dev.banner);
        assert!(!chain.code(address).await.unwrap().is_empty(), "{name} has no code");
    }
    let to = Address::with_last_byte(0x42);
    let tx = TransactionRequest::default().with_to(to).with_value(U256::from(1000));
    let r = send_and_wait(&chain, &keys[0], tx).await.unwrap();
    assert!(r.status());
    assert_eq!(chain.balance(to).await.unwrap(), U256::from(1000));

    // Bad input: a JSON-RPC error, and the server keeps serving.
    let client =
        reqwest_like_post(&dev.url, r#"{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0xzz"]}"#)
            .await;
    assert!(client.contains("\"error\""), "{client}");
    let client =
        reqwest_like_post(&dev.url, r#"{"jsonrpc":"2.0","id":2,"method":"eth_getBalance","params":["0x1234"]}"#).await;
    assert!(client.contains("-32602"), "{client}");
    // The parse error's reason is in the message itself (clients like viem show only the message).
    let error: serde_json::Value = serde_json::from_str::<serde_json::Value>(&client).unwrap()["error"].clone();
    let message = error["message"].as_str().unwrap();
    assert!(message.starts_with("Invalid params: ") && message.len() > "Invalid params: ".len(), "{client}");
    assert_eq!(error["data"].as_str(), message.strip_prefix("Invalid params: "), "{client}");
    assert_eq!(chain.chain_id().await.unwrap(), 31337);

    let status = dev.interrupt();
    assert!(status.success(), "exit status {status:?}");
}

#[tokio::test]
async fn data_dir_keeps_state_across_restarts() {
    let dir = std::env::temp_dir().join(format!("keyward-dev-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let dir_arg = dir.to_str().unwrap().to_string();
    let keys = dev_signers(1).unwrap();
    let to = Address::with_last_byte(0x77);
    let block = {
        let dev = Dev::start(&["--data-dir", &dir_arg]);
        let chain = RpcChain::connect(&dev.url).unwrap();
        let tx = TransactionRequest::default().with_to(to).with_value(U256::from(5));
        send_and_wait(&chain, &keys[0], tx).await.unwrap();
        let n = chain.block_number().await.unwrap();
        assert!(dev.interrupt().success());
        n
    };
    let dev = Dev::start(&["--data-dir", &dir_arg]);
    let chain = RpcChain::connect(&dev.url).unwrap();
    assert_eq!(chain.block_number().await.unwrap(), block);
    assert_eq!(chain.balance(to).await.unwrap(), U256::from(5));
    assert!(dev.interrupt().success());

    // Without --data-dir nothing is kept.
    let dev = Dev::start(&[]);
    let chain = RpcChain::connect(&dev.url).unwrap();
    assert_eq!(chain.balance(to).await.unwrap(), U256::ZERO);
    drop(dev);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Posts a raw JSON-RPC body and returns the response text (malformed requests need a raw client).
/// SIGTERM (what service managers send) stops it as Ctrl-C does, removing its temporary directory.
#[tokio::test]
async fn sigterm_stops_cleanly_and_removes_the_scratch_directory() {
    let dev = Dev::start(&[]);
    let scratch = std::env::temp_dir().join(format!("keyward-dev-{}", dev.child.id()));
    assert!(scratch.is_dir(), "{} exists while running", scratch.display());
    assert!(dev.signal("-TERM").success());
    assert!(!scratch.exists(), "{} removed on SIGTERM", scratch.display());
}

async fn reqwest_like_post(url: &str, body: &str) -> String {
    let out = Command::new("curl")
        .args(["-s", "-X", "POST", url, "-H", "content-type: application/json", "-d", body])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}
