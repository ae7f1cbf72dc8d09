//! Building a `handleOps` bundle from candidate operations: re-validate each against the current
//! state, keep one operation per sender, then check the whole bundle with `eth_call` and drop the
//! operations it names in `FailedOp` until it passes.

use std::collections::{HashMap, HashSet};

use alloy::eips::eip7702::SignedAuthorization;
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::rpc::types::TransactionRequest;
use alloy::rpc::types::state::{AccountOverride, StateOverride};
use alloy::sol_types::SolCall;
use keyward_chain::{Chain, ChainError};
use keyward_primitives::entry_point::IEntryPoint;
use keyward_primitives::nonce::{nonce_key, nonce_sequence};
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
}

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
    // Per sender only the lowest nonce can be next: later ones wait (they would fail AA25 now).
    let mut lowest: std::collections::HashMap<Address, U256> = std::collections::HashMap::new();
    for c in &candidates {
        let n = lowest.entry(c.op.sender).or_insert(c.op.nonce);
        *n = (*n).min(c.op.nonce);
    }
    for c in candidates {
        if lowest.get(&c.op.sender) != Some(&c.op.nonce) || bundle.ops.iter().any(|b| b.op.sender == c.op.sender) {
            bundle.deferred.push(c.hash);
            continue;
        }
        // Only the next sequence onchain can go now: a later one waits (its predecessor is pending
        // or in a bundle not yet mined); an earlier one was used by another operation.
        match onchain_sequence(chain, config.entry_point, &c.op).await? {
            next if sequence(&c.op) > next => {
                bundle.deferred.push(c.hash);
                continue;
            }
            next if sequence(&c.op) < next => {
                bundle
                    .rejected
                    .push((c.hash, format!("AA25 invalid account nonce: sequence already used (next is {next})")));
                continue;
            }
            _ => {}
        }
        let assumptions = Assumptions { delegate: c.authorization.as_ref().map(|a| a.address), nonce_sequence: None };
        match validate_user_op_with(chain, config, &c.op, assumptions).await {
            Ok(outcome) => {
                let first = context.first_code_hashes.get(&c.hash);
                if let Some((contract, before, after)) =
                    first.and_then(|before| code_changed(before, &outcome.facts.code_hashes))
                {
                    let reason = format!(
                        "ERC-7562: the code of {contract} changed since the operation was accepted \
                         ({before} -> {after}) (COD-010)"
                    );
                    bundle.rejected.push((c.hash, reason));
                    continue;
                }
                let sto041 = outcome
                    .facts
                    .storage_contracts
                    .iter()
                    .any(|a| *a != c.op.sender && context.known_senders.contains(a));
                if sto041 {
                    tracing::debug!(hash = %c.hash, "uses the storage of another pooled sender (STO-041): deferred");
                    bundle.deferred.push(c.hash);
                    continue;
                }
            }
            Err(RejectReason::Chain(e)) => return Err(e),
            Err(RejectReason::Storage(e)) => return Err(ChainError::Internal(e)),
            Err(e) => {
                bundle.rejected.push((c.hash, e.to_string()));
                continue;
            }
        }
        let op_gas = op_gas_limit(&c.op) + if c.authorization.is_some() { PER_AUTHORIZATION_GAS } else { 0 };
        if gas + op_gas > max_gas {
            bundle.deferred.push(c.hash);
            continue;
        }
        gas += op_gas;
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
                gas -= op_gas_limit(&c.op) + if c.authorization.is_some() { PER_AUTHORIZATION_GAS } else { 0 };
                bundle.rejected.push((c.hash, revert.describe()));
                bundle.failed_in_bundle.push(c.hash);
            }
            Err(e) => return Err(e),
        }
    }
    bundle.gas_limit = gas;
    Ok(bundle)
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
