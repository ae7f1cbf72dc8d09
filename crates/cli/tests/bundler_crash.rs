//! Crash safety of the bundler in `keyward dev --data-dir`: the process is killed with SIGKILL
//! between accepting an operation and its inclusion; after a restart the operation is still
//! included — never lost, never included twice.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

mod common;

use std::time::{Duration, Instant};

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolValue};
use common::Dev;
use keyward_chain::send::send_and_wait;
use keyward_chain::{Chain, RpcChain, dev_keys::dev_signers};
use keyward_contracts::bindings::{TestAccount, TestCounter};
use keyward_primitives::entry_point::IEntryPoint;
use keyward_primitives::{ENTRY_POINT_V07, UserOperation};
use serde_json::{Value, json};

const ETH: u64 = 1_000_000_000_000_000_000;

async fn rpc(chain: &RpcChain, method: &'static str, params: Value) -> Result<Value, String> {
    chain.provider().raw_request::<_, Value>(method.into(), params).await.map_err(|e| e.to_string())
}

async fn deploy(chain: &RpcChain, key: &PrivateKeySigner, creation: &[u8], args: &[u8]) -> Address {
    let code: alloy::primitives::Bytes = [creation, args].concat().into();
    send_and_wait(chain, key, TransactionRequest::default().with_deploy_code(code))
        .await
        .unwrap()
        .contract_address
        .unwrap()
}

/// A signed `count()` op for `account` at `seq`.
async fn counting_op(
    chain: &RpcChain,
    owner: &PrivateKeySigner,
    account: Address,
    counter: Address,
    seq: u64,
) -> Value {
    let inner = TestCounter::countCall {}.abi_encode();
    let call_data = TestAccount::executeCall { target: counter, value: U256::ZERO, data: inner.into() }.abi_encode();
    let mut op = UserOperation {
        sender: account,
        nonce: U256::from(seq),
        call_data: call_data.into(),
        call_gas_limit: 200_000,
        verification_gas_limit: 300_000,
        pre_verification_gas: U256::from(60_000),
        max_fee_per_gas: 3_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        ..Default::default()
    };
    let hash = op.hash(ENTRY_POINT_V07, chain.chain_id().await.unwrap());
    op.signature = owner.sign_message_sync(hash.as_slice()).unwrap().as_bytes().to_vec().into();
    serde_json::to_value(&op).unwrap()
}

async fn receipt_success(chain: &RpcChain, hash: B256, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let r = rpc(chain, "eth_getUserOperationReceipt", json!([hash])).await.unwrap();
        if !r.is_null() {
            return r["success"].as_bool().unwrap();
        }
        if Instant::now() >= deadline {
            let dump = rpc(chain, "debug_bundler_dumpMempool", json!([ENTRY_POINT_V07])).await;
            let by_hash = rpc(chain, "eth_getUserOperationByHash", json!([hash])).await;
            panic!("no receipt for {hash} after {timeout:?}; mempool {dump:?}; op {by_hash:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn nonce(chain: &RpcChain, account: Address) -> U256 {
    let call = IEntryPoint::getNonceCall { sender: account, key: Default::default() };
    let out = chain
        .call(TransactionRequest::default().with_to(ENTRY_POINT_V07).with_input(call.abi_encode()), None)
        .await
        .unwrap();
    IEntryPoint::getNonceCall::abi_decode_returns(&out).unwrap()
}

#[tokio::test]
async fn sigkill_between_acceptance_and_inclusion_loses_nothing() {
    let dir = std::env::temp_dir().join(format!("keyward-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let dir_arg = dir.to_str().unwrap().to_string();
    let keys = dev_signers(1).unwrap();
    let owner = PrivateKeySigner::random();

    // Setup on a first run: an account and a counter, then a clean stop.
    let dev = Dev::start(&["--data-dir", &dir_arg]);
    let chain = RpcChain::connect(&dev.url).unwrap();
    let art = keyward_contracts::artifacts::test_account();
    let account =
        deploy(&chain, &keys[0], &art.bytecode, &(ENTRY_POINT_V07, owner.address()).abi_encode_params()).await;
    send_and_wait(&chain, &keys[0], TransactionRequest::default().with_to(account).with_value(U256::from(ETH)))
        .await
        .unwrap();
    let counter = deploy(&chain, &keys[0], &keyward_contracts::artifacts::test_counter().bytecode, &[]).await;
    assert!(dev.interrupt().success());

    // 1. Accepted in manual mode (so certainly not bundled), then SIGKILL.
    let dev = Dev::start(&["--data-dir", &dir_arg]);
    let chain = RpcChain::connect(&dev.url).unwrap();
    rpc(&chain, "debug_bundler_setBundlingMode", json!(["manual"])).await.unwrap();
    let op = counting_op(&chain, &owner, account, counter, 0).await;
    let h0: B256 =
        serde_json::from_value(rpc(&chain, "eth_sendUserOperation", json!([op, ENTRY_POINT_V07])).await.unwrap())
            .unwrap();
    dev.kill9();
    let dev = Dev::start(&["--data-dir", &dir_arg]);
    let chain = RpcChain::connect(&dev.url).unwrap();
    // The op was never bundled before the kill (manual mode): only the store can have kept it.
    let known = rpc(&chain, "eth_getUserOperationByHash", json!([h0])).await.unwrap();
    assert!(!known.is_null(), "the accepted op survived the kill");
    assert!(receipt_success(&chain, h0, Duration::from_secs(20)).await, "bundled after restart (auto mode)");
    assert_eq!(nonce(&chain, account).await, U256::from(1));

    // 2. Killed right after acceptance in auto mode, at whatever point bundling has reached
    //    (not yet bundled, bundle recorded, bundle sent, receipt recorded).
    let mut dev = dev;
    for seq in 1..4u64 {
        let chain = RpcChain::connect(&dev.url).unwrap();
        let op = counting_op(&chain, &owner, account, counter, seq).await;
        let h: B256 =
            serde_json::from_value(rpc(&chain, "eth_sendUserOperation", json!([op, ENTRY_POINT_V07])).await.unwrap())
                .unwrap();
        tokio::time::sleep(Duration::from_millis(40 * (seq - 1))).await;
        dev.kill9();
        dev = Dev::start(&["--data-dir", &dir_arg]);
        let chain = RpcChain::connect(&dev.url).unwrap();
        assert!(receipt_success(&chain, h, Duration::from_secs(20)).await);
        assert_eq!(nonce(&chain, account).await, U256::from(seq + 1), "included exactly once");
    }
    assert!(dev.interrupt().success());
    std::fs::remove_dir_all(&dir).unwrap();
}
