//! ERC-7562 validation rules on real traces (audit lesson R22): every account validation path
//! Keyward ships passes with zero violations, and a test account that breaks one rule at a time is
//! caught, each by the rule it breaks.
//!
//! Every case runs on both backends: the embedded chain (traced in process) and anvil through
//! `RpcChain`, whose traces are recorded by the same tracer in revm over the node's state read
//! with plain `eth_get*` requests (anvil has no JavaScript tracer).
//!
//! Here, at the edge, because the bundler's refusal of a rule-breaking operation is checked as
//! its ERC-7769 code and JSON-RPC error (`keyward_server::bundler::{reject_code, rpc_error}`).

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use keyward_server::bundler::reject_code;
use std::sync::Arc;

use alloy::primitives::{Address, Bytes, U256};
use alloy::sol_types::SolValue;
use keyward_bundler::erc7562::{
    Entities, Entity, StakeRequirement, Violation, check, trace_validation, trace_validation_on,
};
use keyward_chain::embedded::trace::ExecutionTrace;
use keyward_chain::{Chain, EmbeddedChain, EmbeddedConfig};
use keyward_contracts::Artifact;
use keyward_primitives::UserOperation;
use keyward_primitives::entry_point::ValidationResult;
use keyward_testkit::Harness;
use keyward_testkit::mav2::{ETH, Mav2, execute};
use serde_json::{Value, json};

/// Any stake with a one-day unstake delay counts (the entities here stake 1 ETH for a day).
const STAKE: StakeRequirement =
    StakeRequirement { min_stake: U256::from_limbs([1, 0, 0, 0]), min_unstake_delay: 86_400 };

fn eth(n: u128) -> U256 {
    U256::from(n * ETH)
}

fn milli(n: u128) -> U256 {
    U256::from(n * ETH / 1000)
}

fn addr(a: Address) -> String {
    format!("{a:#x}")
}

/// Where a case runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    /// The embedded chain, traced in process.
    Embedded,
    /// A fresh anvil through `RpcChain`, traced locally over the node's state.
    Anvil,
}

/// The chain a case traces on: the embedded chain we keep a handle on, or anvil.
enum Tracing {
    Embedded(Arc<EmbeddedChain>),
    Remote,
}

/// A deployment of the modular-account contracts on `backend`.
async fn setup(backend: Backend) -> (Tracing, Mav2) {
    match backend {
        Backend::Embedded => {
            let chain = EmbeddedChain::open(EmbeddedConfig::default()).unwrap();
            let m = Mav2::deploy(Harness::on(chain.clone())).await;
            (Tracing::Embedded(chain), m)
        }
        Backend::Anvil => (Tracing::Remote, Mav2::deploy(Harness::anvil().await).await),
    }
}

/// Traces `simulateValidation(op)`; returns the verdict of the rules with the trace and result.
async fn judge(chain: &Tracing, m: &Mav2, op: &UserOperation) -> (Vec<Violation>, ExecutionTrace, ValidationResult) {
    let packed = op.pack();
    let traced = match chain {
        Tracing::Embedded(chain) => trace_validation(chain, m.h.ep, packed.clone()),
        Tracing::Remote => trace_validation_on(m.h.chain.as_ref(), m.h.ep, packed.clone()).await,
    };
    let (result, trace) = traced.expect("simulateValidation passes");
    let entities = Entities::from_validation(m.h.ep, &packed, &result, &STAKE);
    (check(&trace, &entities), trace, result)
}

/// Asserts zero violations, and that the trace really covered the account's validation: a frame
/// into the sender and storage accesses outside the EntryPoint.
#[track_caller]
fn assert_clean(what: &str, violations: &[Violation], trace: &ExecutionTrace, sender: Address) {
    assert!(violations.is_empty(), "{what}: {:#?}", violations.iter().map(|v| v.to_string()).collect::<Vec<_>>());
    assert!(trace.frames.iter().any(|f| f.depth == 1 && f.address == sender), "{what}: no validateUserOp frame");
    assert!(trace.storage.len() > 2, "{what}: suspiciously little storage traced");
    assert!(!trace.keccak_preimages.is_empty(), "{what}: no KECCAK256 traced");
}

fn session_perms(to: Address) -> Value {
    json!([
        {"type": "native-token-transfer", "data": {"allowance": format!("{:#x}", milli(100))}},
        {"type": "gas-limit", "data": {"limit": format!("{:#x}", milli(50))}},
        {"type": "contract-access", "data": {"address": addr(to)}},
    ])
}

async fn r22_owner_op_on_a_deployed_account_follows_erc7562(backend: Backend) {
    let (chain, m) = setup(backend).await;
    let a = m.account(eth(1)).await;
    let mut op = m.owner_op(&a, execute(Address::repeat_byte(0x11), U256::from(1), Bytes::new())).await;
    m.sign_owner(&a, &mut op);
    let (v, trace, _) = judge(&chain, &m, &op).await;
    assert_clean("owner op", &v, &trace, a.address);
    m.send(op).await.success();
}

async fn r22_counterfactual_deploy_through_the_factory_follows_erc7562(backend: Backend) {
    let (chain, m) = setup(backend).await;
    let a = m.counterfactual_account(eth(1)).await;
    let mut op = m.owner_op(&a, execute(Address::repeat_byte(0x12), U256::from(1), Bytes::new())).await;
    assert!(op.factory.is_some());
    m.sign_owner(&a, &mut op);
    let (v, trace, result) = judge(&chain, &m, &op).await;
    assert_clean("counterfactual deploy", &v, &trace, a.address);
    assert!(result.factoryInfo.stake > U256::ZERO, "the factory is staked");
    // Exactly one creation, by the factory, of the sender.
    let creations: Vec<_> = trace.frames.iter().filter(|f| f.kind.is_creation()).collect();
    assert_eq!(creations.len(), 1);
    assert_eq!(creations[0].address, a.address);
    m.send(op).await.success();
}

async fn r22_session_with_time_range_allowlist_and_gas_limit_hooks_follows_erc7562(backend: Backend) {
    let (chain, m) = setup(backend).await;
    let a = m.account(eth(1)).await;
    let to = Address::repeat_byte(0x13);
    let s = m.session(&a, 5, session_perms(to), m.now().await + 3600).await;
    let hooks = &s.compiled.install.hooks;
    for module in [m.modules.time_range, m.modules.allowlist, m.modules.native_token_limit] {
        assert!(hooks.iter().any(|h| h.config.entity.module == module), "session lacks a hook of {module}");
    }
    let mut op = m.session_op(&a, &s, &execute(to, milli(1), Bytes::new())).await;
    m.sign_session(&s, &mut op);
    let (v, trace, _) = judge(&chain, &m, &op).await;
    assert_clean("session op", &v, &trace, a.address);
    // The hooks ran (their modules' storage was read, keyed by the account).
    for module in [m.modules.time_range, m.modules.allowlist, m.modules.native_token_limit] {
        assert!(trace.storage.iter().any(|s| s.address == module), "no storage access in {module}");
    }
    m.send(op).await.success();
}

async fn r22_deferred_install_in_the_first_op_follows_erc7562(backend: Backend) {
    let (chain, m) = setup(backend).await;
    let to = Address::repeat_byte(0x14);
    // On a deployed account.
    let a = m.account(eth(1)).await;
    let s = m.compile(&a, 6, session_perms(to), m.now().await + 3600).await;
    let op = m.deferred_session_op(&a, &s, &execute(to, milli(1), Bytes::new())).await;
    let (v, trace, _) = judge(&chain, &m, &op).await;
    assert_clean("deferred install", &v, &trace, a.address);
    assert!(trace.storage.iter().any(|x| x.address == m.modules.single_signer_validation && x.op.is_write()));
    m.send(op).await.success();
    // On a counterfactual account: deploy + install + use in one op (STO-022: staked factory).
    let b = m.counterfactual_account(eth(1)).await;
    let s = m.compile(&b, 6, session_perms(to), m.now().await + 3600).await;
    let op = m.deferred_session_op(&b, &s, &execute(to, milli(1), Bytes::new())).await;
    assert!(op.factory.is_some());
    let (v, trace, result) = judge(&chain, &m, &op).await;
    assert_clean("counterfactual deferred install", &v, &trace, b.address);
    // The same op behind an unstaked factory breaks STO-022 (module storage of an undeployed
    // sender), which is why the factory is staked.
    let mut unstaked = Entities::from_validation(m.h.ep, &op.pack(), &result, &STAKE);
    unstaked.factory_staked = false;
    let v = check(&trace, &unstaked);
    assert!(!v.is_empty(), "STO-022 not enforced");
    assert!(v.iter().all(|x| matches!(x, Violation::Storage { reason, .. } if reason.contains("STO-022"))), "{v:?}");
    m.send(op).await.success();
}

async fn r22_session_with_paymaster_guard_follows_erc7562(backend: Backend) {
    let (chain, m) = setup(backend).await;
    let a = m.account(eth(1)).await;
    let to = Address::repeat_byte(0x15);
    let pm = m.test_paymaster().await;
    let s = m.compile(&a, 7, session_perms(to), 0).await;
    let s = m.with_paymaster_guard(s, pm);
    m.install(&a, &s).await;
    let mut op = m.session_op(&a, &s, &execute(to, milli(1), Bytes::new())).await;
    op.paymaster = Some(m.paymaster(pm));
    m.sign_session(&s, &mut op);
    let (v, trace, _) = judge(&chain, &m, &op).await;
    // The account's phase (with the guard hook) is clean; TestPaymaster is a test double whose own
    // validation is not ours to judge here.
    let account: Vec<_> = v.iter().filter(|x| violation_entity(x) != Entity::Paymaster).cloned().collect();
    assert_clean("session with paymaster guard", &account, &trace, a.address);
    assert!(trace.storage.iter().any(|x| x.address == m.modules.paymaster_guard), "the guard ran");
    m.send(op).await.success();
}

async fn r22_modular_account_creation_and_owner_op_follow_erc7562(backend: Backend) {
    use alloy::sol_types::SolCall;
    use keyward_contracts::bindings::AccountFactory;
    use keyward_primitives::FactoryInit;
    use keyward_primitives::mav2::NonceKey;

    let (chain, m) = setup(backend).await;
    let owner = alloy::signers::local::PrivateKeySigner::random();
    let (salt, entity) = (U256::from(1), 4u32);
    let address =
        m.h.read(m.factory, AccountFactory::getAddressCall { owner_: owner.address(), salt, entityId: entity })
            .await
            .unwrap();
    m.fund(address, eth(1)).await;
    let key = NonceKey::regular(U256::ZERO, entity, true, false).unwrap();
    for first in [true, false] {
        let nonce = m.ep_nonce(address, key.full_key()).await;
        let mut op = m.op(address, nonce, execute(Address::repeat_byte(0x17), U256::from(1), Bytes::new()));
        if first {
            let data =
                AccountFactory::createAccountCall { owner_: owner.address(), salt, entityId: entity }.abi_encode();
            op.factory = Some(FactoryInit { factory: m.factory, factory_data: data.into() });
            op.verification_gas_limit = keyward_testkit::mav2::VERIFICATION_GAS_HEAVY;
        }
        op.signature = m.ecdsa_user_op_signature(&owner, &op);
        let (v, trace, _) = judge(&chain, &m, &op).await;
        assert_clean(if first { "ModularAccount creation" } else { "ModularAccount owner op" }, &v, &trace, address);
        // The owner validation is a module: its storage (keyed by the account) was read.
        assert!(trace.storage.iter().any(|x| x.address == m.modules.single_signer_validation));
        m.send(op).await.success();
    }
}

async fn r22_eip7702_delegated_eoa_owner_and_session_ops_follow_erc7562(backend: Backend) {
    use alloy::eips::eip7702::Authorization;
    use alloy::network::TransactionBuilder;
    use alloy::rpc::types::TransactionRequest;
    use alloy::signers::SignerSync;
    use keyward_chain::send::with_authorizations;
    use keyward_primitives::mav2::factory::SemiModularAccountInit;
    use keyward_testkit::mav2::SmaAccount;

    let (chain, m) = setup(backend).await;
    let implementation =
        m.h.deploy(keyward_contracts::artifacts::semi_modular_account_7702(), &m.h.ep.abi_encode()).await;
    let eoa = alloy::signers::local::PrivateKeySigner::random();
    m.fund(eoa.address(), eth(1)).await;
    let auth = Authorization { chain_id: U256::from(m.chain_id), address: implementation, nonce: 0 };
    let signed = auth.clone().into_signed(eoa.sign_hash_sync(&auth.signature_hash()).unwrap());
    let tx = with_authorizations(TransactionRequest::default().with_to(eoa.address()), vec![signed]);
    assert!(m.h.send_tx(&m.h.keys[0], tx).await.unwrap().status());
    let init = SemiModularAccountInit { factory: m.factory, owner: eoa.address(), salt: U256::ZERO };
    let a = SmaAccount { address: eoa.address(), owner: eoa, init };
    let to = Address::repeat_byte(0x18);
    let mut op = m.owner_op(&a, execute(to, U256::from(1), Bytes::new())).await;
    m.sign_owner(&a, &mut op);
    let (v, trace, _) = judge(&chain, &m, &op).await;
    assert_clean("7702 owner op", &v, &trace, a.address);
    m.send(op).await.success();
    let s = m.session(&a, 5, session_perms(to), m.now().await + 3600).await;
    let mut op = m.session_op(&a, &s, &execute(to, milli(1), Bytes::new())).await;
    m.sign_session(&s, &mut op);
    let (v, trace, _) = judge(&chain, &m, &op).await;
    assert_clean("7702 session op", &v, &trace, a.address);
    m.send(op).await.success();
}

fn violation_entity(v: &Violation) -> Entity {
    match v {
        Violation::BannedOpcode { entity, .. }
        | Violation::GasNotFollowedByCall { entity, .. }
        | Violation::Create { entity, .. }
        | Violation::EntryPointCall { entity, .. }
        | Violation::ValueCall { entity, .. }
        | Violation::NoCode { entity, .. }
        | Violation::Precompile { entity, .. }
        | Violation::UnstakedBalance { entity, .. }
        | Violation::OutOfGas { entity, .. }
        | Violation::EntryPointCode { entity, .. }
        | Violation::Storage { entity, .. } => *entity,
    }
}

// ------------------------------------------------------------------ negative cases

fn artifact(json: &str) -> Artifact {
    serde_json::from_str(json).unwrap()
}

/// A TestRuleBreaker account (and its TestRuleStore), funded and with some state in the store.
async fn rule_breaker(m: &Mav2) -> Address {
    let store = m.h.deploy(&artifact(include_str!("../../../contracts/artifacts/TestRuleStore.json")), &[]).await;
    let breaker = artifact(include_str!("../../../contracts/artifacts/TestRuleBreaker.json"));
    let account = m.h.deploy(&breaker, &(m.h.ep, store).abi_encode_params()).await;
    m.fund(account, eth(1)).await;
    account
}

fn breaker_op(m: &Mav2, account: Address, nonce: u64, mode: u8) -> UserOperation {
    let mut op = m.op(account, U256::from(nonce), Bytes::new());
    op.signature = Bytes::from(vec![mode]);
    op
}

async fn r22_rule_breaking_validation_is_flagged_by_the_rule_it_breaks(backend: Backend) {
    let (chain, m) = setup(backend).await;
    let account = rule_breaker(&m).await;
    let (clean, trace, _) = judge(&chain, &m, &breaker_op(&m, account, 0, 0)).await;
    assert_clean("mode 0", &clean, &trace, account);
    type Matcher = Box<dyn Fn(&Violation) -> bool>;
    let banned = |name: &'static str| -> Matcher {
        Box::new(move |v: &Violation| matches!(v, Violation::BannedOpcode { name: n, .. } if n == name))
    };
    let no_code: Address = "0x00000000000000000000000000000000DeaDBeef".parse().unwrap();
    let cases: Vec<(u8, Matcher, &str)> = vec![
        (1, banned("TIMESTAMP"), "TIMESTAMP"),
        (2, banned("NUMBER"), "NUMBER"),
        (3, Box::new(|v| matches!(v, Violation::Storage { action, .. } if action == "reads")), "unassociated read"),
        (4, Box::new(|v| matches!(v, Violation::Storage { action, .. } if action == "writes")), "unassociated write"),
        (5, Box::new(|v| matches!(v, Violation::GasNotFollowedByCall { .. })), "GAS"),
        (
            6,
            Box::new(|v| matches!(v, Violation::EntryPointCall { selector, .. } if selector == "0x35567e1a")),
            "getNonce",
        ),
        (7, Box::new(|v| matches!(v, Violation::UnstakedBalance { .. })), "BALANCE"),
        (8, Box::new(|v| matches!(v, Violation::ValueCall { value, .. } if *value == U256::from(1))), "value call"),
        (9, Box::new(|v| matches!(v, Violation::Create { .. })), "CREATE"),
        (10, banned("ORIGIN"), "ORIGIN"),
        (
            11,
            Box::new(move |v| matches!(v, Violation::NoCode { target, .. } if *target == no_code)),
            "call without code",
        ),
    ];
    for (mode, matches, what) in cases {
        let (v, _, _) = judge(&chain, &m, &breaker_op(&m, account, 0, mode)).await;
        assert!(!v.is_empty(), "mode {mode} ({what}) not flagged");
        assert!(v.iter().all(|x| violation_entity(x) == Entity::Account), "mode {mode}: {v:?}");
        assert!(v.iter().any(matches), "mode {mode} ({what}): got {v:?}");
    }
    // The violations carry ERC-7769's opcode/storage rejection code and a readable message.
    let (v, _, _) = judge(&chain, &m, &breaker_op(&m, account, 0, 1)).await;
    assert_eq!(v[0].code(), -32502);
    assert!(v[0].to_string().contains("TIMESTAMP") && v[0].to_string().contains("OP-011"), "{}", v[0]);
}

// ------------------------------------------------------------------ in the bundler's admission

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("keyward-erc7562-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn bundler_refuses_rule_breaking_ops_with_32502_and_accepts_clean_ones(backend: Backend) {
    use keyward_bundler::Submission;
    use keyward_bundler::validation::validate_user_op;
    use keyward_bundler::{Bundler, BundlerConfig, RejectReason, ValidationConfig};

    let (_chain, m) = setup(backend).await;
    let dir = temp_dir(&format!("admission-{backend:?}"));
    let store = keyward_store::Store::open_sqlite_file(&dir).await.unwrap();
    let bundler = Bundler::new(m.h.chain.clone(), store, m.h.keys[9].clone(), BundlerConfig::default()).await.unwrap();
    bundler.set_mode(keyward_bundler::BundlingMode::Manual);
    let rpc = Submission::new;

    // A session op with every hook kind: accepted.
    let a = m.account(eth(1)).await;
    let to = Address::repeat_byte(0x16);
    let s = m.session(&a, 5, session_perms(to), m.now().await + 3600).await;
    let mut op = m.session_op(&a, &s, &execute(to, milli(1), Bytes::new())).await;
    m.sign_session(&s, &mut op);
    bundler.add(rpc(op), m.h.ep).await.expect("a clean session op is accepted");

    // TIMESTAMP in validation: refused with -32502 and the rule in the message, not stored.
    let breaker = rule_breaker(&m).await;
    let op = breaker_op(&m, breaker, 0, 1);
    let e = bundler.add(rpc(op.clone()), m.h.ep).await.unwrap_err();
    assert!(matches!(e, RejectReason::RuleViolation(_)), "{e:?}");
    assert_eq!(reject_code(&e), -32502);
    assert!(e.to_string().contains("TIMESTAMP") && e.to_string().contains("OP-011"), "{e}");
    let rpc_err = keyward_server::bundler::rpc_error(e);
    assert_eq!(rpc_err.code(), -32502);
    let hash = op.hash(m.h.ep, m.chain_id);
    assert!(bundler.store().get_user_op(m.chain_id, m.h.ep, hash).await.unwrap().is_none(), "nothing stored");
    // An unassociated storage write: refused the same way.
    let e = bundler.add(rpc(breaker_op(&m, breaker, 0, 4)), m.h.ep).await.unwrap_err();
    assert_eq!(reject_code(&e), -32502, "{e}");
    assert!(e.to_string().contains("STO-"), "{e}");
    // The same TIMESTAMP op passes validation with the rules off: the refusal is the rule check.
    let chain_dyn: &dyn Chain = m.h.chain.as_ref();
    let off = ValidationConfig { erc7562: false, ..ValidationConfig::default() };
    validate_user_op(chain_dyn, &off, &op).await.expect("valid apart from ERC-7562");
    let on = ValidationConfig::default();
    assert_eq!(reject_code(&validate_user_op(chain_dyn, &on, &op).await.unwrap_err()), -32502);
    // The clean mode of the same account is accepted by the service.
    bundler.add(rpc(breaker_op(&m, breaker, 0, 0)), m.h.ep).await.expect("clean mode accepted");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Admission through a `Bundler` on `backend` of the rule breaker's storage modes (3: an
/// unassociated read, 4: an unassociated write): each refusal's message and JSON-RPC code.
async fn storage_rule_refusals(backend: Backend) -> Vec<(String, i32)> {
    use keyward_bundler::{Bundler, BundlerConfig, RejectReason, Submission};

    let (_chain, m) = setup(backend).await;
    let dir = temp_dir(&format!("storage-{backend:?}"));
    let store = keyward_store::Store::open_sqlite_file(&dir).await.unwrap();
    let bundler = Bundler::new(m.h.chain.clone(), store, m.h.keys[9].clone(), BundlerConfig::default()).await.unwrap();
    bundler.set_mode(keyward_bundler::BundlingMode::Manual);
    let breaker = rule_breaker(&m).await;
    let mut refusals = Vec::new();
    for mode in [3, 4] {
        let op = breaker_op(&m, breaker, 0, mode);
        let e = bundler.add(Submission::new(op.clone()), m.h.ep).await.unwrap_err();
        assert!(matches!(e, RejectReason::RuleViolation(_)), "{backend:?} mode {mode}: {e:?}");
        let hash = op.hash(m.h.ep, m.chain_id);
        assert!(bundler.store().get_user_op(m.chain_id, m.h.ep, hash).await.unwrap().is_none(), "nothing stored");
        refusals.push((e.to_string(), reject_code(&e)));
    }
    // The clean mode of the same account is admitted: the refusals are the storage rules.
    bundler.add(Submission::new(breaker_op(&m, breaker, 0, 0)), m.h.ep).await.expect("clean mode accepted");
    std::fs::remove_dir_all(&dir).unwrap();
    refusals
}

#[tokio::test]
async fn a_bundler_over_anvil_refuses_a_storage_rule_breaking_op_as_the_embedded_chain_does() {
    let embedded = storage_rule_refusals(Backend::Embedded).await;
    let anvil = storage_rule_refusals(Backend::Anvil).await;
    for (message, code) in &anvil {
        assert_eq!(*code, -32502, "{message}");
        assert!(message.contains("STO-"), "{message}");
    }
    assert!(anvil[0].0.contains("reads") && anvil[1].0.contains("writes"), "{anvil:?}");
    // Same contracts at the same addresses on both: the same refusal, word for word.
    assert_eq!(anvil, embedded);
}

// ------------------------------------------------------------------ cost on a node

#[tokio::test]
async fn one_traced_validation_on_anvil_costs_tens_of_requests_cold_and_one_warm() {
    use keyward_chain::RpcChain;
    use std::time::Instant;

    let (_chain, m) = setup(Backend::Anvil).await;
    let a = m.account(eth(1)).await;
    let to = Address::repeat_byte(0x19);
    let s = m.session(&a, 5, session_perms(to), m.now().await + 3600).await;
    let mut op = m.session_op(&a, &s, &execute(to, milli(1), Bytes::new())).await;
    m.sign_session(&s, &mut op);
    // A chain of its own: an empty cache and its own request counts.
    let rpc = RpcChain::connect(m.h.anvil_url().unwrap()).unwrap();
    let mut runs = Vec::new();
    for _ in 0..2 {
        let before = rpc.remote_stats();
        let started = Instant::now();
        let (result, trace) = trace_validation_on(&rpc, m.h.ep, op.pack()).await.unwrap();
        runs.push((rpc.remote_stats().since(&before), started.elapsed(), result, trace));
    }
    let (cold, warm) = (&runs[0], &runs[1]);
    for (name, (stats, elapsed, _, trace)) in [("cold", cold), ("warm", warm)] {
        println!(
            "{name}: {} node requests ({stats:?}), {:.1} ms, {} frames, {} storage accesses",
            stats.requests(),
            elapsed.as_secs_f64() * 1000.0,
            trace.frames.len(),
            trace.storage.len()
        );
    }
    // Cold: the head, the chain id, and each account and slot the validation touched, once.
    assert_eq!((cold.0.heads, cold.0.chain_ids), (1, 1));
    assert!(cold.0.accounts >= 4 && cold.0.slots >= 10, "{:?}", cold.0);
    let distinct_slots: std::collections::HashSet<_> = cold.3.storage.iter().map(|s| (s.address, s.slot)).collect();
    assert!(cold.0.slots <= distinct_slots.len() as u64, "a slot fetched twice: {:?}", cold.0);
    assert!(cold.0.requests() < 200, "{:?}", cold.0);
    // Warm, at the same block: only the head is asked for; the result is the same.
    assert_eq!(warm.0.requests(), 1, "{:?}", warm.0);
    assert_eq!((&warm.2, &warm.3), (&cold.2, &cold.3));
    // A new block drops the cache: the next validation reads the state again.
    m.fund(Address::repeat_byte(0x1a), U256::from(1)).await;
    let before = rpc.remote_stats();
    trace_validation_on(&rpc, m.h.ep, op.pack()).await.unwrap();
    assert!(rpc.remote_stats().since(&before).slots >= 10, "the cache survived a new block");
}

/// Each case on a fresh embedded chain and on a fresh anvil through `RpcChain`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $( #[tokio::test] async fn $name() { super::$name(super::Backend::Embedded).await; } )*
        }
        mod anvil {
            $( #[tokio::test] async fn $name() { super::$name(super::Backend::Anvil).await; } )*
        }
    };
}

on_both_backends!(
    r22_owner_op_on_a_deployed_account_follows_erc7562,
    r22_counterfactual_deploy_through_the_factory_follows_erc7562,
    r22_session_with_time_range_allowlist_and_gas_limit_hooks_follows_erc7562,
    r22_deferred_install_in_the_first_op_follows_erc7562,
    r22_session_with_paymaster_guard_follows_erc7562,
    r22_modular_account_creation_and_owner_op_follow_erc7562,
    r22_eip7702_delegated_eoa_owner_and_session_ops_follow_erc7562,
    r22_rule_breaking_validation_is_flagged_by_the_rule_it_breaks,
    bundler_refuses_rule_breaking_ops_with_32502_and_accepts_clean_ones,
);
