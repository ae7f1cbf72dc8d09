//! Sponsorship policies: who may be sponsored, for what, until when and up to how much; and the
//! checks an operation must pass before the paymaster signs it.

use alloy::primitives::{Address, U256};
use keyward_primitives::UserOperation;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::amount::Wei;
use crate::targets::call_targets;

/// A gas-sponsorship policy (a "gas manager policy" in the hosted product).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub struct Policy {
    /// The policy id clients name (`paymasterService.policyId`, ERC-7677 `context.policyId`): UUID v4.
    pub id: Uuid,
    /// A human name, shown as the ERC-7677 `sponsor.name`.
    #[serde(default)]
    pub name: Option<String>,
    /// Disabled policies refuse everything.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The API key or app that owns the policy (informational until API keys exist).
    #[serde(default)]
    pub owner: Option<String>,
    /// First second (unix) the policy sponsors anything.
    #[serde(default)]
    pub valid_after: Option<u64>,
    /// Last second (unix) the policy sponsors anything.
    #[serde(default)]
    pub valid_until: Option<u64>,
    /// Most one operation may cost: gas limits × maxFeePerGas (wei).
    #[serde(default)]
    pub max_gas_cost_per_op: Option<Wei>,
    /// Most the policy spends in total, settled plus reserved (wei).
    #[serde(default)]
    pub max_total_spend: Option<Wei>,
    /// Most one sender may be sponsored for in total (wei).
    #[serde(default)]
    pub max_spend_per_sender: Option<Wei>,
    /// Only these accounts are sponsored (absent = any).
    #[serde(default)]
    pub allowed_senders: Option<Vec<Address>>,
    /// Only calls to these contracts are sponsored (absent = any); every call of a batch must be
    /// to one of them.
    #[serde(default)]
    pub allowed_targets: Option<Vec<Address>>,
}

fn yes() -> bool {
    true
}

/// Why a policy does not sponsor an operation. Every message names the policy and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The policy id is not a UUID.
    #[error("policy id {0:?} is not a UUID")]
    InvalidId(String),
    /// No policy with this id.
    #[error("unknown policy {0}")]
    Unknown(Uuid),
    /// The policy is switched off.
    #[error("policy {0} is disabled")]
    Disabled(Uuid),
    /// The policy's window has ended.
    #[error("policy {id} expired at {valid_until} (now {now})")]
    Expired {
        /// The policy.
        id: Uuid,
        /// Its last valid second.
        valid_until: u64,
        /// The time of the request.
        now: u64,
    },
    /// The policy's window has not started.
    #[error("policy {id} is not active before {valid_after} (now {now})")]
    NotYetActive {
        /// The policy.
        id: Uuid,
        /// Its first valid second.
        valid_after: u64,
        /// The time of the request.
        now: u64,
    },
    /// The sender is not on the policy's list.
    #[error("policy {id} does not sponsor sender {sender}")]
    SenderNotAllowed {
        /// The policy.
        id: Uuid,
        /// The refused sender.
        sender: Address,
    },
    /// A call target is not on the policy's list.
    #[error("policy {id} does not sponsor calls to {target}")]
    TargetNotAllowed {
        /// The policy.
        id: Uuid,
        /// The refused target.
        target: Address,
    },
    /// The policy restricts targets and the call data is not an account call it can read.
    #[error("policy {id} restricts call targets and the call data is not execute/executeBatch: {reason}")]
    UnreadableCallData {
        /// The policy.
        id: Uuid,
        /// What could not be read.
        reason: String,
    },
    /// The operation's worst-case cost is above the policy's per-operation maximum.
    #[error("policy {id} sponsors at most {limit} wei per operation; this one may cost {cost} wei")]
    OpTooExpensive {
        /// The policy.
        id: Uuid,
        /// The per-operation maximum.
        limit: U256,
        /// The operation's worst-case cost.
        cost: U256,
    },
    /// The policy's total budget cannot cover the operation.
    #[error(
        "policy {id} is exhausted: {committed} of {limit} wei spent or reserved, this operation needs up to {cost}"
    )]
    Exhausted {
        /// The policy.
        id: Uuid,
        /// Its total budget.
        limit: U256,
        /// Spent plus reserved.
        committed: U256,
        /// The operation's worst-case cost.
        cost: U256,
    },
    /// The sender's share of the policy cannot cover the operation.
    #[error(
        "policy {id} is exhausted for sender {sender}: {committed} of {limit} wei spent or reserved, this operation needs up to {cost}"
    )]
    SenderExhausted {
        /// The policy.
        id: Uuid,
        /// The sender.
        sender: Address,
        /// The per-sender budget.
        limit: U256,
        /// The sender's spent plus reserved.
        committed: U256,
        /// The operation's worst-case cost.
        cost: U256,
    },
}

impl PolicyError {
    /// A short machine-readable reason (`data.reason` of the JSON-RPC error).
    pub fn reason(&self) -> &'static str {
        match self {
            PolicyError::InvalidId(_) => "invalid-policy-id",
            PolicyError::Unknown(_) => "unknown",
            PolicyError::Disabled(_) => "disabled",
            PolicyError::Expired { .. } => "expired",
            PolicyError::NotYetActive { .. } => "not-yet-active",
            PolicyError::SenderNotAllowed { .. } => "sender-not-allowed",
            PolicyError::TargetNotAllowed { .. } | PolicyError::UnreadableCallData { .. } => "target-not-allowed",
            PolicyError::OpTooExpensive { .. } => "max-cost-per-op",
            PolicyError::Exhausted { .. } => "exhausted",
            PolicyError::SenderExhausted { .. } => "sender-exhausted",
        }
    }
}

/// Parses a policy id as clients send it.
pub fn parse_policy_id(s: &str) -> Result<Uuid, PolicyError> {
    Uuid::parse_str(s).map_err(|_| PolicyError::InvalidId(s.to_string()))
}

/// The most an operation can be charged: `(VGL + CGL + PVG + pmVGL + pmPostOp) × maxFeePerGas`.
pub fn max_cost(op: &UserOperation) -> U256 {
    op.required_prefund()
}

impl Policy {
    /// A policy that sponsors anything, for `keyward dev` and tests.
    pub fn open(id: Uuid, name: &str) -> Self {
        Policy {
            id,
            name: Some(name.to_string()),
            enabled: true,
            owner: None,
            valid_after: None,
            valid_until: None,
            max_gas_cost_per_op: None,
            max_total_spend: None,
            max_spend_per_sender: None,
            allowed_senders: None,
            allowed_targets: None,
        }
    }

    /// Everything that can be checked without the ledger: enabled, window at `now`, sender, call
    /// targets, and — when `cost` is given — the per-operation maximum.
    pub fn admit(&self, op: &UserOperation, now: u64, cost: Option<U256>) -> Result<(), PolicyError> {
        let id = self.id;
        if !self.enabled {
            return Err(PolicyError::Disabled(id));
        }
        if let Some(valid_after) = self.valid_after.filter(|a| now < *a) {
            return Err(PolicyError::NotYetActive { id, valid_after, now });
        }
        if let Some(valid_until) = self.valid_until.filter(|u| now > *u) {
            return Err(PolicyError::Expired { id, valid_until, now });
        }
        if let Some(senders) = &self.allowed_senders
            && !senders.contains(&op.sender)
        {
            return Err(PolicyError::SenderNotAllowed { id, sender: op.sender });
        }
        if let Some(targets) = &self.allowed_targets {
            let calls = call_targets(&op.call_data).map_err(|reason| PolicyError::UnreadableCallData { id, reason })?;
            if let Some(target) = calls.into_iter().find(|t| !targets.contains(t)) {
                return Err(PolicyError::TargetNotAllowed { id, target });
            }
        }
        if let (Some(limit), Some(cost)) = (self.max_gas_cost_per_op, cost)
            && cost > limit.0
        {
            return Err(PolicyError::OpTooExpensive { id, limit: limit.0, cost });
        }
        Ok(())
    }

    /// The ledger limits of this policy.
    pub fn spend_limits(&self) -> keyward_store::sponsorship::SpendLimits {
        keyward_store::sponsorship::SpendLimits {
            policy_total: self.max_total_spend.map(|w| w.0),
            per_sender: self.max_spend_per_sender.map(|w| w.0),
        }
    }

    /// The latest second a signature under this policy may be valid, given a default lifetime.
    pub fn signature_valid_until(&self, now: u64, lifetime: u64) -> u64 {
        let until = now.saturating_add(lifetime);
        self.valid_until.map_or(until, |end| until.min(end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::Bytes;
    use keyward_primitives::mav2::abi::{Call, encode_execute, encode_execute_batch, user_op_call_data};

    fn op(call_data: Bytes) -> UserOperation {
        UserOperation {
            sender: Address::with_last_byte(1),
            call_data,
            call_gas_limit: 100,
            verification_gas_limit: 100,
            pre_verification_gas: U256::from(100),
            max_fee_per_gas: 10,
            ..Default::default()
        }
    }

    fn policy() -> Policy {
        Policy::open(Uuid::new_v4(), "test")
    }

    #[test]
    fn each_refusal_is_precise() {
        let target = Address::with_last_byte(0x77);
        let o = op(encode_execute(target, U256::ZERO, Bytes::new()));
        let mut p = policy();
        assert_eq!(p.admit(&o, 100, None), Ok(()));
        p.enabled = false;
        assert_eq!(p.admit(&o, 100, None), Err(PolicyError::Disabled(p.id)));
        let mut p = policy();
        p.valid_until = Some(99);
        assert_eq!(p.admit(&o, 100, None), Err(PolicyError::Expired { id: p.id, valid_until: 99, now: 100 }));
        assert_eq!(p.admit(&o, 99, None), Ok(()));
        let mut p = policy();
        p.valid_after = Some(101);
        assert!(matches!(p.admit(&o, 100, None), Err(PolicyError::NotYetActive { .. })));
        let mut p = policy();
        p.allowed_senders = Some(vec![Address::with_last_byte(2)]);
        assert_eq!(p.admit(&o, 0, None), Err(PolicyError::SenderNotAllowed { id: p.id, sender: o.sender }));
        p.allowed_senders = Some(vec![o.sender]);
        assert_eq!(p.admit(&o, 0, None), Ok(()));
        let mut p = policy();
        p.allowed_targets = Some(vec![Address::with_last_byte(0x78)]);
        assert_eq!(p.admit(&o, 0, None), Err(PolicyError::TargetNotAllowed { id: p.id, target }));
        p.allowed_targets = Some(vec![target]);
        assert_eq!(p.admit(&o, 0, None), Ok(()));
        let mut p = policy();
        let cost = max_cost(&o);
        assert_eq!(cost, U256::from(3000));
        p.max_gas_cost_per_op = Some(Wei(cost - U256::from(1)));
        assert!(matches!(p.admit(&o, 0, Some(cost)), Err(PolicyError::OpTooExpensive { .. })));
        p.max_gas_cost_per_op = Some(Wei(cost));
        assert_eq!(p.admit(&o, 0, Some(cost)), Ok(()));
    }

    #[test]
    fn targets_of_batches_and_execute_user_op_are_all_checked() {
        let a = Address::with_last_byte(0xa);
        let b = Address::with_last_byte(0xb);
        let batch = encode_execute_batch(vec![
            Call { target: a, value: U256::ZERO, data: Bytes::new() },
            Call { target: b, value: U256::ZERO, data: Bytes::new() },
        ]);
        let mut p = policy();
        p.allowed_targets = Some(vec![a]);
        assert_eq!(p.admit(&op(batch.clone()), 0, None), Err(PolicyError::TargetNotAllowed { id: p.id, target: b }));
        let wrapped = user_op_call_data(&batch, true);
        assert_eq!(p.admit(&op(wrapped.clone()), 0, None), Err(PolicyError::TargetNotAllowed { id: p.id, target: b }));
        p.allowed_targets = Some(vec![a, b]);
        assert_eq!(p.admit(&op(wrapped), 0, None), Ok(()));
        assert!(matches!(
            p.admit(&op(Bytes::from(vec![1, 2, 3, 4, 5])), 0, None),
            Err(PolicyError::UnreadableCallData { .. })
        ));
    }
}
