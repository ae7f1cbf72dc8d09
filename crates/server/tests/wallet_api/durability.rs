//! Group commit at the edge: an answer that wrote goes out after an fsync covering its writes
//! (`Store::durable`), and an answer that wrote nothing costs none.

use alloy::signers::local::PrivateKeySigner;
use keyward_api::wallet::WalletApiClient;

use crate::env::Env;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_that_wrote_waits_for_an_fsync_and_a_read_does_not() {
    let env = Env::new().await;
    let store = env.wallet.store().clone();
    let owner = PrivateKeySigner::random();
    let counter = env.h.counter().await;
    let account = env.new_account(&owner).await;

    // Nothing is pending, so the bundler broadcasts nothing: only the edge syncs here.
    let before = store.durable_rounds();
    let prepared = env.client.prepare_calls(env.prepare_count(account, counter)).await.unwrap();
    let after_prepare = store.durable_rounds();
    assert!(after_prepare > before, "wallet_prepareCalls wrote a nonce lease and the prepared call: it must sync");
    store.durable().await.unwrap();
    assert_eq!(store.durable_rounds(), after_prepare, "the answer's fsync already covered its writes");

    let sent = env.client.send_prepared_calls(crate::env::sign_prepared(&prepared, &owner)).await.unwrap();
    assert_eq!(env.wait(&sent.id).await.status, keyward_api::wallet::StatusCode::Confirmed);
    env.stop_bundling(); // no background writer from here on
    store.durable().await.unwrap();
    let settled = store.durable_rounds();
    env.client.get_calls_status(sent.id.clone()).await.unwrap();
    assert_eq!(store.durable_rounds(), settled, "a status read after the writes were synced makes no fsync");
}
