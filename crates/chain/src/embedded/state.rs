//! The embedded chain's state machine: accounts (revm `CacheDB`), blocks, receipts and the
//! pending pool. Pure in-memory; `mod.rs` adds locking, journaling and the `Chain` surface.

use std::collections::HashMap;

use alloy::consensus::constants::EMPTY_OMMER_ROOT_HASH;
use alloy::consensus::transaction::Recovered;
use alloy::consensus::{
    Eip658Value, Header, Receipt, ReceiptEnvelope, ReceiptWithBloom, Transaction as _, TxEnvelope, TxReceipt, proofs,
};
use alloy::eips::eip1559::BaseFeeParams;
use alloy::eips::eip7685::EMPTY_REQUESTS_HASH;
use alloy::primitives::{Address, B256, Bloom, Bytes, U256, keccak256};
use alloy::rpc::types::TransactionRequest;
use alloy::rpc::types::state::StateOverride;
use alloy_evm::{EthEvmFactory, Evm, EvmEnv, EvmFactory, FromRecoveredTx};
use revm::DatabaseCommit;
use revm::context::result::ExecutionResult;
use revm::context::{BlockEnv, TxEnv};
use revm::database::{CacheDB, EmptyDB};
use revm::state::{AccountInfo, Bytecode};

use crate::error::{ChainError, ChainResult};
use crate::evm_call;

/// The account database of the embedded chain.
pub(crate) type Db = CacheDB<EmptyDB>;

/// The revm context an inspector sees on the embedded chain: the pending state behind an overlay
/// that is dropped after the call.
pub type InspectContext<'a> = alloy_evm::eth::EthEvmContext<&'a mut CacheDB<&'a Db>>;

/// Root of an empty trie (withdrawals of a post-Shanghai block without withdrawals).
const EMPTY_ROOT_HASH: B256 =
    alloy::primitives::b256!("0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421");

/// Fixed parameters of one embedded chain.
#[derive(Debug, Clone)]
pub(crate) struct Params {
    pub chain_id: u64,
    pub block_gas_limit: u64,
    pub genesis_base_fee: u64,
}

/// What differs from one block header to the next.
struct BlockFields {
    parent_hash: B256,
    number: u64,
    timestamp: u64,
    gas_limit: u64,
    gas_used: u64,
    base_fee: u64,
    transactions_root: B256,
    receipts_root: B256,
    logs_bloom: Bloom,
}

/// A Prague block header: no withdrawals, blobs or requests; `prevrandao = keccak(number)`.
/// The state root is not computed (zero): nothing in Keyward's dev flows reads it.
fn block_header(f: BlockFields) -> Header {
    Header {
        parent_hash: f.parent_hash,
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: Address::ZERO,
        state_root: B256::ZERO,
        transactions_root: f.transactions_root,
        receipts_root: f.receipts_root,
        logs_bloom: f.logs_bloom,
        difficulty: U256::ZERO,
        number: f.number,
        gas_limit: f.gas_limit,
        gas_used: f.gas_used,
        timestamp: f.timestamp,
        extra_data: Bytes::from_static(b"keyward"),
        mix_hash: keccak256(f.number.to_be_bytes()),
        nonce: Default::default(),
        base_fee_per_gas: Some(f.base_fee),
        withdrawals_root: Some(EMPTY_ROOT_HASH),
        blob_gas_used: Some(0),
        excess_blob_gas: Some(0),
        parent_beacon_block_root: Some(B256::ZERO),
        requests_hash: Some(EMPTY_REQUESTS_HASH),
        ..Default::default()
    }
}

/// A transaction waiting to be mined.
#[derive(Debug, Clone)]
pub(crate) struct PendingTx {
    pub tx: Recovered<TxEnvelope>,
    pub raw: Bytes,
}

/// A mined transaction with its receipt.
#[derive(Debug, Clone)]
pub(crate) struct StoredTx {
    pub tx: Recovered<TxEnvelope>,
    pub receipt: ReceiptEnvelope,
    pub gas_used: u64,
    pub effective_gas_price: u128,
    pub contract_address: Option<Address>,
    pub first_log_index: u64,
}

/// A mined block.
#[derive(Debug, Clone)]
pub(crate) struct StoredBlock {
    pub header: Header,
    pub hash: B256,
    pub txs: Vec<StoredTx>,
}

/// Everything the embedded chain holds.
#[derive(Debug)]
pub(crate) struct ChainState {
    pub params: Params,
    pub db: Db,
    pub blocks: Vec<StoredBlock>,
    pub tx_index: HashMap<B256, (usize, usize)>,
    pub block_index: HashMap<B256, usize>,
    pub pending: Vec<PendingTx>,
    pub time_offset: u64,
}

/// A block executed on an overlay of the state, not yet committed: its per-transaction state
/// changes are kept in order and applied to the base database only on commit.
pub(crate) struct PreparedBlock {
    changes: Vec<revm::state::EvmState>,
    block: StoredBlock,
    /// The raw transactions included, in order (what the journal records).
    pub included: Vec<Bytes>,
    /// Pending transactions that did not fit and stay pending.
    pub leftover: Vec<PendingTx>,
}

impl ChainState {
    /// A chain holding only its genesis block, with `alloc` accounts.
    pub(crate) fn genesis(params: Params, timestamp: u64, alloc: Vec<(Address, AccountInfo)>) -> Self {
        let mut db = Db::default();
        for (address, info) in alloc {
            db.insert_account_info(address, info);
        }
        let header = block_header(BlockFields {
            parent_hash: B256::ZERO,
            number: 0,
            timestamp,
            gas_limit: params.block_gas_limit,
            gas_used: 0,
            base_fee: params.genesis_base_fee,
            transactions_root: EMPTY_ROOT_HASH,
            receipts_root: EMPTY_ROOT_HASH,
            logs_bloom: Bloom::ZERO,
        });
        let hash = header.hash_slow();
        let mut state = Self {
            params,
            db,
            blocks: Vec::new(),
            tx_index: HashMap::new(),
            block_index: HashMap::new(),
            pending: Vec::new(),
            time_offset: 0,
        };
        state.push_block(StoredBlock { header, hash, txs: Vec::new() });
        state
    }

    fn push_block(&mut self, block: StoredBlock) {
        let n = self.blocks.len();
        self.block_index.insert(block.hash, n);
        for (i, t) in block.txs.iter().enumerate() {
            self.tx_index.insert(*t.tx.inner().tx_hash(), (n, i));
        }
        self.blocks.push(block);
    }

    /// The latest mined block.
    pub(crate) fn latest(&self) -> &StoredBlock {
        // The genesis block is pushed on construction, so the list is never empty.
        &self.blocks[self.blocks.len() - 1]
    }

    /// Base fee of the next block (EIP-1559 from the latest block).
    pub(crate) fn next_base_fee(&self) -> u64 {
        let h = &self.latest().header;
        BaseFeeParams::ethereum().next_block_base_fee(h.gas_used, h.gas_limit, h.base_fee_per_gas.unwrap_or_default())
    }

    /// Timestamp of the next block: the clock (plus any offset), strictly after the latest block.
    pub(crate) fn next_timestamp(&self, now: u64) -> u64 {
        (now + self.time_offset).max(self.latest().header.timestamp + 1)
    }

    /// The EVM environment of a block at `number` and `timestamp`.
    pub(crate) fn evm_env(&self, number: u64, timestamp: u64, basefee: u64) -> EvmEnv {
        let block = BlockEnv {
            number: U256::from(number),
            beneficiary: Address::ZERO,
            timestamp: U256::from(timestamp),
            gas_limit: self.params.block_gas_limit,
            basefee,
            difficulty: U256::ZERO,
            prevrandao: Some(keccak256(number.to_be_bytes())),
            ..Default::default()
        };
        evm_call::block_env(self.params.chain_id, block)
    }

    /// The environment calls and estimates run in: the next block, with fee and nonce checks off.
    fn call_env(&self, now: u64) -> EvmEnv {
        evm_call::call_env(self.evm_env(
            self.latest().header.number + 1,
            self.next_timestamp(now),
            self.next_base_fee(),
        ))
    }

    /// Nonce of `address` counting transactions still pending.
    pub(crate) fn pending_nonce(&self, address: Address) -> u64 {
        let mined = self.db.cache.accounts.get(&address).and_then(|a| a.info()).map(|i| i.nonce).unwrap_or(0);
        mined + self.pending.iter().filter(|p| p.tx.signer() == address).count() as u64
    }

    /// Executes `candidates` as the next block on a nested database.
    ///
    /// With `strict`, any invalid transaction fails the whole block (and nothing changes); otherwise
    /// invalid transactions are dropped with a warning and those beyond the gas limit stay pending.
    pub(crate) fn prepare_block(
        &mut self,
        timestamp: u64,
        candidates: Vec<PendingTx>,
        strict: bool,
    ) -> ChainResult<PreparedBlock> {
        let parent = self.latest();
        let number = parent.header.number + 1;
        let parent_hash = parent.hash;
        let basefee = self.next_base_fee();
        let env = self.evm_env(number, timestamp, basefee);
        let mut overlay = CacheDB::new(&self.db);
        let mut changes = Vec::new();
        let mut txs = Vec::new();
        let mut included = Vec::new();
        let mut leftover = Vec::new();
        let mut cumulative = 0u64;
        let mut log_index = 0u64;
        let mut failure = None;
        {
            let mut evm = EthEvmFactory::default().create_evm(&mut overlay, env);
            for cand in candidates {
                if cumulative + cand.tx.gas_limit() > self.params.block_gas_limit {
                    leftover.push(cand);
                    continue;
                }
                let tx_env = TxEnv::from_recovered_tx(cand.tx.inner(), cand.tx.signer());
                let outcome = match evm.transact(tx_env) {
                    Ok(outcome) => outcome,
                    Err(e) if strict => {
                        failure = Some(ChainError::InvalidTransaction(e.to_string()));
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(tx = %cand.tx.inner().tx_hash(), error = %e, "dropping invalid pending transaction");
                        continue;
                    }
                };
                evm.db_mut().commit(outcome.state.clone());
                changes.push(outcome.state);
                let result = outcome.result;
                let gas_used = result.tx_gas_used();
                cumulative += gas_used;
                let logs = result.logs().to_vec();
                let n_logs = logs.len() as u64;
                let receipt =
                    Receipt { status: Eip658Value::Eip658(result.is_success()), cumulative_gas_used: cumulative, logs };
                let receipt = ReceiptEnvelope::from_typed(cand.tx.inner().tx_type(), ReceiptWithBloom::from(receipt));
                let contract_address = match &result {
                    ExecutionResult::Success { .. } => result.created_address(),
                    _ => None,
                };
                txs.push(StoredTx {
                    effective_gas_price: cand.tx.inner().effective_gas_price(Some(basefee)),
                    tx: cand.tx,
                    receipt,
                    gas_used,
                    contract_address,
                    first_log_index: log_index,
                });
                log_index += n_logs;
                included.push(cand.raw);
            }
        }
        if let Some(err) = failure {
            return Err(err);
        }
        let envelopes: Vec<&TxEnvelope> = txs.iter().map(|t| t.tx.inner()).collect();
        let receipts: Vec<&ReceiptEnvelope> = txs.iter().map(|t| &t.receipt).collect();
        let mut logs_bloom = Bloom::ZERO;
        for r in &receipts {
            logs_bloom.accrue_bloom(&r.bloom());
        }
        let header = block_header(BlockFields {
            parent_hash,
            number,
            timestamp,
            gas_limit: self.params.block_gas_limit,
            gas_used: cumulative,
            base_fee: basefee,
            transactions_root: proofs::calculate_transaction_root(&envelopes),
            receipts_root: proofs::calculate_receipt_root(&receipts),
            logs_bloom,
        });
        let hash = header.hash_slow();
        Ok(PreparedBlock { changes, block: StoredBlock { header, hash, txs }, included, leftover })
    }

    /// Makes a prepared block part of the chain: applies its state changes in order.
    pub(crate) fn commit_block(&mut self, prepared: PreparedBlock) {
        for change in prepared.changes {
            self.db.commit(change);
        }
        self.push_block(prepared.block);
    }

    /// Runs `req` against the pending state without committing anything.
    pub(crate) fn simulate(
        &self,
        req: TransactionRequest,
        overrides: Option<StateOverride>,
        gas: Option<u64>,
        now: u64,
    ) -> ChainResult<ExecutionResult> {
        let env = self.call_env(now);
        let tx_env = evm_call::tx_env(req, &env, gas)?;
        let mut db = evm_call::overlay(&self.db, overrides)?;
        evm_call::transact(&mut db, env, tx_env)
    }

    /// Runs `req` like [`Self::simulate`] with `inspector` watching every step (nothing committed).
    pub(crate) fn simulate_inspected<I>(
        &self,
        req: TransactionRequest,
        overrides: Option<StateOverride>,
        now: u64,
        inspector: I,
    ) -> ChainResult<ExecutionResult>
    where
        I: for<'a> revm::Inspector<InspectContext<'a>>,
    {
        let env = self.call_env(now);
        let tx_env = evm_call::tx_env(req, &env, None)?;
        let mut db = evm_call::overlay(&self.db, overrides)?;
        evm_call::transact_inspected(&mut db, env, tx_env, inspector)
    }

    /// Sets code of an account, keeping its balance and nonce.
    pub(crate) fn set_code(&mut self, address: Address, code: Bytes) -> ChainResult<()> {
        let mut info = self.account_info(address);
        let bytecode = Bytecode::new_raw_checked(code).map_err(|e| ChainError::InvalidParams(e.to_string()))?;
        info.code_hash = bytecode.hash_slow();
        info.code = Some(bytecode);
        self.db.insert_account_info(address, info);
        Ok(())
    }

    /// Updates the account info of `address` with `f`.
    pub(crate) fn update_account(&mut self, address: Address, f: impl FnOnce(&mut AccountInfo)) {
        let mut info = self.account_info(address);
        f(&mut info);
        self.db.insert_account_info(address, info);
    }

    /// Writes one storage slot.
    pub(crate) fn set_storage(&mut self, address: Address, slot: U256, value: B256) -> ChainResult<()> {
        self.db.insert_account_storage(address, slot, value.into()).map_err(|e| ChainError::Internal(e.to_string()))
    }

    /// Account info of `address` (default when it does not exist).
    pub(crate) fn account_info(&self, address: Address) -> AccountInfo {
        self.db.cache.accounts.get(&address).and_then(|a| a.info()).unwrap_or_default()
    }

    /// One storage slot of `address`.
    pub(crate) fn storage(&self, address: Address, slot: U256) -> U256 {
        self.db.cache.accounts.get(&address).and_then(|a| a.storage.get(&slot).copied()).unwrap_or_default()
    }

    /// Runtime code of `address`.
    pub(crate) fn code(&self, address: Address) -> Bytes {
        let info = self.account_info(address);
        info.code
            .or_else(|| self.db.cache.contracts.get(&info.code_hash).cloned())
            .map(|c| c.original_bytes())
            .unwrap_or_default()
    }
}
