//! Scenario 3's chain and load: a fresh anvil with the canonical EntryPoint v0.7 (npm
//! `@account-abstraction/contracts@0.7.0`, CREATE2 through the deterministic deployer with the
//! canonical salt, so it lands at its canonical address), a `TestCounter` and K funded
//! `TestAccount`s; then K senders each keep up to `pipeline` owner-signed operations pending
//! (`eth_sendUserOperation`, receipts polled every 10 ms) for a window, and wait for the rest.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256, b256};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolValue;
use anyhow::{Context, bail};
use keyward_api::bundler::RpcUserOperation;
use keyward_chain::anvil::Anvil;
use keyward_chain::send::send_and_wait;
use keyward_chain::{Chain, DevChain, RpcChain};
use keyward_contracts::deployment::{DETERMINISTIC_DEPLOYER, DETERMINISTIC_DEPLOYER_CODE};
use keyward_primitives::ENTRY_POINT_V07;
use keyward_testkit::ops::{self, count_call};
use serde_json::json;

use crate::rpc::{CallError, Rpc};
use crate::stats::ms;

/// The salt the canonical EntryPoint v0.7 was deployed with.
const CANONICAL_SALT: B256 = b256!("0x90d8084deab30c2a37c45e8d47f49f2f7965183cb6990a98943ef94940681de3");
/// Interval between two receipt polls.
const POLL: Duration = Duration::from_millis(10);
/// An operation without a receipt after this long is counted as lost (its sender stops).
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for the last receipts after the window.
const DRAIN: Duration = Duration::from_secs(120);
/// Funding of each sender: 10 ETH.
const FUND_WEI: u128 = 10_000_000_000_000_000_000;

/// A fresh anvil with the EntryPoint, a counter and `senders` funded `TestAccount`s.
pub(crate) struct Chainset {
    /// The anvil process (killed when dropped).
    pub(crate) anvil: Anvil,
    /// The counter every operation calls.
    pub(crate) counter: Address,
    /// (owner, account) of each sender.
    pub(crate) senders: Vec<(PrivateKeySigner, Address)>,
}

/// Starts anvil and sets it up (dev key 0 sends every set-up transaction).
pub(crate) async fn chainset(senders: usize) -> anyhow::Result<Chainset> {
    let dir = keyward_testkit::conformance::canonical_artifacts_dir();
    if !dir.join("EntryPoint.json").exists() {
        bail!("the canonical EntryPoint artifacts are missing at {} (npm install --prefix tools)", dir.display());
    }
    let anvil = Anvil::start(31337).await.map_err(|e| anyhow::anyhow!("starting anvil: {e}"))?;
    let chain = anvil.chain().map_err(|e| anyhow::anyhow!("connecting to anvil: {e}"))?;
    let key = keyward_chain::dev_keys::dev_signer(0).map_err(|e| anyhow::anyhow!("dev key 0: {e}"))?;
    if chain.code(DETERMINISTIC_DEPLOYER).await?.is_empty() {
        chain.set_code(DETERMINISTIC_DEPLOYER, DETERMINISTIC_DEPLOYER_CODE).await?;
    }
    let ep = keyward_testkit::conformance::canonical_artifact("EntryPoint");
    let data: Bytes = [CANONICAL_SALT.as_slice(), ep.bytecode.as_ref()].concat().into();
    let tx = TransactionRequest::default().with_to(DETERMINISTIC_DEPLOYER).with_input(data);
    send(&chain, &key, tx).await.context("deploying the canonical EntryPoint v0.7")?;
    // The runtime code equals the artifact's but for the immutable SenderCreator address.
    if chain.code(ENTRY_POINT_V07).await?.len() != ep.deployed_bytecode.len() {
        bail!("the canonical EntryPoint did not land at {ENTRY_POINT_V07}");
    }
    let counter = create(&chain, &key, &keyward_contracts::artifacts::test_counter().bytecode, &[]).await?;
    let account_code = &keyward_contracts::artifacts::test_account().bytecode;
    let mut out = Vec::with_capacity(senders);
    for _ in 0..senders {
        let owner = PrivateKeySigner::random();
        let account =
            create(&chain, &key, account_code, &(ENTRY_POINT_V07, owner.address()).abi_encode_params()).await?;
        send(&chain, &key, TransactionRequest::default().with_to(account).with_value(U256::from(FUND_WEI))).await?;
        out.push((owner, account));
    }
    Ok(Chainset { anvil, counter, senders: out })
}

async fn send(chain: &RpcChain, key: &PrivateKeySigner, tx: TransactionRequest) -> anyhow::Result<()> {
    let r = send_and_wait(chain, key, tx).await?;
    if !r.status() {
        bail!("set-up transaction {} reverted", r.transaction_hash);
    }
    Ok(())
}

async fn create(chain: &RpcChain, key: &PrivateKeySigner, code: &Bytes, args: &[u8]) -> anyhow::Result<Address> {
    let tx = TransactionRequest::default().with_deploy_code(Bytes::from([code.as_ref(), args].concat()));
    let r = send_and_wait(chain, key, tx).await?;
    if !r.status() {
        bail!("deployment {} reverted", r.transaction_hash);
    }
    r.contract_address.context("a deployment without a contract address")
}

/// What one load run measured.
#[derive(Debug, Default)]
pub(crate) struct LoadResult {
    /// Operations accepted (a userOpHash returned).
    pub(crate) accepted: u64,
    /// `eth_sendUserOperation` errors (retried after 10 ms).
    pub(crate) rejected: u64,
    /// Send → first non-null receipt, ms, of every included operation.
    pub(crate) to_receipt: Vec<f64>,
    /// Included operations whose execution reverted.
    pub(crate) reverted: u64,
    /// Accepted operations never seen included.
    pub(crate) missing: u64,
    /// From the start to the last receipt seen.
    pub(crate) span: Duration,
    /// The first distinct errors.
    pub(crate) errors: Vec<String>,
}

impl LoadResult {
    /// Included operations per second.
    pub(crate) fn included_per_s(&self) -> f64 {
        if self.span.is_zero() { 0.0 } else { self.to_receipt.len() as f64 / self.span.as_secs_f64() }
    }
}

/// K senders against `rpc` for `window`, each keeping up to `pipeline` operations pending.
pub(crate) async fn load(rpc: Arc<Rpc>, set: &Chainset, window: Duration, pipeline: usize) -> LoadResult {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (owner, account) in &set.senders {
        let (rpc, owner, account, counter) = (rpc.clone(), owner.clone(), *account, set.counter);
        tasks.push(tokio::spawn(sender(rpc, owner, account, counter, start, window, pipeline)));
    }
    let mut out = LoadResult::default();
    for t in tasks {
        match t.await {
            Ok(r) => {
                out.accepted += r.accepted;
                out.rejected += r.rejected;
                out.reverted += r.reverted;
                out.missing += r.missing;
                out.to_receipt.extend(r.to_receipt);
                out.span = out.span.max(r.span);
                for e in r.errors {
                    if out.errors.len() < 5 && !out.errors.contains(&e) {
                        out.errors.push(e);
                    }
                }
            }
            Err(e) => out.errors.push(format!("a sender task panicked: {e}")),
        }
    }
    out
}

/// Keeps `e` among the first three distinct errors.
fn note(errors: &mut Vec<String>, e: String) {
    if errors.len() < 3 && !errors.contains(&e) {
        errors.push(e);
    }
}

/// One sender: sends while the window is open and fewer than `pipeline` are pending, polls the
/// oldest pending operation's receipt otherwise; after the window, waits for what is pending.
async fn sender(
    rpc: Arc<Rpc>,
    owner: PrivateKeySigner,
    account: Address,
    counter: Address,
    start: Instant,
    window: Duration,
    pipeline: usize,
) -> LoadResult {
    let mut out = LoadResult::default();
    let mut pending: VecDeque<(B256, Instant)> = VecDeque::new();
    let mut seq = 0u64;
    loop {
        let open = start.elapsed() < window;
        if open && pending.len() < pipeline && out.rejected < 1_000 {
            let mut op = ops::op(account, U256::from(seq), count_call(counter));
            ops::sign(&mut op, &owner, ENTRY_POINT_V07, 31337);
            let body = match serde_json::to_value(RpcUserOperation { op, eip7702_auth: None }) {
                Ok(b) => b,
                Err(e) => {
                    note(&mut out.errors, format!("serialising an operation: {e}"));
                    break;
                }
            };
            let t = Instant::now();
            match rpc.call("eth_sendUserOperation", json!([body, ENTRY_POINT_V07])).await {
                Ok(v) => match v.as_str().and_then(|s| s.parse::<B256>().ok()) {
                    Some(h) => {
                        out.accepted += 1;
                        seq += 1;
                        pending.push_back((h, t));
                    }
                    None => note(&mut out.errors, format!("userOpHash is not a hash: {v}")),
                },
                Err(e) => {
                    out.rejected += 1;
                    note(&mut out.errors, format!("eth_sendUserOperation: {e}"));
                    tokio::time::sleep(POLL).await;
                }
            }
            continue;
        }
        let Some(&(hash, sent)) = pending.front() else { break };
        if start.elapsed() > window + DRAIN {
            break;
        }
        match rpc.call("eth_getUserOperationReceipt", json!([hash])).await {
            Ok(r) if !r.is_null() => {
                out.to_receipt.push(ms(sent.elapsed()));
                out.span = start.elapsed();
                out.reverted += u64::from(!r.get("success").and_then(|s| s.as_bool()).unwrap_or(false));
                pending.pop_front();
            }
            Ok(_) | Err(CallError::Rpc { .. }) if sent.elapsed() < RECEIPT_TIMEOUT => tokio::time::sleep(POLL).await,
            Ok(_) => {
                note(&mut out.errors, format!("no receipt within {} s; sender stopped", RECEIPT_TIMEOUT.as_secs()));
                break;
            }
            Err(e) => {
                note(&mut out.errors, format!("eth_getUserOperationReceipt: {e}"));
                tokio::time::sleep(POLL).await;
            }
        }
    }
    out.missing = pending.len() as u64;
    out
}
