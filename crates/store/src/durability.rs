//! Group commit on a SQLite file: writes commit without an fsync of their own
//! (`synchronous=NORMAL`), and [`Store::durable`](crate::Store::durable) — called before an answer
//! or a broadcast — waits for one fsync of the WAL that covers every write finished before it.
//! Concurrent callers share a round, so many admissions pay for one fsync.
//!
//! ```text
//!  write ─▶ writer connection (handed out: handouts += 1) ─▶ COMMIT (WAL frames written, no fsync)
//!  durable() ─▶ synced ≥ handouts? ─ yes ─▶ return
//!                  │ no
//!                  ▼
//!   one round at a time: hold the writer connection (every earlier handout has been released, so
//!   its write committed or rolled back) ─▶ covered = handouts ─▶ fsync WAL ─▶ synced = covered
//! ```
//!
//! The WAL holds every commit not yet checkpointed, and a checkpoint fsyncs the WAL before copying
//! it and the database after; so an fsync of the WAL file makes every commit before it survive a
//! power loss, as `synchronous=FULL` would have at each commit.

use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::AnyPool;

use crate::error::StoreError;

/// Counter: fsyncs of a SQLite store's WAL made by [`WalSync::sync`] (one per round, shared by
/// every caller waiting in it).
pub const WAL_SYNCS: &str = "keyward_store_wal_syncs_total";

/// The group-commit state of one SQLite file.
#[derive(Debug)]
pub(crate) struct WalSync {
    /// The database's `-wal` file.
    wal: PathBuf,
    /// The directory holding it (synced when a new WAL file appears).
    dir: PathBuf,
    /// How many times the writer connection was handed out (bumped by the writer pool's hooks).
    handouts: Arc<AtomicU64>,
    /// The handouts whose writes an fsync has covered.
    synced: AtomicU64,
    /// One round at a time; holds the inode of the WAL file the last round synced.
    round: tokio::sync::Mutex<Option<u64>>,
    /// Rounds made (fsyncs), for diagnostics and tests.
    rounds: AtomicU64,
    /// The first fsync failure, for good: Linux reports a failed writeback once, and a later fsync
    /// on a new descriptor would succeed over pages that never reached the disk.
    failed: std::sync::OnceLock<String>,
}

impl WalSync {
    /// The state for the database file `db_file`, counting the writer's handouts in `handouts`.
    pub(crate) fn new(db_file: &Path, handouts: Arc<AtomicU64>) -> WalSync {
        let mut wal = db_file.as_os_str().to_owned();
        wal.push("-wal");
        let dir = db_file.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
        WalSync {
            wal: PathBuf::from(wal),
            dir,
            handouts,
            synced: AtomicU64::new(0),
            round: tokio::sync::Mutex::new(None),
            rounds: AtomicU64::new(0),
            failed: std::sync::OnceLock::new(),
        }
    }

    /// Returns once every write finished before the call is on disk; `writer` is the store's one
    /// writer connection.
    pub(crate) async fn sync(&self, writer: &AnyPool) -> Result<(), StoreError> {
        self.refuse_after_a_failure()?;
        let target = self.handouts.load(Ordering::SeqCst);
        if self.synced.load(Ordering::SeqCst) >= target {
            return Ok(());
        }
        let mut seen_inode = self.round.lock().await;
        self.refuse_after_a_failure()?;
        if self.synced.load(Ordering::SeqCst) >= target {
            return Ok(());
        }
        // Holding the only writer connection, every handout counted so far has been released.
        let conn = writer.acquire().await.map_err(crate::error::DbError::from)?;
        let covered = self.handouts.load(Ordering::SeqCst);
        drop(conn);
        let (wal, dir, seen) = (self.wal.clone(), self.dir.clone(), *seen_inode);
        let synced = tokio::task::spawn_blocking(move || fsync_wal(&wal, &dir, seen))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| format!("{}: {e}", self.wal.display())));
        let synced = match synced {
            Ok(inode) => inode,
            Err(e) => {
                tracing::error!(error = %e, "fsync of the store's WAL failed: no write can be made durable from now on");
                let _ = self.failed.set(e.clone());
                return Err(StoreError::Sync(e));
            }
        };
        *seen_inode = synced;
        self.synced.fetch_max(covered, Ordering::SeqCst);
        self.rounds.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(WAL_SYNCS).increment(1);
        Ok(())
    }

    /// The error every call answers once an fsync has failed (the process must be restarted: what
    /// was written since the last good fsync may not be on disk, and no later fsync can tell).
    fn refuse_after_a_failure(&self) -> Result<(), StoreError> {
        match self.failed.get() {
            Some(e) => Err(StoreError::Sync(format!("an earlier fsync failed ({e}); restart the process"))),
            None => Ok(()),
        }
    }

    /// How many fsync rounds were made.
    pub(crate) fn rounds(&self) -> u64 {
        self.rounds.load(Ordering::Relaxed)
    }
}

/// Fsyncs the WAL file (absent: every commit was checkpointed into the database, which the
/// checkpoint synced), and its directory when the file is not the one `seen` last time; returns the
/// file's inode.
fn fsync_wal(wal: &Path, dir: &Path, seen: Option<u64>) -> io::Result<Option<u64>> {
    let file = match File::open(wal) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    file.sync_data()?;
    let inode = file.metadata()?.ino();
    if seen != Some(inode) {
        File::open(dir)?.sync_all()?;
    }
    Ok(Some(inode))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// After a failed fsync every later call fails too, even one that could fsync again.
    #[tokio::test]
    async fn a_failed_fsync_fails_every_later_call() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::Store::open_sqlite_file(dir.path()).await.unwrap();
        // A "database" under a regular file: opening its WAL fails (not a directory).
        let blocker = dir.path().join("a-file");
        std::fs::write(&blocker, b"").unwrap();
        let sync = WalSync::new(&blocker.join("keyward.db"), Arc::new(AtomicU64::new(1)));
        let first = sync.sync(store.writer()).await.unwrap_err().to_string();
        assert!(first.contains("a-file"), "{first}");
        sync.handouts.fetch_add(1, Ordering::SeqCst);
        let later = sync.sync(store.writer()).await.unwrap_err().to_string();
        assert!(later.contains("an earlier fsync failed"), "{later}");
        // With nothing written since the last good round, it still refuses.
        assert!(sync.sync(store.writer()).await.is_err());
    }
}
