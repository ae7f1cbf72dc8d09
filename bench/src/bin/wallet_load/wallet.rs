//! Scenario 1: session-key calls end to end through the Wallet API of a `keyward dev` process,
//! with 1, 8, 64, 256 concurrent sessions, unsponsored and sponsored.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy::primitives::{U256, keccak256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;

use crate::dev::Dev;
use crate::load::{Budget, RunResult, run};
use crate::procs::Scratch;
use crate::session::{Target, setup};
use crate::stats::{fmt, fmt_pair, p50_p99, table};

/// Funding of each account for its unsponsored calls: 5 ETH.
const FUND_WEI: u128 = 5_000_000_000_000_000_000;

/// One run of the scenario.
pub(crate) struct Row {
    /// Concurrent sessions.
    pub(crate) sessions: usize,
    /// Whether the calls were sponsored by the dev policy.
    pub(crate) sponsored: bool,
    /// What it measured.
    pub(crate) result: RunResult,
}

/// What the scenario produced.
pub(crate) struct Report {
    /// Set-up time (accounts, sessions, installs), not in any figure.
    pub(crate) setup: Duration,
    /// The runs.
    pub(crate) rows: Vec<Row>,
    /// The send window of each run.
    pub(crate) window: Duration,
    /// The status poll interval.
    pub(crate) poll: Duration,
    /// CPU time of one secp256k1 signature of a digest (what the paymaster adds to a sponsored
    /// call by the yardstick), timed in this process before the runs.
    pub(crate) signature_ms: f64,
}

/// The time one ECDSA signature of a 32-byte digest takes here (the paymaster's signer, the same
/// library), over 2,000 of them.
fn signature_ms() -> anyhow::Result<f64> {
    let signer = PrivateKeySigner::random();
    let n = 2_000u32;
    let t0 = Instant::now();
    for i in 0..n {
        signer.sign_hash_sync(&keccak256(i.to_be_bytes()))?;
    }
    Ok(t0.elapsed().as_secs_f64() * 1e3 / f64::from(n))
}

/// Runs the scenario against a fresh `keyward dev` from `bin`.
pub(crate) async fn scenario(
    bin: &Path,
    counts: &[usize],
    window: Duration,
    poll: Duration,
    tck: u64,
) -> anyhow::Result<Report> {
    let signature_ms = signature_ms()?;
    let scratch = Scratch::new("wallet")?;
    let dev = Dev::start(bin, None, &scratch.0.join("keyward-dev.log"), tck).await?;
    let t0 = Instant::now();
    let counter = dev.deploy_counter().await?;
    let target = Arc::new(Target { counter, chain_hex: dev.chain_hex(), poll });
    let most = counts.iter().copied().max().unwrap_or(1).max(1);
    eprintln!("wallet-load: scenario 1: setting up {most} sessions (accounts funded, sessions installed) ...");
    let sessions = setup(&dev, &target, most, U256::from(FUND_WEI)).await?;
    let setup_time = t0.elapsed();
    let mut rows = Vec::new();
    for &n in counts {
        for sponsored in [false, true] {
            eprintln!("wallet-load: scenario 1: {n} sessions, sponsored={sponsored} ...");
            let result = run(&dev, &target, &sessions[..n], sponsored, Budget::Window(window)).await?;
            rows.push(Row { sessions: n, sponsored, result });
        }
    }
    drop(dev);
    Ok(Report { setup: setup_time, rows, window, poll, signature_ms })
}

/// The scenario's Markdown: a sentence on the set-up, then the table.
pub(crate) fn markdown(r: &Report) -> String {
    let header = [
        "sessions",
        "sponsored",
        "calls (failed)",
        "calls/s",
        "prepare p50 / p99 ms",
        "send p50 / p99 ms",
        "send→200 p50 / p99 ms",
        "whole call p50 / p99 ms",
        "server CPU ms/call",
        "server context switches/call",
        "client CPU ms/call",
        "polls/call",
    ];
    let rows: Vec<Vec<String>> = r
        .rows
        .iter()
        .map(|row| {
            let x = &row.result;
            vec![
                row.sessions.to_string(),
                if row.sponsored { "yes" } else { "no" }.to_string(),
                format!("{} ({})", x.samples.len(), x.failed),
                fmt(x.calls_per_s(), 1),
                fmt_pair(p50_p99(&x.series(|s| s.prepare))),
                fmt_pair(p50_p99(&x.series(|s| s.send))),
                fmt_pair(p50_p99(&x.series(|s| s.to_200))),
                fmt_pair(p50_p99(&x.series(|s| s.whole))),
                fmt(x.server_cpu_ms_per_call(), 2),
                fmt(x.server_switches_per_call(), 1),
                fmt(x.client_cpu_ms_per_call(), 2),
                fmt(x.polls_per_call(), 1),
            ]
        })
        .collect();
    let mut out = format!(
        "Each session on its own account, one call in flight per session (prepare → sign → send → poll \
         `wallet_getCallsStatus` every {} ms until 200), {} s window per run; set-up ({} sessions granted and \
         installed, accounts funded) took {:.1} s and is in no figure.\n\n",
        r.poll.as_millis(),
        r.window.as_secs_f64(),
        r.rows.iter().map(|x| x.sessions).max().unwrap_or(0),
        r.setup.as_secs_f64()
    );
    out.push_str(&table(&header, &rows));
    for row in &r.rows {
        for e in &row.result.errors {
            out.push_str(&format!("\n- {} sessions, sponsored={}: error: {e}", row.sessions, row.sponsored));
        }
    }
    out.push('\n');
    out
}
