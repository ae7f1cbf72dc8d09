//! Regression tests of the ERC-7562 rules the conformance suite (bundler-spec-tests) found
//! missing, on hand-made validation traces and on the store: OP-020 (out of gas inside
//! validation), OP-054 (the EntryPoint's code), STO-022 judged by the accessing entity's stake,
//! the messages the suite matches, COD-010 (code hashes between validations), STO-040 (an entity
//! that is another operation's sender), EREP-010 (paymaster deposit against its pending
//! operations), and the reputation (status thresholds, hourly decay, persistence).
#![allow(unused_crate_dependencies)]

use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use keyward_bundler::erc7562::{Entities, Entity, StakeRequirement, Violation, check, code_changed, facts};
use keyward_bundler::mempool_rules::{paymaster_deposit_refusal, sto040};
use keyward_bundler::reputation::{
    BAN_OPS_SEEN_PENALTY, ReputationStatus, accountable, blamed, status, unstaked_ops_allowed,
};
use keyward_chain::embedded::trace::{ExecutionTrace, Frame, FrameKind, OpcodeUse, StorageAccess, StorageOp, opcode};
use keyward_primitives::{FactoryInit, PaymasterInit, UserOperation};
use keyward_store::{ReputationRecord, Store};

const EP: Address = Address::repeat_byte(0xee);
const SENDER: Address = Address::repeat_byte(0x5e);
const FACTORY: Address = Address::repeat_byte(0xfa);
const PAYMASTER: Address = Address::repeat_byte(0x9a);
const TOKEN: Address = Address::repeat_byte(0x70);

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
        code_hash: keccak256(address),
    }
}

/// EntryPoint (0) → sender (1) → token (2); EntryPoint → paymaster (3) → token (4).
fn trace() -> ExecutionTrace {
    ExecutionTrace {
        frames: vec![
            frame(None, 0, EP),
            frame(Some(0), 1, SENDER),
            frame(Some(1), 2, TOKEN),
            frame(Some(0), 1, PAYMASTER),
            frame(Some(3), 2, TOKEN),
        ],
        ..Default::default()
    }
}

fn entities(factory: bool, factory_staked: bool, paymaster_staked: bool) -> Entities {
    Entities {
        entry_point: EP,
        sender: SENDER,
        factory: factory.then_some(FACTORY),
        paymaster: Some(PAYMASTER),
        sender_staked: false,
        factory_staked,
        paymaster_staked,
    }
}

fn use_of(frame: usize, op: u8, next: Option<u8>, operand: Option<Address>) -> OpcodeUse {
    OpcodeUse { frame, opcode: op, next_opcode: next, operand, operand_has_code: operand.map(|_| true) }
}

#[test]
fn op020_a_call_running_out_of_gas_inside_validation_is_refused_for_its_entity() {
    let mut t = trace();
    t.frames[4].out_of_gas = true;
    t.frames[4].success = false;
    let v = check(&t, &entities(false, false, true));
    assert!(matches!(&v[..], [Violation::OutOfGas { entity: Entity::Paymaster, code }] if *code == TOKEN), "{v:?}");
    assert!(v[0].to_string().contains("OP-020"), "{}", v[0]);
    // A precompile called with too little gas is not the entity leaking its gas.
    let mut t = trace();
    t.frames[2].code_address = Address::with_last_byte(1);
    t.frames[2].address = Address::with_last_byte(1);
    t.frames[2].out_of_gas = true;
    assert_eq!(check(&t, &entities(false, false, false)), vec![]);
}

#[test]
fn op054_only_extcodesize_iszero_may_look_at_the_entry_point() {
    let e = entities(false, false, false);
    let mut t = trace();
    t.opcodes = vec![use_of(1, opcode::EXTCODESIZE, Some(opcode::ISZERO), Some(EP))];
    assert_eq!(check(&t, &e), vec![], "OP-051");
    for (op, next) in [
        (opcode::EXTCODESIZE, Some(opcode::SWAP1)),
        (opcode::EXTCODEHASH, Some(opcode::ISZERO)),
        (opcode::EXTCODECOPY, None),
    ] {
        t.opcodes = vec![use_of(1, op, next, Some(EP))];
        let v = check(&t, &e);
        assert!(matches!(&v[..], [Violation::EntryPointCode { entity: Entity::Account, .. }]), "{op:#x}: {v:?}");
    }
}

#[test]
fn sto022_storage_of_an_undeployed_sender_is_judged_by_the_entity_that_touches_it() {
    // TOKEN's mapping(address => …) at slot 0, keyed by the sender.
    let preimage = [SENDER.into_word().as_slice(), &[0u8; 32]].concat();
    let slot = U256::from_be_bytes(keccak256(&preimage).0);
    let with = |frame: usize| {
        let mut t = trace();
        t.keccak_preimages = vec![Bytes::from(preimage.clone())];
        t.storage = vec![StorageAccess { frame, address: TOKEN, slot, op: StorageOp::Load }];
        t
    };
    // The account's phase: the factory's stake answers for it.
    assert!(check(&with(2), &entities(true, true, false)).is_empty());
    let v = check(&with(2), &entities(true, false, false));
    assert!(
        matches!(&v[..], [Violation::Storage { entity: Entity::Account, reason, .. }] if reason.contains("STO-022"))
    );
    // The paymaster's phase: its own stake, whatever the factory's.
    let v = check(&with(4), &entities(true, true, false));
    assert!(matches!(&v[..], [Violation::Storage { entity: Entity::Paymaster, .. }]), "{v:?}");
    assert!(check(&with(4), &entities(true, false, true)).is_empty());
    // Deployed sender: STO-021 for everyone.
    assert!(check(&with(4), &entities(false, false, false)).is_empty());
}

#[test]
fn refusals_name_the_entity_and_the_banned_opcode_as_bundlers_word_it() {
    let e = entities(false, false, false);
    let mut t = trace();
    t.opcodes = vec![use_of(1, opcode::GAS, Some(opcode::POP), None), use_of(3, opcode::BALANCE, None, Some(SENDER))];
    let v: Vec<String> = check(&t, &e).iter().map(ToString::to_string).collect();
    assert!(v[0].starts_with("account uses banned opcode: GAS"), "{v:?}");
    assert!(v[1].starts_with("paymaster uses banned opcode: BALANCE"), "{v:?}");
    let mut t = trace();
    t.frames[2].kind = FrameKind::Create2;
    let v = check(&t, &e);
    assert!(v[0].to_string().starts_with("account uses banned opcode: CREATE2"), "{v:?}");
}

#[test]
fn stake_requirement_counts_stake_and_delay() {
    let production = StakeRequirement::default();
    assert_eq!(production.min_unstake_delay, 86_400, "ERC-7562 MIN_UNSTAKE_DELAY");
    assert!(!production.is_staked(U256::from(10).pow(U256::from(18)), U256::from(2)));
    let dev = StakeRequirement { min_stake: U256::from(1), min_unstake_delay: 1 };
    assert!(dev.is_staked(U256::from(10).pow(U256::from(18)), U256::from(2)));
    assert!(!dev.is_staked(U256::ZERO, U256::from(2)));
}

#[test]
fn cod010_code_hashes_of_the_visited_contracts_are_compared_between_validations() {
    let e = entities(false, false, false);
    let first = facts(&trace(), &e);
    assert_eq!(first.code_hashes.iter().map(|(a, _)| *a).collect::<Vec<_>>(), vec![SENDER, TOKEN, PAYMASTER]);
    assert_eq!(code_changed(&first.code_hashes, &first.code_hashes), None);
    let mut t = trace();
    t.frames[2].code_hash = B256::repeat_byte(1);
    let second = facts(&t, &e);
    assert_eq!(
        code_changed(&first.code_hashes, &second.code_hashes),
        Some((TOKEN, keccak256(TOKEN), B256::repeat_byte(1)))
    );
    // STO-041 needs whose storage validation touched.
    let mut t = trace();
    t.storage = vec![StorageAccess { frame: 2, address: TOKEN, slot: U256::ZERO, op: StorageOp::Load }];
    assert_eq!(facts(&t, &e).storage_contracts, vec![TOKEN]);
}

fn op(sender: Address, factory: Option<Address>, paymaster: Option<Address>) -> UserOperation {
    UserOperation {
        sender,
        nonce: U256::ZERO,
        factory: factory.map(|factory| FactoryInit { factory, factory_data: Bytes::new() }),
        call_data: Bytes::new(),
        call_gas_limit: 100_000,
        verification_gas_limit: 100_000,
        pre_verification_gas: U256::from(50_000),
        max_fee_per_gas: 2_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        paymaster: paymaster.map(|paymaster| PaymasterInit {
            paymaster,
            verification_gas_limit: 50_000,
            post_op_gas_limit: 10_000,
            data: Bytes::new(),
        }),
        signature: Bytes::new(),
    }
}

#[test]
fn sto040_an_entity_may_not_be_the_sender_of_another_pooled_operation() {
    let pooled = vec![op(PAYMASTER, None, None)];
    let m = sto040(&op(SENDER, None, Some(PAYMASTER)), &pooled).unwrap();
    assert!(m.contains("is used as a sender entity in another UserOperation currently in mempool"), "{m}");
    let pooled = vec![op(SENDER, None, Some(PAYMASTER))];
    let m = sto040(&op(PAYMASTER, None, None), &pooled).unwrap();
    assert!(m.contains("is used as a different entity in another UserOperation currently in mempool"), "{m}");
    assert_eq!(sto040(&op(TOKEN, Some(FACTORY), Some(PAYMASTER)), &pooled), None);
}

#[test]
fn erep010_the_paymaster_deposit_must_cover_all_its_pending_operations() {
    let cost = op(SENDER, None, Some(PAYMASTER)).required_prefund();
    let pooled = vec![op(SENDER, None, Some(PAYMASTER)), op(TOKEN, None, Some(PAYMASTER))];
    let next = op(FACTORY, None, Some(PAYMASTER));
    assert_eq!(paymaster_deposit_refusal(&next, &pooled, cost * U256::from(3)), None);
    let m = paymaster_deposit_refusal(&next, &pooled, cost * U256::from(3) - U256::from(1)).unwrap();
    assert!(m.contains("too low"), "{m}");
}

fn rec(ops_seen: u64, ops_included: u64) -> ReputationRecord {
    ReputationRecord { address: PAYMASTER, ops_seen, ops_included }
}

#[test]
fn reputation_status_and_accountability_follow_erc7562() {
    assert_eq!(status(&rec(119, 1)), ReputationStatus::Ok);
    assert_eq!(status(&rec(120, 1)), ReputationStatus::Throttled);
    assert_eq!(status(&rec(100_000, 1)), ReputationStatus::Banned);
    assert_eq!(status(&rec(BAN_OPS_SEEN_PENALTY, 0)), ReputationStatus::Banned, "GREP-040");
    assert_eq!(unstaked_ops_allowed(&rec(0, 0)), 10, "UREP-020 for a new paymaster");
    // EREP-015 / EREP-020 / EREP-030: who answers for a failure.
    let deploying = op(SENDER, Some(FACTORY), Some(PAYMASTER));
    assert_eq!(blamed("AA23 reverted: No bundle for you"), Some(Entity::Account));
    assert_eq!(accountable(&deploying, Entity::Account, true, false), Some((Entity::Factory, FACTORY)));
    assert_eq!(accountable(&deploying, Entity::Account, false, false), Some((Entity::Account, SENDER)));
    assert_eq!(accountable(&deploying, Entity::Paymaster, false, true), Some((Entity::Account, SENDER)));
    assert_eq!(accountable(&deploying, Entity::Paymaster, false, false), Some((Entity::Paymaster, PAYMASTER)));
}

#[tokio::test]
async fn reputation_is_kept_in_the_store_and_decays_hourly() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    let t0 = 1_700_000_000 / 3600 * 3600;
    for _ in 0..240 {
        store.update_reputation(1, EP, PAYMASTER, t0, |r| r.ops_seen += 1).await.unwrap();
    }
    store.update_reputation(1, EP, PAYMASTER, t0, |r| r.ops_included = 24).await.unwrap();
    assert_eq!(store.reputation_of(1, EP, PAYMASTER, t0 + 3599).await.unwrap(), rec(240, 24));
    assert_eq!(store.reputation_of(1, EP, PAYMASTER, t0 + 3600).await.unwrap(), rec(230, 23), "x 23/24 after an hour");
    assert_eq!(store.reputation_of(1, EP, PAYMASTER, t0 + 7200).await.unwrap(), rec(220, 22));
    // Another chain or EntryPoint is another table of reputation.
    assert_eq!(store.reputation_of(2, EP, PAYMASTER, t0).await.unwrap(), rec(0, 0));
    assert_eq!(store.reputation_entries(1, EP, t0).await.unwrap(), vec![rec(240, 24)]);
    store.clear_reputation(1, EP).await.unwrap();
    assert_eq!(store.reputation_entries(1, EP, t0).await.unwrap(), vec![]);
}
