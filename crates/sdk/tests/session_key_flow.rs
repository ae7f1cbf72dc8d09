//! The low-level session-key path against a `keyward dev` in process: the owner's counterfactual
//! account, a session key installed by an ordinary owner user operation, the session key
//! reconnected to the same address sending value, hooks enforced, uninstall, and the refusals
//! that must come from validation (the bundler), not from the client.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

mod common;

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::sol_types::SolCall;
use keyward_contracts::bindings::AccountFactory;
use keyward_primitives::entry_point::IEntryPoint;
use keyward_primitives::mav2::abi::{Call, EXECUTE_USER_OP_SELECTOR};
use keyward_primitives::mav2::modules::allow_target;
use keyward_sdk::modular_account::{GasOverrides, SessionKeyConnection, SessionKeyValidation};
use keyward_sdk::{AccountError, BundlerClient, BundlerClientError, ModularAccount, SignerEntity};

use common::{Dev, ETH};

/// ERC-7769 signature-validation failure.
const SIGNATURE_FAILURE: i32 = -32507;
/// ERC-7769 simulation failure (`FailedOp`).
const SIMULATION_FAILURE: i32 = -32500;

fn call(target: Address, value: u128) -> Call {
    Call { target, value: U256::from(value), data: Bytes::new() }
}

fn rpc_code(e: &AccountError) -> Option<i32> {
    match e {
        AccountError::Bundler(b) => b.code(),
        _ => None,
    }
}

/// Balance plus EntryPoint deposit (the EntryPoint refunds unused prefund to the deposit).
async fn funds(client: &BundlerClient, account: Address) -> U256 {
    let data = IEntryPoint::balanceOfCall { account }.abi_encode();
    let out = client.call(client.entry_point(), data.into(), "balanceOf").await.unwrap();
    let deposit = IEntryPoint::balanceOfCall::abi_decode_returns(&out).unwrap();
    client.balance(account).await.unwrap() + deposit
}

/// `eth_estimateUserOperationGas` refusing an op whose execution reverts.
const EXECUTION_REVERTED: i32 = -32521;

/// Over a module's remaining budget: the SDK's estimating path is refused (-32521, naming the
/// module's error), and the same calls sent with explicit gas are included and revert onchain.
async fn over_budget_reverts_onchain(
    client: &BundlerClient,
    sk: &ModularAccount<alloy::signers::local::PrivateKeySigner>,
    calls: Vec<Call>,
    module_error: &str,
) {
    let err = sk.send_calls(client, calls.clone()).await.unwrap_err();
    assert_eq!(rpc_code(&err), Some(EXECUTION_REVERTED), "{err}");
    assert!(err.to_string().contains(module_error), "estimation names {module_error}: {err}");
    let data = sk.encode_calls(client, calls).await.unwrap();
    let op = sk.build_user_operation(client, data, fixed_gas()).await.unwrap();
    let hash = client.send_user_operation(&op).await.unwrap();
    assert!(!client.wait_for_receipt(hash).await.unwrap().success, "the execution hook reverts it onchain");
}

fn fixed_gas() -> GasOverrides {
    GasOverrides {
        call_gas_limit: Some(300_000),
        verification_gas_limit: Some(600_000),
        pre_verification_gas: Some(U256::from(60_000)),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_address_is_the_factorys_and_the_first_op_deploys_it() {
    let dev = Dev::start("address").await;
    let client = dev.client();
    for salt in [U256::ZERO, U256::from(1), U256::from(u64::MAX) * U256::from(977)] {
        let owner = Dev::key();
        let account = ModularAccount::owner(owner.clone(), salt, dev.chain_id, dev.contracts);
        let view = AccountFactory::getAddressSemiModularCall { owner_: owner.address(), salt }.abi_encode();
        let out = client.call(dev.contracts.factory, view.into(), "getAddressSemiModular").await.unwrap();
        let from_factory = AccountFactory::getAddressSemiModularCall::abi_decode_returns(&out).unwrap();
        assert_eq!(account.address(), from_factory, "local CREATE2 prediction = factory view (salt {salt})");
        let factory = account.factory_args().unwrap();
        assert_eq!(factory.factory, dev.contracts.factory);
        assert_eq!(
            factory.factory_data,
            Bytes::from(AccountFactory::createSemiModularAccountCall { owner_: owner.address(), salt }.abi_encode())
        );
    }

    // The first owner op carries initCode and deploys the account where predicted.
    let owner = Dev::key();
    let account = ModularAccount::owner(owner, U256::ZERO, dev.chain_id, dev.contracts);
    dev.fund(account.address(), 2 * ETH).await;
    assert!(!account.is_deployed(&client).await.unwrap());
    let recipient = Address::with_last_byte(0x71);
    let receipt = account.send_calls(&client, vec![call(recipient, ETH / 10)]).await.unwrap();
    assert!(receipt.success, "owner op executed");
    assert!(account.is_deployed(&client).await.unwrap());
    assert_eq!(client.balance(recipient).await.unwrap(), U256::from(ETH / 10));
    // Owner key 0x01: sequence 1 now.
    assert_eq!(account.get_nonce(&client).await.unwrap(), U256::from(1) << 64 | U256::from(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_key_installed_by_the_owner_sends_one_eth_from_the_same_account() {
    let dev = Dev::start("flow").await;
    let client = dev.client();
    let owner = ModularAccount::owner(Dev::key(), U256::ZERO, dev.chain_id, dev.contracts);
    dev.fund(owner.address(), 5 * ETH).await;

    // Owner op: deploys the account and installs the session key (entity 1, global).
    let session_key = Dev::key();
    let session = SessionKeyValidation::new(1, session_key.address()).global(true);
    let install = owner.encode_install_session_key(&session).unwrap();
    let hash = owner.send_user_operation(&client, install.clone()).await.unwrap();
    let receipt = client.wait_for_receipt(hash).await.unwrap();
    assert!(receipt.success, "install op executed");
    let included = client.user_operation_by_hash(hash).await.unwrap().unwrap().user_operation;
    assert_eq!(included.call_data, install, "installValidation is the op's callData, unwrapped");
    assert!(included.factory.is_some(), "first op deployed the account");

    // Reconnect as the session key to the same address.
    let connection = SessionKeyConnection {
        account_address: owner.address(),
        signer_entity: SignerEntity::new(1, true),
        factory_args: None,
    };
    let sk = ModularAccount::session_key(session_key, connection, dev.chain_id, dev.contracts).unwrap();
    assert_eq!(sk.address(), owner.address());
    let recipient = Address::with_last_byte(0x72);
    let before = funds(&client, owner.address()).await;
    let receipt = sk.send_calls(&client, vec![call(recipient, ETH)]).await.unwrap();
    assert!(receipt.success);
    assert_eq!(receipt.sender, owner.address());
    assert_eq!(client.balance(recipient).await.unwrap(), U256::from(ETH), "1 ETH arrived");
    let after = funds(&client, owner.address()).await;
    assert_eq!(before - after, U256::from(ETH) + receipt.actual_gas_cost, "account paid 1 ETH + gas");
    // Its nonce used key (entity 1 << 8 | global) = 0x101, sequence 0.
    assert_eq!(receipt.nonce, U256::from(0x101) << 64);
    assert_eq!(sk.get_nonce(&client).await.unwrap(), (U256::from(0x101) << 64) | U256::from(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scoped_session_with_hooks_is_enforced_and_uninstall_stops_it() {
    let dev = Dev::start("hooks").await;
    let client = dev.client();
    let owner = ModularAccount::owner(Dev::key(), U256::ZERO, dev.chain_id, dev.contracts);
    dev.fund(owner.address(), 10 * ETH).await;
    let allowed = Address::with_last_byte(0x73);
    let other = Address::with_last_byte(0x74);
    let now = dev.mav2.now().await;

    let session_key = Dev::key();
    let session = SessionKeyValidation::new(7, session_key.address())
        .time_range(now + 3_600, 0)
        .native_token_limit(U256::from(ETH / 2))
        .gas_limit(U256::from(ETH))
        .allowlist(vec![allow_target(allowed)]);
    let install_args = session.to_install(&dev.contracts.modules).unwrap();
    let receipt = owner.send_calls(&client, vec![]).await;
    // An empty batch is a valid owner op too; it deploys the account first.
    assert!(receipt.unwrap().success);
    // Estimated by the bundler: the install can run only once, and estimation reads the op's own
    // execution outcome rather than replaying it.
    let install_gas = GasOverrides::default();
    let op = owner
        .build_user_operation(&client, owner.encode_install_validation(&install_args), install_gas.clone())
        .await
        .unwrap();
    let hash = client.send_user_operation(&op).await.unwrap();
    assert!(client.wait_for_receipt(hash).await.unwrap().success);

    let connection = SessionKeyConnection {
        account_address: owner.address(),
        signer_entity: SignerEntity::new(7, false),
        factory_args: None,
    };
    let sk = ModularAccount::session_key(session_key, connection, dev.chain_id, dev.contracts).unwrap();
    assert!(sk.has_execution_hooks(&client).await.unwrap(), "value limit is an execution hook");
    let data = sk.encode_calls(&client, vec![call(allowed, 1)]).await.unwrap();
    assert_eq!(&data[..4], &EXECUTE_USER_OP_SELECTOR[..], "executeUserOp prefix");

    // In scope: 0.3 ETH to the allowed target.
    let r = sk.send_calls(&client, vec![call(allowed, 3 * ETH / 10)]).await.unwrap();
    assert!(r.success);
    // Out of the allowlist: refused in validation.
    let err = sk.send_calls(&client, vec![call(other, 1)]).await.unwrap_err();
    assert_eq!(rpc_code(&err), Some(SIMULATION_FAILURE), "{err}");
    assert!(err.to_string().contains("AA23"), "allowlist hook reverts validation: {err}");
    // Over the value budget (0.2 ETH left): the execution reverts.
    over_budget_reverts_onchain(&client, &sk, vec![call(allowed, 3 * ETH / 10)], "94c58c94").await;
    assert_eq!(client.balance(allowed).await.unwrap(), U256::from(3 * ETH / 10));

    // Owner uninstalls: the session key is refused at once.
    let uninstall = owner.encode_uninstall_validation(&install_args);
    let op = owner.build_user_operation(&client, uninstall, install_gas).await.unwrap();
    let hash = client.send_user_operation(&op).await.unwrap();
    assert!(client.wait_for_receipt(hash).await.unwrap().success);
    let op = sk
        .build_user_operation(&client, sk.encode_execute(allowed, U256::from(1), Bytes::new(), false), fixed_gas())
        .await
        .unwrap();
    let err = client.send_user_operation(&op).await.unwrap_err();
    assert_eq!(err.code(), Some(SIMULATION_FAILURE), "refused after uninstall: {err}");
}

/// Installs a global session for `key` under `entity_id` on a fresh, funded, deployed account.
async fn account_with_session(
    dev: &Dev,
    key: &alloy::signers::local::PrivateKeySigner,
    entity_id: u32,
) -> ModularAccount<alloy::signers::local::PrivateKeySigner> {
    let client = dev.client();
    let owner = ModularAccount::owner(Dev::key(), U256::ZERO, dev.chain_id, dev.contracts);
    dev.fund(owner.address(), 5 * ETH).await;
    let session = SessionKeyValidation::new(entity_id, key.address()).global(true);
    let hash = owner.send_user_operation(&client, owner.encode_install_session_key(&session).unwrap()).await.unwrap();
    assert!(client.wait_for_receipt(hash).await.unwrap().success);
    owner
}

async fn session_send_error(
    dev: &Dev,
    key: alloy::signers::local::PrivateKeySigner,
    account: Address,
    entity_id: u32,
) -> BundlerClientError {
    let client = dev.client();
    let connection = SessionKeyConnection {
        account_address: account,
        signer_entity: SignerEntity::new(entity_id, true),
        factory_args: None,
    };
    let sk = ModularAccount::session_key(key, connection, dev.chain_id, dev.contracts)
        .expect("the client accepts any entity");
    let data = sk.encode_execute(Address::with_last_byte(0x75), U256::from(1), Bytes::new(), false);
    let op = sk.build_user_operation(&client, data, fixed_gas()).await.expect("the client builds and signs it");
    client.send_user_operation(&op).await.expect_err("validation refuses it")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_entity_id_or_another_account_is_refused_by_validation() {
    let dev = Dev::start("refusals").await;
    let key_a = Dev::key();
    let key_b = Dev::key();
    // Account 1: key A at entity 1, key B at entity 2. Account 2: key B at entity 1.
    let acc1 = account_with_session(&dev, &key_a, 1).await;
    let owner = acc1.clone();
    let client = dev.client();
    let s2 = SessionKeyValidation::new(2, key_b.address()).global(true);
    let hash = owner.send_user_operation(&client, owner.encode_install_session_key(&s2).unwrap()).await.unwrap();
    assert!(client.wait_for_receipt(hash).await.unwrap().success);
    let acc2 = account_with_session(&dev, &key_b, 1).await;

    // Key A under key B's entity id: SingleSigner at entity 2 recovers A ≠ B → signature failure.
    let e = session_send_error(&dev, key_a.clone(), acc1.address(), 2).await;
    assert_eq!(e.code(), Some(SIGNATURE_FAILURE), "{e}");
    // Key A on account 2, whose entity 1 is key B's → signature failure.
    let e = session_send_error(&dev, key_a.clone(), acc2.address(), 1).await;
    assert_eq!(e.code(), Some(SIGNATURE_FAILURE), "{e}");
    // Key A under an entity id never installed: the account has no such validation.
    let e = session_send_error(&dev, key_a.clone(), acc1.address(), 9).await;
    assert_eq!(e.code(), Some(SIMULATION_FAILURE), "{e}");
    assert!(e.to_string().contains("AA23") || e.to_string().contains("AA24"), "{e}");
    // The right entity on the right account works.
    let connection = SessionKeyConnection {
        account_address: acc1.address(),
        signer_entity: SignerEntity::new(1, true),
        factory_args: None,
    };
    let sk = ModularAccount::session_key(key_a, connection, dev.chain_id, dev.contracts).unwrap();
    assert!(sk.send_calls(&client, vec![call(Address::with_last_byte(0x75), 1)]).await.unwrap().success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_key_with_owner_factory_args_must_target_that_account() {
    let dev = Dev::start("factoryargs").await;
    let owner = ModularAccount::owner(Dev::key(), U256::ZERO, dev.chain_id, dev.contracts);
    let other = ModularAccount::owner(Dev::key(), U256::ZERO, dev.chain_id, dev.contracts);
    let connection = SessionKeyConnection {
        account_address: owner.address(),
        signer_entity: SignerEntity::new(1, true),
        factory_args: other.factory_init(),
    };
    let err = ModularAccount::session_key(Dev::key(), connection, dev.chain_id, dev.contracts).unwrap_err();
    assert!(
        matches!(err, AccountError::FactoryArgsForOtherAccount { account, deploys } if account == owner.address() && deploys == other.address())
    );
    // Not deployed and no factory args: a clear client error before anything is sent.
    let connection = SessionKeyConnection {
        account_address: owner.address(),
        signer_entity: SignerEntity::new(1, true),
        factory_args: None,
    };
    let sk = ModularAccount::session_key(Dev::key(), connection, dev.chain_id, dev.contracts).unwrap();
    let err = sk.build_user_operation(&dev.client(), Bytes::new(), fixed_gas()).await.unwrap_err();
    assert!(matches!(err, AccountError::NotDeployed(a) if a == owner.address()));
    let _ = B256::ZERO;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferred_grant_deploys_installs_and_sends_in_the_session_keys_first_op() {
    let dev = Dev::start("deferred").await;
    let client = dev.client();
    // The owner never sends an op: the account is counterfactual, only funded.
    let owner = ModularAccount::owner(Dev::key(), U256::ZERO, dev.chain_id, dev.contracts);
    dev.fund(owner.address(), 3 * ETH).await;
    assert!(!owner.is_deployed(&client).await.unwrap());

    // Scoped session at entity 5: execute/executeBatch to one target, 1.5 ETH value budget.
    let session_key = Dev::key();
    let recipient = Address::with_last_byte(0x76);
    let session = SessionKeyValidation::new(5, session_key.address())
        .native_token_limit(U256::from(3 * ETH / 2))
        .allowlist(vec![allow_target(recipient)]);
    let install = session.to_install(&dev.contracts.modules).unwrap();
    let deadline = dev.mav2.now().await + 3_600;
    let grant = owner.grant_deferred_install(&install, false, deadline, U256::ZERO, 0).await.unwrap();

    let connection = SessionKeyConnection {
        account_address: owner.address(),
        signer_entity: SignerEntity::new(5, false),
        factory_args: owner.factory_init(),
    };
    let sk = ModularAccount::session_key(session_key, connection, dev.chain_id, dev.contracts)
        .unwrap()
        .with_deferred_action(grant.clone())
        .unwrap();
    assert_eq!(sk.pending_grant(&client).await.unwrap(), Some(&grant));
    let first = sk.send_calls(&client, vec![call(recipient, ETH)]).await.unwrap();
    assert!(first.success, "deploy + install + transfer in one op");
    assert_eq!(first.nonce, grant.nonce, "the grant's nonce (entity 5, deferred option)");
    assert!(sk.is_deployed(&client).await.unwrap());
    assert_eq!(client.balance(recipient).await.unwrap(), U256::from(ETH));
    let sent = client.user_operation_by_hash(first.user_op_hash).await.unwrap().unwrap().user_operation;
    assert!(sent.factory.is_some(), "the owner's factory args deployed the account");
    assert_eq!(&sent.call_data[..4], &EXECUTE_USER_OP_SELECTOR[..], "execution hook ⇒ executeUserOp prefix");

    // The grant is used: later ops use the plain key, and the installed hooks hold.
    assert_eq!(sk.pending_grant(&client).await.unwrap(), None);
    let second = sk.send_calls(&client, vec![call(recipient, ETH / 4)]).await.unwrap();
    assert!(second.success);
    assert_eq!(second.nonce, U256::from(0x500) << 64, "entity 5, scoped, sequence 0 of the plain key");
    // 0.25 ETH left of the 1.5 ETH budget.
    over_budget_reverts_onchain(&client, &sk, vec![call(recipient, ETH / 2)], "94c58c94").await;
    assert_eq!(client.balance(recipient).await.unwrap(), U256::from(5 * ETH / 4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paymaster_guarded_session_is_sponsored_by_its_paymaster_only() {
    let dev = Dev::start("paymaster").await;
    let client = dev.client();
    let pm = dev.mav2.test_paymaster().await;
    let other_pm = dev.mav2.test_paymaster().await;
    let owner = ModularAccount::owner(Dev::key(), U256::ZERO, dev.chain_id, dev.contracts);
    dev.fund(owner.address(), 2 * ETH).await;
    let session_key = Dev::key();
    let session = SessionKeyValidation::new(2, session_key.address()).global(true).paymaster_guard(pm);
    let install_gas = GasOverrides::default();
    let install = owner.encode_install_session_key(&session).unwrap();
    let op = owner.build_user_operation(&client, install, install_gas).await.unwrap();
    let hash = client.send_user_operation(&op).await.unwrap();
    assert!(client.wait_for_receipt(hash).await.unwrap().success);

    let connection = SessionKeyConnection {
        account_address: owner.address(),
        signer_entity: SignerEntity::new(2, true),
        factory_args: None,
    };
    let sk = ModularAccount::session_key(session_key, connection, dev.chain_id, dev.contracts).unwrap();
    let recipient = Address::with_last_byte(0x77);
    let data = sk.encode_execute(recipient, U256::from(ETH / 10), Bytes::new(), false);
    let sponsored = |paymaster: Address| GasOverrides {
        paymaster: Some(keyward_primitives::PaymasterInit {
            paymaster,
            verification_gas_limit: 0,
            post_op_gas_limit: 0,
            data: Bytes::new(),
        }),
        ..Default::default()
    };

    // Its paymaster: estimated (paymaster limits filled in), included, the account pays no gas.
    let before = funds(&client, owner.address()).await;
    let op = sk.build_user_operation(&client, data.clone(), sponsored(pm)).await.unwrap();
    let p = op.paymaster.as_ref().unwrap();
    assert!(p.verification_gas_limit > 0 && p.post_op_gas_limit > 0, "paymaster gas estimated: {p:?}");
    let hash = client.send_user_operation(&op).await.unwrap();
    let receipt = client.wait_for_receipt(hash).await.unwrap();
    assert!(receipt.success);
    assert_eq!(receipt.paymaster, pm);
    assert_eq!(before - funds(&client, owner.address()).await, U256::from(ETH / 10), "only the value left the account");

    // Without a paymaster, or with another one: refused by the guard hook in validation.
    for overrides in [fixed_gas(), GasOverrides { paymaster: sponsored(other_pm).paymaster, ..fixed_gas() }] {
        let mut overrides = overrides;
        if let Some(p) = overrides.paymaster.as_mut() {
            p.verification_gas_limit = 100_000;
            p.post_op_gas_limit = 100_000;
        }
        let op = sk.build_user_operation(&client, data.clone(), overrides).await.unwrap();
        let err = client.send_user_operation(&op).await.unwrap_err();
        assert_eq!(err.code(), Some(SIMULATION_FAILURE), "{err}");
        assert!(err.to_string().contains("AA23"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erc20_spend_limit_session_spends_up_to_its_limit_across_a_batch() {
    use keyward_contracts::bindings::TestToken;
    use keyward_primitives::mav2::modules::allow_selectors;
    let dev = Dev::start("erc20").await;
    let client = dev.client();
    let owner = ModularAccount::owner(Dev::key(), U256::ZERO, dev.chain_id, dev.contracts);
    dev.fund(owner.address(), 2 * ETH).await;
    let token = dev.mav2.token(owner.address(), U256::from(1_000)).await;

    // transfer/approve on the token only, with a lifetime limit of 100 units (the PermissionBuilder
    // shape of erc20-token-transfer: allowlist validation hook E + allowlist execution hook E').
    let session_key = Dev::key();
    let transfer_sel = TestToken::transferCall::SELECTOR.into();
    let approve_sel = TestToken::approveCall::SELECTOR.into();
    let session = SessionKeyValidation::new(4, session_key.address())
        .erc20_spend_limits([(token, U256::from(100))])
        .allowlist(vec![allow_selectors(token, vec![approve_sel, transfer_sel])]);
    let install = session.to_install(&dev.contracts.modules).unwrap();
    assert_eq!(install.hooks[0].config.entity.entity_id, 4 + 0x7fff_ffff, "ERC-20 limit on the offset id");
    let install_gas = GasOverrides::default();
    let op = owner.build_user_operation(&client, owner.encode_install_validation(&install), install_gas).await.unwrap();
    let hash = client.send_user_operation(&op).await.unwrap();
    assert!(client.wait_for_receipt(hash).await.unwrap().success);

    let connection = SessionKeyConnection {
        account_address: owner.address(),
        signer_entity: SignerEntity::new(4, false),
        factory_args: None,
    };
    let sk = ModularAccount::session_key(session_key, connection, dev.chain_id, dev.contracts).unwrap();
    let to = Address::with_last_byte(0x78);
    let transfer = |amount: u64| Call {
        target: token,
        value: U256::ZERO,
        data: TestToken::transferCall { to, amount: U256::from(amount) }.abi_encode().into(),
    };
    // 60 + 40 in one batch: exactly the limit.
    let r = sk.send_calls(&client, vec![transfer(60), transfer(40)]).await.unwrap();
    assert!(r.success, "batch within the limit");
    assert_eq!(dev.mav2.token_balance(token, to).await, U256::from(100));
    // One more unit: the execution hook reverts it.
    over_budget_reverts_onchain(&client, &sk, vec![transfer(1)], "a55ac877").await;
    assert_eq!(dev.mav2.token_balance(token, to).await, U256::from(100));
    // Any other call (plain value to the token) is outside the allowlist: refused in validation.
    let err = sk.send_calls(&client, vec![call(token, 0)]).await.unwrap_err();
    assert_eq!(rpc_code(&err), Some(SIMULATION_FAILURE), "{err}");
}
