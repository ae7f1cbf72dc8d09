//! Calls that do nothing, calls back to back and calls in parallel: `wallet_prepareCalls` with no
//! calls deploys, delegates or bumps the nonce; an account's calls prepared while earlier ones are
//! pending (in a row, or all at once from one session key) are all included, each once; a call
//! in flight reports its bundle transaction.

use alloy::primitives::aliases::U192;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use keyward_api::wallet::{
    Call, PermissionsCapability, PrepareCallsCapabilities, PrepareCallsParams, PreparedCalls, StatusCode,
    WalletApiClient,
};
use keyward_contracts::bindings::TestCounter;
use keyward_primitives::entry_point::IEntryPoint;
use keyward_primitives::mav2::NonceKey;

use crate::env::{ETH, Env, prepared_op, sign_prepared};

fn params(
    env: &Env,
    from: Address,
    calls: Option<Vec<Call>>,
    permissions: Option<PermissionsCapability>,
) -> PrepareCallsParams {
    PrepareCallsParams {
        calls,
        from,
        chain_id: u32::try_from(env.chain_id).unwrap().into(),
        capabilities: permissions.map(|p| PrepareCallsCapabilities { permissions: Some(p), ..Default::default() }),
        paymaster_permit_signature: None,
    }
}

fn count(counter: Address) -> Call {
    Call { to: counter, data: Some(TestCounter::countCall {}.abi_encode().into()), value: None }
}

/// `EntryPoint.getNonce(sender, key)` for a full 192-bit key.
async fn ep_nonce(env: &Env, sender: Address, key: U192) -> U256 {
    env.h.read(env.h.ep, IEntryPoint::getNonceCall { sender, key }).await.unwrap()
}

/// Prepares `p`, signs with `key` and sends; the call id.
async fn send(env: &Env, p: PrepareCallsParams, key: &PrivateKeySigner) -> Bytes {
    let prepared = env.client.prepare_calls(p).await.unwrap();
    env.client.send_prepared_calls(sign_prepared(&prepared, key)).await.unwrap().id
}

/// The user-operation details of a status.
fn op_status(s: &keyward_api::wallet::CallsStatus) -> &keyward_api::wallet::UserOperationStatusData {
    match &s.details {
        keyward_api::wallet::StatusDetails::UserOperation { data } => data,
        other => panic!("expected user-operation details, got {other:?}"),
    }
}

async fn counted(env: &Env, counter: Address, account: Address) -> U256 {
    env.h.read(counter, TestCounter::countOfCall(account)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_calls_delegate_deploy_or_bump_the_nonce() {
    let env = Env::new().await;

    // A never-used EOA: absent `calls` delegates it (authorization + an op that executes nothing).
    let eoa = PrivateKeySigner::random();
    env.fund(eoa.address(), ETH / 100).await;
    let prepared = env.client.prepare_calls(params(&env, eoa.address(), None, None)).await.unwrap();
    let PreparedCalls::Array { data } = &prepared.prepared else { panic!("expected [authorization, user operation]") };
    assert_eq!(data.len(), 2);
    let sent = env.client.send_prepared_calls(sign_prepared(&prepared, &eoa)).await.unwrap();
    assert_eq!(env.wait(&sent.id).await.status, StatusCode::Confirmed);
    let designator = Bytes::from([&[0xef, 0x01, 0x00][..], env.deployment.sma_7702_impl.as_slice()].concat());
    assert_eq!(env.h.chain.code(eoa.address()).await.unwrap(), designator);

    // The session flow follows: a root session whose first call (no calls either) installs it.
    let key = PrivateKeySigner::random();
    let grant = env.grant_root(&eoa, eoa.address(), key.address()).await;
    let id = send(&env, params(&env, eoa.address(), Some(vec![]), Some(grant.clone())), &key).await;
    assert_eq!(env.wait(&id).await.status, StatusCode::Confirmed);
    let counter = env.h.counter().await;
    let id = send(&env, params(&env, eoa.address(), Some(vec![count(counter)]), Some(grant)), &key).await;
    assert_eq!(env.wait(&id).await.status, StatusCode::Confirmed);
    assert_eq!(counted(&env, counter, eoa.address()).await, U256::from(1));

    // A counterfactual smart account: `calls: []` deploys it and executes nothing.
    let owner = PrivateKeySigner::random();
    let account = env.new_account(&owner).await;
    let prepared = env.client.prepare_calls(params(&env, account, Some(vec![]), None)).await.unwrap();
    assert!(prepared_op(&prepared).data.factory.is_some(), "the op deploys the account");
    let sent = env.client.send_prepared_calls(sign_prepared(&prepared, &owner)).await.unwrap();
    assert_eq!(env.wait(&sent.id).await.status, StatusCode::Confirmed);
    assert!(!env.h.chain.code(account).await.unwrap().is_empty(), "deployed");

    // Deployed: a no-op operation, which still uses a nonce.
    let owner_key = U192::from(NonceKey::owner().full_key());
    let before = ep_nonce(&env, account, owner_key).await;
    let balance = env.h.balance(account).await;
    let id = send(&env, params(&env, account, None, None), &owner).await;
    assert_eq!(env.wait(&id).await.status, StatusCode::Confirmed);
    assert_eq!(ep_nonce(&env, account, owner_key).await, before + U256::from(1), "the nonce moved by one");
    assert!(env.h.balance(account).await < balance, "it paid its gas");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_in_a_row_from_the_owner_and_a_session_key() {
    let env = Env::new().await;
    let counter = env.h.counter().await;
    let owner = PrivateKeySigner::random();
    let account = env.new_account(&owner).await;

    // Ten owner calls without waiting: the first deploys the account, the next ones wait for that,
    // then queue on the owner's key behind the pending ones (estimated as if those were included).
    let mut ids = Vec::new();
    for _ in 0..10 {
        ids.push(send(&env, params(&env, account, Some(vec![count(counter)]), None), &owner).await);
    }
    for id in &ids {
        assert_eq!(env.wait(id).await.status, StatusCode::Confirmed);
    }
    assert_eq!(counted(&env, counter, account).await, U256::from(10));
    let owner_key = U192::from(NonceKey::owner().full_key());
    assert_eq!(ep_nonce(&env, account, owner_key).await & U256::from(u64::MAX), U256::from(10), "one key, in order");

    // Ten session-key calls without waiting, starting with the one that installs the session.
    let key = PrivateKeySigner::random();
    let grant = env.grant_root(&owner, account, key.address()).await;
    let mut ids = Vec::new();
    for _ in 0..10 {
        ids.push(send(&env, params(&env, account, Some(vec![count(counter)]), Some(grant.clone())), &key).await);
    }
    for id in &ids {
        assert_eq!(env.wait(id).await.status, StatusCode::Confirmed);
    }
    assert_eq!(counted(&env, counter, account).await, U256::from(20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_parallel_calls_from_one_session_key_each_run_once() {
    let env = Env::new().await;
    let counter = env.h.counter().await;
    let owner = PrivateKeySigner::random();
    let account = env.new_account(&owner).await;
    let key = PrivateKeySigner::random();
    let grant = env.grant_root(&owner, account, key.address()).await;
    let PermissionsCapability::Session { session_id, .. } = &grant else { panic!("a session grant") };
    let entity_id = env.wallet.store().session(&session_id.0.0).await.unwrap().unwrap().entity_id;

    // All at once, on a fresh session of a counterfactual account: one call deploys the account and
    // installs the session, the others wait for it, then spread over parallel nonce keys.
    let handles: Vec<_> = (0..20)
        .map(|_| {
            let client = env.client.clone();
            let p = params(&env, account, Some(vec![count(counter)]), Some(grant.clone()));
            let key = key.clone();
            tokio::spawn(async move {
                let prepared = client.prepare_calls(p).await.unwrap();
                client.send_prepared_calls(sign_prepared(&prepared, &key)).await.unwrap().id
            })
        })
        .collect();
    let mut ids = Vec::new();
    for h in handles {
        ids.push(h.await.unwrap());
    }
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 20, "twenty operations");
    for id in &ids {
        assert_eq!(env.wait(id).await.status, StatusCode::Confirmed);
    }
    assert_eq!(counted(&env, counter, account).await, U256::from(20), "each executed once");

    // The EntryPoint nonces of the session's keys (the installing key, then parallel keys 0…)
    // advanced by twenty in all.
    let mut used = U256::from(0);
    let installing = U192::from(NonceKey::regular(U256::ZERO, entity_id, true, true).unwrap().full_key());
    used += ep_nonce(&env, account, installing).await & U256::from(u64::MAX);
    for parallel in 0..20u64 {
        let k = U192::from(NonceKey::regular(U256::from(parallel), entity_id, true, false).unwrap().full_key());
        used += ep_nonce(&env, account, k).await & U256::from(u64::MAX);
    }
    assert_eq!(used, U256::from(20));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_in_flight_reports_its_bundle_transaction() {
    let env = Env::new().await;
    let counter = env.h.counter().await;
    let eoa = PrivateKeySigner::random();
    env.fund(eoa.address(), ETH).await;
    env.stop_bundling();
    let id = send(&env, params(&env, eoa.address(), Some(vec![count(counter)]), None), &eoa).await;
    let waiting = env.client.get_calls_status(id.clone()).await.unwrap();
    assert_eq!(waiting.status, StatusCode::Pending);
    let data = op_status(&waiting);
    assert_eq!(data.pending_bundle, None, "in the mempool, not yet in a bundle");

    let block = env.h.chain.block_number().await.unwrap();
    let tx: B256 = env.bundler.bundle_now().await.unwrap().expect("a bundle");
    let in_flight = env.client.get_calls_status(id.clone()).await.unwrap();
    assert_eq!(in_flight.status, StatusCode::Pending, "sent, not yet tracked to its receipt");
    let data = op_status(&in_flight);
    let pending = data.pending_bundle.as_ref().expect("pendingBundle while in flight");
    assert_eq!(pending.tx_hash, tx);
    assert_eq!(u64::from(pending.sent_at_block), block);

    env.bundler.track().await.unwrap();
    let done = env.client.get_calls_status(id).await.unwrap();
    assert_eq!(done.status, StatusCode::Confirmed);
    assert_eq!(done.receipts.as_ref().unwrap()[0].transaction_hash, tx);
    let data = op_status(&done);
    assert_eq!(data.pending_bundle, None, "included: no bundle in flight");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dependent_call_waits_then_names_what_is_still_in_flight() {
    let env = Env::adjusted(|c| c.in_flight_wait = std::time::Duration::from_secs(1)).await;
    let counter = env.h.counter().await;
    let owner = PrivateKeySigner::random();
    let account = env.new_account(&owner).await;
    env.stop_bundling();
    // The deploying call is sent but never bundled: the next prepare waits, then refuses.
    send(&env, params(&env, account, Some(vec![count(counter)]), None), &owner).await;
    let started = std::time::Instant::now();
    let (code, message) =
        crate::env::rpc_error(env.client.prepare_calls(params(&env, account, Some(vec![count(counter)]), None)).await);
    assert!(started.elapsed() >= std::time::Duration::from_secs(1), "it waited");
    assert_eq!(code, -32000, "{message}");
    assert_eq!(
        message,
        format!(
            "the deployment of {account} is still pending in an earlier call; it is still in flight after 1 s: \
             retry once it is included"
        )
    );

    // A session's first call prepared, not yet sent, holds the install: a second prepare of that
    // session waits for it; once sent (and never bundled) the wait names the pending operation.
    let owner = PrivateKeySigner::random();
    let r = env.request_account(owner.address()).await;
    env.fund(r.account_address, ETH).await;
    let info = r.counterfactual_info.unwrap();
    let deploy =
        alloy::rpc::types::TransactionRequest::default().to(info.factory_address).input(info.factory_data.into());
    assert!(env.h.send_tx(&env.h.keys[0], deploy).await.unwrap().status());
    let account = r.account_address;
    let key = PrivateKeySigner::random();
    let grant = env.grant_root(&owner, account, key.address()).await;
    let p = || params(&env, account, Some(vec![count(counter)]), Some(grant.clone()));
    let first = env.client.prepare_calls(p()).await.unwrap();
    let (code, message) = crate::env::rpc_error(env.client.prepare_calls(p()).await);
    assert_eq!(code, -32000, "{message}");
    assert_eq!(
        message,
        "the session's first call, which installs it, is being prepared or sent by another request; it is still in \
         flight after 1 s: retry once it is included"
    );
    let sent = env.client.send_prepared_calls(sign_prepared(&first, &key)).await.unwrap();
    let (code, message) = crate::env::rpc_error(env.client.prepare_calls(p()).await);
    assert_eq!(code, -32000, "{message}");
    assert_eq!(
        message,
        format!(
            "the session's first call (user operation {}) is still pending: it installs the session key; it is \
             still in flight after 1 s: retry once it is included",
            crate::env::prepared_hash(&first)
        )
    );
    assert_eq!(env.client.get_calls_status(sent.id).await.unwrap().status, StatusCode::Pending);
}
