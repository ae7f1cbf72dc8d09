//! Building a `handleOps` bundle from candidate operations: re-validate each against the current
//! state, take each sender's consecutive sequences, then check the whole bundle with `eth_call`
//! and drop the operations it names in `FailedOp` until it passes.

use std::collections::{HashMap, HashSet};

use alloy::eips::eip7702::SignedAuthorization;
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::rpc::types::TransactionRequest;
use alloy::rpc::types::state::{AccountOverride, StateOverride};
use alloy::sol_types::SolCall;
use keyward_chain::{Chain, ChainError};
use keyward_primitives::entry_point::IEntryPoint;
use keyward_primitives::nonce::{nonce_key, nonce_key_u256, nonce_sequence};
use keyward_primitives::{EntryPointRevert, UserOperation};

use crate::erc7562::code_changed;
use crate::error::RejectReason;
use crate::validation::{Assumptions, ValidationConfig, validate_user_op_with};

/// An operation offered to the builder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Its userOpHash.
    pub hash: B256,
    /// The operation.
    pub op: UserOperation,
    /// The EIP-7702 authorization delegating its sender, when the delegation is not yet live.
    pub authorization: Option<SignedAuthorization>,
}

/// A bundle ready to send.
#[derive(Debug, Clone, Default)]
pub struct Bundle {
    /// The operations, in bundle order.
    pub ops: Vec<Candidate>,
    /// Candidates refused, with the reason (they will never pass as they are).
    pub rejected: Vec<(B256, String)>,
    /// Candidates left for a later bundle (another op of the same sender is in this one, or, by
    /// ERC-7562 STO-041, its validation uses the storage of another pooled operation's sender).
    pub deferred: Vec<B256>,
    /// Of `rejected`, those that passed their second validation and failed only in the whole
    /// bundle (ERC-7562 GREP-040: the entity to blame is banned).
    pub failed_in_bundle: Vec<B256>,
    /// Gas limit for the transaction.
    pub gas_limit: u64,
    /// Candidates whose admission validation stood in for the second one (same head, same
    /// assumptions: see [`Admitted`]).
    pub reused_admissions: Vec<B256>,
}

impl Bundle {
    /// EIP-7702 authorizations the transaction must carry (a type-4 transaction when non-empty).
    pub fn authorizations(&self) -> Vec<SignedAuthorization> {
        self.ops.iter().filter_map(|c| c.authorization.clone()).collect()
    }

    /// `handleOps(ops, beneficiary)` calldata.
    pub fn calldata(&self, beneficiary: Address) -> Bytes {
        let ops = self.ops.iter().map(|c| c.op.pack()).collect();
        IEntryPoint::handleOpsCall { ops, beneficiary }.abi_encode().into()
    }
}

/// The EIP-7702 designator code `0xef0100 ‖ delegate`.
pub fn delegation_code(delegate: Address) -> Bytes {
    keyward_primitives::eip7702::designator(delegate)
}

/// State overrides that make pending 7702 delegations live for simulation.
fn delegation_overrides(ops: &[Candidate]) -> StateOverride {
    let mut overrides = StateOverride::default();
    for c in ops {
        if let Some(auth) = &c.authorization {
            overrides.insert(
                c.op.sender,
                AccountOverride { code: Some(delegation_code(auth.address)), ..Default::default() },
            );
        }
    }
    overrides
}

/// Fixed gas of a `handleOps` transaction beyond the operations' own limits.
const BUNDLE_OVERHEAD_GAS: u64 = 100_000;
/// Gas per EIP-7702 authorization in the transaction.
const PER_AUTHORIZATION_GAS: u64 = 25_000;

/// What the bundler knows beyond one operation's validation when it builds a bundle: the facts of
/// the ERC-7562 rules that span validations and operations.
#[derive(Debug, Clone, Default)]
pub struct BundleContext {
    /// Code hashes of each candidate's first validation, by userOpHash (COD-010: a candidate whose
    /// second validation runs other code is refused).
    pub first_code_hashes: HashMap<B256, Vec<(Address, B256)>>,
    /// Senders of the operations in the mempool (STO-041: a candidate whose validation uses the
    /// storage of another one's sender waits for that one to be gone).
    pub known_senders: HashSet<Address>,
    /// The chain head the bundle is built on, (number, hash).
    pub head: Option<(u64, B256)>,
    /// What the admission of each candidate validated, for those this process admitted.
    pub admitted: HashMap<B256, Admitted>,
}

impl BundleContext {
    /// The admission facts of candidate `hash` when its second validation would repeat its first
    /// exactly: the bundle is built on the head the admission read, under the same assumptions.
    fn reusable(&self, hash: &B256, assumptions: Assumptions) -> Option<&Admitted> {
        let head = self.head?;
        self.admitted.get(hash).filter(|a| a.head == head && a.assumptions == assumptions)
    }
}

/// What an operation's admission validation saw. On the same chain head and under the same
/// assumptions the second validation (ERC-7562 tracer included) would run the same simulation on
/// the same state, so its outcome is this one: the code hashes are those of the first validation
/// (COD-010 holds) and only STO-041, which depends on the pool at bundle time, is checked again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    /// The head the admission's validation read ([`crate::ValidationOutcome::head`]).
    pub head: (u64, B256),
    /// The assumptions it validated under.
    pub assumptions: Assumptions,
    /// The contracts whose storage it used.
    pub storage_contracts: Vec<Address>,
    /// The code hashes it saw (COD-010), as the store keeps them for other processes.
    pub code_hashes: Vec<(Address, B256)>,
}

/// Counter: second validations at bundle time by `outcome` (`run`: simulated again;
/// `reused`: the admission's on the same head, see [`Admitted`]).
pub const SECOND_VALIDATIONS: &str = "keyward_bundler_second_validations_total";

/// Builds a bundle from `candidates` (in priority order) whose gas limit stays under `max_gas`.
pub async fn build_bundle(
    chain: &dyn Chain,
    config: &ValidationConfig,
    candidates: Vec<Candidate>,
    beneficiary: Address,
    bundler: Address,
    max_gas: u64,
) -> Result<Bundle, ChainError> {
    build_bundle_in(chain, config, candidates, (beneficiary, bundler), max_gas, &BundleContext::default()).await
}

/// [`build_bundle`] under the cross-operation rules of `context`; `parties` is (beneficiary,
/// bundler).
///
/// A sender may have several operations in one bundle: per nonce key, consecutive sequences
/// from the one the EntryPoint expects next, each validated as if those before it were included.
/// An operation that deploys its sender or carries its EIP-7702 delegation goes alone (what comes
/// after it is validated once the setup is onchain).
pub async fn build_bundle_in(
    chain: &dyn Chain,
    config: &ValidationConfig,
    candidates: Vec<Candidate>,
    parties: (Address, Address),
    max_gas: u64,
    context: &BundleContext,
) -> Result<Bundle, ChainError> {
    let (beneficiary, bundler) = parties;
    let mut bundle = Bundle::default();
    let mut gas = BUNDLE_OVERHEAD_GAS;
    // The sequence each (sender, key) can carry next in this bundle, learnt from the chain once.
    let mut next: HashMap<(Address, U256), u64> = HashMap::new();
    for c in in_nonce_order(candidates) {
        let slot = (c.op.sender, nonce_key_u256(c.op.nonce));
        let onchain = match next.get(&slot) {
            Some(n) => *n,
            None => {
                let n = onchain_sequence(chain, config.entry_point, &c.op).await?;
                next.insert(slot, n);
                n
            }
        };
        let in_bundle = bundle.ops.iter().any(|b| b.op.sender == c.op.sender);
        let seq = sequence(&c.op);
        // Only the next sequence can go now: a later one waits (its predecessor is pending, in a
        // bundle not yet mined, or refused here); an earlier one was used by another operation.
        if seq > onchain
            || (in_bundle && (is_setup(&c) || bundle.ops.iter().any(|b| b.op.sender == c.op.sender && is_setup(b))))
        {
            bundle.deferred.push(c.hash);
            continue;
        }
        if seq < onchain {
            if bundle.ops.iter().any(|b| b.op.sender == c.op.sender && b.op.nonce == c.op.nonce) {
                bundle.deferred.push(c.hash);
            } else {
                bundle
                    .rejected
                    .push((c.hash, format!("AA25 invalid account nonce: sequence already used (next is {onchain})")));
            }
            continue;
        }
        let pending_before =
            bundle.ops.iter().any(|b| b.op.sender == c.op.sender && nonce_key_u256(b.op.nonce) == slot.1);
        let assumptions = Assumptions {
            delegate: c.authorization.as_ref().map(|a| a.address),
            nonce_sequence: pending_before.then_some(seq),
        };
        let verdict = match context.reusable(&c.hash, assumptions) {
            Some(admitted) => {
                metrics::counter!(SECOND_VALIDATIONS, "outcome" => "reused").increment(1);
                bundle.reused_admissions.push(c.hash);
                sto041_verdict(&c, &admitted.storage_contracts, context)
            }
            None => {
                metrics::counter!(SECOND_VALIDATIONS, "outcome" => "run").increment(1);
                second_validation(chain, config, &c, assumptions, context).await?
            }
        };
        match verdict {
            Verdict::Pass => {}
            Verdict::Defer => {
                bundle.deferred.push(c.hash);
                continue;
            }
            Verdict::Refuse(reason) => {
                bundle.rejected.push((c.hash, reason));
                continue;
            }
        }
        let op_gas = candidate_gas(&c);
        if gas + op_gas > max_gas {
            bundle.deferred.push(c.hash);
            continue;
        }
        gas += op_gas;
        next.insert(slot, seq + 1);
        bundle.ops.push(c);
    }
    // The whole bundle must pass: operations can interfere (shared paymaster deposit, a factory
    // deploying for two senders, …). Drop what `FailedOp` names until it does.
    while !bundle.ops.is_empty() {
        let tx = TransactionRequest::default()
            .with_from(bundler)
            .with_to(config.entry_point)
            .with_input(bundle.calldata(beneficiary))
            .with_gas_limit(gas);
        match chain.call(tx, Some(delegation_overrides(&bundle.ops))).await {
            Ok(_) => break,
            Err(ChainError::Reverted { data, .. }) => {
                let revert = EntryPointRevert::decode(&data);
                let index = match &revert {
                    EntryPointRevert::FailedOp { index, .. } | EntryPointRevert::FailedOpWithRevert { index, .. } => {
                        usize::try_from(*index).ok().filter(|i| *i < bundle.ops.len())
                    }
                    _ => None,
                };
                let Some(i) = index else {
                    // Not attributable to one operation: refuse them all rather than loop.
                    let reason = format!("bundle reverted: {}", revert.describe());
                    bundle.rejected.extend(bundle.ops.drain(..).map(|c| (c.hash, reason.clone())));
                    break;
                };
                let c = bundle.ops.remove(i);
                gas -= candidate_gas(&c);
                // The later sequences of its key cannot go without it: they wait.
                let key = nonce_key_u256(c.op.nonce);
                let (later, kept): (Vec<Candidate>, Vec<Candidate>) = bundle.ops.drain(..).partition(|b| {
                    b.op.sender == c.op.sender && nonce_key_u256(b.op.nonce) == key && b.op.nonce > c.op.nonce
                });
                bundle.ops = kept;
                for l in later {
                    gas -= candidate_gas(&l);
                    bundle.deferred.push(l.hash);
                }
                bundle.rejected.push((c.hash, revert.describe()));
                bundle.failed_in_bundle.push(c.hash);
            }
            Err(e) => return Err(e),
        }
    }
    bundle.gas_limit = gas;
    Ok(bundle)
}

/// What the second validation (at bundle time) says of a candidate.
enum Verdict {
    /// It may go in this bundle.
    Pass,
    /// It waits for a later bundle.
    Defer,
    /// It is refused, for this reason.
    Refuse(String),
}

/// Validates `c` again against the current state, with the cross-operation rules of `context`
/// (ERC-7562 COD-010 and STO-041).
async fn second_validation(
    chain: &dyn Chain,
    config: &ValidationConfig,
    c: &Candidate,
    assumptions: Assumptions,
    context: &BundleContext,
) -> Result<Verdict, ChainError> {
    let outcome = match validate_user_op_with(chain, config, &c.op, assumptions).await {
        Ok(outcome) => outcome,
        Err(RejectReason::Chain(e)) => return Err(e),
        Err(RejectReason::Storage(e)) => return Err(ChainError::Internal(e)),
        Err(e) => return Ok(Verdict::Refuse(e.to_string())),
    };
    let first = context.first_code_hashes.get(&c.hash);
    if let Some((contract, before, after)) = first.and_then(|before| code_changed(before, &outcome.facts.code_hashes)) {
        return Ok(Verdict::Refuse(format!(
            "ERC-7562: the code of {contract} changed since the operation was accepted ({before} -> {after}) (COD-010)"
        )));
    }
    Ok(sto041_verdict(c, &outcome.facts.storage_contracts, context))
}

/// STO-041: a candidate whose validation used the storage of another pooled operation's sender
/// waits for that one to be gone.
fn sto041_verdict(c: &Candidate, storage_contracts: &[Address], context: &BundleContext) -> Verdict {
    if storage_contracts.iter().any(|a| *a != c.op.sender && context.known_senders.contains(a)) {
        tracing::debug!(hash = %c.hash, "uses the storage of another pooled sender (STO-041): deferred");
        return Verdict::Defer;
    }
    Verdict::Pass
}

/// Candidates with each sender's operations together, in (key, sequence) order, senders in the
/// order of their first candidate (the priority order).
fn in_nonce_order(candidates: Vec<Candidate>) -> Vec<Candidate> {
    let mut rank: HashMap<Address, usize> = HashMap::new();
    for c in &candidates {
        let n = rank.len();
        rank.entry(c.op.sender).or_insert(n);
    }
    let mut ordered = candidates;
    ordered.sort_by_key(|c| (rank.get(&c.op.sender).copied(), nonce_key_u256(c.op.nonce), sequence(&c.op)));
    ordered
}

/// Whether `c` sets its sender up (deploys it or delegates it): such an operation goes alone.
fn is_setup(c: &Candidate) -> bool {
    c.op.factory.is_some() || c.authorization.is_some()
}

/// The gas a candidate adds to the bundle transaction.
fn candidate_gas(c: &Candidate) -> u64 {
    op_gas_limit(&c.op) + if c.authorization.is_some() { PER_AUTHORIZATION_GAS } else { 0 }
}

/// The 64-bit sequence part of an operation's nonce.
fn sequence(op: &UserOperation) -> u64 {
    nonce_sequence(op.nonce)
}

/// The next sequence the EntryPoint expects for the op's sender and key, in the latest block.
pub async fn onchain_sequence(chain: &dyn Chain, entry_point: Address, op: &UserOperation) -> Result<u64, ChainError> {
    let call = IEntryPoint::getNonceCall { sender: op.sender, key: nonce_key(op.nonce) };
    let tx = TransactionRequest::default().with_to(entry_point).with_input(Bytes::from(call.abi_encode()));
    let out = chain.call(tx, None).await?;
    let nonce = IEntryPoint::getNonceCall::abi_decode_returns(&out)
        .map_err(|e| ChainError::Internal(format!("decoding getNonce: {e}")))?;
    Ok(nonce_sequence(nonce))
}

/// The most gas one operation can make the EntryPoint spend (every limit plus preVerificationGas).
pub fn op_gas_limit(op: &UserOperation) -> u64 {
    let paymaster = op.paymaster.as_ref().map(|p| p.verification_gas_limit + p.post_op_gas_limit).unwrap_or_default();
    let total = U256::from(op.verification_gas_limit + op.call_gas_limit + paymaster) + op.pre_verification_gas;
    total.saturating_to()
}
