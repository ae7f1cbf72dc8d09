//! Custom permission modules through the low-level SDK, against a `keyward dev` in process: a
//! third party's hook module (the template `DailyCallLimitModule`) installed next to ours by the
//! owner and by a deferred grant, enforced onchain (through the bundler and straight to the
//! EntryPoint), uninstalled with its own data; a bad module (unassociated storage) refused by the
//! bundler with the ERC-7562 rule named; a session never calls its module; and a custom
//! validation module in place of SingleSigner with its own signature format.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

mod common;

use alloy::primitives::{Address, Bytes, U256, keccak256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolError, SolValue};
use keyward_contracts::artifacts;
use keyward_contracts::bindings::TestCounter;
use keyward_primitives::mav2::abi::Call;
use keyward_primitives::mav2::modules::{allow_target, entity_uninstall_data, single_signer_install_data};
use keyward_primitives::mav2::signature::{eoa_validation_data, user_op_signing_hash};
use keyward_sdk::modular_account::{
    CustomValidation, GasOverrides, SessionHook, SessionKeyConnection, SessionKeyValidation,
};
use keyward_sdk::{AccountError, BundlerClient, ModularAccount, SignerEntity};
use keyward_testkit::mav2::Outcome;

use common::{Dev, ETH};

alloy::sol! {
    interface IDailyCallLimit {
        function limits(uint32 entityId, address account) external view returns (address target, uint32 maxCallsPerDay);
        function callsLeftToday(uint32 entityId, address account) external view returns (uint256);
        error DailyCallLimitExceeded(address target, uint256 day, uint32 maxCallsPerDay);
    }
    interface IBadHook {
        function totalChecks() external view returns (uint256);
    }
}

/// `DailyCallLimitExceeded(address,uint256,uint32)`.
const LIMIT_EXCEEDED: [u8; 4] = IDailyCallLimit::DailyCallLimitExceeded::SELECTOR;
/// ERC-7769 code of an ERC-7562 opcode or storage rule violation.
const RULE_VIOLATION: i32 = -32502;
/// `eth_estimateUserOperationGas` refusing an op whose execution reverts.
const EXECUTION_REVERTED: i32 = -32521;

fn daily_limit_install(entity_id: u32, target: Address, max: u32) -> Bytes {
    (entity_id, target, max).abi_encode_params().into()
}

fn count_call(counter: Address) -> Call {
    Call { target: counter, value: U256::ZERO, data: TestCounter::countCall {}.abi_encode().into() }
}

fn fixed_gas() -> GasOverrides {
    GasOverrides {
        call_gas_limit: Some(300_000),
        verification_gas_limit: Some(900_000),
        pre_verification_gas: Some(U256::from(80_000)),
        ..Default::default()
    }
}

fn rpc_code(e: &AccountError) -> Option<i32> {
    match e {
        AccountError::Bundler(b) => b.code(),
        _ => None,
    }
}

struct Setup {
    dev: Dev,
    client: BundlerClient,
    module: Address,
    counter: Address,
}

async fn setup(name: &str) -> Setup {
    let dev = Dev::start(name).await;
    let client = dev.client();
    let module = dev.mav2.h.deploy(artifacts::custom_modules::daily_call_limit_module(), &[]).await;
    let counter = dev.mav2.h.deploy(artifacts::test_counter(), &[]).await;
    Setup { dev, client, module, counter }
}

fn session_key_account(
    s: &Setup,
    owner: &ModularAccount<PrivateKeySigner>,
    key: PrivateKeySigner,
    entity: SignerEntity,
    factory: bool,
) -> ModularAccount<PrivateKeySigner> {
    let connection = SessionKeyConnection {
        account_address: owner.address(),
        signer_entity: entity,
        factory_args: if factory { owner.factory_init() } else { None },
    };
    ModularAccount::session_key(key, connection, s.dev.chain_id, s.dev.contracts).unwrap()
}

/// Sends `calls` with fixed gas (no estimation) straight to the EntryPoint's `handleOps`.
async fn straight_to_entry_point(s: &Setup, sk: &ModularAccount<PrivateKeySigner>, calls: Vec<Call>) -> Outcome {
    let data = sk.encode_calls(&s.client, calls).await.unwrap();
    let op = sk.build_user_operation(&s.client, data, fixed_gas()).await.unwrap();
    s.dev.mav2.send(op).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_execution_hook_installs_next_to_ours_is_enforced_and_uninstalls_with_its_own_data() {
    let s = setup("custom-hook").await;
    let owner = ModularAccount::owner(Dev::key(), U256::ZERO, s.dev.chain_id, s.dev.contracts);
    s.dev.fund(owner.address(), 2 * ETH).await;

    // Scoped session at entity 1: our allowlist (the counter) + the template, 2 calls a day.
    let key = Dev::key();
    let session = SessionKeyValidation::new(1, key.address()).allowlist(vec![allow_target(s.counter)]).hook(
        SessionHook::custom_execution_hook(s.module, 1, daily_limit_install(1, s.counter, 2), entity_uninstall_data(1)),
    );
    let install = owner.encode_install_session_key(&session).unwrap();
    let hash = owner.send_user_operation(&s.client, install).await.unwrap();
    assert!(s.client.wait_for_receipt(hash).await.unwrap().success, "owner installs the session");
    let limit = s
        .dev
        .mav2
        .h
        .read(s.module, IDailyCallLimit::limitsCall { entityId: 1, account: owner.address() })
        .await
        .unwrap();
    assert_eq!((limit.target, limit.maxCallsPerDay), (s.counter, 2), "onInstall ran with the custom data");

    let sk = session_key_account(&s, &owner, key, SignerEntity::new(1, false), false);
    assert!(sk.has_execution_hooks(&s.client).await.unwrap(), "the custom hook is an execution hook");
    for _ in 0..2 {
        let r = sk.send_calls(&s.client, vec![count_call(s.counter)]).await.unwrap();
        assert!(r.success, "within today's limit");
    }
    // The third call today: estimation names the module's error, the op is refused onchain, through
    // the bundler and straight to the EntryPoint.
    let err = sk.send_calls(&s.client, vec![count_call(s.counter)]).await.unwrap_err();
    assert_eq!(rpc_code(&err), Some(EXECUTION_REVERTED), "{err}");
    assert!(err.to_string().contains(&alloy::hex::encode(LIMIT_EXCEEDED)), "{err}");
    let data = sk.encode_calls(&s.client, vec![count_call(s.counter)]).await.unwrap();
    let op = sk.build_user_operation(&s.client, data, fixed_gas()).await.unwrap();
    let hash = s.client.send_user_operation(&op).await.unwrap();
    assert!(!s.client.wait_for_receipt(hash).await.unwrap().success, "refused onchain by the hook");
    straight_to_entry_point(&s, &sk, vec![count_call(s.counter)]).await.reverted_with(LIMIT_EXCEEDED);
    // A batch of two calls counts as two (and our allowlist still refuses other targets).
    s.dev.mav2.advance(86_400).await;
    let batch = vec![count_call(s.counter), count_call(s.counter), count_call(s.counter)];
    straight_to_entry_point(&s, &sk, batch).await.reverted_with(LIMIT_EXCEEDED);
    let r = sk.send_calls(&s.client, vec![count_call(s.counter), count_call(s.counter)]).await.unwrap();
    assert!(r.success, "a new day, a new budget");
    let left = s
        .dev
        .mav2
        .h
        .read(s.module, IDailyCallLimit::callsLeftTodayCall { entityId: 1, account: owner.address() })
        .await
        .unwrap();
    assert_eq!(left, U256::ZERO);

    // Uninstall: the validation goes and the module's state is cleared with its own data.
    let uninstall = owner.encode_uninstall_session_key(&session).unwrap();
    let hash = owner.send_user_operation(&s.client, uninstall).await.unwrap();
    assert!(s.client.wait_for_receipt(hash).await.unwrap().success, "owner uninstalls the session");
    let limit = s
        .dev
        .mav2
        .h
        .read(s.module, IDailyCallLimit::limitsCall { entityId: 1, account: owner.address() })
        .await
        .unwrap();
    assert_eq!((limit.target, limit.maxCallsPerDay), (Address::ZERO, 0), "onUninstall cleared the module's state");
    let data = sk.encode_execute(s.counter, U256::ZERO, TestCounter::countCall {}.abi_encode().into(), false);
    let op = sk.build_user_operation(&s.client, data, fixed_gas()).await.unwrap();
    assert!(s.client.send_user_operation(&op).await.is_err(), "the session is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferred_grant_installs_a_custom_hook_in_the_session_keys_first_op() {
    let s = setup("custom-deferred").await;
    // The owner never sends an op: the account is counterfactual, only funded.
    let owner = ModularAccount::owner(Dev::key(), U256::ZERO, s.dev.chain_id, s.dev.contracts);
    s.dev.fund(owner.address(), 2 * ETH).await;
    let key = Dev::key();
    let session = SessionKeyValidation::new(5, key.address()).allowlist(vec![allow_target(s.counter)]).hook(
        SessionHook::custom_execution_hook(s.module, 5, daily_limit_install(5, s.counter, 1), entity_uninstall_data(5)),
    );
    let compiled = session.compile(&s.dev.contracts.modules).unwrap();
    let grant = owner.grant_deferred_session(&compiled, U256::ZERO, 0).await.unwrap();
    assert!(grant.has_execution_hooks, "the custom execution hook makes ops use executeUserOp");
    let sk = session_key_account(&s, &owner, key, SignerEntity::new(5, false), true)
        .with_deferred_action(grant.clone())
        .unwrap();
    // Deploy + install (the module's onInstall runs inside validation: the bundler's ERC-7562
    // checks accept its account-keyed storage) + the first call, in one op.
    let first = sk.send_calls(&s.client, vec![count_call(s.counter)]).await.unwrap();
    assert!(first.success, "deploy + install + call");
    assert_eq!(first.nonce, grant.nonce);
    let limit = s
        .dev
        .mav2
        .h
        .read(s.module, IDailyCallLimit::limitsCall { entityId: 5, account: owner.address() })
        .await
        .unwrap();
    assert_eq!((limit.target, limit.maxCallsPerDay), (s.counter, 1));
    // The second call today is refused onchain.
    straight_to_entry_point(&s, &sk, vec![count_call(s.counter)]).await.reverted_with(LIMIT_EXCEEDED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_module_is_refused_by_the_bundler_with_the_erc7562_rule_named() {
    let s = setup("custom-bad").await;
    let bad = s.dev.mav2.h.deploy(artifacts::custom_modules::test_unassociated_storage_hook(), &[]).await;
    let owner = ModularAccount::owner(Dev::key(), U256::ZERO, s.dev.chain_id, s.dev.contracts);
    s.dev.fund(owner.address(), 2 * ETH).await;
    let key = Dev::key();
    let uninstall = entity_uninstall_data(3);
    let session = SessionKeyValidation::new(3, key.address()).global(true).hook(SessionHook::custom_validation_hook(
        bad,
        3,
        entity_uninstall_data(3),
        uninstall,
    ));
    // Installing runs onInstall in the execution phase: no rule applies, it works.
    let install = owner.encode_install_session_key(&session).unwrap();
    let hash = owner.send_user_operation(&s.client, install).await.unwrap();
    assert!(s.client.wait_for_receipt(hash).await.unwrap().success);

    let sk = session_key_account(&s, &owner, key, SignerEntity::new(3, true), false);
    let recipient = Address::with_last_byte(0x99);
    let data = sk.encode_execute(recipient, U256::ZERO, Bytes::new(), false);
    let op = sk.build_user_operation(&s.client, data, fixed_gas()).await.unwrap();
    let err = s.client.send_user_operation(&op).await.unwrap_err();
    assert_eq!(err.code(), Some(RULE_VIOLATION), "{err}");
    let message = err.to_string();
    assert!(message.contains("ERC-7562") && message.contains("STO-010/021"), "rule named: {message}");
    assert!(message.contains(&bad.to_string()) || message.to_lowercase().contains(&bad.to_string().to_lowercase()));
    // The EntryPoint itself does not check ERC-7562: the same op sent straight to it executes.
    let before = s.dev.mav2.h.read(bad, IBadHook::totalChecksCall {}).await.unwrap();
    assert!(s.dev.mav2.send(op).await.is_success());
    assert_eq!(s.dev.mav2.h.read(bad, IBadHook::totalChecksCall {}).await.unwrap(), before + U256::from(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_never_calls_its_custom_module() {
    let s = setup("custom-target").await;
    let owner = ModularAccount::owner(Dev::key(), U256::ZERO, s.dev.chain_id, s.dev.contracts);
    s.dev.fund(owner.address(), 2 * ETH).await;
    let key = Dev::key();
    // Even with the module allowlisted, a scoped session may not call it (R18): it could rewrite
    // its own limit (onInstall is keyed by msg.sender = the account).
    let session = SessionKeyValidation::new(2, key.address())
        .allowlist(vec![allow_target(s.counter), allow_target(s.module)])
        .hook(SessionHook::custom_execution_hook(
            s.module,
            2,
            daily_limit_install(2, s.counter, 1),
            entity_uninstall_data(2),
        ));
    let install = owner.encode_install_session_key(&session).unwrap();
    let hash = owner.send_user_operation(&s.client, install).await.unwrap();
    assert!(s.client.wait_for_receipt(hash).await.unwrap().success);
    let sk = session_key_account(&s, &owner, key, SignerEntity::new(2, false), false);
    let rewrite = Call { target: s.module, value: U256::ZERO, data: daily_limit_install(2, s.counter, 1000) };
    let rewrite = Call {
        data: alloy::sol_types::SolCall::abi_encode(&IOnInstall::onInstallCall { data: rewrite.data }).into(),
        ..rewrite
    };
    let target_not_allowed: [u8; 4] = keccak256("TargetNotAllowed(address)")[..4].try_into().unwrap();
    let err = sk.send_calls(&s.client, vec![rewrite.clone()]).await.unwrap_err();
    assert!(err.to_string().contains(&alloy::hex::encode(target_not_allowed)), "{err}");
    straight_to_entry_point(&s, &sk, vec![rewrite]).await.rejected_with("AA23", Some(target_not_allowed));
}

alloy::sol! {
    interface IOnInstall {
        function onInstall(bytes data) external;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_validation_module_with_its_own_install_data_and_signature_format() {
    let s = setup("custom-validation").await;
    let owner = ModularAccount::owner(Dev::key(), U256::ZERO, s.dev.chain_id, s.dev.contracts);
    s.dev.fund(owner.address(), 2 * ETH).await;
    // Any validation module given explicitly (here SingleSigner, as a third party would give
    // theirs): its address, install and uninstall data, and its signature format.
    let key = Dev::key();
    let module = s.dev.contracts.modules.single_signer_validation;
    let custom = CustomValidation {
        module,
        install_data: single_signer_install_data(4, key.address()),
        uninstall_data: entity_uninstall_data(4),
    };
    let session = SessionKeyValidation::with_validation_module(4, custom)
        .allowlist(vec![allow_target(s.counter)])
        .hook(SessionHook::custom_execution_hook(
            s.module,
            4,
            daily_limit_install(4, s.counter, 5),
            entity_uninstall_data(4),
        ));
    let install = owner.encode_install_session_key(&session).unwrap();
    let hash = owner.send_user_operation(&s.client, install).await.unwrap();
    assert!(s.client.wait_for_receipt(hash).await.unwrap().success);

    // The signer's own validation data: 0x00 ‖ r s v here; a dummy that takes the same path.
    let dummy = Bytes::from([&[0u8][..], &[0x11; 64], &[0x1c]].concat());
    let sk = session_key_account(&s, &owner, PrivateKeySigner::random(), SignerEntity::new(4, false), false)
        .with_custom_validation_dummy(dummy);
    let data = sk.encode_calls(&s.client, vec![count_call(s.counter)]).await.unwrap();
    let mut op = sk.prepare_user_operation(&s.client, data, GasOverrides::default()).await.unwrap();
    let signature = key.sign_hash_sync(&user_op_signing_hash(sk.user_op_hash(&op))).unwrap();
    op.signature = sk.user_op_signature_with(op.nonce, &[], &eoa_validation_data(&signature)).unwrap();
    let hash = s.client.send_user_operation(&op).await.unwrap();
    assert!(s.client.wait_for_receipt(hash).await.unwrap().success, "signed in the module's format");

    let un = session.uninstall(&s.dev.contracts.modules).unwrap();
    assert_eq!(un.uninstall_data, entity_uninstall_data(4));
    let hash = owner.send_user_operation(&s.client, un.calldata()).await.unwrap();
    assert!(s.client.wait_for_receipt(hash).await.unwrap().success);
}
