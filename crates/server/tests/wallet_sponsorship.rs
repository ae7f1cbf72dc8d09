//! `wallet_prepareCalls` with `paymasterService: { policyId }` served by the Sponsor: an account
//! holding zero ETH is deployed and calls through the bundler, paid by the VerifyingPaymaster of
//! the deterministic stack; a refusal names the policy; the ledger settles from the chain.
//!
//! Here, at the edge, because the wallet is driven through `keyward_server::wallet::WalletRpc`
//! with Wallet API wire types.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::{Address, Bytes, U256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use keyward_api::wallet::{
    PrepareCallsParams, PreparedCalls, SendPreparedCallsParams, SigEnvelope, SignedCalls, SignedUserOpV07, StatusCode,
    WalletApiServer,
};
use keyward_bundler::watch::{ChainWatcher, WatchConfig};
use keyward_bundler::{Bundler, BundlerConfig};
use keyward_chain::deploy::deploy_account_stack;
use keyward_contracts::bindings::TestCounter;
use keyward_paymaster::Policy;
use keyward_paymaster::wallet::WalletSponsor;
use keyward_server::wallet::WalletRpc;
use keyward_testkit::Harness;
use keyward_wallet::{Wallet, WalletConfig};
use serde_json::json;
use uuid::Uuid;

use keyward_testkit::sponsorship::{Backend, TestDb};

const ETH: u128 = 1_000_000_000_000_000_000;

/// A sponsored Wallet API on the embedded chain: the deterministic stack, the dev paymaster (its
/// default policy and `policies`), the wallet over a bundler (bundling when `bundling`), a counter,
/// and a fresh owner's counterfactual account.
struct Sponsored {
    h: Harness,
    deployment: keyward_contracts::Deployment,
    dev: keyward_paymaster::dev::DevSponsorship,
    wallet: WalletRpc,
    _bundling: Option<tokio::task::JoinHandle<()>>,
    counter: Address,
    chain_id: u64,
    owner: PrivateKeySigner,
    address: Address,
    /// Settles the ledger from the chain.
    watcher: ChainWatcher,
}

impl Sponsored {
    async fn start(db: &TestDb, policies: Vec<Policy>, bundling: bool) -> Sponsored {
        let h = Harness::embedded();
        let deployment = deploy_account_stack(h.chain.as_ref(), &h.keys[0], U256::from(ETH)).await.unwrap();
        let dev = keyward_paymaster::dev::start(
            h.chain.clone(),
            db.store.clone(),
            deployment.verifying_paymaster,
            deployment.entry_point,
            &h.keys[0],
            policies,
        )
        .await
        .unwrap();
        let bundler =
            Bundler::new(h.chain.clone(), db.store.clone(), h.keys[9].clone(), BundlerConfig::default()).await.unwrap();
        let bundling = bundling.then(|| bundler.spawn());
        let sinks = vec![dev.sponsor.clone() as Arc<dyn keyward_bundler::watch::EventSink>];
        let watcher = ChainWatcher::new(bundler.watch_source(), WatchConfig::default(), sinks);
        let mut config = WalletConfig::new(deployment);
        config.sponsor = Some(Arc::new(WalletSponsor(dev.sponsor.clone())));
        let wallet = WalletRpc::single(Wallet::new(h.chain.clone(), db.store.clone(), bundler, config).await.unwrap());
        let counter = h.counter().await;
        let chain_id = h.chain_id().await;
        let owner = PrivateKeySigner::random();
        let account: keyward_api::wallet::RequestAccountResult = wallet
            .request_account(
                serde_json::from_value(json!({"signerAddress": format!("{:#x}", owner.address())})).unwrap(),
            )
            .await
            .unwrap();
        let address = account.account_address;
        Sponsored { h, deployment, dev, wallet, _bundling: bundling, counter, chain_id, owner, address, watcher }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepare_calls_with_a_policy_sponsors_a_zero_eth_account() {
    let db = TestDb::open(Backend::Sqlite).await.unwrap();
    let limited = Policy {
        allowed_targets: Some(vec![Address::with_last_byte(0x42)]),
        ..Policy::open(Uuid::new_v4(), "only 0x42")
    };
    let Sponsored { h, deployment, dev, wallet, _bundling, counter, chain_id, owner, address, watcher } =
        Sponsored::start(&db, vec![limited.clone()], true).await;
    assert_eq!(h.balance(address).await, U256::ZERO);
    let deposit = h.deposit_of(deployment.verifying_paymaster).await;

    let prepare = |policy: String| -> PrepareCallsParams {
        serde_json::from_value(json!({
            "calls": [{"to": format!("{counter:#x}"), "data": Bytes::from(TestCounter::countCall {}.abi_encode())}],
            "from": format!("{address:#x}"),
            "chainId": format!("{chain_id:#x}"),
            "capabilities": {"paymasterService": {"policyId": policy}},
        }))
        .unwrap()
    };

    // A policy that does not allow the counter: refused, naming the policy and the target, with
    // the same `data: {policyId, reason}` as the pm_* methods.
    let rpc = wallet.prepare_calls(prepare(limited.id.to_string())).await.unwrap_err();
    let e = rpc.message().to_string();
    assert!(e.contains(&limited.id.to_string()) && e.contains(&format!("{counter}")), "{e}");
    assert_eq!(rpc.code(), -32000);
    let data: serde_json::Value = serde_json::from_str(rpc.data().expect("data").get()).unwrap();
    assert_eq!(data, json!({"policyId": limited.id.to_string(), "reason": "target-not-allowed"}));

    for expected in [1u64, 2] {
        let prepared = wallet.prepare_calls(prepare(dev.default_policy.id.to_string())).await.unwrap();
        let op = match &prepared.prepared {
            PreparedCalls::UserOperationV070(op) => op.clone(),
            other => panic!("expected a user operation, got {other:?}"),
        };
        assert!(op.fee_payment.sponsored);
        let digest = op.signature_request.as_ref().unwrap().digest().unwrap();
        let signed = SendPreparedCallsParams {
            calls: SignedCalls::UserOperationV070(SignedUserOpV07 {
                data: op.data.clone(),
                chain_id: op.chain_id,
                signature: SigEnvelope::secp256k1(&owner.sign_hash_sync(&digest).unwrap()),
            }),
            capabilities: None,
            call_id: None,
        };
        let sent = wallet.send_prepared_calls(signed).await.unwrap();
        let id = serde_json::to_value(&sent).unwrap().get("id").and_then(|v| v.as_str()).map(str::to_string);
        let id: Bytes = id.expect("call id").parse().unwrap();
        let mut status = None;
        for _ in 0..400 {
            let s = wallet.get_calls_status(id.clone()).await.unwrap();
            if s.status.is_final() {
                status = Some(s);
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let status = status.expect("final status");
        assert_eq!(status.status, StatusCode::Confirmed, "{status:?}");
        assert_eq!(h.read(counter, TestCounter::counterCall {}).await.unwrap(), U256::from(expected));
    }
    assert_eq!(h.balance(address).await, U256::ZERO);
    assert_eq!(h.deposit_of(address).await, U256::ZERO);
    let paid = deposit - h.deposit_of(deployment.verifying_paymaster).await;
    assert!(paid > U256::ZERO);
    // The ledger settles both operations at exactly what the deposit paid.
    watcher.round().await.unwrap();
    let totals = db.store.policy_totals(&dev.default_policy.id.to_string()).await.unwrap();
    assert_eq!((totals.spent, totals.reserved), (paid, U256::ZERO));
    db.cleanup().await;
}

/// 200 concurrent `wallet_prepareCalls` against a policy with room for exactly 50 operations:
/// exactly 50 are sponsored, the other 150 get the policy's `exhausted` refusal, and the ledger
/// holds exactly 50 reservations.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_prepares_sponsor_exactly_fifty() {
    use keyward_paymaster::Wei;
    let db = TestDb::open(Backend::Sqlite).await.unwrap();
    let Sponsored { h: _h, dev, wallet, counter, chain_id, address, .. } = Sponsored::start(&db, vec![], false).await;
    // Identical operations but for the parallel nonce key (one non-zero byte each, so every op
    // costs the same): distinct ops, each reserving the same worst-case cost.
    let prepare = move |policy: String, parallel_key: u64| -> PrepareCallsParams {
        serde_json::from_value(json!({
            "calls": [{"to": format!("{counter:#x}"), "data": Bytes::from(TestCounter::countCall {}.abi_encode())}],
            "from": format!("{address:#x}"),
            "chainId": format!("{chain_id:#x}"),
            "capabilities": {"paymasterService": {"policyId": policy}, "nonceOverride": {"nonceKey": format!("{parallel_key:#x}")}},
        }))
        .unwrap()
    };
    let cost_of = |prepared: &keyward_api::wallet::PrepareCallsResult| -> U256 {
        match &prepared.prepared {
            PreparedCalls::UserOperationV070(op) => {
                assert!(op.fee_payment.sponsored);
                op.fee_payment.max_amount.0
            }
            other => panic!("expected a user operation, got {other:?}"),
        }
    };
    // One op's worst-case cost, measured on the open default policy.
    let probe = wallet.prepare_calls(prepare(dev.default_policy.id.to_string(), 255)).await.unwrap();
    let cost = cost_of(&probe);
    let fifty = Policy {
        max_total_spend: Some(Wei(cost * U256::from(50) + cost / U256::from(2))),
        ..Policy::open(Uuid::new_v4(), "room for 50")
    };
    dev.sponsor.put_policy(&fifty).await.unwrap();

    let tasks: Vec<_> = (1..=200u64)
        .map(|k| {
            let wallet = wallet.clone();
            let params = prepare(fifty.id.to_string(), k);
            tokio::spawn(async move { wallet.prepare_calls(params).await })
        })
        .collect();
    let (mut sponsored, mut refused) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(prepared) => {
                assert_eq!(cost_of(&prepared), cost, "every op reserves the same cost");
                sponsored += 1;
            }
            Err(e) => {
                let e = e.message().to_string();
                assert!(e.contains(&fifty.id.to_string()) && e.contains("exhausted"), "{e}");
                refused += 1;
            }
        }
    }
    assert_eq!((sponsored, refused), (50, 150));
    let totals = db.store.policy_totals(&fifty.id.to_string()).await.unwrap();
    assert_eq!((totals.spent, totals.reserved), (U256::ZERO, cost * U256::from(50)));
    db.cleanup().await;
}

/// Polls until the call's status is final.
async fn final_status(wallet: &WalletRpc, id: Bytes) -> StatusCode {
    for _ in 0..400 {
        let s = wallet.get_calls_status(id.clone()).await.unwrap();
        if s.status.is_final() {
            return s.status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("call {id} did not reach a final status");
}

/// No calls, sponsored: a zero-ETH EOA is delegated (authorization + an op that executes nothing)
/// and a zero-ETH counterfactual account is deployed, both paid by the default policy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sponsored_empty_calls_delegate_a_new_eoa_and_deploy_a_new_account() {
    let db = TestDb::open(Backend::Sqlite).await.unwrap();
    let Sponsored { h, deployment, dev, wallet, _bundling, chain_id, owner, address, .. } =
        Sponsored::start(&db, vec![], true).await;
    let policy = dev.default_policy.id.to_string();
    let eoa = PrivateKeySigner::random();
    for (from, key, calls) in [(eoa.address(), &eoa, json!([])), (address, &owner, serde_json::Value::Null)] {
        let mut request = json!({
            "from": format!("{from:#x}"),
            "chainId": format!("{chain_id:#x}"),
            "capabilities": {"paymasterService": {"policyId": policy}},
        });
        if !calls.is_null() {
            request["calls"] = calls;
        }
        let prepared = wallet.prepare_calls(serde_json::from_value(request).unwrap()).await.unwrap();
        let sent = wallet.send_prepared_calls(keyward_testkit::wallet::sign_prepared(&prepared, key)).await.unwrap();
        let id: Bytes = serde_json::to_value(&sent).unwrap()["id"].as_str().unwrap().parse().unwrap();
        assert_eq!(final_status(&wallet, id).await, StatusCode::Confirmed);
        assert_eq!(h.balance(from).await, U256::ZERO, "paid by the policy");
    }
    let designator = Bytes::from([&[0xef, 0x01, 0x00][..], deployment.sma_7702_impl.as_slice()].concat());
    assert_eq!(h.chain.code(eoa.address()).await.unwrap(), designator, "delegated");
    assert!(!h.chain.code(address).await.unwrap().is_empty(), "deployed");
    db.cleanup().await;
}
