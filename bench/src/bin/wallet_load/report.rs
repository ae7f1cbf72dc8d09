//! The report: the run's context (machine, commit, build, command), the goals checked
//! against the figures, and writing the section into `docs/perf.md`.

use std::path::Path;
use std::process::Command;

use anyhow::Context;

use crate::bundlers::Which;
use crate::stats::{fmt, mean, p50_p99, ratio, table};

/// The document's head, when `wallet-load` creates it.
const HEAD: &str = "# Performance\n\nThroughput, latency and server CPU of Keyward's Wallet API and bundler, measured \
    by `wallet-load` (how to run it and what each figure means: \
    [`bench/README.md`](../bench/README.md#wallet-load-issue-16)). Each scenario's section is rewritten by \
    the runs of that scenario that write this file, between its `wallet-load` markers; each says its \
    machine, commit, build and command.\n";

/// `nproc`, the CPU model and the OS.
pub(crate) fn machine() -> String {
    let nproc = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| s.lines().next().map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string()))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| format!("{:.1} GiB", kb as f64 / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown".into());
    format!("nproc {nproc}, {cpu}, {mem} RAM, {}/{}", std::env::consts::OS, std::env::consts::ARCH)
}

fn command_out(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The commit checked out (with `+ uncommitted changes` when tracked files differ from it).
pub(crate) fn commit() -> String {
    let dir = env!("CARGO_MANIFEST_DIR");
    let head = command_out("git", &["-C", dir, "rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty = command_out("git", &["-C", dir, "status", "--porcelain", "--untracked-files=no"])
        .is_some_and(|s| !s.is_empty());
    if dirty { format!("{head} + uncommitted changes") } else { head }
}

/// The date, UTC, from `date -u`.
pub(crate) fn date() -> String {
    command_out("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_else(|| "unknown date".into())
}

/// The context lines at the head of the section.
pub(crate) fn context(keyward: &Path, command: &str) -> String {
    let profile = |p: &str| {
        if p.contains("/release/") {
            "release"
        } else if p.contains("/debug/") {
            "debug"
        } else {
            "unknown (not under release/ or debug/)"
        }
    };
    let bin = keyward.display().to_string();
    format!(
        "- measured: {}\n- machine: {}\n- git commit: `{}`\n- server binary: `{bin}` (build profile: {}); load \
         generator build profile: {}\n- command: `{command}`\n- the client (this load generator: signing, JSON, \
         HTTP) runs on the same cores as the server; server CPU is the server process's own user + system time \
         from `/proc/<pid>/stat` (all its threads), the client's is shown apart\n",
        date(),
        machine(),
        commit(),
        profile(&bin),
        if cfg!(debug_assertions) { "debug" } else { "release" },
    )
}

/// A goal, its target, the figure measured and whether it is met.
pub(crate) struct Goal {
    /// What it is.
    pub(crate) what: String,
    /// The figure measured (or why there is none).
    pub(crate) measured: String,
    /// Met, not met, or not measured (`None`).
    pub(crate) met: Option<bool>,
}

/// The goals table.
pub(crate) fn goals_markdown(goals: &[Goal]) -> String {
    let rows: Vec<Vec<String>> = goals
        .iter()
        .map(|g| {
            let met = match g.met {
                Some(true) => "met",
                Some(false) => "**not met**",
                None => "not measured",
            };
            vec![g.what.clone(), g.measured.clone(), met.to_string()]
        })
        .collect();
    table(&["goal (issue 16)", "measured", "verdict"], &rows).replace("|---:|---:|---:|", "|---|---|---|")
}

/// The goals of the Wallet API scenario.
pub(crate) fn wallet_goals(r: &crate::wallet::Report) -> Vec<Goal> {
    let best = r.rows.iter().map(|x| x.result.calls_per_s()).fold(f64::NAN, f64::max);
    let cpu: Vec<f64> = r.rows.iter().map(|x| x.result.server_cpu_ms_per_call()).collect();
    let cpu_max = cpu.iter().copied().fold(f64::NAN, f64::max);
    let cpu_min = cpu.iter().copied().fold(f64::NAN, f64::min);
    let one: Vec<f64> =
        r.rows.iter().filter(|x| x.sessions == 1).map(|x| p50_p99(&x.result.series(|s| s.to_200)).p50).collect();
    let one_max = one.iter().copied().fold(f64::NAN, f64::max);
    vec![
        Goal {
            what: "≥ 2,000 session-key calls/s end to end".into(),
            measured: format!("best run {} calls/s", fmt(best, 1)),
            met: best.is_finite().then_some(best >= 2000.0),
        },
        Goal {
            what: "≤ 1 ms server CPU per call".into(),
            measured: format!("{}–{} ms per call over the runs", fmt(cpu_min, 2), fmt(cpu_max, 2)),
            met: cpu_max.is_finite().then_some(cpu_max <= 1.0),
        },
        Goal {
            what: "send→200 p50 ≤ 10 ms for one session".into(),
            measured: format!("{} ms (worst of the 1-session runs)", fmt(one_max, 1)),
            met: one_max.is_finite().then_some(one_max <= 10.0),
        },
        sponsored_goal(r),
    ]
}

/// Sponsored calls at the server CPU of unsponsored ones plus one signature: the difference at
/// each session count against one signature's time here.
fn sponsored_goal(r: &crate::wallet::Report) -> Goal {
    let cpu = |n: usize, sponsored: bool| {
        r.rows.iter().find(|x| x.sessions == n && x.sponsored == sponsored).map(|x| x.result.server_cpu_ms_per_call())
    };
    let mut counts: Vec<usize> = r.rows.iter().map(|x| x.sessions).collect();
    counts.dedup();
    let extra: Vec<(usize, f64)> = counts
        .iter()
        .filter_map(|&n| Some((n, cpu(n, true)? - cpu(n, false)?)))
        .filter(|(_, d)| d.is_finite())
        .collect();
    let listed: Vec<String> = extra.iter().map(|(n, d)| format!("{} at {n}", fmt(*d, 2))).collect();
    Goal {
        what: "a sponsored call costs an unsponsored one plus one signature".into(),
        measured: format!(
            "sponsored − unsponsored server CPU ms per call: {} sessions; one signature {} ms",
            listed.join(", "),
            fmt(r.signature_ms, 3)
        ),
        met: (!extra.is_empty()).then(|| extra.iter().all(|(_, d)| *d <= r.signature_ms)),
    }
}

/// The goals of the aging scenario.
pub(crate) fn aging_goals(r: &crate::aging::Report) -> Vec<Goal> {
    let (Some(first), Some(last)) = (r.segments.first(), r.segments.last()) else { return Vec::new() };
    let cpu = ratio(last.result.server_cpu_ms_per_call(), first.result.server_cpu_ms_per_call());
    let total: f64 = r.segments.iter().map(|s| s.result.samples.len() as f64).sum::<f64>().max(1.0);
    let per_op = last.sqlite_after.saturating_sub(r.sqlite_before) as f64 / total;
    let full = r.ops >= 50_000;
    let scope = if full { String::new() } else { format!(" (measured over {} ops, not 50,000)", r.ops) };
    vec![
        Goal {
            what: "after 50,000 ops, CPU per op within 1.2× of the first 5,000".into(),
            measured: format!("last/first segment {}×{scope}", fmt(cpu, 2)),
            met: (full && cpu.is_finite()).then_some(cpu <= 1.2),
        },
        Goal {
            what: "≤ 2 KB store per op".into(),
            measured: format!("{} bytes per op (SQLite files){scope}", fmt(per_op, 0)),
            met: per_op.is_finite().then_some(per_op <= 2048.0),
        },
    ]
}

/// The goals of the side-by-side scenario.
pub(crate) fn side_goals(r: &crate::side::Report) -> Vec<Goal> {
    let rate = |which: Which, k: usize| {
        let v: Vec<f64> = r
            .runs
            .iter()
            .filter(|x| x.which == which && x.senders == k)
            .filter_map(|x| x.outcome.as_ref().ok())
            .map(|(l, _)| l.included_per_s())
            .collect();
        mean(&v)
    };
    let lat = |which: Which, k: usize| {
        let all: Vec<f64> = r
            .runs
            .iter()
            .filter(|x| x.which == which && x.senders == k)
            .filter_map(|x| x.outcome.as_ref().ok())
            .flat_map(|(l, _)| l.to_receipt.iter().copied())
            .collect();
        p50_p99(&all)
    };
    let r8 = ratio(rate(Which::Keyward, 8), rate(Which::Alto, 8));
    let mut ks: Vec<usize> = r.runs.iter().map(|x| x.senders).collect();
    ks.dedup();
    let mut lower = Some(true);
    let mut parts = Vec::new();
    for k in ks {
        let (a, b) = (lat(Which::Keyward, k), lat(Which::Alto, k));
        if !(a.p50.is_finite() && b.p50.is_finite()) {
            lower = None;
            parts.push(format!("K={k}: no comparison"));
            continue;
        }
        if a.p50 >= b.p50 || a.p99 >= b.p99 {
            lower = lower.map(|_| false);
        }
        parts.push(format!("K={k}: {} / {} vs {} / {} ms", fmt(a.p50, 1), fmt(a.p99, 1), fmt(b.p50, 1), fmt(b.p99, 1)));
    }
    vec![
        Goal {
            what: "≥ 10× Alto's included ops/s at 8 senders".into(),
            measured: format!("Keyward/Alto {}×", fmt(r8, 2)),
            met: r8.is_finite().then_some(r8 >= 10.0),
        },
        Goal {
            what: "lower p50 and p99 time to receipt than Alto at every concurrency".into(),
            measured: parts.join("; "),
            met: lower,
        },
    ]
}

/// Writes `section` between the `key` markers of `path` (replacing what was there), or appends it,
/// or creates the document.
pub(crate) fn write_section(path: &Path, key: &str, section: &str) -> anyhow::Result<()> {
    let begin = format!("<!-- wallet-load:{key}:begin (written by `wallet-load`; edit outside these markers) -->");
    let end = format!("<!-- wallet-load:{key}:end -->");
    let block = format!("{begin}\n{}\n{end}\n", section.trim_end());
    let old = std::fs::read_to_string(path).unwrap_or_else(|_| HEAD.to_string());
    let text = match (old.find(&begin), old.find(&end)) {
        (Some(b), Some(e)) if e > b => {
            format!("{}{block}{}", &old[..b], &old[e + end.len()..].trim_start_matches('\n'))
        }
        _ => format!("{}\n\n{block}", old.trim_end()),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}
