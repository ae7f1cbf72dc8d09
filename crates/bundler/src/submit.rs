//! Sending a bundle: the `handleOps` transaction signed by the bundler key, type-4 when the bundle
//! carries EIP-7702 authorizations.

use alloy::eips::eip2718::Encodable2718;
use alloy::network::{Ethereum, EthereumWallet, NetworkTransactionBuilder};
use alloy::network::{TransactionBuilder, TransactionBuilder7702};
use alloy::primitives::{Address, B256, Bytes};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use keyward_chain::{Chain, ChainError, ChainResult};

use crate::bundle::Bundle;

/// EIP-1559 fees of a bundle transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BundleFees {
    /// Fee cap, in wei per gas.
    pub max_fee_per_gas: u128,
    /// Priority fee, in wei per gas.
    pub max_priority_fee_per_gas: u128,
}

impl BundleFees {
    /// Fees raised by `percent` % (rounded up), as a replacement transaction needs.
    pub fn bumped(self, percent: u128) -> Self {
        let bump = |v: u128| v + (v * percent).div_ceil(100).max(1);
        Self {
            max_fee_per_gas: bump(self.max_fee_per_gas),
            max_priority_fee_per_gas: bump(self.max_priority_fee_per_gas),
        }
    }
}

/// The unsigned `handleOps` transaction of `bundle`.
pub fn bundle_transaction(
    bundle: &Bundle,
    entry_point: Address,
    beneficiary: Address,
    chain_id: u64,
    nonce: u64,
    fees: BundleFees,
) -> TransactionRequest {
    let tx = TransactionRequest::default()
        .with_to(entry_point)
        .with_input(bundle.calldata(beneficiary))
        .with_gas_limit(bundle.gas_limit)
        .with_nonce(nonce)
        .with_chain_id(chain_id)
        .with_max_fee_per_gas(fees.max_fee_per_gas)
        .with_max_priority_fee_per_gas(fees.max_priority_fee_per_gas);
    let auths = bundle.authorizations();
    if auths.is_empty() { tx } else { tx.with_authorization_list(auths) }
}

/// A signed bundle transaction: its hash is known before it is sent, so it can be recorded first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedBundle {
    /// Transaction hash.
    pub hash: B256,
    /// EIP-2718 encoding, for `eth_sendRawTransaction`.
    pub raw: Bytes,
}

/// Signs `bundle` with `signer` at `nonce`.
pub async fn sign_bundle(
    chain_id: u64,
    signer: &PrivateKeySigner,
    bundle: &Bundle,
    entry_point: Address,
    nonce: u64,
    fees: BundleFees,
) -> ChainResult<SignedBundle> {
    let tx = bundle_transaction(bundle, entry_point, signer.address(), chain_id, nonce, fees);
    let wallet = EthereumWallet::from(signer.clone());
    let envelope = <TransactionRequest as NetworkTransactionBuilder<Ethereum>>::build(tx, &wallet)
        .await
        .map_err(|e| ChainError::InvalidParams(format!("cannot sign the bundle: {e}")))?;
    Ok(SignedBundle { hash: *envelope.tx_hash(), raw: envelope.encoded_2718().into() })
}

/// Signs and sends `bundle` with `signer` at `nonce`; returns the transaction hash.
pub async fn send_bundle(
    chain: &dyn Chain,
    signer: &PrivateKeySigner,
    bundle: &Bundle,
    entry_point: Address,
    nonce: u64,
    fees: BundleFees,
) -> ChainResult<B256> {
    let chain_id = chain.chain_id().await?;
    let signed = sign_bundle(chain_id, signer, bundle, entry_point, nonce, fees).await?;
    chain.send_raw_transaction(signed.raw).await
}
