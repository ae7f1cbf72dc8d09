//! The same flows on the other backends: a real anvil node (through `RpcChain`) and a PostgreSQL
//! store (`KEYWARD_TEST_POSTGRES_URL`, set by scripts/with-postgres.sh; skipped only with
//! `KEYWARD_SKIP_POSTGRES=1`).

use alloy::primitives::{Address, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use keyward_api::wallet::{
    Call, PermissionsCapability, PrepareCallsCapabilities, PrepareCallsParams, PreparedCalls, StatusCode,
    WalletApiClient,
};
use keyward_contracts::bindings::TestCounter;
use keyward_store::Store;
use keyward_testkit::Harness;

use crate::env::{ETH, Env, Keep, PostgresEnv, sign_prepared};

fn prepare(env: &Env, from: Address, to: Address, permissions: Option<PermissionsCapability>) -> PrepareCallsParams {
    PrepareCallsParams {
        calls: Some(vec![Call { to, data: Some(TestCounter::countCall {}.abi_encode().into()), value: None }]),
        from,
        chain_id: u32::try_from(env.chain_id).unwrap().into(),
        capabilities: permissions.map(|p| PrepareCallsCapabilities { permissions: Some(p), ..Default::default() }),
        paymaster_permit_signature: None,
    }
}

/// 7702 owner call, counterfactual account with a root session (first call deploys and installs),
/// a retried send, and the counter's count at the end.
async fn flows(env: &Env) {
    let counter = env.h.counter().await;
    let eoa = PrivateKeySigner::random();
    env.fund(eoa.address(), ETH).await;
    let first = env.client.prepare_calls(prepare(env, eoa.address(), counter, None)).await.unwrap();
    assert!(matches!(first.prepared, PreparedCalls::Array { .. }));
    let sent = env.client.send_prepared_calls(sign_prepared(&first, &eoa)).await.unwrap();
    assert_eq!(env.wait(&sent.id).await.status, StatusCode::Confirmed);

    let owner = PrivateKeySigner::random();
    let account = env.new_account(&owner).await;
    let key = PrivateKeySigner::random();
    let permissions = env.grant_root(&owner, account, key.address()).await;
    for _ in 0..2 {
        let p = env.client.prepare_calls(prepare(env, account, counter, Some(permissions.clone()))).await.unwrap();
        let send = sign_prepared(&p, &key);
        let sent = env.client.send_prepared_calls(send.clone()).await.unwrap();
        assert_eq!(env.client.send_prepared_calls(send).await.unwrap(), sent, "a retry answers the same id");
        assert_eq!(env.wait(&sent.id).await.status, StatusCode::Confirmed);
    }
    assert_eq!(env.h.read(counter, TestCounter::counterCall {}).await.unwrap(), U256::from(3));
    let counts = env.counts().await;
    assert_eq!((counts.accounts, counts.sessions, counts.calls), (1, 1, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_on_anvil() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite_file(dir.path()).await.unwrap();
    let env = Env::with(Harness::anvil().await, store, Keep::Dir(dir)).await;
    flows(&env).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flows_on_postgres() {
    let Some(pg) = PostgresEnv::new().await else { return };
    flows(&pg.env).await;
    pg.drop_database().await;
}
