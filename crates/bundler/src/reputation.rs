//! ERC-7562 reputation: per entity (sender, factory, paymaster) `opsSeen` and `opsIncluded`,
//! kept in the store ([`keyward_store::reputation`], decayed hourly by 23/24), the status they give
//! (ok, throttled, banned) and the rules that read it: GREP-010/020 (banned entities refused,
//! throttled ones limited in the mempool), UREP-020 (unstaked paymasters limited by their
//! inclusion rate), GREP-040 (an entity that makes a bundle fail after its second validation is
//! banned), EREP-015 (a paymaster is not blamed for the account's or factory's failure), EREP-020
//! (a staked factory answers for its account), EREP-030 (a staked account answers for its
//! paymaster).

use alloy::primitives::{Address, U256};
use keyward_primitives::UserOperation;
use keyward_store::ReputationRecord;

use crate::erc7562::Entity;
use crate::error::RejectReason;
use crate::service::{Bundler, now};

/// `THROTTLED_ENTITY_MEMPOOL_COUNT`: operations a throttled entity may have in the mempool.
pub const THROTTLED_ENTITY_MEMPOOL_COUNT: usize = 4;
/// `SAME_UNSTAKED_ENTITY_MEMPOOL_COUNT`: the base of an unstaked paymaster's mempool allowance.
pub const SAME_UNSTAKED_ENTITY_MEMPOOL_COUNT: u64 = 10;
/// `MIN_INCLUSION_RATE_DENOMINATOR` of a bundler.
pub const MIN_INCLUSION_RATE_DENOMINATOR: u64 = 10;
/// `THROTTLING_SLACK`.
pub const THROTTLING_SLACK: u64 = 10;
/// `BAN_SLACK`.
pub const BAN_SLACK: u64 = 50;
/// `BAN_OPS_SEEN_PENALTY`: the `opsSeen` of an entity banned by GREP-040.
pub const BAN_OPS_SEEN_PENALTY: u64 = 10_000;
/// `MAX_OPS_ALLOWED_UNSTAKED_ENTITY`.
pub const MAX_OPS_ALLOWED_UNSTAKED_ENTITY: u64 = 10_000;

/// The reputation status of an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReputationStatus {
    /// Not limited by reputation.
    Ok,
    /// Limited to [`THROTTLED_ENTITY_MEMPOOL_COUNT`] operations in the mempool.
    Throttled,
    /// Not admitted.
    Banned,
}

impl ReputationStatus {
    /// The ERC-7769 name: `ok`, `throttled`, `banned`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Throttled => "throttled",
            Self::Banned => "banned",
        }
    }
}

/// The status of counters (ERC-7562 "Reputation Calculation"): with
/// `max_seen = opsSeen / MIN_INCLUSION_RATE_DENOMINATOR`, banned when
/// `max_seen > opsIncluded + BAN_SLACK`, throttled when `max_seen > opsIncluded + THROTTLING_SLACK`.
pub fn status(r: &ReputationRecord) -> ReputationStatus {
    let max_seen = r.ops_seen / MIN_INCLUSION_RATE_DENOMINATOR;
    if max_seen > r.ops_included.saturating_add(BAN_SLACK) {
        ReputationStatus::Banned
    } else if max_seen > r.ops_included.saturating_add(THROTTLING_SLACK) {
        ReputationStatus::Throttled
    } else {
        ReputationStatus::Ok
    }
}

/// UREP-020: how many operations an unstaked paymaster may have in the mempool:
/// `SAME_UNSTAKED_ENTITY_MEMPOOL_COUNT + inclusionRate * min(opsIncluded, MAX_OPS_ALLOWED_UNSTAKED_ENTITY)`.
pub fn unstaked_ops_allowed(r: &ReputationRecord) -> u64 {
    let bonus = match r.ops_seen {
        0 => 0,
        seen => r.ops_included.saturating_mul(r.ops_included.min(MAX_OPS_ALLOWED_UNSTAKED_ENTITY)) / seen,
    };
    SAME_UNSTAKED_ENTITY_MEMPOOL_COUNT.saturating_add(bonus)
}

/// The entities an operation references, in ERC-7562's order: sender, factory, paymaster.
pub fn entities_of(op: &UserOperation) -> Vec<(Entity, Address)> {
    let mut out = vec![(Entity::Account, op.sender)];
    out.extend(op.factory.as_ref().map(|f| (Entity::Factory, f.factory)));
    out.extend(op.paymaster.as_ref().map(|p| (Entity::Paymaster, p.paymaster)));
    out
}

/// Which entity a refusal of `op` blames, before the accountability rules: `AA1x` the factory,
/// `AA2x` the account, `AA3x` the paymaster; an ERC-7562 refusal the entity it names.
pub fn blamed(reason: &str) -> Option<Entity> {
    let bytes = reason.as_bytes();
    let aa =
        bytes.windows(4).position(|w| w[0] == b'A' && w[1] == b'A' && w[2].is_ascii_digit() && w[3].is_ascii_digit());
    if let Some(i) = aa {
        return match bytes[i + 2] {
            b'1' => Some(Entity::Factory),
            b'2' => Some(Entity::Account),
            b'3' => Some(Entity::Paymaster),
            _ => None,
        };
    }
    let rule = reason.strip_prefix("ERC-7562: ")?;
    [Entity::Account, Entity::Factory, Entity::Paymaster].into_iter().find(|e| rule.starts_with(&e.to_string()))
}

/// The entity that answers for a failure blamed on `blamed` (EREP-020: a staked factory answers
/// for its account; EREP-030: a staked account answers for its paymaster), with its address.
pub fn accountable(
    op: &UserOperation,
    blamed: Entity,
    factory_staked: bool,
    sender_staked: bool,
) -> Option<(Entity, Address)> {
    let entity = match blamed {
        Entity::Account if op.factory.is_some() && factory_staked => Entity::Factory,
        Entity::Paymaster if sender_staked => Entity::Account,
        other => other,
    };
    entities_of(op).into_iter().find(|(e, _)| *e == entity)
}

fn storage(e: keyward_store::StoreError) -> RejectReason {
    RejectReason::Storage(e.to_string())
}

impl Bundler {
    /// Every entity's counters and status (`debug_bundler_dumpReputation`).
    pub async fn reputation(&self) -> Result<Vec<(ReputationRecord, ReputationStatus)>, RejectReason> {
        let rows = self.store.reputation_entries(self.chain_id, self.entry_point(), now()).await.map_err(storage)?;
        Ok(rows.into_iter().map(|r| (r, status(&r))).collect())
    }

    /// One entity's counters.
    pub async fn reputation_of(&self, address: Address) -> Result<ReputationRecord, RejectReason> {
        self.store.reputation_of(self.chain_id, self.entry_point(), address, now()).await.map_err(storage)
    }

    /// Sets entities' counters (`debug_bundler_setReputation`).
    pub async fn set_reputation(&self, records: &[ReputationRecord]) -> Result<(), RejectReason> {
        for r in records {
            self.adjust(r.address, |x| {
                x.ops_seen = r.ops_seen;
                x.ops_included = r.ops_included;
            })
            .await?;
        }
        Ok(())
    }

    /// Forgets every entity's counters (`debug_bundler_clearReputation`).
    pub async fn clear_reputation(&self) -> Result<(), RejectReason> {
        self.store.clear_reputation(self.chain_id, self.entry_point()).await.map_err(storage)
    }

    async fn adjust(
        &self,
        address: Address,
        f: impl FnOnce(&mut ReputationRecord) + Send,
    ) -> Result<ReputationRecord, RejectReason> {
        self.store.update_reputation(self.chain_id, self.entry_point(), address, now(), f).await.map_err(storage)
    }

    /// Refuses `op` by the reputation rules: GREP-010 (banned), GREP-020 (throttled and already
    /// [`THROTTLED_ENTITY_MEMPOOL_COUNT`] operations pooled), UREP-020 (an unstaked paymaster over
    /// its allowance). They apply to staked entities and to unstaked paymasters, except the
    /// deployment's own ([`crate::BundlerConfig::trusted`]); `staked` tells
    /// which entities are staked; `pooled` are the other operations in the mempool.
    pub(crate) async fn check_reputation(
        &self,
        op: &UserOperation,
        staked: impl Fn(Entity) -> bool,
        pooled: &[std::sync::Arc<UserOperation>],
    ) -> Result<(), RejectReason> {
        for (entity, address) in entities_of(op) {
            let is_staked = staked(entity);
            if (!is_staked && entity != Entity::Paymaster) || self.config.trusted.contains(&address) {
                continue;
            }
            let r = self.reputation_of(address).await?;
            let in_pool = pooled.iter().filter(|p| entities_of(p).iter().any(|(_, a)| *a == address)).count();
            match status(&r) {
                ReputationStatus::Banned => {
                    return Err(RejectReason::Throttled(format!("{entity} {address} is banned (GREP-010)")));
                }
                ReputationStatus::Throttled if in_pool >= THROTTLED_ENTITY_MEMPOOL_COUNT => {
                    return Err(RejectReason::Throttled(format!(
                        "{entity} {address} is throttled: it already has {in_pool} operations in the mempool (GREP-020)"
                    )));
                }
                _ => {}
            }
            if !is_staked {
                let allowed = unstaked_ops_allowed(&r);
                if u64::try_from(in_pool).unwrap_or(u64::MAX) >= allowed {
                    return Err(RejectReason::InsufficientStake(format!(
                        "unstaked {entity} {address} already has {in_pool} operations in the mempool, the most an \
                         unstaked {entity} with its inclusion rate may have ({allowed}); stake it for more (UREP-020)"
                    )));
                }
            }
        }
        Ok(())
    }

    /// `op` was dropped at bundling with `reason`: after failing its second validation
    /// (EREP-015: its paymaster's `opsSeen` is taken back when the account or the factory failed),
    /// or, `in_bundle`, after passing it but failing in the whole bundle (GREP-040: the accountable
    /// entity is banned, `opsSeen = BAN_OPS_SEEN_PENALTY`, `opsIncluded = 0`).
    pub(crate) async fn note_dropped(&self, op: &UserOperation, reason: &str, in_bundle: bool) {
        let Some(blamed) = blamed(reason) else { return };
        let result = if in_bundle {
            let factory_staked = match &op.factory {
                Some(f) => self.is_staked(f.factory).await.unwrap_or(false),
                None => false,
            };
            let sender_staked = self.is_staked(op.sender).await.unwrap_or(false);
            let Some((entity, address)) = accountable(op, blamed, factory_staked, sender_staked) else { return };
            tracing::warn!(%entity, %address, %reason, "entity made a bundle fail after its second validation: banned (GREP-040)");
            self.adjust(address, |r| {
                r.ops_seen = r.ops_seen.max(BAN_OPS_SEEN_PENALTY);
                r.ops_included = 0;
            })
            .await
            .map(|_| ())
        } else {
            match (&op.paymaster, blamed) {
                (Some(p), Entity::Account | Entity::Factory) => {
                    self.adjust(p.paymaster, |r| r.ops_seen = r.ops_seen.saturating_sub(1)).await.map(|_| ())
                }
                _ => Ok(()),
            }
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "reputation: drop not recorded");
        }
    }

    /// The EntryPoint stake of `address`: (stake, unstake delay, whether it counts as staked).
    pub async fn stake_status(&self, address: Address) -> Result<(U256, u32, bool), RejectReason> {
        use alloy::network::TransactionBuilder;
        use alloy::sol_types::SolCall;
        use keyward_primitives::entry_point::IEntryPoint;
        let call = IEntryPoint::getDepositInfoCall { account: address };
        let tx = alloy::rpc::types::TransactionRequest::default()
            .with_to(self.entry_point())
            .with_input(alloy::primitives::Bytes::from(call.abi_encode()));
        let out = self.chain.call(tx, None).await?;
        let info = IEntryPoint::getDepositInfoCall::abi_decode_returns(&out)
            .map_err(|e| RejectReason::Chain(keyward_chain::ChainError::Internal(format!("getDepositInfo: {e}"))))?;
        let stake = U256::from(info.stake);
        let delay = info.unstakeDelaySec;
        let staked = self.config.validation.stake.is_staked(stake, U256::from(delay));
        Ok((stake, delay, staked))
    }

    async fn is_staked(&self, address: Address) -> Result<bool, RejectReason> {
        Ok(self.stake_status(address).await?.2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(seen: u64, included: u64) -> ReputationRecord {
        ReputationRecord { address: Address::ZERO, ops_seen: seen, ops_included: included }
    }

    #[test]
    fn status_follows_the_slack_thresholds() {
        assert_eq!(status(&rec(0, 0)), ReputationStatus::Ok);
        assert_eq!(status(&rec(119, 1)), ReputationStatus::Ok, "max_seen 11 = 1 + 10");
        assert_eq!(status(&rec(120, 1)), ReputationStatus::Throttled, "max_seen 12 > 11");
        assert_eq!(status(&rec(519, 1)), ReputationStatus::Throttled, "max_seen 51 = 1 + 50");
        assert_eq!(status(&rec(520, 1)), ReputationStatus::Banned);
        assert_eq!(status(&rec(BAN_OPS_SEEN_PENALTY, 0)), ReputationStatus::Banned);
    }

    #[test]
    fn unstaked_allowance_grows_with_the_inclusion_rate() {
        assert_eq!(unstaked_ops_allowed(&rec(0, 0)), 10);
        assert_eq!(unstaked_ops_allowed(&rec(10, 10)), 20);
        assert_eq!(unstaked_ops_allowed(&rec(20, 10)), 15);
    }

    #[test]
    fn blame_follows_the_aa_code_or_the_rule() {
        assert_eq!(blamed("AA23 reverted: No bundle for you"), Some(Entity::Account));
        assert_eq!(blamed("AA13 initCode failed or OOG"), Some(Entity::Factory));
        assert_eq!(blamed("AA33 reverted"), Some(Entity::Paymaster));
        assert_eq!(blamed("ERC-7562: paymaster uses banned opcode: GAS"), Some(Entity::Paymaster));
        assert_eq!(blamed("bundle reverted: out of gas"), None);
    }
}
