//! The bundler as its clients see it: the narrow boundary the wallet service talks to (admit an
//! operation, estimate one, where one is, the next nonce sequence of a key, whether an account is
//! being set up, the fees to offer). [`Bundler`] implements it in process; a bundler in another
//! process can implement it over ERC-4337 JSON-RPC.

use alloy::primitives::{Address, B256, U256};
use async_trait::async_trait;
use keyward_primitives::{UserOperation, nonce};
use keyward_store::OpStatus;
use keyward_store::wallet::CallRecord;

use crate::error::RejectReason;
use crate::estimate::{GasEstimate, estimate_user_op_gas};
use crate::fees::current_fees;
use crate::receipt::OpOutcome;
use crate::service::{Bundler, store_err, stored_submission};
use crate::submission::Submission;
use crate::submit::BundleFees;
use crate::validation::Assumptions;

/// Where an operation is, as its submitter sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum OpState {
    /// Waiting in the mempool.
    Pending,
    /// In a bundle transaction not yet mined.
    InFlight {
        /// The bundle transaction.
        tx: B256,
        /// The chain's latest block when it was sent.
        sent_at_block: u64,
    },
    /// Included in a block.
    Included {
        /// The bundle transaction.
        tx: B256,
        /// The block's number.
        block_number: u64,
        /// The block's hash.
        block_hash: B256,
        /// The operation's own outcome.
        outcome: Box<OpOutcome>,
    },
    /// Dropped or refused before inclusion; it will never be included.
    Failed {
        /// Why.
        reason: String,
    },
}

impl OpState {
    /// Whether the operation may still be included.
    pub fn is_unfinished(&self) -> bool {
        matches!(self, Self::Pending | Self::InFlight { .. })
    }
}

/// The sequence the next operation of a (sender, key) gets, and the chain's next at that moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextSequence {
    /// The 192-bit nonce key asked about.
    pub key: U256,
    /// After the chain's and after every operation of that key still pending.
    pub sequence: u64,
    /// The chain's next sequence of that key.
    pub onchain: u64,
}

impl NextSequence {
    /// The nonce assumption an operation at `sequence` is validated under: `None` when it is the
    /// chain's next, the sequence when pending operations come before it.
    pub fn assumption(self) -> Option<u64> {
        (self.sequence > self.onchain).then_some(self.sequence)
    }
}

/// The operations of one chain and EntryPoint, as a client submits and follows them.
#[async_trait]
pub trait OperationPool: Send + Sync + std::fmt::Debug {
    /// The EntryPoint served.
    fn entry_point(&self) -> Address;
    /// Validates `submission` and admits it durably, recording in the same commit the wallet
    /// `call` it answers (with whether it installs its session); its userOpHash.
    async fn submit(&self, submission: Submission, call: Option<(&CallRecord, bool)>) -> Result<B256, RejectReason>;
    /// Gas limits of `op`, as if the operations pending before it were included and, for an
    /// EOA about to be delegated by EIP-7702, its delegation to `delegate` were live. `known`: what
    /// [`OperationPool::next_sequence`] answered for `op`'s key, when its sequence came from there
    /// (the pool and the chain are then not read again).
    async fn estimate(
        &self,
        op: &UserOperation,
        delegate: Option<Address>,
        known: Option<NextSequence>,
    ) -> Result<GasEstimate, RejectReason>;
    /// Where the operation `hash` is; `None` when the pool never admitted it.
    async fn state(&self, hash: B256) -> Result<Option<OpState>, RejectReason>;
    /// The sequence the next operation of (`sender`, `key`) gets: after the chain's and after
    /// every operation of that key still pending.
    async fn next_sequence(&self, sender: Address, key: U256) -> Result<NextSequence, RejectReason>;
    /// Whether an operation that deploys `sender` (factory) or delegates it (EIP-7702) is pending.
    async fn setup_pending(&self, sender: Address) -> Result<bool, RejectReason>;
    /// The fees an operation should offer now.
    async fn fees(&self) -> Result<BundleFees, RejectReason>;
}

#[async_trait]
impl OperationPool for Bundler {
    fn entry_point(&self) -> Address {
        Bundler::entry_point(self)
    }

    async fn submit(&self, submission: Submission, call: Option<(&CallRecord, bool)>) -> Result<B256, RejectReason> {
        self.add_from_wallet(submission, Bundler::entry_point(self), call).await
    }

    async fn estimate(
        &self,
        op: &UserOperation,
        delegate: Option<Address>,
        known: Option<NextSequence>,
    ) -> Result<GasEstimate, RejectReason> {
        let nonce_sequence = match known {
            Some(k) if (k.key, k.sequence) == (nonce::nonce_key_u256(op.nonce), nonce::nonce_sequence(op.nonce)) => {
                k.assumption()
            }
            _ => self.nonce_assumption(op).await?,
        };
        estimate_user_op_gas(self.chain.as_ref(), &self.config.validation, op, Assumptions { delegate, nonce_sequence })
            .await
    }

    async fn state(&self, hash: B256) -> Result<Option<OpState>, RejectReason> {
        let ep = Bundler::entry_point(self);
        let Some(r) = self.store.user_op_progress(self.chain_id, ep, hash).await.map_err(store_err)? else {
            return Ok(None);
        };
        let state = match (r.status, r.bundle_tx) {
            (OpStatus::Pending, _) | (OpStatus::Submitted, None) => OpState::Pending,
            (OpStatus::Submitted, Some(tx)) => {
                OpState::InFlight { tx, sent_at_block: r.sent_at_block.unwrap_or_default() }
            }
            (OpStatus::Failed | OpStatus::Dropped, _) => {
                // A final failure must not be taken back by a power loss once reported (the status
                // polls do not wait at the edge); failures are rare, so this sync is too.
                self.store.durable().await.map_err(|e| RejectReason::Storage(e.to_string()))?;
                OpState::Failed { reason: r.failure.clone().unwrap_or_else(|| "dropped".into()) }
            }
            (OpStatus::Included, tx) => match (tx, r.block_number, r.block_hash, r.receipt_json.as_deref()) {
                (Some(tx), Some(block_number), Some(block_hash), Some(json)) => {
                    let outcome: OpOutcome = serde_json::from_str(json)
                        .map_err(|e| RejectReason::Storage(format!("stored outcome of {hash} is unreadable: {e}")))?;
                    OpState::Included { tx, block_number, block_hash, outcome: Box::new(outcome) }
                }
                // Marked included without its block: treat as in flight until it is complete.
                (tx, ..) => OpState::InFlight { tx: tx.unwrap_or_default(), sent_at_block: 0 },
            },
        };
        Ok(Some(state))
    }

    async fn next_sequence(&self, sender: Address, key: U256) -> Result<NextSequence, RejectReason> {
        // The mempool first, the chain second: an operation included in between is then seen in
        // one of the two (the tracker marks it included only after the chain has it).
        let ep = Bundler::entry_point(self);
        let after_pending = self
            .store
            .unfinished_nonces_of(self.chain_id, ep, sender)
            .await
            .map_err(store_err)?
            .iter()
            .filter(|(k, _)| *k == key)
            .map(|(_, seq)| seq.saturating_add(1))
            .max()
            .unwrap_or(0);
        let probe = UserOperation { sender, nonce: key << 64, ..Default::default() };
        let onchain = crate::bundle::onchain_sequence(self.chain.as_ref(), ep, &probe).await?;
        Ok(NextSequence { key, sequence: onchain.max(after_pending), onchain })
    }

    async fn setup_pending(&self, sender: Address) -> Result<bool, RejectReason> {
        let ep = Bundler::entry_point(self);
        let pending = self.store.unfinished_user_ops_of(self.chain_id, ep, sender).await.map_err(store_err)?;
        Ok(pending
            .iter()
            .any(|r| stored_submission(r).is_ok_and(|s| s.authorization.is_some() || s.op.factory.is_some())))
    }

    async fn fees(&self) -> Result<BundleFees, RejectReason> {
        let fees = current_fees(self.chain.as_ref()).await?;
        let priority = fees.max_priority_fee_per_gas.max(self.config.validation.min_priority_fee);
        Ok(BundleFees { max_fee_per_gas: fees.max_fee_per_gas.max(priority), max_priority_fee_per_gas: priority })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operation_behind_pending_ones_assumes_its_sequence() {
        let next = |sequence, onchain| NextSequence { key: U256::from(7), sequence, onchain };
        assert_eq!(next(3, 3).assumption(), None, "the chain's next needs no assumption");
        assert_eq!(next(5, 3).assumption(), Some(5), "two pending before it");
    }
}
