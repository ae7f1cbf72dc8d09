//! Scenarios every `Chain` backend must pass, run on the embedded chain and on anvil.

#![allow(dead_code)]

use std::time::Duration;

use alloy::eips::BlockNumberOrTag;
use alloy::eips::eip7702::Authorization;
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256, address, b256};
use alloy::rpc::types::{Filter, TransactionRequest};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use keyward_chain::send::{send_and_wait, with_authorizations};
use keyward_chain::{Chain, ChainError, DevChain, dev_keys::dev_signers};

/// Creation code of a contract whose runtime emits `LOG1(topic 7)` with 32 zero bytes of data.
/// Hand-assembled: `PUSH1 8 PUSH1 12 PUSH1 0 CODECOPY PUSH1 8 PUSH1 0 RETURN` ‖ runtime
/// `PUSH1 7 PUSH1 32 PUSH1 0 LOG1 STOP`.
pub(crate) const LOGGER_INIT: &str = "0x6008600c60003960086000f3600760206000a100";
/// Runtime code of the logger.
pub(crate) const LOGGER_RUNTIME: &str = "0x600760206000a100";
/// The logger's single topic.
pub(crate) const LOGGER_TOPIC: B256 = b256!("0x0000000000000000000000000000000000000000000000000000000000000007");

pub(crate) fn keys() -> Vec<PrivateKeySigner> {
    dev_signers(10).unwrap()
}

/// A value transfer is mined with an exact balance change and a well-formed receipt and block.
pub(crate) async fn transfer_changes_balances_exactly(chain: &dyn Chain) {
    let keys = keys();
    let from = &keys[0];
    let to = fresh_address();
    let before = chain.balance(from.address()).await.unwrap();
    let value = U256::from(123_456_789u64);
    let tx = TransactionRequest::default().with_to(to).with_value(value);
    let receipt = send_and_wait(chain, from, tx).await.unwrap();
    assert!(receipt.status(), "transfer failed: {receipt:?}");
    assert_eq!(receipt.gas_used, 21_000);
    assert_eq!(chain.balance(to).await.unwrap(), value);
    let fee = U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price);
    assert_eq!(chain.balance(from.address()).await.unwrap(), before - value - fee);

    let tx = chain.transaction_by_hash(receipt.transaction_hash).await.unwrap().expect("mined tx");
    assert_eq!(tx.block_hash, receipt.block_hash);
    assert_eq!(tx.inner.signer(), from.address());
    let block = chain
        .block_by_number(BlockNumberOrTag::Number(receipt.block_number.unwrap()), true)
        .await
        .unwrap()
        .expect("block");
    assert_eq!(Some(block.header.hash), receipt.block_hash);
    assert!(block.transactions.hashes().any(|h| h == receipt.transaction_hash));
    let by_hash = chain.block_by_hash(block.header.hash, false).await.unwrap().expect("block by hash");
    assert_eq!(by_hash.header.number, block.header.number);
    assert!(block.header.base_fee_per_gas.is_some());
}

/// Contract creation, its code, its logs and the log filter.
pub(crate) async fn deploy_and_filter_logs(chain: &dyn Chain) {
    let keys = keys();
    let deployer = &keys[3];
    let tx = TransactionRequest::default().with_deploy_code(LOGGER_INIT.parse::<Bytes>().unwrap());
    let receipt = send_and_wait(chain, deployer, tx).await.unwrap();
    let logger = receipt.contract_address.expect("created address");
    assert_eq!(chain.code(logger).await.unwrap(), LOGGER_RUNTIME.parse::<Bytes>().unwrap());

    let call = TransactionRequest::default().with_to(logger);
    let receipt = send_and_wait(chain, deployer, call).await.unwrap();
    let logs = receipt.inner.logs();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].address(), logger);
    assert_eq!(logs[0].topics(), &[LOGGER_TOPIC]);

    let n = receipt.block_number.unwrap();
    let filter = Filter::new().address(logger).event_signature(LOGGER_TOPIC).from_block(n).to_block(n);
    let found = chain.logs(filter).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].transaction_hash, Some(receipt.transaction_hash));
    let none = chain
        .logs(Filter::new().address(logger).event_signature(B256::repeat_byte(9)).from_block(n).to_block(n))
        .await
        .unwrap();
    assert!(none.is_empty());
}

/// Gas estimation of a transfer is exact, and `eth_call` sees state overrides.
pub(crate) async fn estimate_and_overrides(chain: &dyn Chain) {
    let keys = keys();
    let tx =
        TransactionRequest::default().with_from(keys[0].address()).with_to(fresh_address()).with_value(U256::from(1));
    assert_eq!(chain.estimate_gas(tx, None).await.unwrap(), 21_000);

    // Override the code of an empty address with the logger and call it: the call succeeds only
    // because the override applied (a code-less address would also "succeed", so we check the
    // estimate, which includes the LOG1 cost).
    let target = fresh_address();
    let mut overrides = alloy::rpc::types::state::StateOverride::default();
    overrides.insert(
        target,
        alloy::rpc::types::state::AccountOverride { code: Some(LOGGER_RUNTIME.parse().unwrap()), ..Default::default() },
    );
    let call = TransactionRequest::default().with_from(keys[0].address()).with_to(target);
    let plain = chain.estimate_gas(call.clone(), None).await.unwrap();
    let with_code = chain.estimate_gas(call, Some(overrides)).await.unwrap();
    assert_eq!(plain, 21_000);
    assert!(with_code > 21_000 + 375, "LOG1 must cost gas: {with_code}");

    // A revert carries its data: code `PUSH1 0x2a PUSH1 0 MSTORE PUSH1 32 PUSH1 0 REVERT`.
    let reverter = fresh_address();
    let mut overrides = alloy::rpc::types::state::StateOverride::default();
    overrides.insert(
        reverter,
        alloy::rpc::types::state::AccountOverride {
            code: Some("0x602a60005260206000fd".parse().unwrap()),
            ..Default::default()
        },
    );
    let err = chain.call(TransactionRequest::default().with_to(reverter), Some(overrides)).await.unwrap_err();
    match err {
        ChainError::Reverted { data, .. } => assert_eq!(U256::from_be_slice(&data), U256::from(42)),
        other => panic!("expected a revert, got {other:?}"),
    }
}

/// Nonces are enforced: a replayed nonce is refused.
pub(crate) async fn stale_nonce_is_refused(chain: &dyn Chain) {
    let keys = keys();
    let signer = &keys[4];
    let nonce = chain.transaction_count(signer.address(), true).await.unwrap();
    let tx = TransactionRequest::default().with_to(fresh_address()).with_value(U256::from(1));
    send_and_wait(chain, signer, tx.clone()).await.unwrap();
    let err = send_and_wait(chain, signer, tx.with_nonce(nonce)).await.unwrap_err();
    assert!(
        matches!(&err, ChainError::InvalidTransaction(m) if m.contains("nonce")),
        "expected a nonce error, got {err:?}"
    );
}

/// An EIP-7702 type-4 transaction delegates an EOA; calls to it run the delegate's code.
pub(crate) async fn eip7702_delegation(chain: &dyn Chain) {
    let keys = keys();
    let sponsor = &keys[5];
    let authority = &keys[6];
    let deploy = TransactionRequest::default().with_deploy_code(LOGGER_INIT.parse::<Bytes>().unwrap());
    let logger = send_and_wait(chain, sponsor, deploy).await.unwrap().contract_address.unwrap();

    let chain_id = chain.chain_id().await.unwrap();
    let auth = Authorization {
        chain_id: U256::from(chain_id),
        address: logger,
        nonce: chain.transaction_count(authority.address(), true).await.unwrap(),
    };
    let sig = authority.sign_hash_sync(&auth.signature_hash()).unwrap();
    let signed = auth.into_signed(sig);
    let tx = with_authorizations(TransactionRequest::default().with_to(authority.address()), vec![signed]);
    let receipt = send_and_wait(chain, sponsor, tx).await.unwrap();
    assert!(receipt.status());
    assert_eq!(receipt.inner.tx_type() as u8, 4);
    let code = chain.code(authority.address()).await.unwrap();
    assert_eq!(code, keyward_primitives::eip7702::designator(logger));
    // The delegated EOA emitted the logger's event during the same transaction.
    let logs = receipt.inner.logs();
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].address(), authority.address());
}

/// Dev controls change state as anvil's do.
pub(crate) async fn dev_controls(chain: &dyn DevChain) {
    let a = fresh_address();
    chain.set_balance(a, U256::from(77)).await.unwrap();
    assert_eq!(chain.balance(a).await.unwrap(), U256::from(77));
    chain.set_code(a, LOGGER_RUNTIME.parse().unwrap()).await.unwrap();
    assert_eq!(chain.code(a).await.unwrap(), LOGGER_RUNTIME.parse::<Bytes>().unwrap());
    chain.set_storage_at(a, U256::from(3), B256::repeat_byte(0xab)).await.unwrap();
    assert_eq!(chain.storage_at(a, U256::from(3)).await.unwrap(), B256::repeat_byte(0xab));
    chain.set_nonce(a, 9).await.unwrap();
    assert_eq!(chain.transaction_count(a, false).await.unwrap(), 9);
    let before = chain.block_number().await.unwrap();
    chain.mine().await.unwrap();
    assert_eq!(chain.block_number().await.unwrap(), before + 1);
    let wall = keyward_primitives::unix_now();
    let t0 = chain.block_by_number(BlockNumberOrTag::Latest, false).await.unwrap().unwrap().header.timestamp;
    chain.increase_time(3_600).await.unwrap();
    chain.mine().await.unwrap();
    let t1 = chain.block_by_number(BlockNumberOrTag::Latest, false).await.unwrap().unwrap().header.timestamp;
    assert!(t1 > t0 && t1 >= wall + 3_600, "clock {wall}, time moved {t0} -> {t1}");
}

/// Fee data is consistent: history covers the asked range, the price covers the base fee.
pub(crate) async fn fees(chain: &dyn Chain) {
    let latest = chain.block_number().await.unwrap();
    let h = chain.fee_history(4, BlockNumberOrTag::Latest, vec![25.0, 75.0]).await.unwrap();
    let count = 4.min(latest + 1);
    assert_eq!(h.base_fee_per_gas.len() as u64, count + 1);
    assert_eq!(h.gas_used_ratio.len() as u64, count);
    assert_eq!(h.oldest_block, latest + 1 - count);
    assert_eq!(h.reward.as_ref().map(|r| r.len() as u64), Some(count));
    let price = chain.gas_price().await.unwrap();
    assert!(price >= *h.base_fee_per_gas.last().unwrap());
}

pub(crate) const ANVIL_KEY0: Address = address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
pub(crate) const TIMEOUT: Duration = Duration::from_secs(30);

/// A fresh address nobody has used.
pub(crate) fn fresh_address() -> Address {
    PrivateKeySigner::random().address()
}

/// Creation code that stores 42 in slot 0 and deploys the one-byte runtime `STOP` (which accepts
/// value): `PUSH1 42 PUSH1 0 SSTORE PUSH1 1 PUSH1 17 PUSH1 0 CODECOPY PUSH1 1 PUSH1 0 RETURN` ‖ `00`.
pub(crate) const STORE42_INIT: &str = "0x602a6000556001601160003960016000f300";

/// Touching an account (a value transfer) keeps the storage it had (a regression: merging
/// per-block state once dropped slots the block had not read).
pub(crate) async fn storage_survives_touching_the_account(chain: &dyn Chain) {
    let keys = keys();
    let tx = TransactionRequest::default().with_deploy_code(STORE42_INIT.parse::<Bytes>().unwrap());
    let holder = send_and_wait(chain, &keys[7], tx).await.unwrap().contract_address.unwrap();
    assert_eq!(chain.storage_at(holder, U256::ZERO).await.unwrap(), B256::from(U256::from(42)));
    let pay = TransactionRequest::default().with_to(holder).with_value(U256::from(1));
    assert!(send_and_wait(chain, &keys[7], pay).await.unwrap().status());
    assert_eq!(chain.balance(holder).await.unwrap(), U256::from(1));
    assert_eq!(chain.storage_at(holder, U256::ZERO).await.unwrap(), B256::from(U256::from(42)));
}
