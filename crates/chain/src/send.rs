//! Signing and sending plain transactions through any `Chain`: fills nonce, gas and fees, signs
//! with a local key, submits, and waits for the receipt.

use std::time::Duration;

use alloy::eips::eip2718::Encodable2718;
use alloy::eips::eip7702::SignedAuthorization;
use alloy::network::{Ethereum, NetworkTransactionBuilder};
use alloy::network::{EthereumWallet, TransactionBuilder7702};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;

use crate::error::{ChainError, ChainResult};
use crate::traits::Chain;

/// Fills the missing fields of `tx` for `signer` from the chain: nonce (pending), chain id,
/// EIP-1559 fees and a gas limit from `eth_estimateGas` with 20% headroom.
pub async fn fill(
    chain: &dyn Chain,
    signer: &PrivateKeySigner,
    mut tx: TransactionRequest,
) -> ChainResult<TransactionRequest> {
    let from = signer.address();
    tx.from = Some(from);
    if tx.nonce.is_none() {
        tx.nonce = Some(chain.transaction_count(from, true).await?);
    }
    if tx.chain_id.is_none() {
        tx.chain_id = Some(chain.chain_id().await?);
    }
    if tx.max_fee_per_gas.is_none() && tx.gas_price.is_none() {
        let tip = chain.max_priority_fee_per_gas().await?;
        let price = chain.gas_price().await?;
        tx.max_priority_fee_per_gas = Some(tx.max_priority_fee_per_gas.unwrap_or(tip));
        tx.max_fee_per_gas = Some(price.saturating_mul(2).max(tip));
    }
    if tx.gas.is_none() {
        let estimate = chain.estimate_gas(tx.clone(), None).await?;
        tx.gas = Some(estimate + estimate / 5);
    }
    Ok(tx)
}

/// Attaches an EIP-7702 authorization list, making `tx` a type-4 transaction.
pub fn with_authorizations(tx: TransactionRequest, auths: Vec<SignedAuthorization>) -> TransactionRequest {
    tx.with_authorization_list(auths)
}

/// Signs a complete `tx` (nonce, chain id, gas and fees set) and submits it; returns its hash.
pub async fn sign_and_send(
    chain: &dyn Chain,
    signer: &PrivateKeySigner,
    tx: TransactionRequest,
) -> ChainResult<alloy::primitives::B256> {
    let wallet = EthereumWallet::from(signer.clone());
    let envelope = <TransactionRequest as NetworkTransactionBuilder<Ethereum>>::build(tx, &wallet)
        .await
        .map_err(|e| ChainError::InvalidParams(format!("cannot build the transaction: {e}")))?;
    chain.send_raw_transaction(envelope.encoded_2718().into()).await
}

/// Fills, signs and submits `tx`; returns the transaction hash.
pub async fn send(
    chain: &dyn Chain,
    signer: &PrivateKeySigner,
    tx: TransactionRequest,
) -> ChainResult<alloy::primitives::B256> {
    let tx = fill(chain, signer, tx).await?;
    sign_and_send(chain, signer, tx).await
}

/// Waits for the receipt of `hash`, polling every 50 ms, for at most `timeout`.
pub async fn wait_receipt(
    chain: &dyn Chain,
    hash: alloy::primitives::B256,
    timeout: Duration,
) -> ChainResult<TransactionReceipt> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(r) = chain.transaction_receipt(hash).await? {
            return Ok(r);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ChainError::Transport(format!("no receipt for {hash} after {timeout:?}")));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends `tx` and waits up to 30 s for its receipt.
pub async fn send_and_wait(
    chain: &dyn Chain,
    signer: &PrivateKeySigner,
    tx: TransactionRequest,
) -> ChainResult<TransactionReceipt> {
    let hash = send(chain, signer, tx).await?;
    wait_receipt(chain, hash, Duration::from_secs(30)).await
}
