//! Accepted calls, read through a small in-process cache: a call's record never changes once
//! written (only its operation's progress does, which is always read from the pool), and clients
//! poll `wallet_getCallsStatus` many times per call.

use std::num::NonZeroUsize;

use alloy::primitives::B256;
use keyward_store::wallet::CallRecord;

use crate::error::WalletResult;
use crate::memo::Memo;
use crate::service::Wallet;

/// Call records kept in memory (a few hundred bytes each).
pub(crate) const CACHED_CALLS: NonZeroUsize = NonZeroUsize::new(4096).unwrap();

/// The most recently used call records of one chain, by userOpHash.
pub(crate) type CallCache = Memo<B256, CallRecord>;

impl Wallet {
    /// The accepted call of `hash` on this chain, from the cache or the store.
    pub(crate) async fn call_record(&self, hash: B256) -> WalletResult<Option<CallRecord>> {
        if let Some(record) = self.calls.get(&hash) {
            return Ok(Some(record));
        }
        let record = self.store.call(self.chain_id, hash).await?;
        if let Some(r) = &record {
            self.calls.put(r.hash, r.clone());
        }
        Ok(record)
    }

    /// Records an accepted call ([`keyward_store::Store::insert_call`]) and keeps it in the cache.
    pub(crate) async fn record_call(&self, record: &CallRecord, installs_session: bool) -> WalletResult<CallRecord> {
        let stored = self.store.insert_call(record, installs_session).await?;
        self.calls.put(stored.hash, stored.clone());
        Ok(stored)
    }
}
