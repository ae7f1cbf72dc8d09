//! The embedded chain passes the backend scenarios, and its own features work: persistence,
//! interval mining, and Keyward's contracts at genesis.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

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

/// 0.01 ether: far less than a block's gas limit costs at any fee.
const ONE_HUNDREDTH_ETHER: u128 = 10_000_000_000_000_000;
/// A fee cap at which the block gas limit (30M) costs 0.09 ether.
const FEE: u128 = 3_000_000_000;

/// `req` with EIP-1559 fee fields (`fees = true`) or none.
fn with_fees(req: TransactionRequest, fees: bool) -> TransactionRequest {
    if fees { req.with_max_fee_per_gas(FEE).with_max_priority_fee_per_gas(1_000_000_000) } else { req }
}

/// A sender holding 0.01 ether estimates a transfer, a contract call and a type-4 delegation with
/// and without fee fields (geth caps the search by what the balance pays; no fee, no cap), and the
/// type-4 transaction sent with its estimate is mined.
#[tokio::test]
async fn estimate_gas_of_a_sender_with_little_ether() {
    use alloy::eips::eip7702::Authorization;
    use alloy::signers::SignerSync;
    use alloy::signers::local::PrivateKeySigner;
    use keyward_chain::send::with_authorizations;

    let c = chain();
    let poor = PrivateKeySigner::random();
    c.set_balance(poor.address(), U256::from(ONE_HUNDREDTH_ETHER)).await.unwrap();
    let logger = common::fresh_address();
    c.set_code(logger, common::LOGGER_RUNTIME.parse().unwrap()).await.unwrap();

    let transfer = TransactionRequest::default().with_from(poor.address()).with_to(common::fresh_address());
    let transfer = transfer.with_value(U256::from(1));
    let call = TransactionRequest::default().with_from(poor.address()).with_to(logger);
    let auth = Authorization { chain_id: U256::from(31337), address: logger, nonce: 1 };
    let signed = auth.clone().into_signed(poor.sign_hash_sync(&auth.signature_hash()).unwrap());
    let delegation = with_authorizations(
        TransactionRequest::default().with_from(poor.address()).with_to(poor.address()),
        vec![signed],
    );
    // With a legacy gasPrice too.
    let legacy = call.clone().with_gas_price(FEE);
    assert_eq!(c.estimate_gas(legacy, None).await.unwrap(), c.estimate_gas(call.clone(), None).await.unwrap());

    let mut estimates = Vec::new();
    for req in [transfer, call, delegation.clone()] {
        let with = c.estimate_gas(with_fees(req.clone(), true), None).await.unwrap();
        let without = c.estimate_gas(with_fees(req, false), None).await.unwrap();
        assert_eq!(with, without, "a fee changes nothing but the cap");
        estimates.push(with);
    }
    assert_eq!(estimates[0], 21_000);
    assert!(estimates[1] > 21_000 + 375, "LOG1 costs gas: {}", estimates[1]);
    assert!(estimates[2] > 21_000 + 25_000, "an authorization costs 25000: {}", estimates[2]);

    // Sent with fees and the estimate (plus 20 %), the delegation is mined and runs the logger.
    let receipt = send_and_wait(c.as_ref(), &poor, delegation).await.unwrap();
    assert!(receipt.status());
    assert_eq!(receipt.inner.logs().len(), 1);
    assert_eq!(c.code(poor.address()).await.unwrap(), keyward_primitives::eip7702::designator(logger));
}

/// A sender that cannot pay even the gas the call needs, or the value it sends, gets a clear
/// refusal; without fee fields the same transfer is estimated (no fee, nothing to pay).
#[tokio::test]
async fn estimate_gas_refuses_a_sender_that_cannot_pay() {
    let c = chain();
    let poor = common::fresh_address();
    let balance = U256::from(21_000 * FEE - 1);
    c.set_balance(poor, balance).await.unwrap();
    let transfer = TransactionRequest::default().with_from(poor).with_to(common::fresh_address());

    let err = c.estimate_gas(with_fees(transfer.clone(), true), None).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "invalid transaction: insufficient funds for gas * price + value: gas required exceeds allowance \
             (20999): balance {balance} wei, value 0 wei, fee {FEE} wei per gas"
        )
    );
    assert!(matches!(err, keyward_chain::ChainError::InvalidTransaction(_)), "{err:?}");
    assert_eq!(c.estimate_gas(with_fees(transfer.clone(), false), None).await.unwrap(), 21_000);

    let too_much = transfer.with_value(balance + U256::from(1));
    for fees in [true, false] {
        let err = c.estimate_gas(with_fees(too_much.clone(), fees), None).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "invalid transaction: insufficient funds for transfer: balance {balance} wei, value {} wei",
                balance + U256::from(1)
            )
        );
    }

    // A state override of the balance is what the cap reads.
    let mut overrides = alloy::rpc::types::state::StateOverride::default();
    overrides.insert(
        poor,
        alloy::rpc::types::state::AccountOverride { balance: Some(U256::from(21_000 * FEE)), ..Default::default() },
    );
    let transfer = TransactionRequest::default().with_from(poor).with_to(common::fresh_address());
    assert_eq!(c.estimate_gas(with_fees(transfer, true), Some(overrides)).await.unwrap(), 21_000);
}
