//! Session keys through the API: the owner grants (typed data signed as the SDK does), the key
//! sends calls (first one installs the session by deferred action), every scoped permission
//! allowed and refused by the precheck naming it, onchain limits beyond the precheck, expiry,
//! idempotent createSession.

use alloy::primitives::{Address, Bytes, U256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use keyward_api::wallet::{
    Call, CreateSessionParams, Permission, PermissionsCapability, PrepareCallsCapabilities, PrepareCallsParams,
    PrepareCallsResult, SendCallsCapabilities, SessionKey, SessionSignatureRequest, StatusCode, WalletApiClient,
};
use keyward_contracts::bindings::{TestCounter, TestToken};

use crate::env::{ETH, Env, rpc_error, sign_prepared};

/// An owner, its deployed account, and a counter to call.
pub(crate) struct Owned {
    pub(crate) owner: PrivateKeySigner,
    pub(crate) account: Address,
}

pub(crate) async fn deployed_account(env: &Env) -> Owned {
    let owner = PrivateKeySigner::random();
    let r = env.request_account(owner.address()).await;
    env.fund(r.account_address, ETH).await;
    // Deployed by anyone calling the factory with the counterfactual info.
    let info = r.counterfactual_info.unwrap();
    let tx = alloy::rpc::types::TransactionRequest::default().to(info.factory_address).input(info.factory_data.into());
    assert!(env.h.send_tx(&env.h.keys[0], tx).await.unwrap().status());
    assert!(!env.h.chain.code(r.account_address).await.unwrap().is_empty());
    Owned { owner, account: r.account_address }
}

pub(crate) fn session_params(
    env: &Env,
    account: Address,
    key: Address,
    permissions: serde_json::Value,
    expiry: u64,
) -> CreateSessionParams {
    CreateSessionParams {
        account,
        chain_id: u32::try_from(env.chain_id).unwrap().into(),
        expiry_sec: (expiry > 0).then_some(expiry),
        key: SessionKey::Secp256k1(key),
        permissions: serde_json::from_value::<Vec<Permission>>(permissions).unwrap(),
    }
}

/// `wallet_createSession`, the owner's EIP-712 signature, and the context the SDK hands out.
pub(crate) async fn grant(env: &Env, o: &Owned, key: Address, permissions: serde_json::Value, expiry: u64) -> Bytes {
    let r = env.client.create_session(session_params(env, o.account, key, permissions, expiry)).await.unwrap();
    let SessionSignatureRequest::TypedData { data, raw_payload } = r.signature_request;
    // The SDK signs the typed data itself; its EIP-712 digest must be the rawPayload.
    let digest = data.signing_hash().unwrap();
    assert_eq!(digest, raw_payload);
    let sig = o.owner.sign_hash_sync(&digest).unwrap();
    let mut context = vec![0u8];
    context.extend_from_slice(r.session_id.0.as_slice());
    context.extend_from_slice(&sig.as_bytes());
    context.into()
}

/// A fresh session key granted `permissions` without expiry, and its context.
pub(crate) async fn new_key(env: &Env, o: &Owned, permissions: serde_json::Value) -> (PrivateKeySigner, Bytes) {
    let key = PrivateKeySigner::random();
    let context = grant(env, o, key.address(), permissions, 0).await;
    (key, context)
}

pub(crate) fn with_permissions(env: &Env, from: Address, calls: Vec<Call>, context: &Bytes) -> PrepareCallsParams {
    PrepareCallsParams {
        calls: Some(calls),
        from,
        chain_id: u32::try_from(env.chain_id).unwrap().into(),
        capabilities: Some(PrepareCallsCapabilities {
            permissions: Some(PermissionsCapability::Context { context: context.clone() }),
            ..Default::default()
        }),
        paymaster_permit_signature: None,
    }
}

/// Prepares, signs with `key` and sends; returns the final status.
pub(crate) async fn run(
    env: &Env,
    from: Address,
    calls: Vec<Call>,
    context: &Bytes,
    key: &PrivateKeySigner,
) -> StatusCode {
    let prepared = env.client.prepare_calls(with_permissions(env, from, calls, context)).await.unwrap();
    send(env, &prepared, context, key).await
}

/// Signs `prepared` with `key`, sends it with the permissions `context`; returns the final status.
pub(crate) async fn send(
    env: &Env,
    prepared: &PrepareCallsResult,
    context: &Bytes,
    key: &PrivateKeySigner,
) -> StatusCode {
    let mut send = sign_prepared(prepared, key);
    send.capabilities = Some(SendCallsCapabilities {
        permissions: Some(PermissionsCapability::Context { context: context.clone() }),
        paymaster_service: None,
    });
    let sent = env.client.send_prepared_calls(send).await.unwrap();
    env.wait(&sent.id).await.status
}

/// The JSON-RPC error of a prepare with the permissions `context`.
pub(crate) async fn prepare_error(env: &Env, from: Address, calls: Vec<Call>, context: &Bytes) -> (i32, String) {
    rpc_error(env.client.prepare_calls(with_permissions(env, from, calls, context)).await)
}

/// A call prepared with `context` but signed by the owner is refused: only `key` signs for it.
async fn owner_cannot_sign_for(env: &Env, o: &Owned, to: Address, context: &Bytes, key: &PrivateKeySigner) {
    let prepared =
        env.client.prepare_calls(with_permissions(env, o.account, vec![call(to, count(), 0)], context)).await.unwrap();
    let (code, message) = rpc_error(env.client.send_prepared_calls(sign_prepared(&prepared, &o.owner)).await);
    assert_eq!(code, -32602);
    assert!(message.contains(&format!("must be signed by {}", key.address())), "{message}");
}

/// The precheck's refusal: -32000 naming the permission.
async fn refused(env: &Env, from: Address, calls: Vec<Call>, context: &Bytes, permission: &str) {
    let before = env.counts().await;
    let (code, message) = prepare_error(env, from, calls, context).await;
    assert_eq!(code, -32000, "{message}");
    assert!(message.contains(&format!("the session's {permission} permission")), "{message}");
    assert_eq!(env.counts().await, before, "a refused prepare leaves no row");
}

/// A call within the precheck's static scope but beyond what the module has left: refused at
/// prepare by the simulation, naming the module's error (the onchain refusal itself is proved
/// with ops sent straight to the EntryPoint in crates/contracts-tests/tests/account_permissions.rs).
async fn beyond_onchain_limit(env: &Env, from: Address, calls: Vec<Call>, context: &Bytes, module_error: &str) {
    let (code, message) = prepare_error(env, from, calls, context).await;
    assert_eq!(code, -32000, "{message}");
    assert!(message.contains(module_error), "{message}");
}

pub(crate) fn call(to: Address, data: Vec<u8>, value: u64) -> Call {
    Call { to, data: Some(data.into()), value: (value > 0).then(|| U256::from(value).into()) }
}

pub(crate) fn count() -> Vec<u8> {
    TestCounter::countCall {}.abi_encode()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_session_on_a_counterfactual_account() {
    let env = Env::new().await;
    let owner = PrivateKeySigner::random();
    let account = env.new_account(&owner).await;
    let o = Owned { owner, account };
    let key = PrivateKeySigner::random();
    let counter = env.h.counter().await;
    let permissions = serde_json::json!([{ "type": "root" }]);
    let context = grant(&env, &o, key.address(), permissions.clone(), 0).await;
    // Retried createSession: the same session, one row.
    let first = env
        .client
        .create_session(session_params(&env, o.account, key.address(), permissions.clone(), 0))
        .await
        .unwrap();
    let again =
        env.client.create_session(session_params(&env, o.account, key.address(), permissions, 0)).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(first.session_id.0.as_slice(), &context[1..17]);
    assert_eq!(env.counts().await.sessions, 1);

    // First call: deploys the account, installs the session, counts. Then plain session calls.
    assert_eq!(run(&env, o.account, vec![call(counter, count(), 0)], &context, &key).await, StatusCode::Confirmed);
    assert!(!env.h.chain.code(o.account).await.unwrap().is_empty());
    assert_eq!(run(&env, o.account, vec![call(counter, count(), 7)], &context, &key).await, StatusCode::Confirmed);
    assert_eq!(env.h.read(counter, TestCounter::countOfCall(o.account)).await.unwrap(), U256::from(2));
    assert_eq!(env.h.balance(counter).await, U256::from(7));

    // The same session through `{sessionId, signature}` and through context 0x02 (installed key).
    let as_session = PermissionsCapability::Session {
        session_id: first.session_id,
        signature: Bytes::copy_from_slice(&context[17..]),
    };
    let mut p = with_permissions(&env, o.account, vec![call(counter, count(), 0)], &context);
    p.capabilities.as_mut().unwrap().permissions = Some(as_session);
    let prepared = env.client.prepare_calls(p).await.unwrap();
    let sent = env.client.send_prepared_calls(sign_prepared(&prepared, &key)).await.unwrap();
    assert_eq!(env.wait(&sent.id).await.status, StatusCode::Confirmed);
    let mut installed = vec![0x02, 0x01];
    installed.extend_from_slice(&1u32.to_be_bytes());
    assert_eq!(
        run(&env, o.account, vec![call(counter, count(), 0)], &installed.into(), &key).await,
        StatusCode::Confirmed
    );
    assert_eq!(env.h.read(counter, TestCounter::countOfCall(o.account)).await.unwrap(), U256::from(4));
    // The session key cannot sign for the owner, nor the owner for the session.
    owner_cannot_sign_for(&env, &o, counter, &context, &key).await;

    // The owner's signature must be over the grant: another key's context is refused.
    let mut forged = context.to_vec();
    let other = PrivateKeySigner::random().sign_hash_sync(&alloy::primitives::B256::repeat_byte(1)).unwrap();
    forged.truncate(17);
    forged.extend_from_slice(&other.as_bytes());
    let (code, message) = prepare_error(&env, o.account, vec![call(counter, count(), 0)], &forged.into()).await;
    assert_eq!(code, -32602);
    assert!(message.contains("owner signature does not match"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scoped_permission_in_and_out_of_scope() {
    let env = Env::new().await;
    let o = deployed_account(&env).await;
    let counter = env.h.counter().await;
    let other_counter = env.h.counter().await;
    let token = env.h.deploy(keyward_contracts::artifacts::test_token(), &[]).await;
    env.h.transact(token, TestToken::mintCall { to: o.account, amount: U256::from(1000) }, U256::ZERO).await;
    let fail = TestCounter::failCall {}.abi_encode();
    let transfer =
        |amount: u64| TestToken::transferCall { to: Address::repeat_byte(9), amount: U256::from(amount) }.abi_encode();
    let sel = |data: &[u8]| format!("0x{}", alloy::hex::encode(&data[..4]));

    // contract-access
    let (key, ctx) =
        new_key(&env, &o, serde_json::json!([{ "type": "contract-access", "data": { "address": counter } }])).await;
    assert_eq!(run(&env, o.account, vec![call(counter, count(), 0)], &ctx, &key).await, StatusCode::Confirmed);
    refused(&env, o.account, vec![call(other_counter, count(), 0)], &ctx, "contract-access").await;

    // functions-on-contract
    let (key, ctx) = new_key(
        &env,
        &o,
        serde_json::json!([{ "type": "functions-on-contract",
        "data": { "address": counter, "functions": [sel(&count())] } }]),
    )
    .await;
    assert_eq!(run(&env, o.account, vec![call(counter, count(), 0)], &ctx, &key).await, StatusCode::Confirmed);
    refused(&env, o.account, vec![call(counter, fail.clone(), 0)], &ctx, "functions-on-contract").await;

    // functions-on-all-contracts
    let (key, ctx) = new_key(
        &env,
        &o,
        serde_json::json!([{ "type": "functions-on-all-contracts",
        "data": { "functions": [sel(&count())] } }]),
    )
    .await;
    assert_eq!(run(&env, o.account, vec![call(other_counter, count(), 0)], &ctx, &key).await, StatusCode::Confirmed);
    refused(&env, o.account, vec![call(other_counter, fail.clone(), 0)], &ctx, "functions-on-all-contracts").await;

    // erc20-token-transfer: in budget, over budget (precheck), and over what is left (onchain).
    let (key, ctx) = new_key(
        &env,
        &o,
        serde_json::json!([{ "type": "erc20-token-transfer",
        "data": { "address": token, "allowance": "0x64" } }]),
    )
    .await;
    assert_eq!(run(&env, o.account, vec![call(token, transfer(60), 0)], &ctx, &key).await, StatusCode::Confirmed);
    refused(&env, o.account, vec![call(token, transfer(101), 0)], &ctx, "erc20-token-transfer").await;
    beyond_onchain_limit(&env, o.account, vec![call(token, transfer(41), 0)], &ctx, "ExceededTokenLimit").await;
    let balance = env.h.read(token, TestToken::balanceOfCall(Address::repeat_byte(9))).await.unwrap();
    assert_eq!(balance, U256::from(60), "only the in-budget transfer moved tokens");

    // native-token-transfer (with access to the counter): the same three cases for value.
    let (key, ctx) = new_key(
        &env,
        &o,
        serde_json::json!([
        { "type": "native-token-transfer", "data": { "allowance": "0x32" } },
        { "type": "contract-access", "data": { "address": counter } }]),
    )
    .await;
    let before = env.h.balance(counter).await;
    assert_eq!(run(&env, o.account, vec![call(counter, count(), 30)], &ctx, &key).await, StatusCode::Confirmed);
    refused(&env, o.account, vec![call(counter, count(), 51)], &ctx, "native-token-transfer").await;
    beyond_onchain_limit(&env, o.account, vec![call(counter, count(), 30)], &ctx, "ExceededNativeTokenLimit").await;
    assert_eq!(env.h.balance(counter).await, before + U256::from(30));

    // gas-limit: a budget of 1 wei cannot pay for any operation: simulation refuses it.
    let (_key, ctx) = new_key(
        &env,
        &o,
        serde_json::json!([
        { "type": "gas-limit", "data": { "limit": "0x1" } },
        { "type": "contract-access", "data": { "address": counter } }]),
    )
    .await;
    let before = env.counts().await;
    let (code, message) = prepare_error(&env, o.account, vec![call(counter, count(), 0)], &ctx).await;
    assert_eq!(code, -32000, "{message}");
    assert!(message.contains("AA23"), "{message}");
    assert!(message.contains("ExceededNativeTokenLimit"), "the module's error is named: {message}");
    assert_eq!(env.counts().await, before, "a refused prepare leaves no row");
    // … while a generous budget works.
    let (key, ctx) = new_key(
        &env,
        &o,
        serde_json::json!([
        { "type": "gas-limit", "data": { "limit": format!("{:#x}", ETH) } },
        { "type": "contract-access", "data": { "address": counter } }]),
    )
    .await;
    assert_eq!(run(&env, o.account, vec![call(counter, count(), 0)], &ctx, &key).await, StatusCode::Confirmed);

    // account-functions: only the granted selector of the account itself.
    let account_id = alloy::primitives::keccak256("accountId()")[..4].to_vec();
    let (key, ctx) = new_key(
        &env,
        &o,
        serde_json::json!([{ "type": "account-functions",
        "data": { "functions": [sel(&account_id)] } }]),
    )
    .await;
    assert_eq!(
        run(&env, o.account, vec![call(o.account, account_id.clone(), 0)], &ctx, &key).await,
        StatusCode::Confirmed
    );
    refused(&env, o.account, vec![call(o.account, vec![0x12, 0x34, 0x56, 0x78], 0)], &ctx, "account-functions").await;
    refused(&env, o.account, vec![call(counter, count(), 0)], &ctx, "contract-access").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_sessions_and_undelegated_eoas_are_refused() {
    let env = Env::new().await;
    let o = deployed_account(&env).await;
    let counter = env.h.counter().await;
    let key = PrivateKeySigner::random();
    let now = env.h.latest_timestamp().await;
    let ctx = grant(&env, &o, key.address(), serde_json::json!([{ "type": "root" }]), now + 600).await;
    assert_eq!(run(&env, o.account, vec![call(counter, count(), 0)], &ctx, &key).await, StatusCode::Confirmed);
    env.h.chain.increase_time(1200).await.unwrap();
    env.h.chain.mine().await.unwrap();
    let (code, message) = prepare_error(&env, o.account, vec![call(counter, count(), 0)], &ctx).await;
    assert_eq!(code, -32000);
    assert!(message.contains("expired"), "{message}");

    // A session on an EOA that has not delegated yet.
    let eoa = PrivateKeySigner::random();
    let before = env.counts().await;
    let (code, message) = rpc_error(
        env.client
            .create_session(session_params(
                &env,
                eoa.address(),
                key.address(),
                serde_json::json!([{ "type": "root" }]),
                0,
            ))
            .await,
    );
    assert_eq!(code, -32602);
    assert!(message.contains("not delegated"), "{message}");
    assert_eq!(env.counts().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_installed_outside_the_api_acts_through_context_0x02() {
    let env = Env::new().await;
    let o = deployed_account(&env).await;
    let counter = env.h.counter().await;
    let key = PrivateKeySigner::random();
    // The owner installs a scoped SingleSigner key at entity 100 outside the API.
    let compiler = keyward_primitives::mav2::permissions::PermissionCompiler {
        modules: env.deployment.modules,
        entry_point: env.deployment.entry_point,
    };
    let compiled = compiler
        .compile(
            &keyward_primitives::mav2::SessionRequest {
                account: o.account,
                session_key: key.address(),
                entity_id: 100,
                permissions: Permission::to_domain_list(
                    &serde_json::from_value::<Vec<Permission>>(serde_json::json!([
                        { "type": "native-token-transfer", "data": { "allowance": "0x64" } },
                        { "type": "contract-access", "data": { "address": counter } }]))
                    .unwrap(),
                ),
                expiry_sec: 0,
            },
            0,
        )
        .unwrap();
    // (Directly, as the fallback signer: the bundler's estimate replays callData after executing it,
    // which an install cannot survive.)
    env.fund(o.owner.address(), ETH / 10).await;
    let tx = alloy::rpc::types::TransactionRequest::default().to(o.account).input(compiled.calldata().into());
    assert!(env.h.send_tx(&o.owner, tx).await.unwrap().status());

    // The server reads the key and its execution hooks from the chain: the call is prefixed.
    let mut context = vec![0x02, 0x00];
    context.extend_from_slice(&100u32.to_be_bytes());
    let context = Bytes::from(context);
    assert_eq!(run(&env, o.account, vec![call(counter, count(), 5)], &context, &key).await, StatusCode::Confirmed);
    assert_eq!(env.h.balance(counter).await, U256::from(5));
    // Another key cannot sign for entity 100; entity 101 holds nothing.
    owner_cannot_sign_for(&env, &o, counter, &context, &key).await;
    let mut empty = vec![0x02, 0x00];
    empty.extend_from_slice(&101u32.to_be_bytes());
    let (code, message) = prepare_error(&env, o.account, vec![call(counter, count(), 0)], &empty.into()).await;
    assert_eq!(code, -32602);
    assert!(message.contains("no validation is installed at entity 101"), "{message}");
}

/// Some clients sign the session's `rawPayload` as an EIP-191 message instead of signing the typed
/// data: the server accepts it, and the account installs the session from it (signer type 0x02).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_grant_signed_as_a_personal_message_of_raw_payload_installs_the_session() {
    let env = Env::new().await;
    let o = deployed_account(&env).await;
    let key = PrivateKeySigner::random();
    let to = Address::with_last_byte(0x5e);
    let perms = serde_json::json!([{"type": "root"}]);
    let r = env.client.create_session(session_params(&env, o.account, key.address(), perms, 0)).await.unwrap();
    let SessionSignatureRequest::TypedData { raw_payload, .. } = r.signature_request;
    let personal = o.owner.sign_message_sync(raw_payload.as_slice()).unwrap();
    let context_of = |sig: &alloy::primitives::Signature| -> Bytes {
        let mut context = vec![0u8];
        context.extend_from_slice(r.session_id.0.as_slice());
        context.extend_from_slice(&sig.as_bytes());
        context.into()
    };
    // A personal_sign by another key is refused before anything is stored.
    let stranger = PrivateKeySigner::random().sign_message_sync(raw_payload.as_slice()).unwrap();
    let before = env.counts().await;
    let (code, message) = prepare_error(&env, o.account, vec![call(to, vec![], 7)], &context_of(&stranger)).await;
    assert_eq!(code, -32602, "{message}");
    assert!(message.contains("does not match"), "{message}");
    assert_eq!(env.counts().await, before);

    let context = context_of(&personal);
    assert_eq!(run(&env, o.account, vec![call(to, vec![], 7)], &context, &key).await, StatusCode::Confirmed);
    assert_eq!(env.h.balance(to).await, U256::from(7));
    // Installed: the next call uses the plain nonce key.
    assert_eq!(run(&env, o.account, vec![call(to, vec![], 5)], &context, &key).await, StatusCode::Confirmed);
    assert_eq!(env.h.balance(to).await, U256::from(12));
}

/// A custom permission module (the template `DailyCallLimitModule`, a third party's execution hook)
/// on a SingleSigner key installed outside the API: the key acts through context 0x02, the server
/// sees the execution hook (the call is prefixed), and the module's rule holds (README "Write your
/// own permission module").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_permission_module_holds_through_context_0x02() {
    use alloy::sol_types::SolValue;
    use keyward_primitives::mav2::{HookConfig, HookInstall};
    let env = Env::new().await;
    let o = deployed_account(&env).await;
    let counter = env.h.counter().await;
    let module = env.h.deploy(keyward_contracts::artifacts::custom_modules::daily_call_limit_module(), &[]).await;
    let key = PrivateKeySigner::random();
    let compiler = keyward_primitives::mav2::permissions::PermissionCompiler {
        modules: env.deployment.modules,
        entry_point: env.deployment.entry_point,
    };
    let mut compiled = compiler
        .compile(
            &keyward_primitives::mav2::SessionRequest {
                account: o.account,
                session_key: key.address(),
                entity_id: 110,
                permissions: Permission::to_domain_list(
                    &serde_json::from_value::<Vec<Permission>>(serde_json::json!([
                        { "type": "contract-access", "data": { "address": counter } }]))
                    .unwrap(),
                ),
                expiry_sec: 0,
            },
            0,
        )
        .unwrap();
    // One call a day to the counter, as the module's pre-execution hook at hook entity 110.
    compiled.install.hooks.push(HookInstall {
        config: HookConfig::execution_hook(module, 110, true, false),
        install_data: (110u32, counter, 1u32).abi_encode_params().into(),
    });
    env.fund(o.owner.address(), ETH / 10).await;
    let tx = alloy::rpc::types::TransactionRequest::default().to(o.account).input(compiled.calldata().into());
    assert!(env.h.send_tx(&o.owner, tx).await.unwrap().status());

    let mut context = vec![0x02, 0x00];
    context.extend_from_slice(&110u32.to_be_bytes());
    let context = Bytes::from(context);
    assert_eq!(run(&env, o.account, vec![call(counter, count(), 0)], &context, &key).await, StatusCode::Confirmed);
    // The second call today: refused by the module (the estimate names its error).
    let (code, message) = prepare_error(&env, o.account, vec![call(counter, count(), 0)], &context).await;
    assert_ne!(code, -32602, "{message}");
    let exceeded = &alloy::primitives::keccak256("DailyCallLimitExceeded(address,uint256,uint32)")[..4];
    assert!(message.contains(&alloy::hex::encode(exceeded)), "the module's error is named: {message}");
}
