//! A node's state as a revm database, pinned to one block and cached per block: what lets
//! [`RpcChain`](crate::RpcChain) run a call locally under a revm inspector (the ERC-7562
//! [`ValidationTracer`](crate::embedded::trace::ValidationTracer)) against any node.
//!
//! # Why locally, and why everywhere
//!
//! The bundler must see every opcode, frame and storage access of `simulateValidation`. Nodes
//! offer that only through `debug_traceCall`, and not uniformly: anvil has no JavaScript tracer,
//! hosted providers usually disable `debug_*`, and the native tracers (geth's, reth's, anvil's) differ
//! by client in what they record and how. Instead the call runs here, in the same revm with the same
//! inspector as on the embedded chain (the crate's `evm_call`), over state read with the
//! standard `eth_get*` methods every node serves. One code path on every node means one behaviour:
//! no node's tracer is preferred even where one exists.
//!
//! # How
//!
//! - **Pinned.** Each traced call first reads the latest block (`eth_getBlockByNumber("latest")`,
//!   one request) and then reads every account and slot *by that block's number*, so a block mined
//!   meanwhile cannot mix two states into one execution. The call runs in that block's
//!   environment, as the node's own `eth_call` at that block would.
//! - **Fetched by revm's [`AlloyDB`]** (revm's `alloydb` feature, built on the same alloy 2.x
//!   provider): an account is `eth_getBalance`, `eth_getTransactionCount` and `eth_getCode`, sent
//!   concurrently; a slot is one `eth_getStorageAt`. It is bridged to revm's synchronous database
//!   interface by [`WrapDatabaseAsync`] with the runtime's handle, and the whole execution runs in
//!   `spawn_blocking`, so no runtime worker thread ever blocks on the node.
//! - **Cached per block.** Accounts, code, slots and block hashes read at a block are kept until the
//!   head moves (another number or hash); concurrent and successive calls at the same block share
//!   them. Validating an op touches some 10–40 slots, so a second validation at the same block costs
//!   one request (the head). The dev controls of [`RpcChain`](crate::RpcChain) (`anvil_set*`),
//!   which change state without a block, drop the cache; the same edits made by another client of
//!   the node are not seen until the next block.
//! - **Errors.** A read the node fails is [`ChainError::Transport`] and ends the execution; it is
//!   never confused with the call's own revert, which is the call's output.
//!
//! [`requests`](RemoteStats::requests) counts the node requests this makes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use alloy::consensus::BlockHeader as _;
use alloy::eips::BlockNumberOrTag;
use alloy::eips::eip1898::BlockId;
use alloy::network::Ethereum;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::TransactionRequest;
use alloy::rpc::types::state::StateOverride;
use alloy_evm::EvmEnv;
use revm::DatabaseRef;
use revm::context::BlockEnv;
use revm::database::{AlloyDB, AlloyDBError, WrapDatabaseAsync, async_db::AsyncError};
use revm::primitives::eip4844::BLOB_BASE_FEE_UPDATE_FRACTION_PRAGUE;
use revm::state::{AccountInfo, Bytecode};
use tokio::runtime::Handle;

use crate::embedded::trace::ExecutionTrace;
use crate::error::{ChainError, ChainResult};
use crate::evm_call;

/// Beyond this many cached slots at one block the cache starts over (a bound, not a policy: one
/// validation reads tens of slots).
const MAX_CACHED_SLOTS: usize = 1 << 16;

/// Node requests made for local execution since the [`RemoteState`] was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemoteStats {
    /// `eth_getBlockByNumber("latest")`: one per traced call.
    pub heads: u64,
    /// `eth_chainId`: once.
    pub chain_ids: u64,
    /// Accounts fetched (three requests each: balance, nonce, code).
    pub accounts: u64,
    /// Storage slots fetched (one `eth_getStorageAt` each).
    pub slots: u64,
    /// Block hashes fetched (one `eth_getBlockByNumber` each).
    pub block_hashes: u64,
}

impl RemoteStats {
    /// The number of JSON-RPC requests these fetches took.
    pub fn requests(&self) -> u64 {
        self.heads + self.chain_ids + 3 * self.accounts + self.slots + self.block_hashes
    }

    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &Self) -> Self {
        Self {
            heads: self.heads - earlier.heads,
            chain_ids: self.chain_ids - earlier.chain_ids,
            accounts: self.accounts - earlier.accounts,
            slots: self.slots - earlier.slots,
            block_hashes: self.block_hashes - earlier.block_hashes,
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    heads: AtomicU64,
    chain_ids: AtomicU64,
    accounts: AtomicU64,
    slots: AtomicU64,
    block_hashes: AtomicU64,
}

impl Counters {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> RemoteStats {
        RemoteStats {
            heads: self.heads.load(Ordering::Relaxed),
            chain_ids: self.chain_ids.load(Ordering::Relaxed),
            accounts: self.accounts.load(Ordering::Relaxed),
            slots: self.slots.load(Ordering::Relaxed),
            block_hashes: self.block_hashes.load(Ordering::Relaxed),
        }
    }
}

/// What was read at one block.
#[derive(Debug, Default)]
struct Reads {
    /// `None`: the account does not exist (empty).
    accounts: HashMap<Address, Option<AccountInfo>>,
    contracts: HashMap<B256, Bytecode>,
    storage: HashMap<(Address, U256), U256>,
    block_hashes: HashMap<u64, B256>,
}

/// One block of the node: its identity, its environment, and what was read at it.
#[derive(Debug)]
struct BlockCache {
    number: u64,
    hash: B256,
    env: EvmEnv,
    reads: Mutex<Reads>,
}

impl BlockCache {
    fn reads(&self) -> ChainResult<MutexGuard<'_, Reads>> {
        self.reads.lock().map_err(|_| ChainError::Internal("remote state cache lock poisoned".into()))
    }
}

/// A node's state for local execution (see the module docs): the provider, the chain id, and the
/// cache of the latest block read.
#[derive(Debug)]
pub struct RemoteState {
    provider: DynProvider,
    chain_id: tokio::sync::OnceCell<u64>,
    current: Mutex<Option<Arc<BlockCache>>>,
    counters: Arc<Counters>,
}

impl RemoteState {
    /// State read through `provider`.
    pub fn new(provider: DynProvider) -> Self {
        Self { provider, chain_id: tokio::sync::OnceCell::new(), current: Mutex::new(None), counters: Arc::default() }
    }

    /// Node requests made so far.
    pub fn stats(&self) -> RemoteStats {
        self.counters.snapshot()
    }

    /// Drops everything cached (state changed without a new block, e.g. `anvil_setStorageAt`).
    pub fn invalidate(&self) {
        if let Ok(mut current) = self.current.lock() {
            *current = None;
        }
    }

    /// The latest block, with the cache of its reads (a new one when the head moved).
    async fn pin(&self) -> ChainResult<Arc<BlockCache>> {
        let chain_id = *self
            .chain_id
            .get_or_try_init(|| async {
                Counters::bump(&self.counters.chain_ids);
                self.provider.get_chain_id().await.map_err(crate::rpc_chain::map_err)
            })
            .await?;
        Counters::bump(&self.counters.heads);
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .map_err(crate::rpc_chain::map_err)?
            .ok_or_else(|| ChainError::BlockNotAvailable("the node has no latest block".into()))?;
        let (number, hash) = (block.header.number, block.header.hash);
        let mut current =
            self.current.lock().map_err(|_| ChainError::Internal("remote state cache lock poisoned".into()))?;
        if let Some(cache) = current.as_ref().filter(|c| c.number == number && c.hash == hash) {
            return Ok(cache.clone());
        }
        let header = &block.header;
        let mut env = BlockEnv {
            number: U256::from(number),
            beneficiary: header.beneficiary(),
            timestamp: U256::from(header.timestamp()),
            gas_limit: header.gas_limit(),
            basefee: header.base_fee_per_gas().unwrap_or_default(),
            difficulty: header.difficulty(),
            prevrandao: Some(header.mix_hash().unwrap_or_default()),
            ..Default::default()
        };
        if let Some(excess) = header.excess_blob_gas() {
            env.set_blob_excess_gas_and_price(excess, BLOB_BASE_FEE_UPDATE_FRACTION_PRAGUE);
        }
        let cache = Arc::new(BlockCache {
            number,
            hash,
            env: evm_call::call_env(evm_call::block_env(chain_id, env)),
            reads: Mutex::default(),
        });
        *current = Some(cache.clone());
        Ok(cache)
    }

    /// `eth_call` of `req` with `overrides` at the latest block, run locally under the validation
    /// tracer: the call's output (or revert) and its trace. Blocks no runtime worker.
    pub async fn trace_call(
        &self,
        req: TransactionRequest,
        overrides: Option<StateOverride>,
    ) -> ChainResult<(ChainResult<Bytes>, ExecutionTrace)> {
        let block = self.pin().await?;
        let provider = self.provider.clone();
        let counters = self.counters.clone();
        let handle = Handle::current();
        tokio::task::spawn_blocking(move || {
            let source = WrapDatabaseAsync::with_handle(AlloyDB::new(provider, BlockId::number(block.number)), handle);
            let db = PinnedDb { block: &block, source, counters: &counters };
            evm_call::trace_call(&db, block.env.clone(), req, overrides)
        })
        .await
        .map_err(|e| ChainError::Internal(format!("local tracing task failed: {e}")))?
    }
}

/// The revm database of one execution: the block's cache in front of [`AlloyDB`] at that block.
#[derive(Debug)]
struct PinnedDb<'a> {
    block: &'a BlockCache,
    source: WrapDatabaseAsync<AlloyDB<Ethereum, DynProvider>>,
    counters: &'a Counters,
}

impl PinnedDb<'_> {
    /// A failed read of the node's state: the node's (or the transport's) failure.
    fn read_error(&self, what: &str, e: AsyncError<AlloyDBError>) -> ChainError {
        let block = self.block.number;
        match e {
            AsyncError::Inner(AlloyDBError::BlockNotFound(n)) => {
                ChainError::BlockNotAvailable(format!("block {n} (reading {what} at block {block})"))
            }
            other => ChainError::Transport(format!("reading {what} at block {block}: {other}")),
        }
    }
}

impl DatabaseRef for PinnedDb<'_> {
    type Error = ChainError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, Self::Error> {
        if let Some(info) = self.block.reads()?.accounts.get(&address) {
            return Ok(info.clone());
        }
        Counters::bump(&self.counters.accounts);
        let info = self.source.basic_ref(address).map_err(|e| self.read_error(&format!("account {address}"), e))?;
        // AlloyDB answers every address; an empty one does not exist, as on the embedded chain.
        let info = info.filter(|i| !i.is_empty());
        let mut reads = self.block.reads()?;
        if let Some((hash, code)) = info.as_ref().and_then(|i| Some((i.code_hash, i.code.clone()?))) {
            reads.contracts.insert(hash, code);
        }
        reads.accounts.insert(address, info.clone());
        Ok(info)
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, Self::Error> {
        // Every account is read with its code, so its code is here (AlloyDB has no lookup by hash).
        self.block
            .reads()?
            .contracts
            .get(&code_hash)
            .cloned()
            .ok_or_else(|| ChainError::Internal(format!("code {code_hash} was not read with its account")))
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, Self::Error> {
        if let Some(value) = self.block.reads()?.storage.get(&(address, index)) {
            return Ok(*value);
        }
        Counters::bump(&self.counters.slots);
        let value = self
            .source
            .storage_ref(address, index)
            .map_err(|e| self.read_error(&format!("slot {index:#x} of {address}"), e))?;
        let mut reads = self.block.reads()?;
        if reads.storage.len() >= MAX_CACHED_SLOTS {
            reads.storage.clear();
        }
        reads.storage.insert((address, index), value);
        Ok(value)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, Self::Error> {
        if let Some(hash) = self.block.reads()?.block_hashes.get(&number) {
            return Ok(*hash);
        }
        Counters::bump(&self.counters.block_hashes);
        let hash =
            self.source.block_hash_ref(number).map_err(|e| self.read_error(&format!("hash of block {number}"), e))?;
        self.block.reads()?.block_hashes.insert(number, hash);
        Ok(hash)
    }
}
