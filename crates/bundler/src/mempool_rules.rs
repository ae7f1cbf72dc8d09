//! The ERC-7562 rules that look beyond one validation: at admission STO-040 (an entity may not be
//! a sender of another pooled operation, nor a sender an entity of one), the reputation rules
//! ([`crate::reputation`]) and EREP-010 (a paymaster's deposit covers every pooled operation it
//! pays for); at bundling COD-010 (the code a validation ran has not changed since admission) and
//! STO-041 (an operation using the storage of another pooled operation's sender waits), through
//! [`BundleContext`].

use std::borrow::Borrow;
use std::collections::HashMap;
use std::sync::Arc;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::sol_types::SolCall;
use keyward_primitives::UserOperation;
use keyward_primitives::entry_point::IEntryPoint;

use crate::bundle::{Bundle, BundleContext, Candidate};
use crate::erc7562::Entity;
use crate::error::RejectReason;
use crate::reputation::entities_of;
use crate::service::{Bundler, store_err, stored_submission};
use crate::validation::ValidationOutcome;

/// STO-040: the refusal of `op` when one of its entities (factory, paymaster) is the sender of a
/// `pooled` operation, or its sender is an entity of one.
pub fn sto040<P: Borrow<UserOperation>>(op: &UserOperation, pooled: &[P]) -> Option<String> {
    for (entity, address) in entities_of(op).into_iter().filter(|(e, _)| *e != Entity::Account) {
        if pooled.iter().any(|p| p.borrow().sender == address) {
            return Some(format!(
                "ERC-7562: the {entity} {address} is used as a sender entity in another UserOperation currently in \
                 mempool (STO-040)"
            ));
        }
    }
    let used =
        pooled.iter().any(|p| entities_of(p.borrow()).iter().any(|(e, a)| *e != Entity::Account && *a == op.sender));
    used.then(|| {
        format!(
            "ERC-7562: the sender {} is used as a different entity in another UserOperation currently in mempool \
             (STO-040)",
            op.sender
        )
    })
}

/// EREP-010: the refusal of `op` when its paymaster's `deposit` cannot cover the most the
/// `pooled` operations it pays for and `op` may cost.
pub fn paymaster_deposit_refusal<P: Borrow<UserOperation>>(
    op: &UserOperation,
    pooled: &[P],
    deposit: U256,
) -> Option<String> {
    let paymaster = op.paymaster.as_ref()?.paymaster;
    let pending: U256 = pooled
        .iter()
        .map(Borrow::borrow)
        .filter(|p: &&UserOperation| p.paymaster.as_ref().is_some_and(|x| x.paymaster == paymaster))
        .map(UserOperation::required_prefund)
        .fold(U256::ZERO, |a, b| a.saturating_add(b));
    let needed = pending.saturating_add(op.required_prefund());
    (needed > deposit).then(|| {
        format!(
            "paymaster {paymaster} deposit too low: {deposit} wei does not cover the {needed} wei its pending \
             operations and this one may cost (EREP-010)"
        )
    })
}

impl Bundler {
    /// The other operations in the mempool (pending or in flight), without the one `op` would
    /// replace.
    /// The pool is read as its hashes; each operation comes from [`Bundler::pooled`], or once from
    /// the store (another replica's admission, or one forgotten).
    pub(crate) async fn pooled_except(&self, op: &UserOperation) -> Result<Vec<Arc<UserOperation>>, RejectReason> {
        let ep = self.entry_point();
        let hashes = self.store.unfinished_hashes(self.chain_id, ep).await.map_err(store_err)?;
        let mut pooled = Vec::with_capacity(hashes.len());
        let mut missing = Vec::new();
        match self.pooled.lock() {
            Ok(mut known) => {
                for hash in hashes {
                    match known.get(&hash) {
                        Some(p) => pooled.push(p.clone()),
                        None => missing.push(hash),
                    }
                }
            }
            Err(_) => missing = hashes,
        }
        for hash in missing {
            // Finished since the hashes were read: no longer in the pool.
            let Some(r) = self.store.get_user_op(self.chain_id, ep, hash).await.map_err(store_err)? else { continue };
            let p = Arc::new(stored_submission(&r)?.op);
            if let Ok(mut known) = self.pooled.lock() {
                known.put(hash, p.clone());
            }
            pooled.push(p);
        }
        pooled.retain(|p| !(p.sender == op.sender && p.nonce == op.nonce));
        Ok(pooled)
    }

    /// The EntryPoint deposit of `address`.
    async fn deposit_of(&self, address: Address) -> Result<U256, RejectReason> {
        let call = IEntryPoint::balanceOfCall { account: address };
        let tx = alloy::rpc::types::TransactionRequest::default()
            .with_to(self.entry_point())
            .with_input(Bytes::from(call.abi_encode()));
        let out = self.chain.call(tx, None).await?;
        IEntryPoint::balanceOfCall::abi_decode_returns(&out)
            .map_err(|e| RejectReason::Chain(keyward_chain::ChainError::Internal(format!("balanceOf: {e}"))))
    }

    /// The rules a validated `op` must pass against the rest of the mempool (`pooled`, as
    /// [`Bundler::pooled_except`] read it) before admission: STO-040, reputation (GREP-010/020,
    /// UREP-020), EREP-010.
    pub(crate) async fn check_mempool_rules(
        &self,
        op: &UserOperation,
        outcome: &ValidationOutcome,
        pooled: &[Arc<UserOperation>],
    ) -> Result<(), RejectReason> {
        if let Some(refusal) = sto040(op, pooled) {
            return Err(RejectReason::RuleViolation(refusal));
        }
        let stake = self.config.validation.stake;
        let staked = |e: Entity| {
            let info = match e {
                Entity::Account => &outcome.sender,
                Entity::Factory => &outcome.factory,
                Entity::Paymaster => &outcome.paymaster,
            };
            stake.is_staked(info.stake, info.unstakeDelaySec)
        };
        self.check_reputation(op, staked, pooled).await?;
        if let Some(p) = &op.paymaster {
            let deposit = self.deposit_of(p.paymaster).await?;
            if let Some(refusal) = paymaster_deposit_refusal(op, pooled, deposit) {
                return Err(RejectReason::PaymasterDepositTooLow(refusal));
            }
        }
        Ok(())
    }

    /// Whether `outcome` says the sender is staked (UREP-011: a staked sender is not held to the
    /// unstaked sender's cap).
    pub(crate) fn sender_staked(&self, outcome: &ValidationOutcome) -> bool {
        self.config.validation.stake.is_staked(outcome.sender.stake, outcome.sender.unstakeDelaySec)
    }

    /// The [`BundleContext`] of `candidates`: their first validations' code hashes (from the
    /// admission memo, or the store for operations another process admitted), the mempool's
    /// senders, the head, and what this process's admissions validated.
    pub(crate) async fn bundle_context(&self, candidates: &[Candidate]) -> Result<BundleContext, RejectReason> {
        let mut context = BundleContext::default();
        if let Ok(mut memo) = self.admissions.lock() {
            for c in candidates {
                if let Some(a) = memo.get(&c.hash) {
                    context.first_code_hashes.insert(c.hash, a.code_hashes.clone());
                    context.admitted.insert(c.hash, a.clone());
                }
            }
        }
        let unknown: Vec<B256> =
            candidates.iter().map(|c| c.hash).filter(|h| !context.first_code_hashes.contains_key(h)).collect();
        for hash in unknown {
            let facts = self.store.op_facts(self.chain_id, self.entry_point(), hash).await;
            if let Ok(Some(json)) = facts
                && let Ok(hashes) = serde_json::from_str::<Vec<(Address, B256)>>(&json)
            {
                context.first_code_hashes.insert(hash, hashes);
            }
        }
        let senders = self.store.unfinished_senders(self.chain_id, self.entry_point()).await.map_err(store_err)?;
        context.known_senders = senders.into_iter().collect();
        let head = self.chain.block_by_number(alloy::eips::BlockNumberOrTag::Latest, false).await?;
        context.head = head.map(|b| (b.header.number, b.header.hash));
        Ok(context)
    }

    /// Reputation consequences of the operations a bundle dropped (`ops` by userOpHash).
    pub(crate) async fn note_bundle_drops(&self, bundle: &Bundle, ops: &HashMap<B256, UserOperation>) {
        for (hash, reason) in &bundle.rejected {
            if let Some(op) = ops.get(hash) {
                self.note_dropped(op, reason, bundle.failed_in_bundle.contains(hash)).await;
            }
        }
    }

    /// Sorts `records` (unfinished operations, by `created_at`) in arrival order, finer than a
    /// second where the arrival was recorded.
    pub(crate) async fn in_arrival_order(&self, records: &mut [keyward_store::OpRecord]) {
        let arrivals: HashMap<B256, u64> = match self.store.op_arrivals(self.chain_id, self.entry_point()).await {
            Ok(a) => a.into_iter().collect(),
            Err(e) => {
                tracing::warn!(error = %e, "arrival order unknown");
                return;
            }
        };
        records.sort_by_key(|r| {
            (r.created_at, arrivals.get(&r.hash).copied().unwrap_or(r.created_at.saturating_mul(1_000_000_000)))
        });
    }

    /// Forgets the facts kept for COD-010 (with the mempool, `debug_bundler_clearState`).
    pub(crate) async fn clear_facts(&self) -> Result<(), RejectReason> {
        self.store
            .clear_op_facts(self.chain_id, self.entry_point())
            .await
            .map_err(|e| RejectReason::Storage(e.to_string()))
    }
}

/// What the first validation showed, kept with the admitted op for COD-010 (JSON), and its arrival
/// time (unix nanoseconds, the mempool's order).
pub(crate) fn first_validation_facts(outcome: &ValidationOutcome) -> (String, u64) {
    let facts = serde_json::to_string(&outcome.facts.code_hashes).unwrap_or_default();
    let arrived = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or_default();
    (facts, arrived)
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyward_primitives::{FactoryInit, PaymasterInit};

    fn op(sender: u8, factory: Option<u8>, paymaster: Option<u8>) -> UserOperation {
        UserOperation {
            sender: Address::repeat_byte(sender),
            nonce: U256::ZERO,
            factory: factory.map(|f| FactoryInit { factory: Address::repeat_byte(f), factory_data: Bytes::new() }),
            call_data: Bytes::new(),
            call_gas_limit: 100,
            verification_gas_limit: 100,
            pre_verification_gas: U256::from(100),
            max_fee_per_gas: 10,
            max_priority_fee_per_gas: 1,
            paymaster: paymaster.map(|p| PaymasterInit {
                paymaster: Address::repeat_byte(p),
                verification_gas_limit: 100,
                post_op_gas_limit: 100,
                data: Bytes::new(),
            }),
            signature: Bytes::new(),
        }
    }

    #[test]
    fn sto040_refuses_an_entity_that_is_a_pooled_sender_and_the_reverse() {
        let pooled = vec![op(1, None, None)];
        let m = sto040(&op(2, None, Some(1)), &pooled).unwrap();
        assert!(m.contains("is used as a sender entity in another UserOperation currently in mempool"), "{m}");
        assert!(sto040(&op(2, Some(1), None), &pooled).is_some());
        let pooled = vec![op(2, None, Some(1))];
        let m = sto040(&op(1, None, None), &pooled).unwrap();
        assert!(m.contains("is used as a different entity in another UserOperation currently in mempool"), "{m}");
        assert_eq!(sto040(&op(3, None, Some(1)), &pooled), None, "sharing a paymaster is fine");
    }

    #[test]
    fn erep010_counts_every_pooled_operation_of_the_paymaster() {
        let one = op(1, None, Some(9)).required_prefund();
        let pooled = vec![op(1, None, Some(9)), op(2, None, Some(8))];
        assert_eq!(paymaster_deposit_refusal(&op(3, None, Some(9)), &pooled, one * U256::from(2)), None);
        let m = paymaster_deposit_refusal(&op(3, None, Some(9)), &pooled, one * U256::from(2) - U256::from(1)).unwrap();
        assert!(m.contains("too low"), "{m}");
        assert_eq!(paymaster_deposit_refusal(&op(3, None, None), &pooled, U256::ZERO), None);
    }
}
