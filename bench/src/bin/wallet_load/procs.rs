//! Server processes under test: spawning them on free loopback ports, waiting until they answer,
//! reading their CPU time from `/proc/<pid>/stat`, stopping them, and measuring directories.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;

use crate::rpc::Rpc;

/// A free TCP port on 127.0.0.1 (bound, then released).
pub(crate) fn free_port() -> anyhow::Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
    Ok(l.local_addr().context("local address")?.port())
}

/// Clock ticks per second of `/proc/<pid>/stat` times (`sysconf(_SC_CLK_TCK)`, read through
/// `getconf CLK_TCK`; 100 when that cannot be run).
pub(crate) fn clk_tck() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// Context switches (voluntary and not) of the threads of process `pid` alive now, summed from
/// `/proc/<pid>/task/*/status` (a thread that has exited no longer counts: the server's threads —
/// runtime workers, SQLite connections — live as long as it does).
pub(crate) fn context_switches(pid: u32) -> anyhow::Result<u64> {
    let mut total = 0u64;
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).with_context(|| format!("/proc/{pid}/task"))?;
    for task in tasks {
        let Ok(status) = std::fs::read_to_string(task?.path().join("status")) else { continue };
        total += status
            .lines()
            .filter(|l| l.starts_with("voluntary_ctxt_switches:") || l.starts_with("nonvoluntary_ctxt_switches:"))
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum::<u64>();
    }
    Ok(total)
}

/// User + system CPU time of process `pid` (all its threads) in seconds, from `/proc/<pid>/stat`.
pub(crate) fn cpu_seconds(pid: u32, tck: u64) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).with_context(|| format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) start at field 3 (state).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).context("malformed /proc stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: indices 11 and 12 here.
    let tick = |i: usize| -> anyhow::Result<u64> {
        fields.get(i).context("short /proc stat")?.parse::<u64>().context("CPU ticks are not a number")
    };
    Ok((tick(11)? + tick(12)?) as f64 / tck as f64)
}

/// A child process this bench started; stopped (SIGTERM, then SIGKILL after 15 s) when dropped.
pub(crate) struct Server {
    /// What it is, for messages.
    pub(crate) name: String,
    child: Child,
    /// Where its stdout and stderr go.
    pub(crate) log: PathBuf,
}

impl Server {
    /// Starts `cmd` with stdout and stderr appended to `log`.
    pub(crate) fn spawn(name: &str, mut cmd: Command, log: &Path) -> anyhow::Result<Self> {
        let out = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone().context("log file handle")?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .with_context(|| format!("starting {name} ({cmd:?})"))?;
        Ok(Self { name: name.to_string(), child, log: log.to_path_buf() })
    }

    /// Its process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it exited already (with its status).
    pub(crate) fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The last `n` lines of its log, for error messages.
    pub(crate) fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Waits until `rpc` answers `method` (any result), failing after `limit` or if it exits.
    pub(crate) async fn wait_rpc(&mut self, rpc: &Rpc, method: &str, limit: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            if rpc.call(method, json!([])).await.is_ok() {
                return Ok(());
            }
            self.check_alive(deadline, limit)?;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until `GET url` answers 200, failing after `limit` or if it exits.
    pub(crate) async fn wait_ready(&mut self, rpc: &Rpc, url: &str, limit: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            if matches!(rpc.get_status(url).await, Ok(200)) {
                return Ok(());
            }
            self.check_alive(deadline, limit)?;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn check_alive(&mut self, deadline: Instant, limit: Duration) -> anyhow::Result<()> {
        if let Some(status) = self.exited() {
            bail!("{} exited ({status}) before answering; its log ends:\n{}", self.name, self.log_tail(30));
        }
        if Instant::now() > deadline {
            bail!("{} did not answer within {} s; its log ends:\n{}", self.name, limit.as_secs(), self.log_tail(30));
        }
        Ok(())
    }

    /// SIGTERM, then SIGKILL when it has not exited after 15 s.
    pub(crate) fn stop(&mut self) {
        if self.exited().is_some() {
            return;
        }
        let _ = Command::new("kill").arg("-TERM").arg(self.pid().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.exited().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Total size in bytes of the regular files under `dir` (0 when it does not exist).
pub(crate) fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Size in bytes of the SQLite store `db` with its `-wal` and `-shm` files.
pub(crate) fn sqlite_bytes(db: &Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| {
            let mut p = db.as_os_str().to_owned();
            p.push(suffix);
            std::fs::metadata(PathBuf::from(p)).map(|m| m.len()).unwrap_or(0)
        })
        .sum()
}

/// A scratch directory for this run, removed when dropped unless `WALLET_LOAD_KEEP` is set (to
/// inspect a store after a run, e.g. with SQLite's `dbstat`).
pub(crate) struct Scratch(pub(crate) PathBuf);

impl Scratch {
    /// `$TMPDIR/keyward-wallet-load-<pid>-<what>`, emptied first.
    pub(crate) fn new(what: &str) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("keyward-wallet-load-{}-{what}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Self(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::env::var_os("WALLET_LOAD_KEEP").is_some() {
            eprintln!("kept {}", self.0.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
