//! The embedded chain: a real EVM (revm, Prague rules) in process, serving the `Chain` trait.
//!
//! A new block is mined for every transaction by default ([`Mining::Instant`]); with
//! [`Mining::Interval`] transactions wait in a pending pool for the next tick. With a data
//! directory every state change is journaled (see [`journal`]) and replayed on start.

mod convert;
mod journal;
mod proof;
mod state;
pub mod trace;

use std::path::PathBuf;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};
use std::time::Duration;

use alloy::consensus::Transaction as _;
use alloy::consensus::TxEnvelope;
use alloy::consensus::transaction::{Recovered, SignerRecoverable};
use alloy::eips::BlockNumberOrTag;
use alloy::eips::eip2718::Decodable2718;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::rpc::types::state::StateOverride;
use alloy::rpc::types::{
    Block, FeeHistory, Filter, FilterBlockOption, Log, Transaction, TransactionReceipt, TransactionRequest,
};
use alloy::signers::local::PrivateKeySigner;
use async_trait::async_trait;
use keyward_primitives::unix_now;
use revm::context::result::ExecutionResult;
use revm::state::{AccountInfo, Bytecode};

use crate::dev_keys::{DEV_KEY_COUNT, dev_signers};
use crate::error::{ChainError, ChainResult};
use crate::evm_call::execution_output;
use crate::traits::{Chain, DevChain};
use journal::{Entry, Journal};
pub use state::InspectContext;
use state::{ChainState, Params, PendingTx};

/// When the embedded chain mines blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mining {
    /// One block per transaction, mined as soon as it arrives.
    #[default]
    Instant,
    /// One block per interval, holding the transactions that arrived meanwhile.
    Interval(Duration),
}

/// How to start an embedded chain.
#[derive(Debug, Clone)]
pub struct EmbeddedConfig {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// Block production mode.
    pub mining: Mining,
    /// Where to keep state across restarts; `None` for an ephemeral chain.
    pub data_dir: Option<PathBuf>,
    /// Gas limit of every block.
    pub block_gas_limit: u64,
    /// Base fee of the genesis block, in wei.
    pub genesis_base_fee: u64,
    /// Balance of every dev key at genesis, in wei.
    pub dev_balance: U256,
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        Self {
            chain_id: 31337,
            mining: Mining::Instant,
            data_dir: None,
            block_gas_limit: 30_000_000,
            genesis_base_fee: 1_000_000_000,
            dev_balance: U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18u64)),
        }
    }
}

/// Suggested priority fee, in wei (what `eth_maxPriorityFeePerGas` answers).
pub const SUGGESTED_PRIORITY_FEE: u128 = 1_000_000_000;

/// The in-process chain.
#[derive(Debug)]
pub struct EmbeddedChain {
    state: RwLock<Inner>,
    config: EmbeddedConfig,
    dev_keys: Vec<PrivateKeySigner>,
}

#[derive(Debug)]
struct Inner {
    chain: ChainState,
    journal: Option<Journal>,
}

impl Inner {
    /// Executes `candidates` as the next block and, once it is journaled, commits it. Returns the
    /// candidates that did not fit in the block. With `strict`, an invalid transaction fails the
    /// whole call and nothing changes.
    fn mine(&mut self, candidates: Vec<PendingTx>, strict: bool) -> ChainResult<Vec<PendingTx>> {
        let timestamp = self.chain.next_timestamp(unix_now());
        let mut prepared = self.chain.prepare_block(timestamp, candidates, strict)?;
        if let Some(j) = self.journal.as_mut() {
            // Not journaled means not applied: the prepared changes are dropped.
            j.append(&Entry::Block { timestamp, txs: prepared.included.clone() })?;
        }
        let leftover = std::mem::take(&mut prepared.leftover);
        self.chain.commit_block(prepared);
        Ok(leftover)
    }
}

fn decode_raw(raw: &Bytes) -> ChainResult<Recovered<TxEnvelope>> {
    let mut slice = raw.as_ref();
    let envelope = TxEnvelope::decode_2718(&mut slice)
        .map_err(|e| ChainError::InvalidParams(format!("transaction is not valid EIP-2718: {e}")))?;
    if !slice.is_empty() {
        return Err(ChainError::InvalidParams("trailing bytes after the transaction".into()));
    }
    let signer = envelope
        .recover_signer()
        .map_err(|e| ChainError::InvalidTransaction(format!("signature does not recover: {e}")))?;
    Ok(Recovered::new_unchecked(envelope, signer))
}

/// What the sender of an estimated transaction can pay (geth's gas cap by balance).
#[derive(Debug, Clone, Copy)]
struct Funds {
    /// The sender's balance (after state overrides).
    balance: U256,
    /// The value the transaction sends.
    value: U256,
    /// `gasPrice`, else `maxFeePerGas`, else zero (no fee given: estimated without one).
    fee: u128,
}

impl Funds {
    /// The funds of `tx`'s sender; refuses a value above the balance.
    fn of(chain: &ChainState, tx: &TransactionRequest, overrides: Option<&StateOverride>) -> ChainResult<Self> {
        let sender = tx.from.unwrap_or_default();
        let balance = overrides
            .and_then(|o| o.get(&sender))
            .and_then(|o| o.balance)
            .unwrap_or_else(|| chain.account_info(sender).balance);
        let value = tx.value.unwrap_or_default();
        let fee = tx.gas_price.or(tx.max_fee_per_gas).unwrap_or_default();
        if value > balance {
            return Err(ChainError::InvalidTransaction(format!(
                "insufficient funds for transfer: balance {balance} wei, value {value} wei"
            )));
        }
        Ok(Self { balance, value, fee })
    }

    /// The most gas the balance pays for at the fee, if a fee is given.
    fn allowance(&self) -> Option<u64> {
        if self.fee == 0 {
            return None;
        }
        let gas = (self.balance - self.value) / U256::from(self.fee);
        Some(u64::try_from(gas).unwrap_or(u64::MAX))
    }

    /// The refusal of a transaction that needs more gas than `allowance` can buy.
    fn exceeded(&self, allowance: u64) -> ChainError {
        ChainError::InvalidTransaction(format!(
            "insufficient funds for gas * price + value: gas required exceeds allowance ({allowance}): balance {} \
             wei, value {} wei, fee {} wei per gas",
            self.balance, self.value, self.fee
        ))
    }
}

/// Whether an execution ran out of gas (the limit, not the code, made it fail).
fn is_out_of_gas(result: &ExecutionResult) -> bool {
    matches!(result, ExecutionResult::Halt { reason: revm::context::result::HaltReason::OutOfGas(_), .. })
}

impl EmbeddedChain {
    /// Creates the chain: genesis with Keyward's contracts and funded dev keys, then, with a data
    /// directory, the replay of everything journaled there.
    pub fn open(config: EmbeddedConfig) -> ChainResult<Arc<Self>> {
        crate::recover_memo::install();
        let dev_keys = dev_signers(DEV_KEY_COUNT)?;
        let (mut journal, entries) = match &config.data_dir {
            Some(dir) => {
                let (j, e) = Journal::open(dir)?;
                (Some(j), e)
            }
            None => (None, Vec::new()),
        };
        let mut entries = entries.into_iter();
        let genesis_ts = match entries.next() {
            Some(Entry::Genesis { chain_id, timestamp }) => {
                if chain_id != config.chain_id {
                    return Err(ChainError::Storage(format!(
                        "the data directory holds chain {chain_id}, not {}",
                        config.chain_id
                    )));
                }
                timestamp
            }
            Some(other) => return Err(ChainError::Storage(format!("journal does not start with genesis: {other:?}"))),
            None => {
                let timestamp = unix_now();
                if let Some(j) = journal.as_mut() {
                    j.append(&Entry::Genesis { chain_id: config.chain_id, timestamp })?;
                }
                timestamp
            }
        };
        let params = Params {
            chain_id: config.chain_id,
            block_gas_limit: config.block_gas_limit,
            genesis_base_fee: config.genesis_base_fee,
        };
        let chain = ChainState::genesis(params, genesis_ts, genesis_alloc(&config, &dev_keys)?);
        let mut inner = Inner { chain, journal: None };
        let mut replayed = 0usize;
        for entry in entries {
            apply_entry(&mut inner.chain, entry)?;
            replayed += 1;
        }
        if replayed > 0 {
            tracing::info!(replayed, block = inner.chain.latest().header.number, "restored chain from journal");
        }
        inner.journal = journal;
        Ok(Arc::new(Self { state: RwLock::new(inner), config, dev_keys }))
    }

    /// Starts the block timer of [`Mining::Interval`]; a no-op for instant mining. Needs a Tokio
    /// runtime; the task ends when the chain is dropped.
    pub fn spawn_miner(self: &Arc<Self>) {
        if let Mining::Interval(period) = self.config.mining {
            let weak: Weak<Self> = Arc::downgrade(self);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(period);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let Some(chain) = weak.upgrade() else { break };
                    if let Err(e) = chain.mine_now() {
                        tracing::error!(error = %e, "mining a block failed");
                    }
                }
            });
        }
    }

    /// The funded dev keys (`test … junk` mnemonic, indices 0–9).
    pub fn dev_signers(&self) -> &[PrivateKeySigner] {
        &self.dev_keys
    }

    /// The configuration the chain was opened with.
    pub fn config(&self) -> &EmbeddedConfig {
        &self.config
    }

    fn read(&self) -> ChainResult<RwLockReadGuard<'_, Inner>> {
        self.state.read().map_err(|_| ChainError::Internal("chain state lock poisoned".into()))
    }

    fn write(&self) -> ChainResult<RwLockWriteGuard<'_, Inner>> {
        self.state.write().map_err(|_| ChainError::Internal("chain state lock poisoned".into()))
    }

    /// Mines the pending pool into one block (possibly empty).
    fn mine_now(&self) -> ChainResult<()> {
        let mut guard = self.write()?;
        let candidates = std::mem::take(&mut guard.chain.pending);
        let leftover = guard.mine(candidates, false)?;
        guard.chain.pending = leftover;
        Ok(())
    }

    /// Applies a dev-control change, journaled first.
    fn dev_change(&self, entry: Entry) -> ChainResult<()> {
        let mut guard = self.write()?;
        let inner = &mut *guard;
        // Validate by applying to the in-memory state only after the journal accepted it; the
        // entries are simple enough that validation happens in `check_entry` up front.
        check_entry(&entry)?;
        if let Some(j) = inner.journal.as_mut() {
            j.append(&entry)?;
        }
        apply_entry(&mut inner.chain, entry)
    }

    /// Executes `req` on the pending state; the result of the EVM, not yet interpreted.
    fn simulate(
        &self,
        req: TransactionRequest,
        overrides: Option<StateOverride>,
        gas: Option<u64>,
    ) -> ChainResult<ExecutionResult> {
        self.read()?.chain.simulate(req, overrides, gas, unix_now())
    }

    /// Runs `req` as `eth_call` does (pending state, `overrides`, nothing committed) with a revm
    /// `inspector` watching every step and frame; returns the raw EVM result.
    pub fn inspect_call<I>(
        &self,
        req: TransactionRequest,
        overrides: Option<StateOverride>,
        inspector: I,
    ) -> ChainResult<ExecutionResult>
    where
        I: for<'a> revm::Inspector<InspectContext<'a>>,
    {
        self.read()?.chain.simulate_inspected(req, overrides, unix_now(), inspector)
    }

    /// `eth_call` (pending state, `overrides`, nothing committed) run under the revm inspector
    /// [`trace::ValidationTracer`]: the call's output (or revert) and its execution trace.
    pub fn trace_call(
        &self,
        req: TransactionRequest,
        overrides: Option<StateOverride>,
    ) -> ChainResult<(ChainResult<Bytes>, trace::ExecutionTrace)> {
        let mut tracer = trace::ValidationTracer::new();
        let result = self.inspect_call(req, overrides, &mut tracer)?;
        Ok((execution_output(result), tracer.into_trace()))
    }

    fn find_block(chain: &ChainState, number: BlockNumberOrTag) -> Option<&state::StoredBlock> {
        match number {
            BlockNumberOrTag::Number(n) => chain.blocks.get(usize::try_from(n).ok()?),
            BlockNumberOrTag::Earliest => chain.blocks.first(),
            _ => Some(chain.latest()),
        }
    }
}

/// Accounts at genesis: the dev keys with their balance, and Keyward's contracts.
fn genesis_alloc(config: &EmbeddedConfig, keys: &[PrivateKeySigner]) -> ChainResult<Vec<(Address, AccountInfo)>> {
    let mut alloc: Vec<(Address, AccountInfo)> =
        keys.iter().map(|k| (k.address(), AccountInfo { balance: config.dev_balance, ..Default::default() })).collect();
    for p in keyward_contracts::dev_placements() {
        let code = Bytecode::new_raw_checked(p.code).map_err(|e| ChainError::Internal(format!("{}: {e}", p.name)))?;
        alloc.push((
            p.address,
            AccountInfo {
                balance: U256::ZERO,
                nonce: p.nonce,
                code_hash: code.hash_slow(),
                code: Some(code),
                ..Default::default()
            },
        ));
    }
    Ok(alloc)
}

/// Rejects dev changes that cannot apply, before they are journaled.
fn check_entry(entry: &Entry) -> ChainResult<()> {
    if let Entry::SetCode { code, .. } = entry {
        Bytecode::new_raw_checked(code.clone()).map_err(|e| ChainError::InvalidParams(e.to_string()))?;
    }
    Ok(())
}

/// Applies one journal entry to the state (used live and on replay).
fn apply_entry(chain: &mut ChainState, entry: Entry) -> ChainResult<()> {
    match entry {
        Entry::Genesis { .. } => Err(ChainError::Storage("a second genesis entry in the journal".into())),
        Entry::Block { timestamp, txs } => {
            let count = txs.len();
            let candidates = txs
                .into_iter()
                .map(|raw| decode_raw(&raw).map(|tx| PendingTx { tx, raw }))
                .collect::<ChainResult<Vec<_>>>()?;
            let prepared = chain.prepare_block(timestamp, candidates, true)?;
            if prepared.included.len() != count {
                return Err(ChainError::Storage("journal replay diverged: a block no longer fits".into()));
            }
            chain.commit_block(prepared);
            Ok(())
        }
        Entry::SetCode { address, code } => chain.set_code(address, code),
        Entry::SetBalance { address, balance } => {
            chain.update_account(address, |i| i.balance = balance);
            Ok(())
        }
        Entry::SetNonce { address, nonce } => {
            chain.update_account(address, |i| i.nonce = nonce);
            Ok(())
        }
        Entry::SetStorage { address, slot, value } => chain.set_storage(address, slot, value),
        Entry::IncreaseTime { seconds } => {
            chain.time_offset = chain.time_offset.saturating_add(seconds);
            Ok(())
        }
    }
}

#[async_trait]
impl Chain for EmbeddedChain {
    async fn chain_id(&self) -> ChainResult<u64> {
        Ok(self.config.chain_id)
    }

    async fn block_number(&self) -> ChainResult<u64> {
        Ok(self.read()?.chain.latest().header.number)
    }

    async fn balance(&self, address: Address) -> ChainResult<U256> {
        Ok(self.read()?.chain.account_info(address).balance)
    }

    async fn code(&self, address: Address) -> ChainResult<Bytes> {
        Ok(self.read()?.chain.code(address))
    }

    async fn storage_at(&self, address: Address, slot: U256) -> ChainResult<B256> {
        Ok(self.read()?.chain.storage(address, slot).into())
    }

    async fn transaction_count(&self, address: Address, pending: bool) -> ChainResult<u64> {
        let guard = self.read()?;
        Ok(if pending { guard.chain.pending_nonce(address) } else { guard.chain.account_info(address).nonce })
    }

    async fn call(&self, tx: TransactionRequest, overrides: Option<StateOverride>) -> ChainResult<Bytes> {
        execution_output(self.simulate(tx, overrides, None)?)
    }

    async fn estimate_gas(&self, tx: TransactionRequest, overrides: Option<StateOverride>) -> ChainResult<u64> {
        let guard = self.read()?;
        let now = unix_now();
        let limit = guard.chain.params.block_gas_limit;
        let mut cap = tx.gas.unwrap_or(limit).min(limit);
        // As geth: with a fee, search only the limits the sender's balance can pay for.
        let funds = Funds::of(&guard.chain, &tx, overrides.as_ref())?;
        let capped_by_funds = funds.allowance().is_some_and(|allowance| allowance < cap);
        if let Some(allowance) = funds.allowance() {
            cap = cap.min(allowance);
        }
        let run = |gas: u64| guard.chain.simulate(tx.clone(), overrides.clone(), Some(gas), now);
        let first = match run(cap) {
            Err(ChainError::InvalidTransaction(_)) if capped_by_funds => return Err(funds.exceeded(cap)),
            other => other?,
        };
        if capped_by_funds && is_out_of_gas(&first) {
            return Err(funds.exceeded(cap));
        }
        let used = first.tx_gas_used();
        execution_output(first)?;
        // Binary search for the smallest limit that succeeds: gas refunds and the 63/64 rule make
        // the limit needed larger than the gas used.
        let (mut lo, mut hi) = (used.saturating_sub(1), cap);
        let optimistic = (used + 2_300).saturating_mul(64) / 63;
        if optimistic < hi {
            match run(optimistic) {
                Ok(r) if r.is_success() => hi = optimistic,
                _ => lo = optimistic,
            }
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            match run(mid) {
                Ok(r) if r.is_success() => hi = mid,
                _ => lo = mid,
            }
        }
        Ok(hi)
    }

    async fn send_raw_transaction(&self, raw: Bytes) -> ChainResult<B256> {
        let tx = decode_raw(&raw)?;
        let hash = *tx.inner().tx_hash();
        if let Some(id) = tx.inner().chain_id()
            && id != self.config.chain_id
        {
            return Err(ChainError::InvalidTransaction(format!(
                "chain id {id} is not this chain's ({})",
                self.config.chain_id
            )));
        }
        let mut guard = self.write()?;
        let inner = &mut *guard;
        if inner.chain.tx_index.contains_key(&hash)
            || inner.chain.pending.iter().any(|p| p.tx.inner().tx_hash() == &hash)
        {
            return Err(ChainError::InvalidTransaction("already known".into()));
        }
        let expected = inner.chain.pending_nonce(tx.signer());
        let nonce = tx.inner().nonce();
        if nonce < expected {
            return Err(ChainError::InvalidTransaction(format!(
                "nonce too low: next nonce {expected}, tx nonce {nonce}"
            )));
        }
        if nonce > expected {
            return Err(ChainError::InvalidTransaction(format!(
                "nonce too high: next nonce {expected}, tx nonce {nonce}"
            )));
        }
        match self.config.mining {
            Mining::Instant => {
                inner.mine(vec![PendingTx { tx, raw }], true)?;
            }
            Mining::Interval(_) => {
                let info = inner.chain.account_info(tx.signer());
                let max_cost =
                    U256::from(tx.inner().gas_limit()) * U256::from(tx.inner().max_fee_per_gas()) + tx.inner().value();
                if info.balance < max_cost {
                    return Err(ChainError::InvalidTransaction(format!(
                        "insufficient funds for gas * price + value: have {}, want {max_cost}",
                        info.balance
                    )));
                }
                inner.chain.pending.push(PendingTx { tx, raw });
            }
        }
        Ok(hash)
    }

    async fn transaction_receipt(&self, hash: B256) -> ChainResult<Option<TransactionReceipt>> {
        let guard = self.read()?;
        let chain = &guard.chain;
        Ok(chain.tx_index.get(&hash).map(|&(b, i)| {
            let block = &chain.blocks[b];
            convert::rpc_receipt(block, i, &block.txs[i])
        }))
    }

    async fn transaction_by_hash(&self, hash: B256) -> ChainResult<Option<Transaction>> {
        let guard = self.read()?;
        let chain = &guard.chain;
        if let Some(&(b, i)) = chain.tx_index.get(&hash) {
            let block = &chain.blocks[b];
            return Ok(Some(convert::rpc_transaction(block, i, &block.txs[i])));
        }
        Ok(chain.pending.iter().find(|p| p.tx.inner().tx_hash() == &hash).map(|p| Transaction {
            inner: p.tx.clone(),
            block_hash: None,
            block_number: None,
            transaction_index: None,
            effective_gas_price: None,
            block_timestamp: None,
        }))
    }

    async fn block_by_number(&self, number: BlockNumberOrTag, full: bool) -> ChainResult<Option<Block>> {
        let guard = self.read()?;
        Ok(Self::find_block(&guard.chain, number).map(|b| convert::rpc_block(b, full)))
    }

    async fn block_by_hash(&self, hash: B256, full: bool) -> ChainResult<Option<Block>> {
        let guard = self.read()?;
        let chain = &guard.chain;
        Ok(chain.block_index.get(&hash).map(|&n| convert::rpc_block(&chain.blocks[n], full)))
    }

    async fn logs(&self, filter: Filter) -> ChainResult<Vec<Log>> {
        let guard = self.read()?;
        let chain = &guard.chain;
        let latest = chain.latest().header.number;
        let resolve = |b: Option<BlockNumberOrTag>| match b {
            Some(BlockNumberOrTag::Number(n)) => n,
            Some(BlockNumberOrTag::Earliest) => 0,
            _ => latest,
        };
        let range: Vec<usize> = match filter.block_option {
            FilterBlockOption::AtBlockHash(h) => chain.block_index.get(&h).copied().into_iter().collect(),
            FilterBlockOption::Range { from_block, to_block } => {
                let from = resolve(from_block);
                let to = resolve(to_block).min(latest);
                if from > to {
                    return Ok(Vec::new());
                }
                (from as usize..=to as usize).collect()
            }
        };
        let mut out = Vec::new();
        for n in range {
            let block = &chain.blocks[n];
            for (i, tx) in block.txs.iter().enumerate() {
                out.extend(convert::rpc_logs(block, i, tx).into_iter().filter(|l| filter.matches(&l.inner)));
            }
        }
        Ok(out)
    }

    async fn gas_price(&self) -> ChainResult<u128> {
        Ok(u128::from(self.read()?.chain.next_base_fee()) + SUGGESTED_PRIORITY_FEE)
    }

    async fn max_priority_fee_per_gas(&self) -> ChainResult<u128> {
        Ok(SUGGESTED_PRIORITY_FEE)
    }

    async fn fee_history(
        &self,
        block_count: u64,
        newest: BlockNumberOrTag,
        reward_percentiles: Vec<f64>,
    ) -> ChainResult<FeeHistory> {
        if reward_percentiles.windows(2).any(|w| w[0] > w[1])
            || reward_percentiles.iter().any(|p| !(0.0..=100.0).contains(p))
        {
            return Err(ChainError::InvalidParams("reward percentiles must be ascending values in [0, 100]".into()));
        }
        let guard = self.read()?;
        let chain = &guard.chain;
        let newest = Self::find_block(chain, newest)
            .ok_or_else(|| ChainError::BlockNotAvailable(format!("{newest}")))?
            .header
            .number;
        let count = block_count.clamp(1, 1024).min(newest + 1);
        let oldest = newest + 1 - count;
        let mut history = FeeHistory { oldest_block: oldest, ..Default::default() };
        let mut rewards = Vec::new();
        for n in oldest..=newest {
            let block = &chain.blocks[n as usize];
            let base = block.header.base_fee_per_gas.unwrap_or_default();
            history.base_fee_per_gas.push(u128::from(base));
            history.gas_used_ratio.push(block.header.gas_used as f64 / block.header.gas_limit as f64);
            history.base_fee_per_blob_gas.push(0);
            history.blob_gas_used_ratio.push(0.0);
            rewards.push(block_rewards(block, base, &reward_percentiles));
        }
        let last = &chain.blocks[newest as usize].header;
        let next = alloy::eips::eip1559::BaseFeeParams::ethereum().next_block_base_fee(
            last.gas_used,
            last.gas_limit,
            last.base_fee_per_gas.unwrap_or_default(),
        );
        history.base_fee_per_gas.push(u128::from(next));
        history.base_fee_per_blob_gas.push(0);
        if !reward_percentiles.is_empty() {
            history.reward = Some(rewards);
        }
        Ok(history)
    }

    async fn traced_call(
        &self,
        tx: TransactionRequest,
        overrides: Option<StateOverride>,
    ) -> ChainResult<Option<(ChainResult<Bytes>, trace::ExecutionTrace)>> {
        self.trace_call(tx, overrides).map(Some)
    }

    async fn proof(
        &self,
        address: Address,
        keys: Vec<B256>,
    ) -> ChainResult<Option<alloy::rpc::types::EIP1186AccountProofResponse>> {
        Ok(Some(proof::account_proof(&self.read()?.chain.db, address, &keys)))
    }
}

/// Priority fees paid in `block` at each percentile of gas used (as geth computes them).
fn block_rewards(block: &state::StoredBlock, base_fee: u64, percentiles: &[f64]) -> Vec<u128> {
    if block.txs.is_empty() {
        return vec![0; percentiles.len()];
    }
    let mut tips: Vec<(u128, u64)> = block
        .txs
        .iter()
        .map(|t| (t.tx.inner().effective_tip_per_gas(base_fee).unwrap_or_default(), t.gas_used))
        .collect();
    tips.sort_unstable();
    let total: u64 = tips.iter().map(|t| t.1).sum();
    percentiles
        .iter()
        .map(|p| {
            let threshold = (total as f64 * p / 100.0) as u64;
            let mut acc = 0u64;
            for (tip, gas) in &tips {
                acc += gas;
                if acc >= threshold {
                    return *tip;
                }
            }
            tips.last().map(|t| t.0).unwrap_or_default()
        })
        .collect()
}

#[async_trait]
impl DevChain for EmbeddedChain {
    async fn set_code(&self, address: Address, code: Bytes) -> ChainResult<()> {
        self.dev_change(Entry::SetCode { address, code })
    }

    async fn set_balance(&self, address: Address, balance: U256) -> ChainResult<()> {
        self.dev_change(Entry::SetBalance { address, balance })
    }

    async fn set_nonce(&self, address: Address, nonce: u64) -> ChainResult<()> {
        self.dev_change(Entry::SetNonce { address, nonce })
    }

    async fn set_storage_at(&self, address: Address, slot: U256, value: B256) -> ChainResult<()> {
        self.dev_change(Entry::SetStorage { address, slot, value })
    }

    async fn increase_time(&self, seconds: u64) -> ChainResult<u64> {
        self.dev_change(Entry::IncreaseTime { seconds })?;
        Ok(self.read()?.chain.time_offset)
    }

    async fn mine(&self) -> ChainResult<()> {
        self.mine_now()
    }
}
