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
        }
    }

    /// Returns once every write finished before the call is on disk; `writer` is the store's one
    /// writer connection.
    pub(crate) async fn sync(&self, writer: &AnyPool) -> Result<(), StoreError> {
        let target = self.handouts.load(Ordering::SeqCst);
        if self.synced.load(Ordering::SeqCst) >= target {
            return Ok(());
        }
        let mut seen_inode = self.round.lock().await;
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
            .map_err(|e| StoreError::Sync(e.to_string()))?
            .map_err(|e| StoreError::Sync(format!("{}: {e}", self.wal.display())))?;
        *seen_inode = synced;
        self.synced.fetch_max(covered, Ordering::SeqCst);
        self.rounds.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(WAL_SYNCS).increment(1);
        Ok(())
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
