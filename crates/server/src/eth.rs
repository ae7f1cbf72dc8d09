//! The `eth_*` / `net_*` / `web3_*` namespace over any [`Chain`], and the anvil-compatible dev
//! methods over a [`DevChain`].

use std::sync::Arc;

use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::primitives::{Address, B256, Bytes, U64, U256};
use alloy::rpc::types::state::StateOverride;
use alloy::rpc::types::{Block, FeeHistory, Filter, Log, Transaction, TransactionReceipt, TransactionRequest};
use async_trait::async_trait;
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;
use keyward_chain::{Chain, ChainError, DevChain};

use crate::errors::{chain_error, invalid_params};

/// Version string answered by `web3_clientVersion`.
pub const CLIENT_VERSION: &str = concat!("keyward/v", env!("CARGO_PKG_VERSION"));

/// The Ethereum JSON-RPC methods a wallet, viem, cast and a bundler use.
#[rpc(server, namespace = "eth")]
pub trait EthApi {
    /// `eth_chainId`.
    #[method(name = "chainId")]
    async fn chain_id(&self) -> RpcResult<U64>;
    /// `eth_blockNumber`.
    #[method(name = "blockNumber")]
    async fn block_number(&self) -> RpcResult<U64>;
    /// `eth_getBalance`.
    #[method(name = "getBalance")]
    async fn balance(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256>;
    /// `eth_getCode`.
    #[method(name = "getCode")]
    async fn code(&self, address: Address, block: Option<BlockId>) -> RpcResult<Bytes>;
    /// `eth_getStorageAt`.
    #[method(name = "getStorageAt")]
    async fn storage_at(&self, address: Address, slot: U256, block: Option<BlockId>) -> RpcResult<B256>;
    /// `eth_getTransactionCount`.
    #[method(name = "getTransactionCount")]
    async fn transaction_count(&self, address: Address, block: Option<BlockId>) -> RpcResult<U64>;
    /// `eth_call` with optional state overrides.
    #[method(name = "call")]
    async fn call(
        &self,
        tx: TransactionRequest,
        block: Option<BlockId>,
        overrides: Option<StateOverride>,
    ) -> RpcResult<Bytes>;
    /// `eth_estimateGas` with optional state overrides.
    #[method(name = "estimateGas")]
    async fn estimate_gas(
        &self,
        tx: TransactionRequest,
        block: Option<BlockId>,
        overrides: Option<StateOverride>,
    ) -> RpcResult<U64>;
    /// `eth_sendRawTransaction`.
    #[method(name = "sendRawTransaction")]
    async fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256>;
    /// `eth_getTransactionReceipt`.
    #[method(name = "getTransactionReceipt")]
    async fn transaction_receipt(&self, hash: B256) -> RpcResult<Option<TransactionReceipt>>;
    /// `eth_getTransactionByHash`.
    #[method(name = "getTransactionByHash")]
    async fn transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Transaction>>;
    /// `eth_getBlockByNumber`.
    #[method(name = "getBlockByNumber")]
    async fn block_by_number(&self, number: BlockNumberOrTag, full: Option<bool>) -> RpcResult<Option<Block>>;
    /// `eth_getBlockByHash`.
    #[method(name = "getBlockByHash")]
    async fn block_by_hash(&self, hash: B256, full: Option<bool>) -> RpcResult<Option<Block>>;
    /// `eth_getLogs`.
    #[method(name = "getLogs")]
    async fn logs(&self, filter: Filter) -> RpcResult<Vec<Log>>;
    /// `eth_gasPrice`.
    #[method(name = "gasPrice")]
    async fn gas_price(&self) -> RpcResult<U256>;
    /// `eth_maxPriorityFeePerGas`.
    #[method(name = "maxPriorityFeePerGas")]
    async fn max_priority_fee_per_gas(&self) -> RpcResult<U256>;
    /// `eth_feeHistory`.
    #[method(name = "feeHistory")]
    async fn fee_history(
        &self,
        block_count: U64,
        newest: BlockNumberOrTag,
        reward_percentiles: Option<Vec<f64>>,
    ) -> RpcResult<FeeHistory>;
    /// `eth_getProof` (EIP-1186): the account and storage proofs of the latest state, where the
    /// backend can prove (the embedded chain computes them from its state).
    #[method(name = "getProof")]
    async fn proof(
        &self,
        address: Address,
        keys: Vec<alloy::serde::JsonStorageKey>,
        block: Option<BlockId>,
    ) -> RpcResult<alloy::rpc::types::EIP1186AccountProofResponse>;
    /// `eth_accounts`: Keyward holds no keys for clients, so always empty.
    #[method(name = "accounts")]
    async fn accounts(&self) -> RpcResult<Vec<Address>>;
    /// `eth_syncing`: an embedded or proxied chain is never syncing from Keyward's view.
    #[method(name = "syncing")]
    async fn syncing(&self) -> RpcResult<bool>;
}

/// `net_version` and `web3_clientVersion`.
#[rpc(server)]
pub trait NetApi {
    /// `net_version`: the chain id in decimal.
    #[method(name = "net_version")]
    async fn net_version(&self) -> RpcResult<String>;
    /// `web3_clientVersion`.
    #[method(name = "web3_clientVersion")]
    async fn client_version(&self) -> RpcResult<String>;
}

/// The anvil-compatible development methods of the embedded chain.
#[rpc(server)]
pub trait DevApi {
    /// `anvil_setCode`.
    #[method(name = "anvil_setCode")]
    async fn set_code(&self, address: Address, code: Bytes) -> RpcResult<()>;
    /// `anvil_setBalance`.
    #[method(name = "anvil_setBalance")]
    async fn set_balance(&self, address: Address, balance: U256) -> RpcResult<()>;
    /// `anvil_setNonce`.
    #[method(name = "anvil_setNonce")]
    async fn set_nonce(&self, address: Address, nonce: U256) -> RpcResult<()>;
    /// `anvil_setStorageAt`.
    #[method(name = "anvil_setStorageAt")]
    async fn set_storage_at(&self, address: Address, slot: U256, value: B256) -> RpcResult<bool>;
    /// `evm_increaseTime`: returns the total offset in seconds.
    #[method(name = "evm_increaseTime")]
    async fn increase_time(&self, seconds: U256) -> RpcResult<U64>;
    /// `evm_mine`.
    #[method(name = "evm_mine")]
    async fn mine(&self) -> RpcResult<String>;
}

/// Serves the eth namespace from a chain.
#[derive(Debug, Clone)]
pub struct EthHandler {
    chain: Arc<dyn Chain>,
}

impl EthHandler {
    /// Wraps `chain`.
    pub fn new(chain: Arc<dyn Chain>) -> Self {
        Self { chain }
    }

    /// Only the current state is served: `latest`, `pending`, `safe`, `finalized`, or the number or
    /// hash of the latest block.
    async fn check_state_block(&self, block: Option<BlockId>) -> RpcResult<()> {
        let Some(block) = block else { return Ok(()) };
        let latest = self.chain.block_number().await.map_err(chain_error)?;
        let ok = match block {
            BlockId::Number(BlockNumberOrTag::Number(n)) => n == latest,
            BlockId::Number(BlockNumberOrTag::Earliest) => latest == 0,
            BlockId::Number(_) => true,
            BlockId::Hash(h) => {
                let b = self.chain.block_by_number(BlockNumberOrTag::Latest, false).await.map_err(chain_error)?;
                b.is_some_and(|b| b.header.hash == h.block_hash)
            }
        };
        if ok {
            Ok(())
        } else {
            Err(chain_error(ChainError::BlockNotAvailable(format!(
                "state at {block} is not kept; only the latest block ({latest}) can be queried"
            ))))
        }
    }
}

#[async_trait]
impl EthApiServer for EthHandler {
    async fn chain_id(&self) -> RpcResult<U64> {
        self.chain.chain_id().await.map(U64::from).map_err(chain_error)
    }

    async fn block_number(&self) -> RpcResult<U64> {
        self.chain.block_number().await.map(U64::from).map_err(chain_error)
    }

    async fn proof(
        &self,
        address: Address,
        keys: Vec<alloy::serde::JsonStorageKey>,
        block: Option<BlockId>,
    ) -> RpcResult<alloy::rpc::types::EIP1186AccountProofResponse> {
        self.check_state_block(block).await?;
        let keys = keys.into_iter().map(|k| k.as_b256()).collect();
        match self.chain.proof(address, keys).await.map_err(chain_error)? {
            Some(p) => Ok(p),
            None => Err(jsonrpsee::types::ErrorObjectOwned::owned::<()>(
                jsonrpsee::types::error::METHOD_NOT_FOUND_CODE,
                "eth_getProof is not available on this chain",
                None,
            )),
        }
    }

    async fn balance(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256> {
        self.check_state_block(block).await?;
        self.chain.balance(address).await.map_err(chain_error)
    }

    async fn code(&self, address: Address, block: Option<BlockId>) -> RpcResult<Bytes> {
        self.check_state_block(block).await?;
        self.chain.code(address).await.map_err(chain_error)
    }

    async fn storage_at(&self, address: Address, slot: U256, block: Option<BlockId>) -> RpcResult<B256> {
        self.check_state_block(block).await?;
        self.chain.storage_at(address, slot).await.map_err(chain_error)
    }

    async fn transaction_count(&self, address: Address, block: Option<BlockId>) -> RpcResult<U64> {
        let pending = matches!(block, Some(BlockId::Number(BlockNumberOrTag::Pending)));
        if !pending {
            self.check_state_block(block).await?;
        }
        self.chain.transaction_count(address, pending).await.map(U64::from).map_err(chain_error)
    }

    async fn call(
        &self,
        tx: TransactionRequest,
        block: Option<BlockId>,
        overrides: Option<StateOverride>,
    ) -> RpcResult<Bytes> {
        self.check_state_block(block).await?;
        self.chain.call(tx, overrides).await.map_err(chain_error)
    }

    async fn estimate_gas(
        &self,
        tx: TransactionRequest,
        block: Option<BlockId>,
        overrides: Option<StateOverride>,
    ) -> RpcResult<U64> {
        self.check_state_block(block).await?;
        self.chain.estimate_gas(tx, overrides).await.map(U64::from).map_err(chain_error)
    }

    async fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256> {
        self.chain.send_raw_transaction(raw).await.map_err(chain_error)
    }

    async fn transaction_receipt(&self, hash: B256) -> RpcResult<Option<TransactionReceipt>> {
        self.chain.transaction_receipt(hash).await.map_err(chain_error)
    }

    async fn transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Transaction>> {
        self.chain.transaction_by_hash(hash).await.map_err(chain_error)
    }

    async fn block_by_number(&self, number: BlockNumberOrTag, full: Option<bool>) -> RpcResult<Option<Block>> {
        self.chain.block_by_number(number, full.unwrap_or(false)).await.map_err(chain_error)
    }

    async fn block_by_hash(&self, hash: B256, full: Option<bool>) -> RpcResult<Option<Block>> {
        self.chain.block_by_hash(hash, full.unwrap_or(false)).await.map_err(chain_error)
    }

    async fn logs(&self, filter: Filter) -> RpcResult<Vec<Log>> {
        self.chain.logs(filter).await.map_err(chain_error)
    }

    async fn gas_price(&self) -> RpcResult<U256> {
        self.chain.gas_price().await.map(U256::from).map_err(chain_error)
    }

    async fn max_priority_fee_per_gas(&self) -> RpcResult<U256> {
        self.chain.max_priority_fee_per_gas().await.map(U256::from).map_err(chain_error)
    }

    async fn fee_history(
        &self,
        block_count: U64,
        newest: BlockNumberOrTag,
        reward_percentiles: Option<Vec<f64>>,
    ) -> RpcResult<FeeHistory> {
        let count = u64::try_from(block_count).map_err(|_| invalid_params("blockCount does not fit 64 bits"))?;
        self.chain.fee_history(count, newest, reward_percentiles.unwrap_or_default()).await.map_err(chain_error)
    }

    async fn accounts(&self) -> RpcResult<Vec<Address>> {
        Ok(Vec::new())
    }

    async fn syncing(&self) -> RpcResult<bool> {
        Ok(false)
    }
}

#[async_trait]
impl NetApiServer for EthHandler {
    async fn net_version(&self) -> RpcResult<String> {
        self.chain.chain_id().await.map(|id| id.to_string()).map_err(chain_error)
    }

    async fn client_version(&self) -> RpcResult<String> {
        Ok(CLIENT_VERSION.to_string())
    }
}

/// Serves the dev methods from a dev chain.
#[derive(Debug, Clone)]
pub struct DevHandler {
    chain: Arc<dyn DevChain>,
}

impl DevHandler {
    /// Wraps `chain`.
    pub fn new(chain: Arc<dyn DevChain>) -> Self {
        Self { chain }
    }
}

#[async_trait]
impl DevApiServer for DevHandler {
    async fn set_code(&self, address: Address, code: Bytes) -> RpcResult<()> {
        self.chain.set_code(address, code).await.map_err(chain_error)
    }

    async fn set_balance(&self, address: Address, balance: U256) -> RpcResult<()> {
        self.chain.set_balance(address, balance).await.map_err(chain_error)
    }

    async fn set_nonce(&self, address: Address, nonce: U256) -> RpcResult<()> {
        let nonce = u64::try_from(nonce).map_err(|_| invalid_params("nonce does not fit 64 bits"))?;
        self.chain.set_nonce(address, nonce).await.map_err(chain_error)
    }

    async fn set_storage_at(&self, address: Address, slot: U256, value: B256) -> RpcResult<bool> {
        self.chain.set_storage_at(address, slot, value).await.map(|_| true).map_err(chain_error)
    }

    async fn increase_time(&self, seconds: U256) -> RpcResult<U64> {
        let seconds = u64::try_from(seconds).map_err(|_| invalid_params("seconds does not fit 64 bits"))?;
        self.chain.increase_time(seconds).await.map(U64::from).map_err(chain_error)
    }

    async fn mine(&self) -> RpcResult<String> {
        self.chain.mine().await.map(|_| "0x0".to_string()).map_err(chain_error)
    }
}

/// The whole chain-facing module: eth, net, web3, and the dev methods when `dev` is given.
pub fn chain_module(chain: Arc<dyn Chain>, dev: Option<Arc<dyn DevChain>>) -> jsonrpsee::RpcModule<()> {
    let handler = EthHandler::new(chain);
    let mut module = jsonrpsee::RpcModule::new(());
    // Method names are disjoint by construction; a clash would be a programming error caught by
    // the server tests, so merge failures are reported rather than ignored.
    for result in [module.merge(EthApiServer::into_rpc(handler.clone())), module.merge(NetApiServer::into_rpc(handler))]
    {
        if let Err(e) = result {
            tracing::error!(error = %e, "duplicate JSON-RPC method");
        }
    }
    if let Some(dev) = dev
        && let Err(e) = module.merge(DevHandler::new(dev).into_rpc())
    {
        tracing::error!(error = %e, "duplicate JSON-RPC method");
    }
    module
}
