//! ERC-7562 validation rules, checked on the execution trace of `simulateValidation`
//! (entrypoint-v07.md §14): banned opcodes, `GAS` not followed by a call, creations, calls into
//! the EntryPoint, value calls, calls to code-less addresses and disallowed precompiles, `BALANCE`
//! of unstaked entities, and storage outside the sender's own and associated storage (with the
//! staked-entity exceptions).
//!
//! [`check`] is pure: it judges an [`ExecutionTrace`] recorded by the
//! [`ValidationTracer`](keyward_chain::embedded::trace::ValidationTracer), which runs in revm on
//! either backend (the embedded chain's own state, or a node's state read over JSON-RPC by
//! `RpcChain`). [`trace_validation`] (embedded chain) and [`trace_validation_on`] (any chain) run
//! the simulation under that tracer. Each rule is judged per entity (factory, account,
//! paymaster) with the staked exceptions, including OP-020 (no out-of-gas inside validation) and
//! OP-054 (no `EXTCODE*` of the EntryPoint but `EXTCODESIZE ISZERO`).
//!
//! What one trace cannot decide is decided with [`TraceFacts`] by the bundler: COD-010 (the code
//! hashes of the visited contracts, compared between the first and the second validation,
//! [`code_changed`]), and the mempool-wide local rules STO-040 and STO-041
//! ([`crate::mempool_rules`]).

use std::collections::HashMap;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use alloy::rpc::types::TransactionRequest;
use alloy::rpc::types::state::StateOverride;
use alloy::sol_types::SolCall;
use keyward_chain::embedded::trace::{ExecutionTrace, FrameKind, StorageOp, banned_in_validation, opcode};
use keyward_chain::{Chain, ChainError, EmbeddedChain};
use keyward_primitives::PackedUserOperation;
use keyward_primitives::entry_point::StakeInfo;
use keyward_primitives::entry_point::{IEntryPoint, ValidationResult};

use crate::simulation::{SimulationError, simulations_override};

/// `MIN_UNSTAKE_DELAY` of ERC-7562 (one day).
pub const MIN_UNSTAKE_DELAY: u32 = 86_400;

/// What counts as staked (ERC-7562 SREP-010): at least `min_stake` wei locked in the EntryPoint
/// with an unstake delay of at least `min_unstake_delay` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StakeRequirement {
    /// `MIN_STAKE_VALUE`, in wei (a per-chain value; ERC-7562 suggests about $1000 of the native token).
    pub min_stake: U256,
    /// `MIN_UNSTAKE_DELAY`, in seconds.
    pub min_unstake_delay: u32,
}

/// The default `MIN_STAKE_VALUE`: 0.1 ETH. ERC-7562 leaves the value to each chain (about $1000 of
/// the native token); 0.1 ETH is what `keyward deploy` stakes by default for the factory and the
/// paymaster, so a stack deployed with the defaults counts as staked.
pub const DEFAULT_MIN_STAKE: U256 = U256::from_limbs([100_000_000_000_000_000, 0, 0, 0]);

impl Default for StakeRequirement {
    /// The production values: [`DEFAULT_MIN_STAKE`] and ERC-7562's one-day `MIN_UNSTAKE_DELAY`.
    fn default() -> Self {
        Self { min_stake: DEFAULT_MIN_STAKE, min_unstake_delay: MIN_UNSTAKE_DELAY }
    }
}

impl StakeRequirement {
    /// Whether a stake of `stake` wei with `unstake_delay` seconds counts as staked.
    pub fn is_staked(&self, stake: U256, unstake_delay: U256) -> bool {
        stake >= self.min_stake && !stake.is_zero() && unstake_delay >= U256::from(self.min_unstake_delay)
    }
}
/// How far past a `keccak256(A ‖ x)` base a slot still counts as associated with `A`.
pub const ASSOCIATED_SLOT_SPAN: u64 = 128;
/// `depositTo(address)`: the one EntryPoint function validation may call.
const DEPOSIT_TO: [u8; 4] = IEntryPoint::depositToCall::SELECTOR;

/// The entity a validation phase belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entity {
    /// The factory (`initCode`), through the EntryPoint's SenderCreator.
    Factory,
    /// The account (`validateUserOp`, with its modules).
    Account,
    /// The paymaster (`validatePaymasterUserOp`).
    Paymaster,
}

impl std::fmt::Display for Entity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Factory => "factory",
            Self::Account => "account",
            Self::Paymaster => "paymaster",
        })
    }
}

/// One broken rule. The message names the rule id of ERC-7562.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// OP-011 / OP-013: a banned or unassigned opcode.
    #[error("{entity} uses banned opcode: {name} (0x{opcode:02x}) in {code} (OP-011)")]
    BannedOpcode {
        /// Phase.
        entity: Entity,
        /// The opcode.
        opcode: u8,
        /// Its mnemonic.
        name: String,
        /// Whose code ran it.
        code: Address,
    },
    /// OP-012: `GAS` not immediately followed by a call.
    #[error("{entity} uses banned opcode: GAS not followed by a call in {code} (OP-012)")]
    GasNotFollowedByCall {
        /// Phase.
        entity: Entity,
        /// Whose code ran it.
        code: Address,
    },
    /// OP-031: a creation other than the factory deploying the sender once.
    #[error(
        "{entity} uses banned opcode: {name} (creating {created}) in {code}: only the factory may CREATE2, \
         once, for the sender (OP-011/OP-031)"
    )]
    Create {
        /// Phase.
        entity: Entity,
        /// `CREATE` or `CREATE2`.
        name: String,
        /// Whose code ran it.
        code: Address,
        /// The created address (zero if the creation failed).
        created: Address,
    },
    /// OP-051..054: a call into the EntryPoint other than `depositTo` or a plain transfer.
    #[error(
        "{entity} calls the EntryPoint with selector {selector} (only depositTo or the fallback are allowed, OP-052)"
    )]
    EntryPointCall {
        /// Phase.
        entity: Entity,
        /// The call's selector (hex), or "none".
        selector: String,
    },
    /// OP-061: a call with value to anything but the EntryPoint.
    #[error("{entity} sends {value} wei to {to} (value only to the EntryPoint, OP-061)")]
    ValueCall {
        /// Phase.
        entity: Entity,
        /// Recipient.
        to: Address,
        /// Wei.
        value: U256,
    },
    /// OP-041: a call or `EXTCODE*` of an address without code.
    #[error("{entity} accesses {target}, which has no code (OP-041)")]
    NoCode {
        /// Phase.
        entity: Entity,
        /// The address.
        target: Address,
    },
    /// OP-062: a precompile outside 0x01..0x09 (and P-256 at 0x100).
    #[error("{entity} calls precompile {target}, which is not allowed (OP-062)")]
    Precompile {
        /// Phase.
        entity: Entity,
        /// The precompile.
        target: Address,
    },
    /// OP-080: `BALANCE`/`SELFBALANCE` by an unstaked entity.
    #[error("{entity} uses banned opcode: {name}, allowed to staked entities only (OP-080)")]
    UnstakedBalance {
        /// Phase.
        entity: Entity,
        /// `BALANCE` or `SELFBALANCE`.
        name: String,
    },
    /// OP-020: a call inside validation ran out of gas.
    #[error("{entity} internally reverts on out of gas in {code} (OP-020)")]
    OutOfGas {
        /// Phase.
        entity: Entity,
        /// Whose code ran out of gas.
        code: Address,
    },
    /// OP-054: `EXTCODE*` of the EntryPoint (only `EXTCODESIZE` followed by `ISZERO` is allowed).
    #[error("{entity} accesses the EntryPoint's code with {name} (OP-051/OP-054)")]
    EntryPointCode {
        /// Phase.
        entity: Entity,
        /// The opcode.
        name: String,
    },
    /// STO-010..033: storage the entity may not touch.
    #[error("{entity} {action} slot {slot:#x} of {contract}: {reason}")]
    Storage {
        /// Phase.
        entity: Entity,
        /// Whose storage.
        contract: Address,
        /// The slot.
        slot: U256,
        /// "reads" / "writes" (transient accesses say so).
        action: String,
        /// Which rule and why.
        reason: String,
    },
}

impl Violation {
    /// The ERC-7769 error code of the rejection: `-32502` for opcode and storage rules, `-32505`
    /// would be stake (not produced here: every stake-dependent rule reports the access itself).
    pub fn code(&self) -> i32 {
        -32502
    }
}

/// Who the validation involves and their stake status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entities {
    /// The EntryPoint.
    pub entry_point: Address,
    /// The sender.
    pub sender: Address,
    /// The factory of `initCode`, if any.
    pub factory: Option<Address>,
    /// The paymaster, if any.
    pub paymaster: Option<Address>,
    /// Whether the sender is staked.
    pub sender_staked: bool,
    /// Whether the factory is staked.
    pub factory_staked: bool,
    /// Whether the paymaster is staked.
    pub paymaster_staked: bool,
}

/// The stake of the entities of `op` as `simulateValidation` reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityStakes {
    /// The sender's.
    pub sender: StakeInfo,
    /// The factory's (zero without one).
    pub factory: StakeInfo,
    /// The paymaster's (zero without one).
    pub paymaster: StakeInfo,
}

impl Entities {
    /// The entities of `op` with the stakes reported by `simulateValidation`, staked as
    /// `requirement` says.
    pub fn from_validation(
        entry_point: Address,
        op: &PackedUserOperation,
        r: &ValidationResult,
        requirement: &StakeRequirement,
    ) -> Self {
        let stakes = EntityStakes {
            sender: r.senderInfo.clone(),
            factory: r.factoryInfo.clone(),
            paymaster: r.paymasterInfo.clone(),
        };
        Self::with_stakes(entry_point, op, &stakes, requirement)
    }

    /// The entities of `op` with the given stakes.
    pub fn with_stakes(
        entry_point: Address,
        op: &PackedUserOperation,
        s: &EntityStakes,
        requirement: &StakeRequirement,
    ) -> Self {
        let staked = |i: &StakeInfo| requirement.is_staked(i.stake, i.unstakeDelaySec);
        let address_of = |data: &Bytes| (data.len() >= 20).then(|| Address::from_slice(&data[..20]));
        Self {
            entry_point,
            sender: op.sender,
            factory: address_of(&op.initCode),
            paymaster: address_of(&op.paymasterAndData),
            sender_staked: staked(&s.sender),
            factory_staked: staked(&s.factory),
            paymaster_staked: staked(&s.paymaster),
        }
    }

    /// The address of entity `e`, if the operation has one.
    pub fn address(&self, e: Entity) -> Option<Address> {
        match e {
            Entity::Factory => self.factory,
            Entity::Account => Some(self.sender),
            Entity::Paymaster => self.paymaster,
        }
    }

    /// Whether entity `e` is staked.
    pub fn staked(&self, e: Entity) -> bool {
        match e {
            Entity::Factory => self.factory_staked,
            Entity::Account => self.sender_staked,
            Entity::Paymaster => self.paymaster_staked,
        }
    }

    fn is_entity(&self, a: Address) -> bool {
        a == self.sender || Some(a) == self.factory || Some(a) == self.paymaster
    }
}

/// Why tracing a validation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TraceError {
    /// The simulation reverted (e.g. `FailedOp`): the op is invalid anyway.
    #[error("simulateValidation failed: {0:?}")]
    Simulation(SimulationError),
    /// The chain failed.
    #[error("tracing failed: {0}")]
    Chain(ChainError),
    /// The chain cannot trace calls.
    #[error("this chain cannot trace calls")]
    Unsupported,
}

fn simulate_validation_tx(entry_point: Address, op: PackedUserOperation) -> TransactionRequest {
    let data = IEntryPoint::simulateValidationCall { userOp: op }.abi_encode();
    TransactionRequest::default().with_to(entry_point).with_input(Bytes::from(data))
}

/// Decodes a traced `simulateValidation`.
fn traced_result(
    output: Result<Bytes, ChainError>,
    trace: ExecutionTrace,
) -> Result<(ValidationResult, ExecutionTrace), TraceError> {
    let output = output.map_err(|e| TraceError::Simulation(e.into()))?;
    let result = IEntryPoint::simulateValidationCall::abi_decode_returns(&output)
        .map_err(|e| TraceError::Chain(ChainError::Internal(format!("decoding simulateValidation: {e}"))))?;
    Ok((result, trace))
}

/// Runs `simulateValidation(op)` on the embedded chain under the validation tracer; returns the
/// result and the trace.
pub fn trace_validation(
    chain: &EmbeddedChain,
    entry_point: Address,
    op: PackedUserOperation,
) -> Result<(ValidationResult, ExecutionTrace), TraceError> {
    let tx = simulate_validation_tx(entry_point, op);
    let (output, trace) = chain.trace_call(tx, Some(simulations_override(entry_point))).map_err(TraceError::Chain)?;
    traced_result(output, trace)
}

/// Runs `simulateValidation(op)` under the validation tracer on any chain that traces
/// ([`Chain::traced_call`]): the embedded chain, or an `RpcChain` locally over its node's state.
pub async fn trace_validation_on(
    chain: &dyn Chain,
    entry_point: Address,
    op: PackedUserOperation,
) -> Result<(ValidationResult, ExecutionTrace), TraceError> {
    let tx = simulate_validation_tx(entry_point, op);
    let (output, trace) = chain
        .traced_call(tx, Some(simulations_override(entry_point)))
        .await
        .map_err(TraceError::Chain)?
        .ok_or(TraceError::Unsupported)?;
    traced_result(output, trace)
}

/// What the bundler keeps from a traced validation besides the verdict: for COD-010 and the
/// mempool-wide storage rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceFacts {
    /// Code hash of every contract whose code ran in validation (outside the EntryPoint), in
    /// first-seen order (COD-010).
    pub code_hashes: Vec<(Address, B256)>,
    /// Every contract whose storage validation touched (outside the EntryPoint), the sender's
    /// included (STO-041).
    pub storage_contracts: Vec<Address>,
}

/// A judged validation: the rules broken (empty: none) and the facts kept for later rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Judgement {
    /// Broken rules.
    pub violations: Vec<Violation>,
    /// Facts for COD-010 and STO-041.
    pub facts: TraceFacts,
    /// What the traced `simulateValidation` returned: the same as an untraced run on that state.
    pub result: ValidationResult,
}

/// Traces `simulateValidation(op)` under `overrides` (which must include
/// [`simulations_override`]) where the chain can trace, and checks the rules; `None` when the
/// chain cannot trace or the simulation itself failed (that failure is reported elsewhere).
pub async fn check_on_chain(
    chain: &dyn Chain,
    entry_point: Address,
    op: &PackedUserOperation,
    overrides: StateOverride,
    stake: &StakeRequirement,
) -> Result<Option<Judgement>, ChainError> {
    let tx = simulate_validation_tx(entry_point, op.clone());
    let Some((output, trace)) = chain.traced_call(tx, Some(overrides)).await? else { return Ok(None) };
    let Ok(output) = output else { return Ok(None) };
    let result = IEntryPoint::simulateValidationCall::abi_decode_returns(&output)
        .map_err(|e| ChainError::Internal(format!("decoding simulateValidation: {e}")))?;
    let entities = Entities::from_validation(entry_point, op, &result, stake);
    Ok(Some(Judgement { violations: check(&trace, &entities), facts: facts(&trace, &entities), result }))
}

/// The [`TraceFacts`] of a validation trace.
pub fn facts(trace: &ExecutionTrace, e: &Entities) -> TraceFacts {
    let (phase, inside_ep) = phases(trace, e);
    let judged = |i: usize| phase.get(i).copied().flatten().is_some() && !inside_ep.get(i).copied().unwrap_or(true);
    let mut out = TraceFacts::default();
    for (i, f) in trace.frames.iter().enumerate() {
        if !judged(i) || f.kind.is_creation() || f.code_address == e.entry_point || is_precompile(f.code_address) {
            continue;
        }
        if !out.code_hashes.iter().any(|(a, _)| *a == f.code_address) {
            out.code_hashes.push((f.code_address, f.code_hash));
        }
    }
    for s in &trace.storage {
        if judged(s.frame) && !out.storage_contracts.contains(&s.address) {
            out.storage_contracts.push(s.address);
        }
    }
    out
}

/// COD-010: the first contract whose code hash differs between the first validation (`before`)
/// and the second (`after`), with both hashes.
pub fn code_changed(before: &[(Address, B256)], after: &[(Address, B256)]) -> Option<(Address, B256, B256)> {
    before.iter().find_map(|(a, old)| {
        let new = after.iter().find(|(b, _)| b == a).map(|(_, h)| *h)?;
        (new != *old).then_some((*a, *old, new))
    })
}

/// Whether `a` is a precompile address of Prague (0x01..0x11) or RIP-7212's 0x100.
fn is_precompile(a: Address) -> bool {
    let n = U256::from_be_slice(a.as_slice());
    (n >= U256::from(1) && n <= U256::from(0x11)) || n == U256::from(0x100)
}

fn allowed_precompile(a: Address) -> bool {
    let n = U256::from_be_slice(a.as_slice());
    (n >= U256::from(1) && n <= U256::from(9)) || n == U256::from(0x100)
}

fn is_call(op: u8) -> bool {
    matches!(op, opcode::CALL | opcode::CALLCODE | opcode::DELEGATECALL | opcode::STATICCALL)
}

fn mnemonic(op: u8) -> String {
    opcode::OpCode::new(op).map(|o| o.as_str().to_string()).unwrap_or_else(|| format!("UNASSIGNED_0x{op:02x}"))
}

/// Bases `keccak256(pad32(A) ‖ …)` seen in the trace, per address `A` of interest.
fn association_bases(trace: &ExecutionTrace, addresses: &[Address]) -> HashMap<Address, Vec<U256>> {
    let mut out: HashMap<Address, Vec<U256>> = HashMap::new();
    for p in &trace.keccak_preimages {
        if p.len() < 32 {
            continue;
        }
        let head = B256::from_slice(&p[..32]);
        for a in addresses {
            if head == a.into_word() {
                out.entry(*a).or_default().push(U256::from_be_bytes(keccak256(p).0));
            }
        }
    }
    out
}

fn associated(slot: U256, a: Address, bases: &HashMap<Address, Vec<U256>>) -> bool {
    if slot == U256::from_be_slice(a.as_slice()) {
        return true;
    }
    bases.get(&a).is_some_and(|bs| bs.iter().any(|b| slot >= *b && slot - *b <= U256::from(ASSOCIATED_SLOT_SPAN)))
}

/// The phase of every frame (the depth-1 call of the EntryPoint it descends from) and whether
/// it runs inside a call back into the EntryPoint (the EntryPoint's own work, not judged: the
/// call itself is).
fn phases(trace: &ExecutionTrace, e: &Entities) -> (Vec<Option<Entity>>, Vec<bool>) {
    let mut phase: Vec<Option<Entity>> = vec![None; trace.frames.len()];
    let mut inside_ep: Vec<bool> = vec![false; trace.frames.len()];
    for (i, f) in trace.frames.iter().enumerate() {
        if f.depth == 1 {
            phase[i] = if f.address == e.sender && f.kind == FrameKind::Call {
                Some(Entity::Account)
            } else if Some(f.address) == e.paymaster && f.kind == FrameKind::Call {
                Some(Entity::Paymaster)
            } else if e.factory.is_some() {
                // The EntryPoint's only other validation call: SenderCreator.createSender(initCode).
                Some(Entity::Factory)
            } else {
                None
            };
            continue;
        }
        let Some(p) = f.parent else { continue };
        phase[i] = phase[p];
        inside_ep[i] =
            inside_ep[p] || (f.address == e.entry_point && matches!(f.kind, FrameKind::Call | FrameKind::StaticCall));
    }
    (phase, inside_ep)
}

/// Checks the trace of `simulateValidation` against ERC-7562; empty means the op may enter the
/// mempool as far as these rules go.
pub fn check(trace: &ExecutionTrace, e: &Entities) -> Vec<Violation> {
    let mut out = Vec::new();
    let (phase, inside_ep) = phases(trace, e);
    let mut creations = 0usize;
    for (i, f) in trace.frames.iter().enumerate() {
        let Some(p) = f.parent else { continue };
        // Judged from the caller's phase: the call itself, then what happens in it.
        let (Some(entity), false) = (phase[i], inside_ep[p]) else { continue };
        if f.out_of_gas && !is_precompile(f.code_address) {
            out.push(Violation::OutOfGas { entity, code: f.code_address });
        }
        if f.depth == 1 {
            continue;
        }
        if inside_ep[i] {
            let ok = match f.selector() {
                Some(sel) => sel == DEPOSIT_TO,
                None => f.caller == e.sender && f.input.is_empty(),
            };
            if !ok {
                let selector = f.selector().map(|s| format!("0x{}", alloy::hex::encode(s))).unwrap_or("none".into());
                out.push(Violation::EntryPointCall { entity, selector });
            }
            continue;
        }
        match f.kind {
            FrameKind::Create | FrameKind::Create2 => {
                creations += 1;
                let ok = entity == Entity::Factory
                    && f.kind == FrameKind::Create2
                    && f.address == e.sender
                    && creations == 1;
                if !ok {
                    let name = if f.kind == FrameKind::Create2 { "CREATE2" } else { "CREATE" };
                    out.push(Violation::Create {
                        entity,
                        name: name.into(),
                        code: trace.frames[p].code_address,
                        created: f.address,
                    });
                }
            }
            _ => {
                if !f.value.is_zero() {
                    out.push(Violation::ValueCall { entity, to: f.address, value: f.value });
                }
                if is_precompile(f.code_address) {
                    if !allowed_precompile(f.code_address) {
                        out.push(Violation::Precompile { entity, target: f.code_address });
                    }
                } else if !f.has_code && (entity != Entity::Factory || f.code_address != e.sender) {
                    out.push(Violation::NoCode { entity, target: f.code_address });
                }
            }
        }
    }

    let judged = |frame: usize| -> Option<Entity> {
        match (phase.get(frame).copied().flatten(), inside_ep.get(frame).copied().unwrap_or(true)) {
            (Some(entity), false) => Some(entity),
            _ => None,
        }
    };

    for u in &trace.opcodes {
        let Some(entity) = judged(u.frame) else { continue };
        let code = trace.frames[u.frame].code_address;
        match u.opcode {
            opcode::GAS if !u.next_opcode.is_some_and(is_call) => {
                out.push(Violation::GasNotFollowedByCall { entity, code });
            }
            opcode::BALANCE | opcode::SELFBALANCE if !e.staked(entity) => {
                out.push(Violation::UnstakedBalance { entity, name: mnemonic(u.opcode) });
            }
            // OP-051 / OP-054: only `EXTCODESIZE ISZERO` on the EntryPoint.
            opcode::EXTCODESIZE | opcode::EXTCODECOPY | opcode::EXTCODEHASH
                if u.operand == Some(e.entry_point)
                    && !(u.opcode == opcode::EXTCODESIZE && u.next_opcode == Some(opcode::ISZERO)) =>
            {
                out.push(Violation::EntryPointCode { entity, name: mnemonic(u.opcode) });
            }
            // OP-042: the sender may be probed while it is being deployed.
            opcode::EXTCODESIZE | opcode::EXTCODECOPY | opcode::EXTCODEHASH => {
                if let (Some(target), Some(false)) = (u.operand, u.operand_has_code)
                    && (target != e.sender || e.factory.is_none())
                {
                    out.push(Violation::NoCode { entity, target });
                }
            }
            opcode::GAS | opcode::BALANCE | opcode::SELFBALANCE => {}
            // Creations are judged per frame above.
            opcode::CREATE | opcode::CREATE2 => {}
            op if banned_in_validation(op) => {
                out.push(Violation::BannedOpcode { entity, opcode: op, name: mnemonic(op), code });
            }
            _ => {}
        }
    }

    let mut interesting = vec![e.sender];
    interesting.extend(e.factory);
    interesting.extend(e.paymaster);
    let bases = association_bases(trace, &interesting);
    let sender_deployed = e.factory.is_none();
    for s in &trace.storage {
        let Some(entity) = judged(s.frame) else { continue };
        if s.address == e.sender {
            continue; // STO-010
        }
        let write = s.op.is_write();
        if associated(s.slot, e.sender, &bases) {
            // STO-021: the account exists. STO-022: it is being deployed by a staked factory, which
            // answers for the account's validation (EREP-020); any other phase answers for itself,
            // so its own stake is what allows it.
            if sender_deployed || (entity == Entity::Account && e.factory_staked) || e.staked(entity) {
                continue;
            }
            let reason = if entity == Entity::Account {
                "storage associated with an undeployed sender needs a staked factory (STO-022)"
            } else {
                "storage associated with an undeployed sender needs the accessing entity to be staked (STO-022/032)"
            };
            out.push(storage_violation(entity, s.address, s.slot, s.op, reason));
            continue;
        }
        let me = e.address(entity);
        if e.staked(entity)
            && let Some(me) = me
        {
            if s.address == me || associated(s.slot, me, &bases) {
                continue; // STO-031 / STO-032
            }
            if !write && !e.is_entity(s.address) {
                continue; // STO-033
            }
        }
        let reason = if e.staked(entity) {
            "a staked entity may only read other contracts' storage (STO-033)"
        } else if Some(s.address) == me || me.is_some_and(|me| associated(s.slot, me, &bases)) {
            "an entity's own (or associated) storage needs the entity to be staked (STO-031/032)"
        } else {
            "neither the sender's storage nor associated with it (STO-010/021)"
        };
        out.push(storage_violation(entity, s.address, s.slot, s.op, reason));
    }
    out
}

fn storage_violation(entity: Entity, contract: Address, slot: U256, op: StorageOp, reason: &str) -> Violation {
    let action = match op {
        StorageOp::Load => "reads",
        StorageOp::Store => "writes",
        StorageOp::TransientLoad => "reads transient",
        StorageOp::TransientStore => "writes transient",
    };
    Violation::Storage { entity, contract, slot, action: action.into(), reason: reason.into() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyward_chain::embedded::trace::{Frame, OpcodeUse, StorageAccess};

    const EP: Address = Address::repeat_byte(0xee);
    const SENDER: Address = Address::repeat_byte(0x5e);
    const MODULE: Address = Address::repeat_byte(0x30);
    const PAYMASTER: Address = Address::repeat_byte(0x9a);

    fn frame(parent: Option<usize>, depth: usize, address: Address) -> Frame {
        Frame {
            parent,
            depth,
            kind: FrameKind::Call,
            caller: Address::ZERO,
            address,
            code_address: address,
            has_code: true,
            value: U256::ZERO,
            input: Bytes::new(),
            success: true,
            out_of_gas: false,
            code_hash: B256::ZERO,
        }
    }

    /// EntryPoint → sender → module, and EntryPoint → paymaster; `preimage` hashed by the module.
    fn trace(preimage: Vec<u8>, storage: Vec<StorageAccess>) -> ExecutionTrace {
        ExecutionTrace {
            frames: vec![
                frame(None, 0, EP),
                frame(Some(0), 1, SENDER),
                frame(Some(1), 2, MODULE),
                frame(Some(0), 1, PAYMASTER),
            ],
            opcodes: vec![],
            storage,
            keccak_preimages: vec![Bytes::from(preimage)],
        }
    }

    fn entities(paymaster_staked: bool) -> Entities {
        Entities {
            entry_point: EP,
            sender: SENDER,
            factory: None,
            paymaster: Some(PAYMASTER),
            sender_staked: false,
            factory_staked: false,
            paymaster_staked,
        }
    }

    fn load(frame: usize, address: Address, slot: U256, op: StorageOp) -> StorageAccess {
        StorageAccess { frame, address, slot, op }
    }

    #[test]
    fn associated_slots_reach_exactly_128_past_the_base() {
        // keccak(pad32(sender) ‖ p): mapping(address => …) at p, struct fields at +n.
        let pre = [SENDER.into_word().as_slice(), U256::from(3).to_be_bytes::<32>().as_slice()].concat();
        let base = U256::from_be_bytes(keccak256(&pre).0);
        for (n, ok) in [(0u64, true), (128, true), (129, false)] {
            let t = trace(pre.clone(), vec![load(2, MODULE, base + U256::from(n), StorageOp::Store)]);
            assert_eq!(check(&t, &entities(false)).is_empty(), ok, "base + {n}");
        }
        // The account's address itself as a slot is associated; the key in second position is not.
        let t = trace(pre.clone(), vec![load(2, MODULE, U256::from_be_slice(SENDER.as_slice()), StorageOp::Load)]);
        assert!(check(&t, &entities(false)).is_empty());
        let swapped = [U256::from(3).to_be_bytes::<32>().as_slice(), SENDER.into_word().as_slice()].concat();
        let slot = U256::from_be_bytes(keccak256(&swapped).0);
        let t = trace(swapped, vec![load(2, MODULE, slot, StorageOp::Load)]);
        assert_eq!(check(&t, &entities(false)).len(), 1);
    }

    #[test]
    fn staked_paymaster_may_use_its_own_storage_and_read_others() {
        let own = load(3, PAYMASTER, U256::from(1), StorageOp::Store);
        let other_read = load(3, MODULE, U256::from(9), StorageOp::Load);
        let other_write = load(3, MODULE, U256::from(9), StorageOp::Store);
        let unstaked = check(&trace(vec![], vec![own]), &entities(false));
        assert!(
            matches!(&unstaked[..], [Violation::Storage { reason, .. }] if reason.contains("STO-031")),
            "{unstaked:?}"
        );
        assert!(check(&trace(vec![], vec![own, other_read]), &entities(true)).is_empty());
        let v = check(&trace(vec![], vec![other_write]), &entities(true));
        assert!(matches!(&v[..], [Violation::Storage { entity: Entity::Paymaster, .. }]), "{v:?}");
        // The sender's storage is the account's own (STO-010) even when read by the paymaster.
        assert!(
            check(&trace(vec![], vec![load(3, SENDER, U256::from(5), StorageOp::Load)]), &entities(false)).is_empty()
        );
    }

    #[test]
    fn gas_must_be_followed_by_a_call_and_the_entry_point_is_not_judged() {
        let gas = |frame, next| OpcodeUse {
            frame,
            opcode: opcode::GAS,
            next_opcode: next,
            operand: None,
            operand_has_code: None,
        };
        let mut t = trace(vec![], vec![]);
        t.opcodes =
            vec![gas(2, Some(opcode::STATICCALL)), gas(0, Some(opcode::POP)), gas(1, Some(opcode::POP)), gas(2, None)];
        let v = check(&t, &entities(false));
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(v.iter().all(|x| matches!(x, Violation::GasNotFollowedByCall { entity: Entity::Account, .. })));
    }
}
