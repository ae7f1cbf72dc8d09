//! The embedded chain passes the backend scenarios, and its own features work: persistence,
//! interval mining, and Keyward's contracts at genesis.

mod common;

use std::time::Duration;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, U256};
use alloy::rpc::types::TransactionRequest;
use keyward_chain::send::{send, send_and_wait, wait_receipt};
use keyward_chain::{Chain, DevChain, EmbeddedChain, EmbeddedConfig, Mining};
use keyward_primitives::{ENTRY_POINT_V07, SENDER_CREATOR_V07};

fn chain() -> std::sync::Arc<EmbeddedChain> {
    EmbeddedChain::open(EmbeddedConfig::default()).unwrap()
}

#[tokio::test]
async fn transfer() {
    common::transfer_changes_balances_exactly(chain().as_ref()).await;
}

#[tokio::test]
async fn logs() {
    common::deploy_and_filter_logs(chain().as_ref()).await;
}

#[tokio::test]
async fn estimate_call_overrides() {
    common::estimate_and_overrides(chain().as_ref()).await;
}

#[tokio::test]
async fn nonce() {
    common::stale_nonce_is_refused(chain().as_ref()).await;
}

#[tokio::test]
async fn eip7702() {
    common::eip7702_delegation(chain().as_ref()).await;
}

#[tokio::test]
async fn dev() {
    common::dev_controls(chain().as_ref()).await;
}

#[tokio::test]
async fn fee_data() {
    let c = chain();
    common::transfer_changes_balances_exactly(c.as_ref()).await;
    common::fees(c.as_ref()).await;
}

#[tokio::test]
async fn genesis_holds_the_entry_point_and_sender_creator() {
    let c = chain();
    assert_eq!(c.code(ENTRY_POINT_V07).await.unwrap(), keyward_contracts::artifacts::entry_point().deployed_bytecode);
    assert_eq!(
        c.code(SENDER_CREATOR_V07).await.unwrap(),
        keyward_contracts::artifacts::sender_creator().deployed_bytecode
    );
    assert_eq!(c.transaction_count(ENTRY_POINT_V07, false).await.unwrap(), 2);
    assert_eq!(c.chain_id().await.unwrap(), 31337);
    assert_eq!(c.block_number().await.unwrap(), 0);
}

#[tokio::test]
async fn state_survives_a_restart_with_a_data_dir() {
    let dir = std::env::temp_dir().join(format!("keyward-chain-persist-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = EmbeddedConfig { data_dir: Some(dir.clone()), ..Default::default() };
    let to = common::fresh_address();
    let (hash, block, head_hash) = {
        let c = EmbeddedChain::open(config.clone()).unwrap();
        let signer = &c.dev_signers()[0];
        let tx = TransactionRequest::default().with_to(to).with_value(U256::from(5));
        let r = send_and_wait(c.as_ref(), signer, tx).await.unwrap();
        c.set_balance(Address::with_last_byte(0x99), U256::from(11)).await.unwrap();
        c.increase_time(100).await.unwrap();
        c.mine().await.unwrap();
        let head = c.block_by_number(alloy::eips::BlockNumberOrTag::Latest, false).await.unwrap().unwrap();
        (r.transaction_hash, c.block_number().await.unwrap(), head.header.hash)
    };
    let c = EmbeddedChain::open(config).unwrap();
    assert_eq!(c.block_number().await.unwrap(), block);
    assert_eq!(c.balance(to).await.unwrap(), U256::from(5));
    assert_eq!(c.balance(Address::with_last_byte(0x99)).await.unwrap(), U256::from(11));
    assert!(c.transaction_receipt(hash).await.unwrap().is_some());
    let head = c.block_by_number(alloy::eips::BlockNumberOrTag::Latest, false).await.unwrap().unwrap();
    assert_eq!(head.header.hash, head_hash, "replay must rebuild identical blocks");
    // The restored chain keeps going.
    let signer = &c.dev_signers()[0];
    let tx = TransactionRequest::default().with_to(to).with_value(U256::from(5));
    send_and_wait(c.as_ref(), signer, tx).await.unwrap();
    assert_eq!(c.balance(to).await.unwrap(), U256::from(10));
    drop(c);
    // A chain id mismatch is refused rather than silently mixing chains.
    let other = EmbeddedConfig { data_dir: Some(dir.clone()), chain_id: 1, ..Default::default() };
    assert!(EmbeddedChain::open(other).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn interval_mining_batches_pending_transactions() {
    let config = EmbeddedConfig { mining: Mining::Interval(Duration::from_millis(300)), ..Default::default() };
    let c = EmbeddedChain::open(config).unwrap();
    c.spawn_miner();
    let signer = &c.dev_signers()[1];
    let start = c.block_number().await.unwrap();
    let h1 = send(
        c.as_ref(),
        signer,
        TransactionRequest::default().with_to(common::fresh_address()).with_value(U256::from(1)),
    )
    .await
    .unwrap();
    let h2 = send(
        c.as_ref(),
        signer,
        TransactionRequest::default().with_to(common::fresh_address()).with_value(U256::from(1)),
    )
    .await
    .unwrap();
    assert_eq!(c.transaction_count(signer.address(), true).await.unwrap(), 2);
    assert!(c.transaction_receipt(h1).await.unwrap().is_none(), "mined before the tick");
    assert!(c.transaction_by_hash(h1).await.unwrap().is_some(), "pending tx is visible");
    let r1 = wait_receipt(c.as_ref(), h1, Duration::from_secs(10)).await.unwrap();
    let r2 = wait_receipt(c.as_ref(), h2, Duration::from_secs(10)).await.unwrap();
    assert_eq!(r1.block_number, r2.block_number, "both in the same block");
    assert!(r1.block_number.unwrap() > start);
    assert_eq!(r2.transaction_index, Some(1));
}

#[tokio::test]
async fn malformed_transactions_are_refused_without_changes() {
    let c = chain();
    let before = c.block_number().await.unwrap();
    let err = c.send_raw_transaction(alloy::primitives::Bytes::from_static(b"\x02\xff\x00")).await.unwrap_err();
    assert!(matches!(err, keyward_chain::ChainError::InvalidParams(_)), "{err:?}");
    // Insufficient funds: a fresh key with nothing.
    let poor = alloy::signers::local::PrivateKeySigner::random();
    let tx =
        TransactionRequest::default().with_to(common::fresh_address()).with_value(U256::from(1)).with_gas_limit(21_000);
    let err = send(c.as_ref(), &poor, tx).await.unwrap_err();
    assert!(matches!(err, keyward_chain::ChainError::InvalidTransaction(_)), "{err:?}");
    assert_eq!(c.block_number().await.unwrap(), before);
}

#[tokio::test]
async fn storage_survives() {
    common::storage_survives_touching_the_account(chain().as_ref()).await;
}
