//! Owner flows: a counterfactual semi-modular account deployed by its first call, then used again;
//! an EOA delegated with EIP-7702 by its first call, then used as a plain account.

use alloy::primitives::{Address, Bytes, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use keyward_api::wallet::{
    Call, CreationHint, ListAccountsParams, PrepareCallsParams, PreparedCalls, RequestAccountParams, StatusCode,
    WalletApiClient,
};
use keyward_contracts::bindings::{AccountFactory, TestCounter};

use crate::env::{ETH, Env, prepared_hash, prepared_op, sign_prepared};

fn prepare(from: Address, chain_id: u64, calls: Vec<Call>) -> PrepareCallsParams {
    PrepareCallsParams {
        calls: Some(calls),
        from,
        chain_id: u32::try_from(chain_id).unwrap().into(),
        capabilities: None,
        paymaster_permit_signature: None,
    }
}

fn count_call(counter: Address, value: u64) -> Call {
    Call {
        to: counter,
        data: Some(TestCounter::countCall {}.abi_encode().into()),
        value: (value > 0).then(|| U256::from(value).into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smart_account_first_call_deploys_it_and_retries_are_idempotent() {
    let env = Env::new().await;
    let owner = PrivateKeySigner::random();
    let account = env.request_account(owner.address()).await;
    // The factory itself says where the account of (owner, 0) lives.
    let expected = env
        .h
        .read(
            env.deployment.factory,
            AccountFactory::getAddressSemiModularCall { owner_: owner.address(), salt: U256::ZERO },
        )
        .await
        .unwrap();
    assert_eq!(account.account_address, expected);
    let info = account.counterfactual_info.clone().unwrap();
    assert_eq!(info.factory_address, env.deployment.factory);
    // Retried: the same account, the same id, one row.
    let again = env.request_account(owner.address()).await;
    assert_eq!(again, account);
    assert_eq!(env.counts().await.accounts, 1);

    env.fund(account.account_address, ETH).await;
    let counter = env.h.counter().await;
    let first = env
        .client
        .prepare_calls(prepare(account.account_address, env.chain_id, vec![count_call(counter, 5)]))
        .await
        .unwrap();
    let op = prepared_op(&first);
    assert_eq!(op.data.factory, Some(env.deployment.factory), "undeployed: the op deploys the account");
    assert_eq!(op.data.factory_data.as_ref(), Some(&info.factory_data));
    let send = sign_prepared(&first, &owner);
    let sent = env.client.send_prepared_calls(send.clone()).await.unwrap();
    // Queryable at once, and a retry answers the same id without a second submission.
    env.client.get_calls_status(sent.id.clone()).await.unwrap();
    let retried = env.client.send_prepared_calls(send).await.unwrap();
    assert_eq!(retried, sent);
    assert_eq!(env.counts().await.calls, 1);
    let status = env.wait(&sent.id).await;
    assert_eq!(status.status, StatusCode::Confirmed);
    let receipts = status.receipts.unwrap();
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0].status.to::<u64>(), 1);
    assert!(!env.h.chain.code(account.account_address).await.unwrap().is_empty(), "deployed");
    let counted = env.h.read(counter, TestCounter::countOfCall(account.account_address)).await.unwrap();
    assert_eq!(counted, U256::from(1));
    assert_eq!(env.h.balance(counter).await, U256::from(5));

    // Deployed now: no factory; the next sequence.
    let second = env
        .client
        .prepare_calls(prepare(
            account.account_address,
            env.chain_id,
            vec![count_call(counter, 0), count_call(counter, 0)],
        ))
        .await
        .unwrap();
    let op2 = prepared_op(&second);
    assert_eq!(op2.data.factory, None);
    assert_eq!(op2.data.nonce.0, prepared_op(&first).data.nonce.0 + U256::from(1));
    let sent2 = env.client.send_prepared_calls(sign_prepared(&second, &owner)).await.unwrap();
    assert_eq!(env.wait(&sent2.id).await.status, StatusCode::Confirmed);
    let counted = env.h.read(counter, TestCounter::countOfCall(account.account_address)).await.unwrap();
    assert_eq!(counted, U256::from(3));

    // A signature by anyone but the owner is refused, and nothing is recorded.
    let third = env
        .client
        .prepare_calls(prepare(account.account_address, env.chain_id, vec![count_call(counter, 0)]))
        .await
        .unwrap();
    let (code, message) =
        crate::env::rpc_error(env.client.send_prepared_calls(sign_prepared(&third, &PrivateKeySigner::random())).await);
    assert_eq!(code, -32602);
    assert!(message.contains(&format!("must be signed by {}", owner.address())), "{message}");
    assert_eq!(env.counts().await.calls, 2);
    assert!(prepared_hash(&third) != prepared_hash(&second));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_ids_salts_and_paging() {
    let env = Env::new().await;
    let owner = Address::repeat_byte(0x42);
    let first = env.request_account(owner).await;
    let mut ids = vec![first.id.clone()];
    let mut addresses = vec![first.account_address];
    for _ in 0..2 {
        let hint = CreationHint { create_additional: Some(keyward_api::wallet::True), ..Default::default() };
        let r = env
            .client
            .request_account(RequestAccountParams::BySigner {
                signer_address: owner,
                id: None,
                creation_hint: Some(hint),
                include_counterfactual_info: Some(true),
            })
            .await
            .unwrap();
        assert!(!addresses.contains(&r.account_address));
        ids.push(r.id);
        addresses.push(r.account_address);
    }
    // Salt 1 is the second account, as the factory computes it.
    let salt1 = env
        .h
        .read(env.deployment.factory, AccountFactory::getAddressSemiModularCall { owner_: owner, salt: U256::from(1) })
        .await
        .unwrap();
    assert_eq!(addresses[1], salt1);
    // By id and by address.
    let by_id = env
        .client
        .request_account(RequestAccountParams::BySigner {
            signer_address: owner,
            id: Some(ids[2].clone()),
            creation_hint: None,
            include_counterfactual_info: None,
        })
        .await
        .unwrap();
    assert_eq!(by_id.account_address, addresses[2]);
    assert_eq!(by_id.counterfactual_info, None, "only when includeCounterfactualInfo is true");
    let by_address = env
        .client
        .request_account(RequestAccountParams::ByAccount {
            account_address: addresses[1],
            include_counterfactual_info: Some(true),
        })
        .await
        .unwrap();
    assert_eq!(by_address.id, ids[1]);
    // A new id makes a new account; asking again with it returns the same one.
    let fresh: keyward_api::wallet::UuidV4 = "0b9f3f0e-6f3a-4c55-9d1e-7c1a2b3c4d5e".parse().unwrap();
    let with_id = RequestAccountParams::BySigner {
        signer_address: owner,
        id: Some(fresh.clone()),
        creation_hint: None,
        include_counterfactual_info: Some(true),
    };
    let created = env.client.request_account(with_id.clone()).await.unwrap();
    assert_eq!(created.id, fresh);
    assert!(!addresses.contains(&created.account_address));
    assert_eq!(env.client.request_account(with_id).await.unwrap(), created);
    addresses.push(created.account_address);
    assert_eq!(env.counts().await.accounts, 4);

    // Pages of 3 then 1.
    let page1 = env
        .client
        .list_accounts(ListAccountsParams { signer_address: owner, limit: Some(3), after: None })
        .await
        .unwrap();
    assert_eq!(page1.meta.total_count, 4);
    assert_eq!(page1.accounts.len(), 3);
    let after = page1.meta.after.clone().expect("a cursor to the next page");
    let page2 = env
        .client
        .list_accounts(ListAccountsParams { signer_address: owner, limit: Some(3), after: Some(after) })
        .await
        .unwrap();
    assert_eq!(page2.accounts.len(), 1);
    assert_eq!(page2.meta.after, None);
    let mut listed: Vec<Address> = page1.accounts.iter().chain(&page2.accounts).map(|a| a.account_address).collect();
    listed.sort();
    addresses.sort();
    assert_eq!(listed, addresses);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eip7702_first_call_delegates_then_plain_user_operations() {
    let env = Env::new().await;
    let eoa = PrivateKeySigner::random();
    env.fund(eoa.address(), ETH).await;
    let counter = env.h.counter().await;

    let first =
        env.client.prepare_calls(prepare(eoa.address(), env.chain_id, vec![count_call(counter, 0)])).await.unwrap();
    let PreparedCalls::Array { data } = &first.prepared else { panic!("expected [authorization, user operation]") };
    assert_eq!(data.len(), 2);
    let keyward_api::wallet::PreparedCallItem::Authorization(auth) = &data[0] else { panic!("authorization first") };
    assert_eq!(auth.data.address, env.deployment.sma_7702_impl);
    assert_eq!(u64::from(auth.data.nonce), 0, "the EOA's transaction count");
    let sent = env.client.send_prepared_calls(sign_prepared(&first, &eoa)).await.unwrap();
    assert_eq!(env.wait(&sent.id).await.status, StatusCode::Confirmed);
    let code = env.h.chain.code(eoa.address()).await.unwrap();
    assert_eq!(code, Bytes::from([&[0xef, 0x01, 0x00][..], env.deployment.sma_7702_impl.as_slice()].concat()));
    assert_eq!(env.h.read(counter, TestCounter::countOfCall(eoa.address())).await.unwrap(), U256::from(1));

    let second =
        env.client.prepare_calls(prepare(eoa.address(), env.chain_id, vec![count_call(counter, 0)])).await.unwrap();
    assert!(matches!(second.prepared, PreparedCalls::UserOperationV070(_)), "delegated: a plain user operation");
    let sent = env.client.send_prepared_calls(sign_prepared(&second, &eoa)).await.unwrap();
    assert_eq!(env.wait(&sent.id).await.status, StatusCode::Confirmed);
    assert_eq!(env.h.read(counter, TestCounter::countOfCall(eoa.address())).await.unwrap(), U256::from(2));

    // Delegated: the EOA can grant a session key, whose first call installs it.
    let key = PrivateKeySigner::random();
    let session = env
        .client
        .create_session(keyward_api::wallet::CreateSessionParams {
            account: eoa.address(),
            chain_id: u32::try_from(env.chain_id).unwrap().into(),
            expiry_sec: None,
            key: keyward_api::wallet::SessionKey::Secp256k1(key.address()),
            permissions: serde_json::from_value(serde_json::json!([
                { "type": "contract-access", "data": { "address": counter } }]))
            .unwrap(),
        })
        .await
        .unwrap();
    let keyward_api::wallet::SessionSignatureRequest::TypedData { data, raw_payload } = session.signature_request;
    assert_eq!(data.signing_hash().unwrap(), raw_payload);
    let grant = alloy::signers::SignerSync::sign_hash_sync(&eoa, &raw_payload).unwrap();
    let permissions = keyward_api::wallet::PermissionsCapability::Session {
        session_id: session.session_id,
        signature: grant.as_bytes().to_vec().into(),
    };
    for expected in [3u64, 4] {
        let mut p = prepare(eoa.address(), env.chain_id, vec![count_call(counter, 0)]);
        p.capabilities = Some(keyward_api::wallet::PrepareCallsCapabilities {
            permissions: Some(permissions.clone()),
            ..Default::default()
        });
        let prepared = env.client.prepare_calls(p).await.unwrap();
        let sent = env.client.send_prepared_calls(sign_prepared(&prepared, &key)).await.unwrap();
        assert_eq!(env.wait(&sent.id).await.status, StatusCode::Confirmed);
        assert_eq!(env.h.read(counter, TestCounter::countOfCall(eoa.address())).await.unwrap(), U256::from(expected));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reverting_calls_are_refused_at_prepare_and_capabilities_are_listed() {
    let env = Env::new().await;
    let owner = PrivateKeySigner::random();
    let account = env.request_account(owner.address()).await;
    env.fund(account.account_address, ETH).await;
    let counter = env.h.counter().await;
    // Deploy first, so the failing call's estimate cannot replay it (the account runs it).
    let p = env
        .client
        .prepare_calls(prepare(account.account_address, env.chain_id, vec![count_call(counter, 0)]))
        .await
        .unwrap();
    let s = env.client.send_prepared_calls(sign_prepared(&p, &owner)).await.unwrap();
    assert_eq!(env.wait(&s.id).await.status, StatusCode::Confirmed);
    let fail = Call { to: counter, data: Some(TestCounter::failCall {}.abi_encode().into()), value: None };
    let (code, message) = crate::env::rpc_error(
        env.client.prepare_calls(prepare(account.account_address, env.chain_id, vec![fail])).await,
    );
    assert_eq!(code, -32000, "{message}");
    assert!(message.contains("TestCounter: failed"), "{message}");

    // paymasterService.onlyEstimation: an estimate without a signature request, remembered nowhere.
    let before = env.counts().await;
    let mut estimate = prepare(account.account_address, env.chain_id, vec![count_call(counter, 0)]);
    estimate.capabilities = Some(keyward_api::wallet::PrepareCallsCapabilities {
        paymaster_service: Some(
            serde_json::from_value(serde_json::json!({
                "policyId": "6b5c1bd4-1d6b-4a5f-9c1e-2f4f1b1a2c3d", "onlyEstimation": true }))
            .unwrap(),
        ),
        ..Default::default()
    });
    let estimated = env.client.prepare_calls(estimate).await.unwrap();
    let op = prepared_op(&estimated);
    assert!(op.signature_request.is_none());
    assert!(op.data.call_gas_limit.0 > U256::ZERO && op.data.verification_gas_limit.0 > U256::ZERO);
    assert_eq!(env.counts().await, before);

    let caps = env.client.get_capabilities(owner.address(), None).await.unwrap();
    let chain = caps.get(&u32::try_from(env.chain_id).unwrap().into()).expect("the served chain");
    assert_eq!(chain["permissions"]["supported"], true);
    assert_eq!(chain["paymasterService"]["supported"], false, "no sponsor configured");
    assert_eq!(chain["atomic"]["status"], "supported");
}
