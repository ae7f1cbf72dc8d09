//! `wallet-load`: throughput and latency of Keyward as a separate server process (issue 16).
//!
//! 1. session-key calls end to end through the Wallet API of `keyward dev` (1, 8, 64, 256
//!    concurrent sessions, unsponsored and sponsored);
//! 2. aging: N calls on one `keyward dev --data-dir`, first vs last segment and store growth;
//! 3. the same ERC-4337 load against `keyward serve` and Pimlico's Alto on anvil, side by side.
//!
//! The server's CPU is read from `/proc/<pid>/stat` before and after each run, so the client's
//! signing never counts in it. Prints Markdown tables and writes them into `docs/perf.md`; see
//! `bench/README.md` for what each figure means.

// Each benchmark binary is a crate of its own that sees every dependency of the package.
#![allow(unused_crate_dependencies)]

mod aging;
mod bundlers;
mod dev;
mod erc4337;
mod load;
mod procs;
mod report;
mod rpc;
mod session;
mod side;
mod stats;
mod wallet;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};

/// The scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// Session-key calls end to end through the Wallet API.
    Wallet,
    /// N calls on one process with its store on disk.
    Aging,
    /// Keyward and Alto on the same ERC-4337 load.
    Side,
}

/// Throughput and latency of Keyward (a separate `keyward dev` / `keyward serve` process).
#[derive(Debug, Parser)]
#[command(name = "wallet-load")]
struct Args {
    /// The keyward binary under test [default: $CARGO_TARGET_DIR/release/keyward or target/release/keyward].
    #[arg(long)]
    keyward: Option<PathBuf>,
    /// Tiny sizes (seconds in all) for a smoke test; explicit sizes still win. Writes no document
    /// unless --doc is given, and exits non-zero when any session-key call failed.
    #[arg(long)]
    quick: bool,
    /// Scenarios to run, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "wallet,aging,side")]
    scenarios: Vec<Scenario>,
    /// Scenario 1: concurrent-session counts [default: 1,8,64,256; quick: 1,4].
    #[arg(long, value_delimiter = ',')]
    sessions: Option<Vec<usize>>,
    /// Scenario 1: window of each run in seconds [default: 10; quick: 2].
    #[arg(long)]
    duration_secs: Option<u64>,
    /// Scenarios 1 and 2: interval between two wallet_getCallsStatus polls of a call, in ms.
    #[arg(long, default_value_t = 5)]
    poll_ms: u64,
    /// Scenario 2: calls in all [default: 50000; quick: 200].
    #[arg(long)]
    aging_ops: Option<u64>,
    /// Scenario 2: concurrent sessions [default: 8; quick: 2].
    #[arg(long)]
    aging_sessions: Option<usize>,
    /// Scenario 2: unsponsored calls (the accounts pay their gas) instead of sponsored ones.
    #[arg(long)]
    aging_unsponsored: bool,
    /// Scenario 3: concurrent-sender counts [default: 1,8,64; quick: 1,4].
    #[arg(long, value_delimiter = ',')]
    senders: Option<Vec<usize>>,
    /// Scenario 3: runs per bundler and sender count, alternating [default: 2; quick: 1].
    #[arg(long)]
    reps: Option<usize>,
    /// Scenario 3: send window of each run in seconds [default: 10; quick: 2].
    #[arg(long)]
    side_duration_secs: Option<u64>,
    /// Scenario 3: operations one sender keeps pending (Alto runs with --mempool-max-queued-ops 4).
    #[arg(long, default_value_t = 4)]
    pipeline: usize,
    /// Scenario 3: Alto's CLI script [default: bench/alto/node_modules/@pimlico/alto/esm/cli/alto.js].
    #[arg(long)]
    alto: Option<PathBuf>,
    /// Scenario 3: the node binary that runs Alto.
    #[arg(long, default_value = "node")]
    node: PathBuf,
    /// Write the tables into this Markdown file (the section between its wallet-load markers)
    /// [default: docs/perf.md of the workspace; quick: none].
    #[arg(long)]
    doc: Option<PathBuf>,
    /// Write no document.
    #[arg(long)]
    no_doc: bool,
}

impl Args {
    fn pick<T>(&self, given: Option<T>, full: T, quick: T) -> T {
        given.unwrap_or(if self.quick { quick } else { full })
    }
}

fn check_counts(name: &str, v: &[usize], max: usize) -> anyhow::Result<()> {
    if v.is_empty() || v.iter().any(|&n| n == 0 || n > max) {
        bail!("{name}: each count must be between 1 and {max}");
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let keyward = args.keyward.clone().unwrap_or_else(dev::default_keyward);
    let sessions = args.pick(args.sessions.clone(), vec![1, 8, 64, 256], vec![1, 4]);
    let window = Duration::from_secs(args.pick(args.duration_secs, 10, 2));
    let poll = Duration::from_millis(args.poll_ms.max(1));
    let aging_ops = args.pick(args.aging_ops, 50_000, 200);
    let aging_sessions = args.pick(args.aging_sessions, 8, 2);
    let senders = args.pick(args.senders.clone(), vec![1, 8, 64], vec![1, 4]);
    let reps = args.pick(args.reps, 2, 1);
    let side_window = Duration::from_secs(args.pick(args.side_duration_secs, 10, 2));
    check_counts("--sessions", &sessions, 1024)?;
    check_counts("--senders", &senders, 256)?;
    check_counts("--aging-sessions", &[aging_sessions], 256)?;
    if !(1..=600).contains(&window.as_secs()) || !(1..=600).contains(&side_window.as_secs()) {
        bail!("--duration-secs and --side-duration-secs must be between 1 and 600");
    }
    if aging_ops == 0 || aging_ops > 1_000_000 || reps == 0 || reps > 10 || args.pipeline == 0 || args.pipeline > 64 {
        bail!("--aging-ops must be 1..=1,000,000, --reps 1..=10, --pipeline 1..=64");
    }
    let doc = match (&args.doc, args.no_doc, args.quick) {
        (_, true, _) => None,
        (Some(p), _, _) => Some(p.clone()),
        (None, _, true) => None,
        (None, _, false) => Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/perf.md")),
    };
    let tck = procs::clk_tck();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting Tokio")?;

    let context = report::context(&keyward, &command);
    // (marker key, section text) of each scenario that ran.
    let mut sections: Vec<(&str, String)> = Vec::new();
    let with_goals = |title: &str, body: String, goals: Vec<report::Goal>| {
        let goals = if goals.is_empty() { String::new() } else { format!("\n\n{}", report::goals_markdown(&goals)) };
        format!("### {title}\n\n{context}\n{}{goals}\n", body.trim_end())
    };
    let mut failures = 0;
    if args.scenarios.contains(&Scenario::Wallet) {
        eprintln!("wallet-load: scenario 1: Wallet API session-key calls against {}", keyward.display());
        let (body, goals) = match runtime.block_on(wallet::scenario(&keyward, &sessions, window, poll, tck)) {
            Ok(r) => {
                let failed: u64 = r.rows.iter().map(|x| x.result.failed).sum();
                if args.quick && failed > 0 {
                    eprintln!("wallet-load: scenario 1: {failed} calls failed (--quick fails on any)");
                    failures += 1;
                }
                (wallet::markdown(&r), report::wallet_goals(&r))
            }
            Err(e) => {
                failures += 1;
                (format!("FAILED: {e:#}\n"), Vec::new())
            }
        };
        sections
            .push(("wallet", with_goals("1. Session-key calls end to end (Wallet API, `keyward dev`)", body, goals)));
    }
    if args.scenarios.contains(&Scenario::Aging) {
        eprintln!("wallet-load: scenario 2: aging, {aging_ops} calls");
        let sponsored = !args.aging_unsponsored;
        let (body, goals) =
            match runtime.block_on(aging::scenario(&keyward, aging_ops, aging_sessions, sponsored, poll, tck)) {
                Ok(r) => {
                    let failed: u64 = r.segments.iter().map(|x| x.result.failed).sum();
                    if args.quick && failed > 0 {
                        eprintln!("wallet-load: scenario 2: {failed} calls failed (--quick fails on any)");
                        failures += 1;
                    }
                    (aging::markdown(&r), report::aging_goals(&r))
                }
                Err(e) => {
                    failures += 1;
                    (format!("FAILED: {e:#}\n"), Vec::new())
                }
            };
        sections.push(("aging", with_goals("2. Aging (`keyward dev --data-dir`)", body, goals)));
    }
    if args.scenarios.contains(&Scenario::Side) {
        eprintln!("wallet-load: scenario 3: Keyward and Alto side by side on anvil");
        let programs = bundlers::Programs {
            keyward: keyward.clone(),
            node: args.node.clone(),
            alto: args.alto.clone().unwrap_or_else(bundlers::default_alto),
        };
        let r = runtime.block_on(side::scenario(&programs, &senders, reps, side_window, args.pipeline, tck));
        let title = "3. ERC-4337 side by side: `keyward serve` and Pimlico's Alto 0.0.20 on anvil";
        sections.push(("side", with_goals(title, side::markdown(&r), report::side_goals(&r))));
    }
    for (_, text) in &sections {
        println!("{text}");
    }
    if let Some(path) = doc {
        for (key, text) in &sections {
            report::write_section(&path, key, text)?;
        }
        eprintln!("wallet-load: wrote {}", path.display());
    }
    if failures > 0 {
        bail!("{failures} scenario(s) failed");
    }
    Ok(())
}
