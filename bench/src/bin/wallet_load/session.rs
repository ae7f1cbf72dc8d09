//! Session keys over the Wallet API: set-up (an account per session, funded, the session granted
//! by its owner and installed by a first call) and one session-key call end to end (prepare →
//! sign → send → poll `wallet_getCallsStatus` until 200), timed.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use alloy::hex;
use alloy::primitives::{Address, U256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use anyhow::{Context, bail};
use keyward_api::wallet::PrepareCallsResult;
use keyward_contracts::bindings::TestCounter;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::dev::Dev;
use crate::rpc::{Rpc, str_field};

/// `keyward dev`'s default gas policy (README, "Gas sponsorship").
pub(crate) const DEV_POLICY_ID: &str = "4337e2b0-1a6d-4c3e-9f00-000000004337";

/// Longest wait for one call's status 200.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Set-up requests in flight at once.
const SETUP_PARALLEL: usize = 16;

/// What every call targets: the counter on a chain.
pub(crate) struct Target {
    /// The `TestCounter` the sessions may call.
    pub(crate) counter: Address,
    /// The chain id, hex.
    pub(crate) chain_hex: String,
    /// Time between two `wallet_getCallsStatus` polls of one call.
    pub(crate) poll: Duration,
}

/// One session: its key, its account, and the permissions context its owner granted.
pub(crate) struct Session {
    /// The session key.
    pub(crate) key: PrivateKeySigner,
    /// The account it acts for.
    pub(crate) account: Address,
    /// `0x00 ‖ sessionId ‖ owner signature`, hex.
    pub(crate) context: String,
}

/// The timings of one call, in ms.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CallSample {
    /// `wallet_prepareCalls` round trip.
    pub(crate) prepare: f64,
    /// `wallet_sendPreparedCalls` round trip.
    pub(crate) send: f64,
    /// From the send request to the first status 200.
    pub(crate) to_200: f64,
    /// From the prepare request to the first status 200.
    pub(crate) whole: f64,
    /// `wallet_getCallsStatus` requests made.
    pub(crate) polls: u32,
}

/// `n` sessions, each on a fresh account of a fresh owner, permitted to call `target.counter`,
/// installed (and the account deployed) by one sponsored call; each account funded with
/// `fund_wei` first (for unsponsored calls).
pub(crate) async fn setup(
    dev: &Dev,
    target: &Arc<Target>,
    n: usize,
    fund_wei: U256,
) -> anyhow::Result<Vec<Arc<Session>>> {
    let rpc = dev.rpc.clone();
    let owners: Vec<PrivateKeySigner> = (0..n).map(|_| PrivateKeySigner::random()).collect();
    let accounts = parallel(&owners, |owner| {
        let rpc = rpc.clone();
        let signer = owner.address();
        async move {
            let v = rpc.call("wallet_requestAccount", json!([{ "signerAddress": signer }])).await?;
            str_field(&v, "/accountAddress")?.parse::<Address>().context("accountAddress")
        }
    })
    .await?;
    if fund_wei > U256::ZERO {
        for a in &accounts {
            dev.fund(*a, fund_wei).await?;
        }
    }
    let expiry = SystemTime::now().duration_since(UNIX_EPOCH).context("clock before 1970")?.as_secs() + 3 * 86_400;
    let pairs: Vec<(PrivateKeySigner, Address)> = owners.into_iter().zip(accounts).collect();
    parallel(&pairs, |(owner, account)| {
        let rpc = rpc.clone();
        let target = target.clone();
        let (owner, account) = (owner.clone(), *account);
        async move {
            let key = PrivateKeySigner::random();
            let params = json!([{
                "account": account, "chainId": target.chain_hex, "expirySec": expiry,
                "key": { "type": "secp256k1", "publicKey": key.address() },
                "permissions": [{ "type": "contract-access", "data": { "address": target.counter } }],
            }]);
            let answer = rpc.call("wallet_createSession", params).await?;
            let session_id = str_field(&answer, "/sessionId")?.trim_start_matches("0x").to_string();
            let raw: alloy::primitives::B256 =
                str_field(&answer, "/signatureRequest/rawPayload")?.parse().context("rawPayload")?;
            let grant = owner.sign_hash_sync(&raw).context("owner signature")?;
            let context = format!("0x00{session_id}{}", hex::encode(grant.as_bytes()));
            let session = Arc::new(Session { key, account, context });
            // The first call installs the session (deferred action) and deploys the account.
            call(&rpc, &target, &session, true).await.context("the session's first (installing) call")?;
            Ok(session)
        }
    })
    .await
}

/// Runs `f` over `items` with at most [`SETUP_PARALLEL`] in flight; results in item order.
async fn parallel<I, T, F, Fut>(items: &[I], f: F) -> anyhow::Result<Vec<T>>
where
    F: Fn(&I) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let gate = Arc::new(Semaphore::new(SETUP_PARALLEL));
    let mut tasks = Vec::with_capacity(items.len());
    for item in items {
        let fut = f(item);
        let gate = gate.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.context("set-up gate closed")?;
            fut.await
        }));
    }
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.context("set-up task panicked")??);
    }
    Ok(out)
}

/// The capabilities of a session call: the session's permissions, and the dev policy when sponsored.
fn capabilities(session: &Session, sponsored: bool) -> Value {
    let mut caps = json!({ "permissions": { "context": session.context } });
    if sponsored {
        caps["paymasterService"] = json!({ "policyId": DEV_POLICY_ID });
    }
    caps
}

/// One session-key call of `count()` on the counter, end to end, timed.
pub(crate) async fn call(rpc: &Rpc, target: &Target, session: &Session, sponsored: bool) -> anyhow::Result<CallSample> {
    let caps = capabilities(session, sponsored);
    let data = hex::encode_prefixed(TestCounter::countCall {}.abi_encode());
    let params = json!([{
        "from": session.account, "chainId": target.chain_hex,
        "calls": [{ "to": target.counter, "data": data }],
        "capabilities": caps,
    }]);
    let t0 = Instant::now();
    let prepared = rpc.call("wallet_prepareCalls", params).await.context("wallet_prepareCalls")?;
    let prepare = t0.elapsed();
    let prepared: PrepareCallsResult = serde_json::from_value(prepared).context("parsing the prepared calls")?;
    let signed = keyward_testkit::wallet::sign_prepared(&prepared, &session.key);
    let mut signed = serde_json::to_value(signed).context("serialising the signed calls")?;
    signed["capabilities"] = caps;
    let t_send = Instant::now();
    let sent = rpc.call("wallet_sendPreparedCalls", json!([signed])).await.context("wallet_sendPreparedCalls")?;
    let send = t_send.elapsed();
    let id = str_field(&sent, "/id")?.to_string();
    let mut polls = 0u32;
    loop {
        polls += 1;
        let status = rpc.call("wallet_getCallsStatus", json!([id])).await.context("wallet_getCallsStatus")?;
        match status.get("status").and_then(Value::as_u64) {
            Some(200) => break,
            Some(s) if s >= 300 => bail!("call {id} ended with status {s}"),
            _ => {}
        }
        if t_send.elapsed() > CALL_TIMEOUT {
            bail!("call {id} had no status 200 within {} s", CALL_TIMEOUT.as_secs());
        }
        tokio::time::sleep(target.poll).await;
    }
    let done = Instant::now();
    let ms = crate::stats::ms;
    Ok(CallSample { prepare: ms(prepare), send: ms(send), to_200: ms(done - t_send), whole: ms(done - t0), polls })
}
