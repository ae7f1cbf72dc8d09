//! `RpcChain`: the `Chain` trait over an alloy provider to any Ethereum node. Traced calls run
//! locally in revm over the node's state ([`crate::remote_state`]).

use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::json_rpc::ErrorPayload;
use alloy::rpc::types::state::StateOverride;
use alloy::rpc::types::{Block, FeeHistory, Filter, Log, Transaction, TransactionReceipt, TransactionRequest};
use alloy::transports::{RpcError, TransportErrorKind};
use async_trait::async_trait;
use std::sync::Arc;

use crate::embedded::trace::ExecutionTrace;
use crate::error::{ChainError, ChainResult};
use crate::remote_state::{RemoteState, RemoteStats};
use crate::traits::{Chain, DevChain};

/// A chain reached over JSON-RPC (anvil, geth, reth, a provider).
#[derive(Debug, Clone)]
pub struct RpcChain {
    provider: DynProvider,
    url: String,
    /// The node's state for local execution, shared by the clones of this chain.
    remote: Arc<RemoteState>,
}

/// Maps a transport error: node-reported reverts keep their data, the rest keeps its message.
pub(crate) fn map_err(e: RpcError<TransportErrorKind>) -> ChainError {
    match e {
        RpcError::ErrorResp(payload) => from_payload(&payload),
        other => ChainError::Transport(other.to_string()),
    }
}

fn from_payload(payload: &ErrorPayload) -> ChainError {
    if let Some(data) = payload.as_revert_data() {
        return ChainError::reverted(data);
    }
    let msg = payload.message.to_string();
    if payload.code == 3 || msg.contains("revert") {
        return ChainError::reverted(Bytes::new());
    }
    if payload.code == -32602 {
        return ChainError::InvalidParams(msg);
    }
    ChainError::InvalidTransaction(msg)
}

impl RpcChain {
    /// Connects to the node at `url` (http or https).
    pub fn connect(url: &str) -> ChainResult<Self> {
        crate::recover_memo::install();
        let parsed = url.parse().map_err(|e| ChainError::InvalidParams(format!("node url {url:?}: {e}")))?;
        let provider = ProviderBuilder::new().connect_http(parsed).erased();
        let remote = Arc::new(RemoteState::new(provider.clone()));
        Ok(Self { provider, url: url.to_string(), remote })
    }

    /// The node's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The underlying alloy provider.
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// Node requests made so far to run calls locally ([`Chain::traced_call`]).
    pub fn remote_stats(&self) -> RemoteStats {
        self.remote.stats()
    }

    /// Sends a dev control; it changes state without a block, so the local-execution cache goes.
    async fn dev_request<P>(&self, method: &'static str, params: P) -> ChainResult<()>
    where
        P: alloy::rpc::json_rpc::RpcSend,
    {
        let result = self.provider.raw_request::<_, serde_json::Value>(method.into(), params).await;
        self.remote.invalidate();
        result.map_err(map_err)?;
        Ok(())
    }
}

#[async_trait]
impl Chain for RpcChain {
    async fn chain_id(&self) -> ChainResult<u64> {
        self.provider.get_chain_id().await.map_err(map_err)
    }

    async fn block_number(&self) -> ChainResult<u64> {
        self.provider.get_block_number().await.map_err(map_err)
    }

    async fn balance(&self, address: Address) -> ChainResult<U256> {
        self.provider.get_balance(address).await.map_err(map_err)
    }

    async fn code(&self, address: Address) -> ChainResult<Bytes> {
        self.provider.get_code_at(address).await.map_err(map_err)
    }

    async fn storage_at(&self, address: Address, slot: U256) -> ChainResult<B256> {
        self.provider.get_storage_at(address, slot).await.map(B256::from).map_err(map_err)
    }

    async fn transaction_count(&self, address: Address, pending: bool) -> ChainResult<u64> {
        let block = if pending { BlockId::pending() } else { BlockId::latest() };
        self.provider.get_transaction_count(address).block_id(block).await.map_err(map_err)
    }

    async fn call(&self, tx: TransactionRequest, overrides: Option<StateOverride>) -> ChainResult<Bytes> {
        // Latest, not the node's pending block: the callers reason about pending work themselves.
        self.provider.call(tx).block(BlockId::latest()).overrides_opt(overrides).await.map_err(map_err)
    }

    async fn estimate_gas(&self, tx: TransactionRequest, overrides: Option<StateOverride>) -> ChainResult<u64> {
        self.provider.estimate_gas(tx).block(BlockId::latest()).overrides_opt(overrides).await.map_err(map_err)
    }

    async fn send_raw_transaction(&self, raw: Bytes) -> ChainResult<B256> {
        self.provider.send_raw_transaction(&raw).await.map(|p| *p.tx_hash()).map_err(map_err)
    }

    async fn transaction_receipt(&self, hash: B256) -> ChainResult<Option<TransactionReceipt>> {
        self.provider.get_transaction_receipt(hash).await.map_err(map_err)
    }

    async fn transaction_by_hash(&self, hash: B256) -> ChainResult<Option<Transaction>> {
        self.provider.get_transaction_by_hash(hash).await.map_err(map_err)
    }

    async fn block_by_number(&self, number: BlockNumberOrTag, full: bool) -> ChainResult<Option<Block>> {
        let call = self.provider.get_block_by_number(number);
        if full { call.full().await } else { call.hashes().await }.map_err(map_err)
    }

    async fn block_by_hash(&self, hash: B256, full: bool) -> ChainResult<Option<Block>> {
        let call = self.provider.get_block_by_hash(hash);
        if full { call.full().await } else { call.hashes().await }.map_err(map_err)
    }

    async fn logs(&self, filter: Filter) -> ChainResult<Vec<Log>> {
        self.provider.get_logs(&filter).await.map_err(map_err)
    }

    async fn gas_price(&self) -> ChainResult<u128> {
        self.provider.get_gas_price().await.map_err(map_err)
    }

    async fn max_priority_fee_per_gas(&self) -> ChainResult<u128> {
        self.provider.get_max_priority_fee_per_gas().await.map_err(map_err)
    }

    async fn fee_history(
        &self,
        block_count: u64,
        newest: BlockNumberOrTag,
        reward_percentiles: Vec<f64>,
    ) -> ChainResult<FeeHistory> {
        self.provider.get_fee_history(block_count, newest, &reward_percentiles).await.map_err(map_err)
    }

    /// Runs locally in revm over the latest block's state (see [`crate::remote_state`]): no
    /// `debug_*` method of the node is needed.
    async fn traced_call(
        &self,
        tx: TransactionRequest,
        overrides: Option<StateOverride>,
    ) -> ChainResult<Option<(ChainResult<Bytes>, ExecutionTrace)>> {
        self.remote.trace_call(tx, overrides).await.map(Some)
    }
}

/// Anvil's development methods (also served by `keyward dev`).
#[async_trait]
impl DevChain for RpcChain {
    async fn set_code(&self, address: Address, code: Bytes) -> ChainResult<()> {
        self.dev_request("anvil_setCode", (address, code)).await
    }

    async fn set_balance(&self, address: Address, balance: U256) -> ChainResult<()> {
        self.dev_request("anvil_setBalance", (address, balance)).await
    }

    async fn set_nonce(&self, address: Address, nonce: u64) -> ChainResult<()> {
        self.dev_request("anvil_setNonce", (address, U256::from(nonce))).await
    }

    async fn set_storage_at(&self, address: Address, slot: U256, value: B256) -> ChainResult<()> {
        self.dev_request("anvil_setStorageAt", (address, slot, value)).await
    }

    async fn increase_time(&self, seconds: u64) -> ChainResult<u64> {
        let total: serde_json::Value =
            self.provider.raw_request("evm_increaseTime".into(), (U256::from(seconds),)).await.map_err(map_err)?;
        Ok(total
            .as_u64()
            .or_else(|| total.as_str().and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok()))
            .unwrap_or(seconds))
    }

    async fn mine(&self) -> ChainResult<()> {
        self.dev_request("evm_mine", ()).await
    }
}
