//! Latency of the owner path through the HTTP API on the embedded chain (debug build, auto
//! bundling): prepare, send, and send → status 200, over a series of calls that must all land.
//! Figures are printed (`--nocapture`), not asserted.

use std::time::{Duration, Instant};

use alloy::primitives::U256;
use alloy::signers::local::PrivateKeySigner;
use keyward_api::wallet::{StatusCode, WalletApiClient};
use keyward_contracts::bindings::TestCounter;

use crate::env::{Env, sign_prepared};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_call_latency() {
    const N: usize = 20;
    let env = Env::new().await;
    let owner = PrivateKeySigner::random();
    let account = env.new_account(&owner).await;
    let counter = env.h.counter().await;
    let (mut prepare, mut send, mut land) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..N {
        let params = env.prepare_count(account, counter);
        let t0 = Instant::now();
        let prepared = env.client.prepare_calls(params).await.unwrap();
        let t1 = Instant::now();
        let sent = env.client.send_prepared_calls(sign_prepared(&prepared, &owner)).await.unwrap();
        let t2 = Instant::now();
        assert_eq!(env.wait(&sent.id).await.status, StatusCode::Confirmed);
        let t3 = Instant::now();
        prepare.push(t1 - t0);
        send.push(t2 - t1);
        land.push(t3 - t1);
    }
    assert_eq!(env.h.read(counter, TestCounter::counterCall {}).await.unwrap(), U256::from(N));
    for (name, v) in [("prepareCalls", &mut prepare), ("sendPreparedCalls", &mut send), ("send → 200", &mut land)] {
        v.sort();
        eprintln!(
            "wallet latency {name:<18} p50 {:>7.1?}  p90 {:>7.1?}  max {:>7.1?}  (n={N})",
            percentile(v, 0.5),
            percentile(v, 0.9),
            v[N - 1]
        );
    }
}
