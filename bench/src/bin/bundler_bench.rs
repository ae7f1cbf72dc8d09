//! `bundler-bench`: latency and throughput of Keyward's bundler over JSON-RPC (issue 4).
//!
//! For each backend (the embedded chain, anvil) this starts, in this process, the chain (through
//! `keyward_testkit::Harness`), a SQLite mempool in a temporary directory, the bundler in auto
//! mode and the JSON-RPC server on 127.0.0.1, funds one `TestAccount` per concurrent sender, and
//! then drives the server over plain HTTP like a wallet would. It prints figures and asserts
//! nothing; see `bench/README.md` for what each figure means.

// Each benchmark binary is a crate of its own that sees every dependency of the package.
#![allow(unused_crate_dependencies)]

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use keyward_api::bundler::RpcUserOperation;
use keyward_bundler::{Bundler, BundlerConfig};
use keyward_chain::{Chain, DevChain};
use keyward_store::Store;
use keyward_testkit::Harness;
use keyward_testkit::ops::{self, count_call};
use serde_json::{Value, json};

/// Interval between two `eth_getUserOperationReceipt` polls of one operation.
const POLL: Duration = Duration::from_millis(10);
/// Longest wait for one receipt: an operation without a receipt after this long (a thousand times
/// the usual send-to-receipt time) is counted as lost.
const RECEIPT_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest wait for the last receipts after a throughput window.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(120);
/// Longest a whole latency run may take; the run stops early (and says so) past it.
const LATENCY_RUN_LIMIT: Duration = Duration::from_secs(600);
/// Operations one sender keeps pending: the bundler's default per-sender cap (ERC-7562 UREP-010).
const SENDER_CAP: usize = 4;
/// Operations sent before the latency run and not counted (connection set-up, caches).
const WARMUP: usize = 5;
/// Most transport or RPC errors one throughput sender tolerates before it stops.
const MAX_SENDER_ERRORS: u64 = 1_000;
/// Funding of each account, in ether.
const FUND_ETH: u64 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BackendArg {
    Embedded,
    Anvil,
    Both,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Embedded,
    Anvil,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Embedded => "embedded",
            Backend::Anvil => "anvil",
        }
    }
}

/// Latency and throughput of the bundler's JSON-RPC, on the embedded chain and/or anvil.
#[derive(Debug, Parser)]
#[command(name = "bundler-bench")]
struct Args {
    /// Chain backend(s) to measure.
    #[arg(long, value_enum, default_value_t = BackendArg::Both)]
    backend: BackendArg,
    /// Operations in the latency run (sent one after another by one sender).
    #[arg(long, default_value_t = 200)]
    ops: usize,
    /// Concurrent-sender counts of the throughput runs, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,8,64")]
    senders: Vec<usize>,
    /// Length of each throughput window, in seconds.
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    /// Most operations one sender sends in one throughput window.
    #[arg(long, default_value_t = 2_000)]
    max_ops_per_sender: u64,
}

// ---------------------------------------------------------------------------------------------
// A minimal JSON-RPC 2.0 client over plain HTTP.

#[derive(Debug)]
enum CallError {
    Transport(String),
    Rpc { code: i64, message: String },
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Transport(m) => write!(f, "transport: {m}"),
            CallError::Rpc { code, message } => write!(f, "rpc error {code}: {message}"),
        }
    }
}

struct RpcClient {
    http: reqwest::Client,
    url: String,
    next_id: AtomicU64,
}

impl RpcClient {
    fn new(addr: SocketAddr) -> anyhow::Result<Self> {
        // No proxy: every request goes straight to the loopback address we bound.
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .context("building the HTTP client")?;
        Ok(Self { http, url: format!("http://{addr}"), next_id: AtomicU64::new(1) })
    }

    async fn call(&self, method: &str, params: Value) -> Result<Value, CallError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        let resp =
            self.http.post(&self.url).json(&body).send().await.map_err(|e| CallError::Transport(e.to_string()))?;
        let status = resp.status();
        let v: Value =
            resp.json().await.map_err(|e| CallError::Transport(format!("HTTP {status}, body is not JSON-RPC: {e}")))?;
        if let Some(err) = v.get("error") {
            return Err(CallError::Rpc {
                code: err.get("code").and_then(Value::as_i64).unwrap_or_default(),
                message: err.get("message").and_then(Value::as_str).unwrap_or_default().to_string(),
            });
        }
        Ok(v.get("result").cloned().unwrap_or(Value::Null))
    }
}

// ---------------------------------------------------------------------------------------------
// Operations.

/// What every sender task shares.
struct Shared {
    rpc: RpcClient,
    ep: Address,
    chain_id: u64,
    counter: Address,
}

/// One sending account: a `TestAccount` and its owner key, with the next nonce sequence to use.
struct Sender {
    owner: PrivateKeySigner,
    account: Address,
    next_seq: u64,
}

impl Shared {
    /// A signed `TestAccount.execute(counter, 0, count())` operation, in its JSON-RPC form.
    fn user_op(&self, s: &Sender) -> Value {
        let mut op = ops::op(s.account, U256::from(s.next_seq), count_call(self.counter));
        ops::sign(&mut op, &s.owner, self.ep, self.chain_id);
        serde_json::to_value(RpcUserOperation { op, eip7702_auth: None }).expect("operations serialise")
    }

    async fn send(&self, op: Value) -> Result<B256, CallError> {
        let v = self.rpc.call("eth_sendUserOperation", json!([op, self.ep])).await?;
        serde_json::from_value(v).map_err(|e| CallError::Transport(format!("userOpHash is not a hash: {e}")))
    }

    async fn receipt(&self, hash: B256) -> Result<Option<Value>, CallError> {
        let v = self.rpc.call("eth_getUserOperationReceipt", json!([hash])).await?;
        Ok(if v.is_null() { None } else { Some(v) })
    }
}

/// What a receipt tells the bench: the bundle transaction and whether the execution succeeded.
fn receipt_facts(r: &Value) -> (Option<String>, bool) {
    let tx = r.pointer("/receipt/transactionHash").and_then(Value::as_str).map(str::to_string);
    (tx, r.get("success").and_then(Value::as_bool).unwrap_or(false))
}

// ---------------------------------------------------------------------------------------------
// Statistics.

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

struct Summary {
    p50: f64,
    p99: f64,
    mean: f64,
    max: f64,
}

fn summarize(samples: &[f64]) -> Summary {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let mean = if s.is_empty() { f64::NAN } else { s.iter().sum::<f64>() / s.len() as f64 };
    Summary { p50: percentile(&s, 50.0), p99: percentile(&s, 99.0), mean, max: s.last().copied().unwrap_or(f64::NAN) }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// ---------------------------------------------------------------------------------------------
// The latency run.

struct LatencyReport {
    requested: usize,
    send_ms: Vec<f64>,
    receipt_ms: Vec<f64>,
    bundles: HashSet<String>,
    failed_executions: usize,
    stopped_early: Option<String>,
}

/// `n` operations (after `WARMUP` uncounted ones), each sent and then polled to its receipt
/// before the next is sent, so each is measured alone.
async fn latency_run(shared: &Shared, s: &mut Sender, n: usize) -> LatencyReport {
    let mut rep = LatencyReport {
        requested: n,
        send_ms: Vec::with_capacity(n),
        receipt_ms: Vec::with_capacity(n),
        bundles: HashSet::new(),
        failed_executions: 0,
        stopped_early: None,
    };
    let run_start = Instant::now();
    for i in 0..WARMUP + n {
        if run_start.elapsed() > LATENCY_RUN_LIMIT {
            rep.stopped_early = Some(format!("run time limit of {} s reached", LATENCY_RUN_LIMIT.as_secs()));
            break;
        }
        let op = shared.user_op(s);
        let t0 = Instant::now();
        let hash = match shared.send(op).await {
            Ok(h) => h,
            Err(e) => {
                rep.stopped_early = Some(format!("eth_sendUserOperation failed at op {i}: {e}"));
                break;
            }
        };
        let sent = t0.elapsed();
        s.next_seq += 1;
        let receipt = loop {
            match shared.receipt(hash).await {
                Ok(Some(r)) => break Ok(r),
                Ok(None) | Err(CallError::Rpc { .. }) if t0.elapsed() < RECEIPT_TIMEOUT => {
                    tokio::time::sleep(POLL).await
                }
                Ok(None) => break Err(format!("no receipt for op {i} within {} s", RECEIPT_TIMEOUT.as_secs())),
                Err(e) => break Err(format!("eth_getUserOperationReceipt failed at op {i}: {e}")),
            }
        };
        let included = t0.elapsed();
        let receipt = match receipt {
            Ok(r) => r,
            Err(m) => {
                rep.stopped_early = Some(m);
                break;
            }
        };
        if i < WARMUP {
            continue;
        }
        let (tx, success) = receipt_facts(&receipt);
        rep.bundles.extend(tx);
        rep.failed_executions += usize::from(!success);
        rep.send_ms.push(ms(sent));
        rep.receipt_ms.push(ms(included));
    }
    rep
}

// ---------------------------------------------------------------------------------------------
// The throughput runs.

struct SenderOutcome {
    sender: Sender,
    accepted: u64,
    rejected: u64,
    included: u64,
    failed_executions: u64,
    unresolved: u64,
    lost: u64,
    send_loop_end: Instant,
    last_inclusion: Option<Instant>,
    bundles: HashSet<String>,
    errors: Vec<String>,
}

impl SenderOutcome {
    fn note_error(&mut self, e: String) {
        if self.errors.len() < 3 && !self.errors.contains(&e) {
            self.errors.push(e);
        }
    }

    fn record_inclusion(&mut self, r: &Value) {
        let (tx, success) = receipt_facts(r);
        self.bundles.extend(tx);
        self.included += 1;
        self.failed_executions += u64::from(!success);
        self.last_inclusion = Some(Instant::now());
    }
}

/// One sender of a throughput window: sends operations with increasing nonces until the window
/// closes, keeping at most `SENDER_CAP` pending (when full it polls the oldest one's receipt),
/// then waits for its remaining receipts.
async fn sender_task(
    shared: Arc<Shared>,
    s: Sender,
    window_end: Instant,
    drain_end: Instant,
    max_ops: u64,
) -> SenderOutcome {
    let mut out = SenderOutcome {
        sender: s,
        accepted: 0,
        rejected: 0,
        included: 0,
        failed_executions: 0,
        unresolved: 0,
        lost: 0,
        send_loop_end: Instant::now(),
        last_inclusion: None,
        bundles: HashSet::new(),
        errors: Vec::new(),
    };
    let mut pending: VecDeque<B256> = VecDeque::with_capacity(SENDER_CAP);
    let mut errors = 0u64;
    // Since when the oldest pending operation's receipt has been awaited.
    let mut front_since: Option<Instant> = None;
    while Instant::now() < window_end && out.accepted < max_ops && errors < MAX_SENDER_ERRORS {
        if pending.len() >= SENDER_CAP {
            let since = *front_since.get_or_insert_with(Instant::now);
            match shared.receipt(pending[0]).await {
                Ok(Some(r)) => {
                    out.record_inclusion(&r);
                    pending.pop_front();
                    front_since = None;
                }
                Ok(None) if since.elapsed() > RECEIPT_TIMEOUT => {
                    // The bundler dropped it: every later nonce of this sender is now a gap, so
                    // the sender stops and its pending operations count as lost.
                    out.note_error(format!(
                        "an accepted operation got no receipt within {} s; sender stopped",
                        RECEIPT_TIMEOUT.as_secs()
                    ));
                    out.lost = pending.len() as u64;
                    pending.clear();
                    break;
                }
                Ok(None) => tokio::time::sleep(POLL).await,
                Err(e) => {
                    errors += 1;
                    out.note_error(format!("eth_getUserOperationReceipt: {e}"));
                    tokio::time::sleep(POLL).await;
                }
            }
            continue;
        }
        let op = shared.user_op(&out.sender);
        match shared.send(op).await {
            Ok(hash) => {
                out.accepted += 1;
                out.sender.next_seq += 1;
                pending.push_back(hash);
            }
            Err(e) => {
                errors += 1;
                out.rejected += 1;
                out.note_error(format!("eth_sendUserOperation: {e}"));
                tokio::time::sleep(POLL).await;
            }
        }
    }
    out.send_loop_end = Instant::now();
    while let Some(&hash) = pending.front() {
        if Instant::now() >= drain_end {
            break;
        }
        let since = *front_since.get_or_insert_with(Instant::now);
        match shared.receipt(hash).await {
            Ok(Some(r)) => {
                out.record_inclusion(&r);
                pending.pop_front();
                front_since = None;
            }
            Ok(None) if since.elapsed() > RECEIPT_TIMEOUT => {
                out.note_error(format!("an accepted operation got no receipt within {} s", RECEIPT_TIMEOUT.as_secs()));
                out.lost = pending.len() as u64;
                pending.clear();
            }
            Ok(None) => tokio::time::sleep(POLL).await,
            Err(e) => {
                out.note_error(format!("eth_getUserOperationReceipt: {e}"));
                tokio::time::sleep(POLL).await;
            }
        }
    }
    out.unresolved = pending.len() as u64;
    out
}

struct ThroughputRow {
    senders: usize,
    accepted: u64,
    send_window: Duration,
    included: u64,
    inclusion_span: Duration,
    rejected: u64,
    failed_executions: u64,
    unresolved: u64,
    lost: u64,
    bundles: usize,
    errors: Vec<String>,
}

async fn throughput_run(
    shared: &Arc<Shared>,
    pool: &mut Vec<Sender>,
    senders: usize,
    window: Duration,
    max_ops: u64,
) -> ThroughputRow {
    let start = Instant::now();
    let window_end = start + window;
    let drain_end = window_end + DRAIN_TIMEOUT;
    let tasks: Vec<_> = pool
        .drain(..senders)
        .map(|s| tokio::spawn(sender_task(shared.clone(), s, window_end, drain_end, max_ops)))
        .collect();
    let mut row = ThroughputRow {
        senders,
        accepted: 0,
        send_window: Duration::ZERO,
        included: 0,
        inclusion_span: Duration::ZERO,
        rejected: 0,
        failed_executions: 0,
        unresolved: 0,
        lost: 0,
        bundles: 0,
        errors: Vec::new(),
    };
    let mut bundles = HashSet::new();
    let mut returned = Vec::with_capacity(senders);
    for t in tasks {
        let out = t.await.expect("sender tasks do not panic");
        row.accepted += out.accepted;
        row.rejected += out.rejected;
        row.included += out.included;
        row.failed_executions += out.failed_executions;
        row.unresolved += out.unresolved;
        row.lost += out.lost;
        row.send_window = row.send_window.max(out.send_loop_end - start);
        if let Some(t) = out.last_inclusion {
            row.inclusion_span = row.inclusion_span.max(t - start);
        }
        bundles.extend(out.bundles);
        for e in out.errors {
            if row.errors.len() < 5 && !row.errors.contains(&e) {
                row.errors.push(e);
            }
        }
        returned.push(out.sender);
    }
    row.bundles = bundles.len();
    // Senders go back to the front of the pool in their original order, nonces advanced.
    returned.append(pool);
    *pool = returned;
    row
}

// ---------------------------------------------------------------------------------------------
// One backend, end to end.

struct BackendReport {
    backend: Backend,
    rpc_addr: SocketAddr,
    startup: Duration,
    accounts: usize,
    accounts_setup: Duration,
    latency: LatencyReport,
    throughput: Vec<ThroughputRow>,
    window: Duration,
}

fn scratch_dir(backend: Backend) -> PathBuf {
    std::env::temp_dir().join(format!("keyward-bundler-bench-{}-{}", backend.name(), std::process::id()))
}

async fn run_backend(backend: Backend, args: &Args, dir: &std::path::Path) -> anyhow::Result<BackendReport> {
    let t_start = Instant::now();
    let h = match backend {
        Backend::Embedded => Harness::embedded(),
        Backend::Anvil => {
            let path = keyward_chain::anvil::anvil_path();
            if !path.exists() {
                bail!("anvil not found at {} (run `npm ci --prefix tools`, or set KEYWARD_ANVIL)", path.display());
            }
            Harness::anvil().await
        }
    };
    let chain_id = h.chain_id().await;

    // The bundler signs with dev key 9 (the harness funds accounts from key 0, so their nonces never race).
    let _ = std::fs::remove_dir_all(dir);
    let store = Store::open_sqlite_file(dir).await.context("opening the SQLite mempool")?;
    let chain: Arc<dyn Chain> = h.chain.clone();
    let bundler = Bundler::new(chain.clone(), store, h.keys[9].clone(), BundlerConfig::default())
        .await
        .map_err(|e| anyhow::anyhow!("starting the bundler: {e}"))?;
    let dev: Arc<dyn DevChain> = h.chain.clone();
    let module = keyward_server::services::Services {
        chain: Some(chain),
        dev: Some(dev),
        bundler: Some(bundler.clone()),
        ..Default::default()
    }
    .into_module()
    .context("wiring the bundler RPC")?;
    let bundling = bundler.spawn();
    let (addr, server) =
        keyward_server::serve(SocketAddr::from(([127, 0, 0, 1], 0)), module, Some(bundler.store().clone()))
            .await
            .context("binding 127.0.0.1:0")?;
    let startup = t_start.elapsed();

    let rpc = RpcClient::new(addr)?;
    let eps = rpc.call("eth_supportedEntryPoints", json!([])).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let ep = h.ep;
    if !eps
        .as_array()
        .is_some_and(|a| a.iter().any(|v| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(&ep.to_string()))))
    {
        bail!("the server does not serve EntryPoint {ep}: {eps}");
    }

    let t_accounts = Instant::now();
    let counter = h.counter().await;
    let accounts = args.senders.iter().copied().max().unwrap_or(1).max(1);
    let fund = U256::from(FUND_ETH) * U256::from(10u64).pow(U256::from(18u64));
    let mut pool = Vec::with_capacity(accounts);
    for _ in 0..accounts {
        let owner = PrivateKeySigner::random();
        let account = h.test_account(owner.address(), fund).await;
        pool.push(Sender { owner, account, next_seq: 0 });
    }
    let accounts_setup = t_accounts.elapsed();

    let shared = Arc::new(Shared { rpc, ep, chain_id, counter });
    let latency = latency_run(&shared, &mut pool[0], args.ops).await;

    let window = Duration::from_secs(args.duration_secs);
    let mut throughput = Vec::new();
    for &n in &args.senders {
        if n == 0 {
            continue;
        }
        throughput.push(throughput_run(&shared, &mut pool, n, window, args.max_ops_per_sender).await);
    }

    let _ = server.stop();
    server.stopped().await;
    bundling.abort();
    drop(bundler);
    drop(h);
    Ok(BackendReport { backend, rpc_addr: addr, startup, accounts, accounts_setup, latency, throughput, window })
}

// ---------------------------------------------------------------------------------------------
// Output.

fn machine_line() -> String {
    let nproc = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    format!(
        "machine: nproc={nproc}, cpu={cpu}, os={}/{}; build profile: {profile}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

fn print_report(r: &BackendReport, machine: &str) {
    let l = &r.latency;
    println!();
    println!("=== bundler-bench: backend {} ===", r.backend.name());
    println!("{machine}");
    println!(
        "setup: chain + SQLite mempool + bundler (auto) + JSON-RPC on http://{} in {:.2} s; {} funded TestAccounts in {:.2} s",
        r.rpc_addr,
        r.startup.as_secs_f64(),
        r.accounts,
        r.accounts_setup.as_secs_f64()
    );
    println!();
    println!(
        "latency: 1 sender, one op at a time (send, poll receipt every {} ms, next); {} of {} ops measured after {WARMUP} warm-up",
        POLL.as_millis(),
        l.send_ms.len(),
        l.requested
    );
    println!("  {:<38} {:>9} {:>9} {:>9} {:>9}", "figure", "p50 ms", "p99 ms", "mean ms", "max ms");
    for (name, samples) in [("eth_sendUserOperation", &l.send_ms), ("send -> receipt (first non-null)", &l.receipt_ms)]
    {
        let s = summarize(samples);
        println!("  {:<38} {:>9.2} {:>9.2} {:>9.2} {:>9.2}", name, s.p50, s.p99, s.mean, s.max);
    }
    println!(
        "  bundles: {} for {} ops; executions reverted: {}",
        l.bundles.len(),
        l.send_ms.len(),
        l.failed_executions
    );
    if let Some(why) = &l.stopped_early {
        println!("  STOPPED EARLY: {why}");
    }
    println!();
    println!(
        "throughput: each sender its own account, <= {SENDER_CAP} ops pending (waits for the oldest receipt), {} s send window",
        r.window.as_secs()
    );
    println!(
        "  {:>7} {:>9} {:>11} {:>9} {:>11} {:>9} {:>8} {:>10} {:>5} {:>10}",
        "senders",
        "accepted",
        "accepted/s",
        "included",
        "included/s",
        "rejected",
        "bundles",
        "ops/bundle",
        "lost",
        "unresolved"
    );
    for t in &r.throughput {
        let acc_s = t.accepted as f64 / t.send_window.as_secs_f64().max(1e-9);
        let inc_s = if t.inclusion_span.is_zero() { 0.0 } else { t.included as f64 / t.inclusion_span.as_secs_f64() };
        let per_bundle = if t.bundles == 0 { 0.0 } else { t.included as f64 / t.bundles as f64 };
        println!(
            "  {:>7} {:>9} {:>11.1} {:>9} {:>11.1} {:>9} {:>8} {:>10.2} {:>5} {:>10}",
            t.senders, t.accepted, acc_s, t.included, inc_s, t.rejected, t.bundles, per_bundle, t.lost, t.unresolved
        );
        if t.failed_executions > 0 {
            println!("          ({} included ops reverted in execution)", t.failed_executions);
        }
        for e in &t.errors {
            println!("          error: {e}");
        }
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    if args.ops == 0 {
        bail!("--ops must be at least 1");
    }
    if args.duration_secs == 0 || args.duration_secs > 600 {
        bail!("--duration-secs must be between 1 and 600");
    }
    if args.senders.iter().any(|&n| n > 256) {
        bail!("--senders: at most 256 concurrent senders");
    }
    let backends: &[Backend] = match args.backend {
        BackendArg::Embedded => &[Backend::Embedded],
        BackendArg::Anvil => &[Backend::Anvil],
        BackendArg::Both => &[Backend::Embedded, Backend::Anvil],
    };
    let machine = machine_line();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting Tokio")?;
    let mut failures = 0;
    for &backend in backends {
        let dir = scratch_dir(backend);
        eprintln!("bundler-bench: running backend {} ...", backend.name());
        let result = runtime.block_on(run_backend(backend, &args, &dir));
        let _ = std::fs::remove_dir_all(&dir);
        match result {
            Ok(report) => print_report(&report, &machine),
            Err(e) => {
                failures += 1;
                println!();
                println!("=== bundler-bench: backend {} FAILED: {e:#}", backend.name());
            }
        }
    }
    if failures > 0 {
        bail!("{failures} backend(s) failed");
    }
    Ok(())
}
