//! Holding the roles one replica at a time performs — bundling with a key (`bundler:<chain>:<key>`),
//! watching a chain (`watch:<chain>`) — through the store's leases and fencing tokens
//! ([`keyward_store::roles`]), and sharing them fairly between the replicas that are up.
//!
//! ```text
//!  each round: RoleHolder::hold ─▶ renew (held) / take (free, expired) ─▶ Some(Fence) ─▶ fenced writes
//!                                └▶ None (another replica holds it) ─▶ skip the round
//!  Replica::heartbeat ─▶ peers ─▶ fair share = ⌈bundler roles / peers⌉
//! ```
//!
//! A replica holding more than its fair share of bundler roles hands one over (releases it at
//! once, between rounds); one holding its share takes a free role only once it has lain
//! unclaimed for [`PATIENCE_TERMS`] lease terms, so a replica with fewer roles gets it first.
//! Watching a chain is not shared out: whoever finds it free takes it.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use keyward_store::{Acquire, Fence, Store, StoreError};

/// How many lease terms a replica at its fair share waits before taking a role nobody took.
pub const PATIENCE_TERMS: u32 = 2;

/// Gauge: 1 for each role this replica holds (`role` label), 0 once it lost or gave it up.
pub const ROLE_HELD: &str = "keyward_role_held";

/// This process as its peers see it: an id unique to this run (a restart is a new holder), and
/// how many replicas and bundler roles share the work.
#[derive(Debug)]
pub struct Replica {
    id: String,
    started_at_ms: u64,
    peers: AtomicUsize,
    bundler_roles: AtomicUsize,
    held: Mutex<BTreeSet<String>>,
}

impl Default for Replica {
    fn default() -> Self {
        Self::new()
    }
}

impl Replica {
    /// A replica with a fresh id (`<host>-<pid>-<random>`), alone until heartbeats say otherwise.
    pub fn new() -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "replica".into());
        // Randomly keyed by the standard library: distinct per run even with a reused pid.
        let random = std::hash::BuildHasher::hash_one(&std::collections::hash_map::RandomState::new(), unix_ms());
        Self {
            id: format!("{host}-{}-{:06x}", std::process::id(), random & 0xff_ffff),
            started_at_ms: unix_ms(),
            peers: AtomicUsize::new(1),
            bundler_roles: AtomicUsize::new(0),
            held: Mutex::default(),
        }
    }

    /// A replica with a fixed id: a restart takes its roles straight back (for `keyward dev`,
    /// where one process owns its store; replicas sharing a store need [`Replica::new`]).
    pub fn named(id: &str) -> Self {
        Self { id: id.to_owned(), ..Self::new() }
    }

    /// The holder name in the leases.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Counts one more bundler role configured (every replica configures the same ones).
    pub fn add_bundler_role(&self) {
        self.bundler_roles.fetch_add(1, Ordering::Relaxed);
    }

    /// Writes this replica's heartbeat and learns how many replicas are up (seen within `alive`).
    pub async fn heartbeat(&self, store: &Store, alive: Duration) -> Result<usize, StoreError> {
        store.heartbeat(&self.id, self.started_at_ms).await?;
        let peers = store.live_replicas(alive).await?.len().max(1);
        self.peers.store(peers, Ordering::Relaxed);
        Ok(peers)
    }

    /// The most bundler roles one replica should hold: ⌈roles / replicas up⌉.
    fn fair_share(&self) -> usize {
        let roles = self.bundler_roles.load(Ordering::Relaxed).max(1);
        roles.div_ceil(self.peers.load(Ordering::Relaxed).max(1))
    }

    /// How many bundler roles this replica holds now.
    fn bundler_roles_held(&self) -> usize {
        self.held.lock().map(|h| h.iter().filter(|r| r.starts_with("bundler:")).count()).unwrap_or(0)
    }

    fn note(&self, role: &str, held: bool) {
        if let Ok(mut h) = self.held.lock() {
            if held {
                h.insert(role.to_owned());
            } else {
                h.remove(role);
            }
        }
        metrics::gauge!(ROLE_HELD, "role" => role.to_owned()).set(if held { 1.0 } else { 0.0 });
    }
}

/// One role's lease as this replica holds it (or tries to), round after round.
#[derive(Debug)]
pub struct RoleHolder {
    store: Store,
    role: String,
    replica: std::sync::Arc<Replica>,
    term: Duration,
    fence: Mutex<Option<Fence>>,
    /// When the store was last asked (renewal or attempt).
    asked: Mutex<Option<std::time::Instant>>,
}

impl RoleHolder {
    /// The holder of `role` for `replica`, with leases of `term`.
    pub fn new(store: Store, role: String, replica: std::sync::Arc<Replica>, term: Duration) -> Self {
        Self { store, role, replica, term, fence: Mutex::default(), asked: Mutex::default() }
    }

    /// Whether the store was asked less than `ago` ago (and notes that it is asked now if not).
    fn asked_within(&self, ago: Duration) -> bool {
        let Ok(mut asked) = self.asked.lock() else { return false };
        let now = std::time::Instant::now();
        if asked.is_some_and(|t| now.duration_since(t) < ago) {
            return true;
        }
        *asked = Some(now);
        false
    }

    /// The role's name.
    pub fn role(&self) -> &str {
        &self.role
    }

    /// Renews the lease if this replica holds it, or takes it if it is free (by the fair-share
    /// rule for bundler roles); the fence to write with while held, `None` otherwise. The store
    /// is asked at most every third of a term while held (every write checks the fence anyway)
    /// and every tenth of a term while not.
    pub async fn hold(&self) -> Result<Option<Fence>, StoreError> {
        let held = self.current();
        let every = if held.is_some() { self.term / 3 } else { self.term / 10 };
        if self.asked_within(every) {
            return Ok(held);
        }
        let bundler = self.role.starts_with("bundler:");
        if let Some(fence) = &held
            && bundler
            && self.replica.bundler_roles_held() > self.replica.fair_share()
        {
            tracing::info!(role = %self.role, "handing the role over to a replica with fewer");
            self.replica.note(&self.role, false);
            self.set(None);
            self.store.release_role(fence).await?;
            // Not straight back: the replica with fewer roles takes it first.
            return Ok(None);
        }
        let patience = match held.is_none() && bundler && self.replica.bundler_roles_held() >= self.replica.fair_share()
        {
            true => self.term * PATIENCE_TERMS,
            false => Duration::ZERO,
        };
        let got = self.store.acquire_role(&self.role, self.replica.id(), Acquire { term: self.term, patience }).await;
        let got = match got {
            Ok(g) => g,
            Err(e) => {
                // Unknown whether the lease still stands: write nothing until it is confirmed.
                self.set(None);
                return Err(e);
            }
        };
        match (&held, &got) {
            (None, Some(f)) => {
                tracing::info!(role = %self.role, token = f.token(), "role taken");
                self.replica.note(&self.role, true);
            }
            (Some(_), None) => {
                tracing::warn!(role = %self.role, "role lost to another replica");
                self.replica.note(&self.role, false);
            }
            (Some(old), Some(new)) if old != new => {
                // Expired and taken back with a new token: nothing written meanwhile is ours.
                tracing::warn!(role = %self.role, token = new.token(), "role lease lapsed and was taken again");
            }
            _ => {}
        }
        self.set(got.clone());
        Ok(got)
    }

    /// Extends the lease while this replica holds it — what keeps a long round (many operations
    /// to simulate on a slow node) from letting it lapse; run every third of a term beside the
    /// rounds. Never takes or hands over a role.
    pub async fn renew(&self) -> Result<(), StoreError> {
        let Some(held) = self.current() else { return Ok(()) };
        let how = Acquire { term: self.term, patience: Duration::ZERO };
        let got = self.store.acquire_role(&self.role, self.replica.id(), how).await?;
        if got.as_ref() != Some(&held) {
            tracing::warn!(role = %self.role, "role lost while renewing");
            self.replica.note(&self.role, got.is_some());
            self.set(got);
        }
        Ok(())
    }

    /// How often [`RoleHolder::renew`] should run: a third of the lease term.
    pub fn renew_every(&self) -> Duration {
        self.term / 3
    }

    /// Gives the role up at once (a clean stop), so another replica takes it without waiting.
    pub async fn release(&self) {
        if let Some(fence) = self.current() {
            self.set(None);
            if let Ok(mut asked) = self.asked.lock() {
                *asked = None;
            }
            self.replica.note(&self.role, false);
            if let Err(e) = self.store.release_role(&fence).await {
                tracing::warn!(role = %self.role, error = %e, "releasing the role failed; it expires by itself");
            }
        }
    }

    /// The fence while this replica believes it holds the role.
    pub fn current(&self) -> Option<Fence> {
        self.fence.lock().ok().and_then(|f| f.clone())
    }

    fn set(&self, fence: Option<Fence>) {
        if let Ok(mut f) = self.fence.lock() {
            *f = fence;
        }
    }
}

/// Milliseconds since the Unix epoch.
fn unix_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}
