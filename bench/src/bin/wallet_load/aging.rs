//! Scenario 2: aging. N session-key calls on one `keyward dev --data-dir` process, in equal
//! segments (5,000 calls, or a tenth of N when that is less); per segment the server CPU per call,
//! latencies and the size of the store on disk.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::U256;

use crate::dev::Dev;
use crate::load::{Budget, RunResult, run};
use crate::procs::{Scratch, dir_bytes, sqlite_bytes};
use crate::session::{Target, setup};
use crate::stats::{fmt, fmt_pair, kib, p50_p99, ratio, table};

/// Funding of each account (the unsponsored variant pays its own gas): 50 ETH.
const FUND_WEI: u128 = 50_000_000_000_000_000_000;

/// One segment's figures.
pub(crate) struct Segment {
    /// Calls before this segment.
    pub(crate) first_call: u64,
    /// What it measured.
    pub(crate) result: RunResult,
    /// SQLite store bytes (`keyward.db` + `-wal` + `-shm`) after it.
    pub(crate) sqlite_after: u64,
    /// Whole data directory bytes after it.
    pub(crate) dir_after: u64,
}

/// What the scenario produced.
pub(crate) struct Report {
    /// Calls asked for.
    pub(crate) ops: u64,
    /// Concurrent sessions.
    pub(crate) sessions: usize,
    /// Whether calls were sponsored.
    pub(crate) sponsored: bool,
    /// SQLite bytes after set-up, before the first measured call.
    pub(crate) sqlite_before: u64,
    /// Data directory bytes after set-up.
    pub(crate) dir_before: u64,
    /// The segments, in order.
    pub(crate) segments: Vec<Segment>,
}

/// Runs `ops` calls from `sessions` sessions on a fresh `keyward dev --data-dir`.
pub(crate) async fn scenario(
    bin: &Path,
    ops: u64,
    sessions: usize,
    sponsored: bool,
    poll: Duration,
    tck: u64,
) -> anyhow::Result<Report> {
    let scratch = Scratch::new("aging")?;
    let data = scratch.0.join("data");
    let dev = Dev::start(bin, Some(&data), &scratch.0.join("keyward-dev.log"), tck).await?;
    let counter = dev.deploy_counter().await?;
    let target = Arc::new(Target { counter, chain_hex: dev.chain_hex(), poll });
    let fund = if sponsored { U256::ZERO } else { U256::from(FUND_WEI) };
    let pool = setup(&dev, &target, sessions.max(1), fund).await?;
    let db = data.join("keyward.db");
    let (sqlite_before, dir_before) = (sqlite_bytes(&db), dir_bytes(&data));
    let seg = segment_size(ops);
    let mut segments = Vec::new();
    let mut done = 0u64;
    while done < ops {
        let n = seg.min(ops - done);
        eprintln!("wallet-load: scenario 2 (aging): calls {done}..{} of {ops} ...", done + n);
        let result = run(&dev, &target, &pool, sponsored, Budget::Calls(n)).await?;
        segments.push(Segment {
            first_call: done,
            result,
            sqlite_after: sqlite_bytes(&db),
            dir_after: dir_bytes(&data),
        });
        done += n;
    }
    drop(dev);
    Ok(Report { ops, sessions: pool.len(), sponsored, sqlite_before, dir_before, segments })
}

/// 5,000 calls, or a tenth of `ops` when that is less (at least 1).
pub(crate) fn segment_size(ops: u64) -> u64 {
    (ops / 10).clamp(1, 5_000)
}

/// Calls (completed) of a segment, at least 1 for divisions.
fn completed(s: &Segment) -> f64 {
    s.result.samples.len().max(1) as f64
}

/// The scenario's Markdown: per-segment table, then first vs last and store growth.
pub(crate) fn markdown(r: &Report) -> String {
    let header = [
        "calls",
        "completed (failed)",
        "calls/s",
        "server CPU ms/call",
        "whole call p50 / p99 ms",
        "send→200 p50 / p99 ms",
        "SQLite store KiB after",
        "data dir KiB after",
    ];
    let rows: Vec<Vec<String>> = r
        .segments
        .iter()
        .map(|s| {
            let x = &s.result;
            vec![
                format!("{}–{}", s.first_call, s.first_call + x.samples.len() as u64 + x.failed),
                format!("{} ({})", x.samples.len(), x.failed),
                fmt(x.calls_per_s(), 1),
                fmt(x.server_cpu_ms_per_call(), 2),
                fmt_pair(p50_p99(&x.series(|c| c.whole))),
                fmt_pair(p50_p99(&x.series(|c| c.to_200))),
                kib(s.sqlite_after as f64),
                kib(s.dir_after as f64),
            ]
        })
        .collect();
    let mut out = format!(
        "{} calls from {} sessions (one call in flight each, {}), on one `keyward dev --data-dir` process; \
         segments of {} calls, each started when the previous one finished. Store sizes after set-up: SQLite \
         {} KiB, data dir {} KiB.\n\n",
        r.ops,
        r.sessions,
        if r.sponsored { "sponsored by the dev policy" } else { "unsponsored" },
        segment_size(r.ops),
        kib(r.sqlite_before as f64),
        kib(r.dir_before as f64),
    );
    out.push_str(&table(&header, &rows));
    if let (Some(first), Some(last)) = (r.segments.first(), r.segments.last()) {
        let cpu = |s: &Segment| s.result.server_cpu_ms_per_call();
        let whole = |s: &Segment| p50_p99(&s.result.series(|c| c.whole));
        let (wf, wl) = (whole(first), whole(last));
        let total: f64 = r.segments.iter().map(|s| s.result.samples.len() as f64).sum::<f64>().max(1.0);
        let sqlite_growth = last.sqlite_after.saturating_sub(r.sqlite_before) as f64;
        let dir_growth = last.dir_after.saturating_sub(r.dir_before) as f64;
        out.push_str(&format!(
            "\nFirst vs last segment ({} and {} completed calls): server CPU {} → {} ms/call (last/first {}×); \
             whole call p50 {} → {} ms ({}×), p99 {} → {} ms ({}×). Store growth over {} completed calls: SQLite \
             {} bytes/call, whole data dir (chain journal included) {} bytes/call.\n",
            completed(first),
            completed(last),
            fmt(cpu(first), 2),
            fmt(cpu(last), 2),
            fmt(ratio(cpu(last), cpu(first)), 2),
            fmt(wf.p50, 1),
            fmt(wl.p50, 1),
            fmt(ratio(wl.p50, wf.p50), 2),
            fmt(wf.p99, 1),
            fmt(wl.p99, 1),
            fmt(ratio(wl.p99, wf.p99), 2),
            total,
            fmt(sqlite_growth / total, 0),
            fmt(dir_growth / total, 0),
        ));
    }
    for s in &r.segments {
        for e in &s.result.errors {
            out.push_str(&format!("\n- calls from {}: error: {e}", s.first_call));
        }
    }
    out
}
