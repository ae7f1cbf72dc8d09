//! The checks a user operation must pass before the bundler accepts it: static field checks,
//! fees against the chain's current base fee, `preVerificationGas` against the bundle overhead,
//! then `simulateValidation` — signature result, validity window, paymaster verdict — and, where
//! the chain can trace it (both backends: the embedded chain, and `RpcChain` locally in revm over
//! the node's state), the ERC-7562 opcode and storage rules ([`crate::erc7562`]).

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{Address, B256, U256, keccak256};
use alloy::rpc::types::state::{AccountOverride, StateOverride};
use alloy::sol_types::SolValue;
use keyward_chain::{Chain, ChainError};
use keyward_primitives::entry_point::StakeInfo;
use keyward_primitives::validation_data::ValidationData;
use keyward_primitives::{ENTRY_POINT_V07, UserOperation};

use crate::erc7562::{Judgement, StakeRequirement, TraceFacts};
use crate::error::RejectReason;
use crate::gas::GasOverheads;
use crate::simulation::{SimulationError, simulate_validation_with, simulations_override};

/// The largest value the EntryPoint accepts in a gas or fee field (`AA94` above it).
pub const MAX_GAS_FIELD: u128 = (1 << 120) - 1;

/// Limits and policy of validation.
#[derive(Debug, Clone)]
pub struct ValidationConfig {
    /// The EntryPoint operations are validated against.
    pub entry_point: Address,
    /// Largest `verificationGasLimit` (and paymaster verification limit) accepted.
    pub max_verification_gas: u128,
    /// Smallest `maxPriorityFeePerGas` accepted, in wei.
    pub min_priority_fee: u128,
    /// An operation must stay valid at least this long after acceptance, in seconds.
    pub valid_until_margin: u64,
    /// Bundle overheads `preVerificationGas` must cover.
    pub overheads: GasOverheads,
    /// Enforce the ERC-7562 rules when the chain can trace validation.
    pub erc7562: bool,
    /// What counts as a staked entity (ERC-7562's `MIN_STAKE_VALUE` and `MIN_UNSTAKE_DELAY`).
    pub stake: StakeRequirement,
}

impl Default for ValidationConfig {
    fn default() -> Self {
        Self {
            entry_point: ENTRY_POINT_V07,
            max_verification_gas: 10_000_000,
            min_priority_fee: 0,
            valid_until_margin: 30,
            overheads: GasOverheads::default(),
            erc7562: true,
            stake: StakeRequirement::default(),
        }
    }
}

/// What validation learned about an accepted operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationOutcome {
    /// The userOpHash.
    pub user_op_hash: B256,
    /// The prefund the EntryPoint will reserve.
    pub prefund: U256,
    /// Gas used by validation plus `preVerificationGas`.
    pub pre_op_gas: U256,
    /// Start of the validity window (intersection of account and paymaster windows).
    pub valid_after: u64,
    /// End of the validity window (`u48::MAX` when unbounded).
    pub valid_until: u64,
    /// Stake of the sender.
    pub sender: StakeInfo,
    /// Stake of the factory, when the op deploys its sender.
    pub factory: StakeInfo,
    /// Stake of the paymaster, when there is one.
    pub paymaster: StakeInfo,
    /// What the ERC-7562 trace showed (empty when the chain cannot trace or the rules are off).
    pub facts: TraceFacts,
    /// The latest block when validation began, (number, hash): the simulation ran on its state or
    /// a later one, never an earlier one.
    pub head: (u64, B256),
}

/// Field checks that need no chain access.
pub fn check_fields(config: &ValidationConfig, op: &UserOperation) -> Result<(), RejectReason> {
    let invalid = |m: String| Err(RejectReason::InvalidFields(m));
    let mut gas_fields = vec![
        ("callGasLimit", op.call_gas_limit),
        ("verificationGasLimit", op.verification_gas_limit),
        ("maxFeePerGas", op.max_fee_per_gas),
        ("maxPriorityFeePerGas", op.max_priority_fee_per_gas),
    ];
    if let Some(p) = &op.paymaster {
        gas_fields.push(("paymasterVerificationGasLimit", p.verification_gas_limit));
        gas_fields.push(("paymasterPostOpGasLimit", p.post_op_gas_limit));
    }
    for (name, value) in gas_fields {
        if value > MAX_GAS_FIELD {
            return invalid(format!("{name} {value} exceeds 2^120 - 1 (AA94 gas values overflow)"));
        }
    }
    if op.pre_verification_gas > U256::from(MAX_GAS_FIELD) {
        return invalid(format!("preVerificationGas {} exceeds 2^120 - 1", op.pre_verification_gas));
    }
    if op.verification_gas_limit > config.max_verification_gas {
        return invalid(format!(
            "verificationGasLimit {} is above this bundler's maximum {}",
            op.verification_gas_limit, config.max_verification_gas
        ));
    }
    if let Some(p) = &op.paymaster
        && p.verification_gas_limit > config.max_verification_gas
    {
        return invalid(format!(
            "paymasterVerificationGasLimit {} is above this bundler's maximum {}",
            p.verification_gas_limit, config.max_verification_gas
        ));
    }
    if op.max_priority_fee_per_gas > op.max_fee_per_gas {
        return invalid(format!(
            "maxPriorityFeePerGas {} is above maxFeePerGas {}",
            op.max_priority_fee_per_gas, op.max_fee_per_gas
        ));
    }
    let required = config.overheads.pre_verification_gas(&op.pack());
    if op.pre_verification_gas < required {
        return invalid(format!(
            "preVerificationGas {} is below the {required} this operation's share of the bundle costs",
            op.pre_verification_gas
        ));
    }
    Ok(())
}

/// Maps a simulation failure to the refusal a client sees.
pub(crate) fn simulation_rejection(op: &UserOperation, e: SimulationError) -> RejectReason {
    match e {
        SimulationError::Chain(c) => RejectReason::Chain(c),
        SimulationError::Reverted(revert) => match (&op.paymaster, revert.reason()) {
            (Some(p), Some(reason)) if reason.starts_with("AA3") => {
                RejectReason::PaymasterRejected { paymaster: p.paymaster, reason: revert.describe() }
            }
            _ => RejectReason::FailedOp(revert),
        },
    }
}

/// Validates `op` against the chain's current state; the accepted operation's facts on success.
pub async fn validate_user_op(
    chain: &dyn Chain,
    config: &ValidationConfig,
    op: &UserOperation,
) -> Result<ValidationOutcome, RejectReason> {
    validate_user_op_with(chain, config, op, Assumptions::default()).await
}

/// Assumptions validation makes about state not yet onchain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Assumptions {
    /// The sender is about to be delegated by EIP-7702 to this implementation.
    pub delegate: Option<Address>,
    /// The sender's nonce sequence for the op's key, once the pending ops before it are included.
    pub nonce_sequence: Option<u64>,
}

/// Storage slot of `nonceSequenceNumber[sender][key]` in the EntryPoint (mapping at slot 1).
pub fn nonce_slot(sender: Address, key: U256) -> B256 {
    let inner = keccak256((sender, U256::from(1)).abi_encode());
    keccak256((key, inner).abi_encode())
}

/// The state overrides of a simulation of `op` under `assumptions`: EntryPointSimulations at the
/// EntryPoint, the key's nonce sequence, the sender's delegation.
pub fn assumed_state(entry_point: Address, op: &UserOperation, assumptions: Assumptions) -> StateOverride {
    let mut overrides = simulations_override(entry_point);
    if let (Some(seq), Some(ep)) = (assumptions.nonce_sequence, overrides.get_mut(&entry_point)) {
        let key = keyward_primitives::nonce::nonce_key_u256(op.nonce);
        ep.state_diff = Some(std::iter::once((nonce_slot(op.sender, key), B256::from(U256::from(seq)))).collect());
    }
    if let Some(d) = assumptions.delegate {
        let code = crate::bundle::delegation_code(d);
        overrides.insert(op.sender, AccountOverride { code: Some(code), ..Default::default() });
    }
    overrides
}

/// [`validate_user_op`] under `assumptions` (applied to the simulated state only).
pub async fn validate_user_op_with(
    chain: &dyn Chain,
    config: &ValidationConfig,
    op: &UserOperation,
    assumptions: Assumptions,
) -> Result<ValidationOutcome, RejectReason> {
    check_fields(config, op)?;
    let latest = chain
        .block_by_number(BlockNumberOrTag::Latest, false)
        .await?
        .ok_or_else(|| RejectReason::Chain(ChainError::BlockNotAvailable("the chain has no latest block".into())))?;
    let base_fee = u128::from(latest.header.base_fee_per_gas.unwrap_or_default());
    if op.max_fee_per_gas < base_fee {
        return Err(RejectReason::InvalidFields(format!(
            "maxFeePerGas {} is below the current base fee {base_fee}",
            op.max_fee_per_gas
        )));
    }
    if op.max_priority_fee_per_gas < config.min_priority_fee {
        return Err(RejectReason::InvalidFields(format!(
            "maxPriorityFeePerGas {} is below this bundler's minimum {}",
            op.max_priority_fee_per_gas, config.min_priority_fee
        )));
    }

    let overrides = assumed_state(config.entry_point, op, assumptions);
    let packed = op.pack();
    // Where the chain traces, the traced simulation is the only one: its result is what an untraced
    // run returns. Without a trace (a node that cannot, or a simulation that reverted) the untraced
    // run gives the result, or the precise reason it failed.
    let judgement = if config.erc7562 {
        crate::erc7562::check_on_chain(chain, config.entry_point, &packed, overrides.clone(), &config.stake).await?
    } else {
        None
    };
    let (result, judged) = match judgement {
        Some(Judgement { violations, facts, result }) => (result, Some((violations, facts))),
        None => {
            let result = simulate_validation_with(chain, config.entry_point, packed, overrides)
                .await
                .map_err(|e| simulation_rejection(op, e))?;
            (result, None)
        }
    };
    let info = &result.returnInfo;
    let account = ValidationData::decode(info.accountValidationData);
    let paymaster = ValidationData::decode(info.paymasterValidationData);
    if account.is_signature_failure() {
        return Err(RejectReason::InvalidSignature);
    }
    if account.authorizer != Address::ZERO {
        return Err(RejectReason::UnsupportedAggregator(account.authorizer));
    }
    if paymaster.authorizer != Address::ZERO {
        let pm = op.paymaster.as_ref().map(|p| p.paymaster).unwrap_or_default();
        return Err(RejectReason::PaymasterRejected {
            paymaster: pm,
            reason: "paymaster signature failure (AA34 signature error)".into(),
        });
    }
    let mut facts = TraceFacts::default();
    if let Some((violations, judged_facts)) = judged {
        if let Some(first) = violations.first() {
            let more = match violations.len() {
                1 => String::new(),
                n => format!(" (and {} more)", n - 1),
            };
            return Err(RejectReason::RuleViolation(format!("ERC-7562: {first}{more}")));
        }
        facts = judged_facts;
    }
    let valid_after = account.valid_after.max(paymaster.valid_after);
    let valid_until = account.valid_until.min(paymaster.valid_until);
    let now = latest.header.timestamp;
    if now < valid_after {
        return Err(RejectReason::OutOfTimeRange(format!("not valid before {valid_after} (now {now})")));
    }
    if valid_until < now.saturating_add(config.valid_until_margin) {
        return Err(RejectReason::OutOfTimeRange(format!(
            "expires at {valid_until}, less than {} s after now ({now})",
            config.valid_until_margin
        )));
    }
    let chain_id = chain.chain_id().await?;
    Ok(ValidationOutcome {
        user_op_hash: op.hash(config.entry_point, chain_id),
        prefund: info.prefund,
        pre_op_gas: info.preOpGas,
        valid_after,
        valid_until,
        sender: result.senderInfo,
        factory: result.factoryInfo,
        paymaster: result.paymasterInfo,
        facts,
        head: (latest.header.number, latest.header.hash),
    })
}
