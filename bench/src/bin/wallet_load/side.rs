//! Scenario 3: Keyward and Alto side by side on the same ERC-4337 load, alternating runs (Keyward,
//! Alto, Keyward, Alto …), a fresh anvil and fresh senders for every run.

use std::time::Duration;

use crate::bundlers::{Programs, Which, start};
use crate::erc4337::{LoadResult, chainset, load};
use crate::procs::{Scratch, cpu_seconds};
use crate::stats::{fmt, fmt_pair, mean, p50_p99, ratio, table};

/// One run: a bundler, a sender count, and what it measured (or why it could not run).
pub(crate) struct Run {
    /// The bundler.
    pub(crate) which: Which,
    /// Concurrent senders.
    pub(crate) senders: usize,
    /// Its repetition number (1-based).
    pub(crate) rep: usize,
    /// The measurement and the bundler's CPU seconds, or the error.
    pub(crate) outcome: Result<(LoadResult, f64), String>,
}

/// What the scenario produced.
pub(crate) struct Report {
    /// Every run, in the order they ran.
    pub(crate) runs: Vec<Run>,
    /// The send window of each run.
    pub(crate) window: Duration,
    /// Operations each sender keeps pending.
    pub(crate) pipeline: usize,
}

/// Runs the scenario for each count of `senders`, `reps` times per bundler.
pub(crate) async fn scenario(
    p: &Programs,
    senders: &[usize],
    reps: usize,
    window: Duration,
    pipeline: usize,
    tck: u64,
) -> Report {
    let mut runs = Vec::new();
    for &k in senders {
        for rep in 1..=reps {
            for which in [Which::Keyward, Which::Alto] {
                eprintln!("wallet-load: scenario 3: {} with {k} senders, run {rep} of {reps} ...", which.name());
                let outcome = one(p, which, k, window, pipeline, tck).await.map_err(|e| format!("{e:#}"));
                if let Err(e) = &outcome {
                    eprintln!("wallet-load: scenario 3: {} failed: {e}", which.name());
                }
                runs.push(Run { which, senders: k, rep, outcome });
            }
        }
    }
    Report { runs, window, pipeline }
}

async fn one(
    p: &Programs,
    which: Which,
    k: usize,
    window: Duration,
    pipeline: usize,
    tck: u64,
) -> anyhow::Result<(LoadResult, f64)> {
    let work = Scratch::new(&format!("side-{}-{k}", which.name()))?;
    let set = chainset(k).await?;
    let mut running = start(which, p, set.anvil.url(), &work.0).await?;
    let pid = running.server.pid();
    let cpu0 = cpu_seconds(pid, tck)?;
    let result = load(running.rpc.clone(), &set, window, pipeline).await;
    let cpu = cpu_seconds(pid, tck)? - cpu0;
    if result.to_receipt.is_empty() {
        let log = running.server.log_tail(20);
        anyhow::bail!("no operation was included; errors: {:?}; {} log ends:\n{log}", result.errors, which.name());
    }
    running.server.stop();
    drop(set);
    Ok((result, cpu))
}

/// Aggregates of the runs of one bundler at one sender count.
struct Agg {
    included_per_s: f64,
    p50: f64,
    p99: f64,
    runs: usize,
}

fn agg(r: &Report, which: Which, k: usize) -> Agg {
    let ok: Vec<&(LoadResult, f64)> =
        r.runs.iter().filter(|x| x.which == which && x.senders == k).filter_map(|x| x.outcome.as_ref().ok()).collect();
    let rates: Vec<f64> = ok.iter().map(|(l, _)| l.included_per_s()).collect();
    let all: Vec<f64> = ok.iter().flat_map(|(l, _)| l.to_receipt.iter().copied()).collect();
    let p = p50_p99(&all);
    Agg { included_per_s: mean(&rates), p50: p.p50, p99: p.p99, runs: ok.len() }
}

/// The scenario's Markdown: every run, then the summary with ratios Keyward/Alto.
pub(crate) fn markdown(r: &Report) -> String {
    let mut out = format!(
        "Every run: a fresh anvil (automine) with the canonical EntryPoint v0.7, K fresh `TestAccount`s \
         (owner-signed, `execute(counter, 0, count())`), each sender keeping up to {} operations pending \
         (`eth_sendUserOperation`, receipts polled every 10 ms) for a {} s window, then waiting for the \
         rest. Runs alternate Keyward, Alto, Keyward, Alto at each K.\n\n",
        r.pipeline,
        r.window.as_secs_f64()
    );
    let header = [
        "bundler",
        "senders",
        "run",
        "accepted",
        "included",
        "included ops/s",
        "time to receipt p50 / p99 ms",
        "rejected",
        "reverted",
        "missing",
        "bundler CPU ms/op",
    ];
    let mut rows = Vec::new();
    let mut failures = String::new();
    for run in &r.runs {
        match &run.outcome {
            Ok((l, cpu)) => rows.push(vec![
                run.which.name().to_string(),
                run.senders.to_string(),
                run.rep.to_string(),
                l.accepted.to_string(),
                l.to_receipt.len().to_string(),
                fmt(l.included_per_s(), 1),
                fmt_pair(p50_p99(&l.to_receipt)),
                l.rejected.to_string(),
                l.reverted.to_string(),
                l.missing.to_string(),
                fmt(cpu * 1000.0 / l.to_receipt.len().max(1) as f64, 2),
            ]),
            Err(e) => {
                rows.push(vec![
                    run.which.name().to_string(),
                    run.senders.to_string(),
                    run.rep.to_string(),
                    "failed (below)".into(),
                ]);
                failures.push_str(&format!(
                    "\n- {} with {} senders, run {}: \n\n```text\n{e}\n```\n",
                    run.which.name(),
                    run.senders,
                    run.rep
                ));
            }
        }
        if let Ok((l, _)) = &run.outcome {
            for e in &l.errors {
                failures.push_str(&format!(
                    "\n- {} / {} senders / run {}: {e}",
                    run.which.name(),
                    run.senders,
                    run.rep
                ));
            }
        }
    }
    for row in &mut rows {
        row.resize(header.len(), String::new());
    }
    out.push_str(&table(&header, &rows));
    out.push_str(&failures);
    out.push_str(
        "\n\nSummary (included ops/s: mean over the runs; time to receipt: percentiles over all their operations):\n\n",
    );
    let mut ks: Vec<usize> = r.runs.iter().map(|x| x.senders).collect();
    ks.dedup();
    let sheader = [
        "senders",
        "Keyward ops/s",
        "Alto ops/s",
        "ops/s Keyward/Alto",
        "Keyward p50 / p99 ms",
        "Alto p50 / p99 ms",
        "p50 Keyward/Alto",
        "p99 Keyward/Alto",
    ];
    let srows: Vec<Vec<String>> = ks
        .iter()
        .map(|&k| {
            let (kw, al) = (agg(r, Which::Keyward, k), agg(r, Which::Alto, k));
            vec![
                k.to_string(),
                format!("{} ({} runs)", fmt(kw.included_per_s, 1), kw.runs),
                format!("{} ({} runs)", fmt(al.included_per_s, 1), al.runs),
                fmt(ratio(kw.included_per_s, al.included_per_s), 2),
                format!("{} / {}", fmt(kw.p50, 1), fmt(kw.p99, 1)),
                format!("{} / {}", fmt(al.p50, 1), fmt(al.p99, 1)),
                fmt(ratio(kw.p50, al.p50), 2),
                fmt(ratio(kw.p99, al.p99), 2),
            ]
        })
        .collect();
    out.push_str(&table(&sheader, &srows));
    out
}
