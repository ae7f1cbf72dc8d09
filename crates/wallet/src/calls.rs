//! Accepted calls, read through a small in-process cache: a call's record never changes once
//! written (only its operation's progress does, which is always read from the pool), and clients
//! poll `wallet_getCallsStatus` many times per call.

use std::num::NonZeroUsize;
use std::sync::Mutex;

use alloy::primitives::B256;
use keyward_store::wallet::CallRecord;
use lru::LruCache;

use crate::error::WalletResult;
use crate::service::Wallet;

/// Call records kept in memory (a few hundred bytes each).
const CACHED_CALLS: NonZeroUsize = NonZeroUsize::new(4096).unwrap();

/// The most recently used call records of one chain, by userOpHash.
#[derive(Debug)]
pub(crate) struct CallCache(Mutex<LruCache<B256, CallRecord>>);

impl Default for CallCache {
    fn default() -> Self {
        Self(Mutex::new(LruCache::new(CACHED_CALLS)))
    }
}

impl CallCache {
    fn get(&self, hash: &B256) -> Option<CallRecord> {
        self.0.lock().ok().and_then(|mut c| c.get(hash).cloned())
    }

    fn put(&self, record: &CallRecord) {
        if let Ok(mut c) = self.0.lock() {
            c.put(record.hash, record.clone());
        }
    }
}

impl Wallet {
    /// The accepted call of `hash` on this chain, from the cache or the store.
    pub(crate) async fn call_record(&self, hash: B256) -> WalletResult<Option<CallRecord>> {
        if let Some(record) = self.calls.get(&hash) {
            return Ok(Some(record));
        }
        let record = self.store.call(self.chain_id, hash).await?;
        if let Some(r) = &record {
            self.calls.put(r);
        }
        Ok(record)
    }

    /// Records an accepted call ([`keyward_store::Store::insert_call`]) and keeps it in the cache.
    pub(crate) async fn record_call(&self, record: &CallRecord, installs_session: bool) -> WalletResult<CallRecord> {
        let stored = self.store.insert_call(record, installs_session).await?;
        self.calls.put(&stored);
        Ok(stored)
    }
}
