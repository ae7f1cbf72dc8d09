//! The `Chain` trait: the Ethereum JSON-RPC surface Keyward needs, over any backend.

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::rpc::types::state::StateOverride;
use alloy::rpc::types::{Block, FeeHistory, Filter, Log, Transaction, TransactionReceipt, TransactionRequest};
use async_trait::async_trait;

use crate::error::ChainResult;

/// Read and write access to one EVM chain: the embedded revm chain or a node over JSON-RPC.
///
/// State reads take `latest`/`pending` semantics; historical state is a node's business, not ours.
#[async_trait]
pub trait Chain: Send + Sync + std::fmt::Debug {
    /// The chain id (EIP-155).
    async fn chain_id(&self) -> ChainResult<u64>;
    /// Number of the latest block.
    async fn block_number(&self) -> ChainResult<u64>;
    /// Balance of `address` in wei.
    async fn balance(&self, address: Address) -> ChainResult<U256>;
    /// Deployed code of `address` (an EIP-7702 designator for delegated EOAs).
    async fn code(&self, address: Address) -> ChainResult<Bytes>;
    /// One storage slot of `address`.
    async fn storage_at(&self, address: Address, slot: U256) -> ChainResult<B256>;
    /// Transaction count of `address`; `pending` includes transactions not yet mined.
    async fn transaction_count(&self, address: Address, pending: bool) -> ChainResult<u64>;
    /// `eth_call` on the pending state, with optional state overrides.
    async fn call(&self, tx: TransactionRequest, overrides: Option<StateOverride>) -> ChainResult<Bytes>;
    /// `eth_estimateGas` on the pending state, with optional state overrides.
    async fn estimate_gas(&self, tx: TransactionRequest, overrides: Option<StateOverride>) -> ChainResult<u64>;
    /// Submits a signed EIP-2718 transaction; returns its hash.
    async fn send_raw_transaction(&self, raw: Bytes) -> ChainResult<B256>;
    /// Receipt of a mined transaction.
    async fn transaction_receipt(&self, hash: B256) -> ChainResult<Option<TransactionReceipt>>;
    /// A transaction by hash, mined or pending.
    async fn transaction_by_hash(&self, hash: B256) -> ChainResult<Option<Transaction>>;
    /// A block by number or tag; `full` includes whole transactions instead of hashes.
    async fn block_by_number(&self, number: BlockNumberOrTag, full: bool) -> ChainResult<Option<Block>>;
    /// A block by hash.
    async fn block_by_hash(&self, hash: B256, full: bool) -> ChainResult<Option<Block>>;
    /// Logs matching `filter`.
    async fn logs(&self, filter: Filter) -> ChainResult<Vec<Log>>;
    /// Suggested legacy gas price (base fee plus the suggested tip).
    async fn gas_price(&self) -> ChainResult<u128>;
    /// Suggested EIP-1559 priority fee.
    async fn max_priority_fee_per_gas(&self) -> ChainResult<u128>;
    /// `eth_feeHistory`.
    async fn fee_history(
        &self,
        block_count: u64,
        newest: BlockNumberOrTag,
        reward_percentiles: Vec<f64>,
    ) -> ChainResult<FeeHistory>;
    /// `eth_call` recorded by the ERC-7562 validation tracer: the call's output (or revert) and its
    /// trace; `None` when the backend cannot trace. Both backends of this crate can: the embedded
    /// chain over its own state, [`RpcChain`](crate::RpcChain) locally over the node's state.
    async fn traced_call(
        &self,
        tx: TransactionRequest,
        overrides: Option<StateOverride>,
    ) -> ChainResult<Option<(ChainResult<Bytes>, crate::embedded::trace::ExecutionTrace)>> {
        let _ = (tx, overrides);
        Ok(None)
    }
    /// `eth_getProof` (EIP-1186) of `address` and its storage `keys` in the latest state; `None`
    /// when the backend cannot prove (the embedded chain can).
    async fn proof(
        &self,
        address: Address,
        keys: Vec<B256>,
    ) -> ChainResult<Option<alloy::rpc::types::EIP1186AccountProofResponse>> {
        let _ = (address, keys);
        Ok(None)
    }
}

/// Development controls that anvil and the embedded chain both offer (`anvil_*`, `evm_*`).
#[async_trait]
pub trait DevChain: Chain {
    /// Replaces the code of `address` (`anvil_setCode`).
    async fn set_code(&self, address: Address, code: Bytes) -> ChainResult<()>;
    /// Sets the balance of `address` (`anvil_setBalance`).
    async fn set_balance(&self, address: Address, balance: U256) -> ChainResult<()>;
    /// Sets the nonce of `address` (`anvil_setNonce`).
    async fn set_nonce(&self, address: Address, nonce: u64) -> ChainResult<()>;
    /// Sets one storage slot (`anvil_setStorageAt`).
    async fn set_storage_at(&self, address: Address, slot: U256, value: B256) -> ChainResult<()>;
    /// Moves the clock forward for the next blocks (`evm_increaseTime`); returns the total offset.
    async fn increase_time(&self, seconds: u64) -> ChainResult<u64>;
    /// Mines one block now (`evm_mine`).
    async fn mine(&self) -> ChainResult<()>;
}
