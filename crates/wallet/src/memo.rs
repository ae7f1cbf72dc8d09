//! A small in-process memo of values that never change once known (a recorded call, a stored
//! account, a grant whose signature checked out, a prepared operation until its call is recorded):
//! the most recently used entries, bounded, shared by every request of one process. A poisoned lock
//! reads as a miss and skips the write.

use std::hash::Hash;
use std::num::NonZeroUsize;
use std::sync::Mutex;

use lru::LruCache;

/// The most recently used `capacity` values by key.
#[derive(Debug)]
pub(crate) struct Memo<K: Hash + Eq, V>(Mutex<LruCache<K, V>>);

impl<K: Hash + Eq, V: Clone> Memo<K, V> {
    /// An empty memo keeping at most `capacity` entries.
    pub(crate) fn new(capacity: NonZeroUsize) -> Self {
        Self(Mutex::new(LruCache::new(capacity)))
    }

    /// The value remembered for `key`, if any.
    pub(crate) fn get(&self, key: &K) -> Option<V> {
        self.0.lock().ok().and_then(|mut c| c.get(key).cloned())
    }

    /// Remembers `value` for `key`.
    pub(crate) fn put(&self, key: K, value: V) {
        if let Ok(mut c) = self.0.lock() {
            c.put(key, value);
        }
    }

    /// Forgets `key` (a value that stopped being true).
    pub(crate) fn forget(&self, key: &K) {
        if let Ok(mut c) = self.0.lock() {
            c.pop(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_most_recently_used() {
        let memo = Memo::new(NonZeroUsize::new(2).unwrap());
        memo.put(1, "a");
        memo.put(2, "b");
        assert_eq!(memo.get(&1), Some("a"), "a read makes 1 the most recent");
        memo.put(3, "c");
        assert_eq!((memo.get(&1), memo.get(&2), memo.get(&3)), (Some("a"), None, Some("c")));
        memo.forget(&1);
        assert_eq!((memo.get(&1), memo.get(&3)), (None, Some("c")));
    }
}
