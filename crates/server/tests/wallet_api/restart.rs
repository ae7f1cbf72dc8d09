//! A restarted service (a new store handle, bundler and wallet over the same SQLite file) still
//! knows every account, session and call id.

use alloy::primitives::U256;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use keyward_api::wallet::{
    Call, PrepareCallsCapabilities, PrepareCallsParams, StatusCode, WalletApiClient, WalletApiServer,
};
use keyward_bundler::{Bundler, BundlerConfig};
use keyward_contracts::bindings::TestCounter;
use keyward_server::wallet::WalletRpc;
use keyward_store::Store;
use keyward_wallet::{Wallet, WalletConfig};

use crate::env::{ETH, Env, by_signer, sign_prepared};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_survive_a_restart() {
    let env = Env::new().await;
    let owner = PrivateKeySigner::random();
    let account = env.request_account(owner.address()).await;
    env.fund(account.account_address, ETH).await;
    let counter = env.h.counter().await;
    let key = PrivateKeySigner::random();
    let permissions = env.grant_root(&owner, account.account_address, key.address()).await;
    let params = PrepareCallsParams {
        calls: Some(vec![Call { to: counter, data: Some(TestCounter::countCall {}.abi_encode().into()), value: None }]),
        from: account.account_address,
        chain_id: u32::try_from(env.chain_id).unwrap().into(),
        capabilities: Some(PrepareCallsCapabilities { permissions: Some(permissions), ..Default::default() }),
        paymaster_permit_signature: None,
    };
    let prepared = env.client.prepare_calls(params.clone()).await.unwrap();
    let send = sign_prepared(&prepared, &key);
    let sent = env.client.send_prepared_calls(send.clone()).await.unwrap();
    assert_eq!(env.wait(&sent.id).await.status, StatusCode::Confirmed);

    // "Restart": the first service stops bundling (two bundlers over one mempool would race for
    // the same ops), and everything is reopened from the file.
    env.stop_bundling();
    let store = Store::open_sqlite_file(env.dir().unwrap()).await.unwrap();
    let bundler =
        Bundler::new(env.h.chain.clone(), store, env.h.keys[8].clone(), BundlerConfig::default()).await.unwrap();
    let _bundling = bundler.spawn();
    let again = WalletRpc::single(
        Wallet::new(env.h.chain.clone(), bundler.store().clone(), bundler, WalletConfig::new(env.deployment))
            .await
            .unwrap(),
    );
    assert_eq!(again.get_calls_status(sent.id.clone()).await.unwrap().status, StatusCode::Confirmed);
    assert_eq!(again.send_prepared_calls(send).await.unwrap(), sent, "a late retry still gets its id");
    assert_eq!(again.request_account(by_signer(owner.address())).await.unwrap(), account);
    // The session, installed by its first call, keeps working (now without the deferred install).
    let next = again.prepare_calls(params).await.unwrap();
    let resent = again.send_prepared_calls(sign_prepared(&next, &key)).await.unwrap();
    let mut status = again.get_calls_status(resent.id.clone()).await.unwrap();
    for _ in 0..200 {
        if status.status.is_final() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        status = again.get_calls_status(resent.id.clone()).await.unwrap();
    }
    assert_eq!(status.status, StatusCode::Confirmed);
    assert_eq!(env.h.read(counter, TestCounter::counterCall {}).await.unwrap(), U256::from(2));
}
