//! Retries arriving together: parallel identical sends answer one id and submit one operation;
//! parallel sessions for one account get distinct entity ids (and so distinct grants).

use alloy::primitives::U256;
use alloy::signers::local::PrivateKeySigner;
use keyward_api::wallet::{SessionSignatureRequest, StatusCode, WalletApiClient};
use keyward_contracts::bindings::TestCounter;

use crate::env::{Env, sign_prepared};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_retries_and_parallel_sessions() {
    let env = Env::new().await;
    let owner = PrivateKeySigner::random();
    let account = env.new_account(&owner).await;
    let counter = env.h.counter().await;
    let prepared = env.client.prepare_calls(env.prepare_count(account, counter)).await.unwrap();
    let send = sign_prepared(&prepared, &owner);
    let answers = futures_join(8, |_| {
        let client = env.client.clone();
        let send = send.clone();
        async move { client.send_prepared_calls(send).await.unwrap() }
    })
    .await;
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "one id for every retry");
    assert_eq!(env.counts().await.calls, 1);
    assert_eq!(env.wait(&answers[0].id).await.status, StatusCode::Confirmed);
    assert_eq!(env.h.read(counter, TestCounter::counterCall {}).await.unwrap(), U256::from(1), "executed once");

    let sessions = futures_join(6, |_| {
        let client = env.client.clone();
        let params = env.root_session(account, PrivateKeySigner::random().address());
        async move { client.create_session(params).await.unwrap() }
    })
    .await;
    let mut digests: Vec<_> = sessions
        .iter()
        .map(|s| {
            let SessionSignatureRequest::TypedData { raw_payload, .. } = &s.signature_request;
            *raw_payload
        })
        .collect();
    digests.sort();
    digests.dedup();
    assert_eq!(digests.len(), 6, "six distinct grants");
    let mut entities = Vec::new();
    for s in &sessions {
        let stored = env.wallet.store().session(&s.session_id.0.0).await.unwrap().unwrap();
        entities.push(stored.entity_id);
    }
    entities.sort();
    assert_eq!(entities, (1..=6).collect::<Vec<u32>>());
}

/// Runs `n` futures made by `make` concurrently and collects their outputs in order.
async fn futures_join<F, Fut, T>(n: usize, make: F) -> Vec<T>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let handles: Vec<_> = (0..n).map(|i| tokio::spawn(make(i))).collect();
    let mut out = Vec::with_capacity(n);
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}
