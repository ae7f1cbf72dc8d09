//! A load run: every session calls in a closed loop (one call in flight per session) until the
//! run's budget (a time window, or a number of calls) is spent; the server's CPU time is read
//! before and after.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::dev::Dev;
use crate::session::{CallSample, Session, Target, call};

/// Most failed calls one session tolerates in a run before it stops.
const MAX_SESSION_ERRORS: u32 = 20;

/// When a run stops starting calls.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Budget {
    /// No call starts after this long (calls in flight finish).
    Window(Duration),
    /// This many calls in all.
    Calls(u64),
}

/// What one run measured.
#[derive(Debug, Default)]
pub(crate) struct RunResult {
    /// Every completed call's timings, in completion order per session.
    pub(crate) samples: Vec<CallSample>,
    /// Calls that failed (error or status ≥ 300 or timeout).
    pub(crate) failed: u64,
    /// From the start to the last call's end.
    pub(crate) wall: Duration,
    /// Server CPU seconds used during the run.
    pub(crate) server_cpu: f64,
    /// Server context switches during the run (every thread's, voluntary and not).
    pub(crate) server_switches: u64,
    /// This process's CPU seconds during the run (the client: signing, JSON, HTTP).
    pub(crate) client_cpu: f64,
    /// The first distinct error messages.
    pub(crate) errors: Vec<String>,
}

impl RunResult {
    /// Completed calls per second of wall time.
    pub(crate) fn calls_per_s(&self) -> f64 {
        self.samples.len() as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    /// Server CPU ms per completed call.
    pub(crate) fn server_cpu_ms_per_call(&self) -> f64 {
        self.server_cpu * 1000.0 / self.samples.len().max(1) as f64
    }

    /// Server context switches per completed call.
    pub(crate) fn server_switches_per_call(&self) -> f64 {
        self.server_switches as f64 / self.samples.len().max(1) as f64
    }

    /// Client CPU ms per completed call.
    pub(crate) fn client_cpu_ms_per_call(&self) -> f64 {
        self.client_cpu * 1000.0 / self.samples.len().max(1) as f64
    }

    /// One timing of every sample.
    pub(crate) fn series(&self, f: impl Fn(&CallSample) -> f64) -> Vec<f64> {
        self.samples.iter().map(f).collect()
    }

    /// Status polls per completed call.
    pub(crate) fn polls_per_call(&self) -> f64 {
        self.samples.iter().map(|s| f64::from(s.polls)).sum::<f64>() / self.samples.len().max(1) as f64
    }
}

/// Runs `sessions` concurrently against `dev` until `budget` is spent.
pub(crate) async fn run(
    dev: &Dev,
    target: &Arc<Target>,
    sessions: &[Arc<Session>],
    sponsored: bool,
    budget: Budget,
) -> anyhow::Result<RunResult> {
    let me = std::process::id();
    let client0 = crate::procs::cpu_seconds(me, dev.tck)?;
    let cpu0 = dev.cpu()?;
    let switches0 = dev.context_switches()?;
    let start = Instant::now();
    let tickets = Arc::new(AtomicI64::new(match budget {
        Budget::Calls(n) => i64::try_from(n).unwrap_or(i64::MAX),
        Budget::Window(_) => i64::MAX,
    }));
    let deadline = match budget {
        Budget::Window(w) => Some(start + w),
        Budget::Calls(_) => None,
    };
    let mut tasks = Vec::with_capacity(sessions.len());
    for s in sessions {
        let (rpc, target, s, tickets) = (dev.rpc.clone(), target.clone(), s.clone(), tickets.clone());
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut errors: Vec<String> = Vec::new();
            let mut failed = 0u32;
            let mut last_end = Instant::now();
            while deadline.is_none_or(|d| Instant::now() < d) && failed < MAX_SESSION_ERRORS {
                if tickets.fetch_sub(1, Ordering::Relaxed) <= 0 {
                    break;
                }
                match call(&rpc, &target, &s, sponsored).await {
                    Ok(sample) => samples.push(sample),
                    Err(e) => {
                        failed += 1;
                        let msg = format!("{e:#}");
                        if errors.len() < 3 && !errors.contains(&msg) {
                            errors.push(msg);
                        }
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
                last_end = Instant::now();
            }
            (samples, failed, errors, last_end)
        }));
    }
    let mut out = RunResult::default();
    let mut end = start;
    for t in tasks {
        let (samples, failed, errors, last_end) = t.await.context("a session task panicked")?;
        out.samples.extend(samples);
        out.failed += u64::from(failed);
        end = end.max(last_end);
        for e in errors {
            if out.errors.len() < 5 && !out.errors.contains(&e) {
                out.errors.push(e);
            }
        }
    }
    out.wall = end - start;
    out.server_cpu = dev.cpu()? - cpu0;
    out.server_switches = dev.context_switches()?.saturating_sub(switches0);
    out.client_cpu = crate::procs::cpu_seconds(me, dev.tck)? - client0;
    Ok(out)
}
