//! API keys at the edge: a key from `Authorization: Bearer KEY` or the path (`/v2/KEY`), looked up
//! by the hash of its secret (cached briefly, so a revocation reaches every replica within
//! [`CACHE_TTL`]), checked against the chains and gas policies it grants, and held to its request
//! rate by a token bucket (per replica: N replicas behind a balancer allow up to N× the rate).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use alloy::primitives::{B256, keccak256};
use keyward_store::{ApiKeyRecord, Store};

use crate::http::scope::Requested;

/// How long a looked-up key (or its absence) is trusted before the store is asked again.
pub const CACHE_TTL: Duration = Duration::from_secs(2);

/// Prefix of every key Keyward issues.
pub const KEY_PREFIX: &str = "kw_";

/// A new random API key secret (`kw_` and 64 hex digits: 244 random bits).
pub fn generate_secret() -> String {
    format!("{KEY_PREFIX}{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

/// A new public key id (`key_` and 12 hex digits).
pub fn generate_id() -> String {
    format!("key_{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// What is stored of a secret: its keccak-256 (the secrets are random, so no slow hash is needed).
pub fn secret_hash(secret: &str) -> B256 {
    keccak256(secret.as_bytes())
}

/// Why a request is refused at the edge.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No key in the header or the path.
    #[error("missing API key: send `Authorization: Bearer KEY` or use the URL /v2/KEY")]
    Missing,
    /// The key is not one this server issued.
    #[error("unknown API key")]
    Unknown,
    /// The key was revoked.
    #[error("API key {id} was revoked")]
    Revoked {
        /// The key's public id.
        id: String,
    },
    /// The key does not grant this chain.
    #[error("API key {id} may not use chain {chain}")]
    Chain {
        /// The key's public id.
        id: String,
        /// The chain asked for.
        chain: u64,
    },
    /// The key does not grant this gas policy.
    #[error("API key {id} may not use gas policy {policy}")]
    Policy {
        /// The key's public id.
        id: String,
        /// The policy asked for.
        policy: String,
    },
    /// Over the key's request rate.
    #[error("API key {id} is over its rate of {per_minute} requests per minute; retry in {retry_after_secs} s")]
    Rate {
        /// The key's public id.
        id: String,
        /// The key's rate.
        per_minute: u64,
        /// Seconds until a request is allowed again.
        retry_after_secs: u64,
    },
    /// The key store cannot be read.
    #[error("API keys cannot be checked now: {0}")]
    Unavailable(String),
}

impl Refusal {
    /// The HTTP status of the refusal: 401 for who you are, 403 for what you asked, 429, 503.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::Missing | Refusal::Unknown | Refusal::Revoked { .. } => 401,
            Refusal::Chain { .. } | Refusal::Policy { .. } => 403,
            Refusal::Rate { .. } => 429,
            Refusal::Unavailable(_) => 503,
        }
    }

    /// The JSON-RPC code of the error body: EIP-1193's 4100 (unauthorized), EIP-1474's -32005
    /// (limit exceeded), -32603 for an outage.
    pub fn code(&self) -> i32 {
        match self {
            Refusal::Rate { .. } => -32005,
            Refusal::Unavailable(_) => -32603,
            _ => 4100,
        }
    }
}

/// The key a request was admitted with.
#[derive(Clone, Debug)]
pub struct Admitted {
    /// The key.
    pub key: ApiKeyRecord,
}

impl Admitted {
    /// Refuses what `requested` asks beyond the key's chains and policies.
    pub fn check_scope(&self, requested: &Requested) -> Result<(), Refusal> {
        let key = &self.key;
        if let Some(chain) = requested.chains.iter().find(|c| !key.chains.is_empty() && !key.chains.contains(c)) {
            return Err(Refusal::Chain { id: key.id.clone(), chain: *chain });
        }
        if let Some(policy) = requested.policies.iter().find(|p| !key.policies.is_empty() && !key.policies.contains(p))
        {
            return Err(Refusal::Policy { id: key.id.clone(), policy: policy.clone() });
        }
        Ok(())
    }
}

/// A token bucket of one key.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Takes one token from `bucket` holding at most `per_minute` and refilled at `per_minute` per
/// minute; the seconds to wait when empty.
fn take(bucket: &mut Bucket, per_minute: u64, now: Instant) -> Result<(), u64> {
    let capacity = per_minute as f64;
    let per_sec = capacity / 60.0;
    bucket.tokens = (bucket.tokens + now.saturating_duration_since(bucket.at).as_secs_f64() * per_sec).min(capacity);
    bucket.at = now;
    if bucket.tokens >= 1.0 {
        bucket.tokens -= 1.0;
        return Ok(());
    }
    Err(((1.0 - bucket.tokens) / per_sec).ceil().max(1.0) as u64)
}

/// Checks API keys against the store.
#[derive(Debug)]
pub struct ApiKeyGate {
    store: Store,
    cache: Mutex<HashMap<B256, (Option<ApiKeyRecord>, Instant)>>,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl ApiKeyGate {
    /// A gate over the keys of `store`.
    pub fn new(store: Store) -> Self {
        Self { store, cache: Mutex::new(HashMap::new()), buckets: Mutex::new(HashMap::new()) }
    }

    /// Admits a request carrying `secret` (or refuses it), counting it against the key's rate.
    pub async fn admit(&self, secret: Option<&str>) -> Result<Admitted, Refusal> {
        let secret = secret.filter(|s| !s.is_empty()).ok_or(Refusal::Missing)?;
        let key = self.lookup(secret_hash(secret)).await?.ok_or(Refusal::Unknown)?;
        if key.revoked_at.is_some() {
            return Err(Refusal::Revoked { id: key.id });
        }
        if key.rate_per_minute > 0 {
            let now = Instant::now();
            let mut buckets = self.buckets.lock().map_err(|_| Refusal::Unavailable("rate state poisoned".into()))?;
            let bucket =
                buckets.entry(key.id.clone()).or_insert(Bucket { tokens: key.rate_per_minute as f64, at: now });
            if let Err(retry_after_secs) = take(bucket, key.rate_per_minute, now) {
                return Err(Refusal::Rate { id: key.id, per_minute: key.rate_per_minute, retry_after_secs });
            }
        }
        Ok(Admitted { key })
    }

    async fn lookup(&self, hash: B256) -> Result<Option<ApiKeyRecord>, Refusal> {
        let poisoned = || Refusal::Unavailable("key cache poisoned".into());
        if let Some((hit, at)) = self.cache.lock().map_err(|_| poisoned())?.get(&hash)
            && at.elapsed() < CACHE_TTL
        {
            return Ok(hit.clone());
        }
        let found = self.store.api_key_by_secret(hash).await.map_err(|e| Refusal::Unavailable(e.to_string()))?;
        let mut cache = self.cache.lock().map_err(|_| poisoned())?;
        if cache.len() > 10_000 {
            cache.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
        }
        cache.insert(hash, (found.clone(), Instant::now()));
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_the_rate_then_says_when_to_retry() {
        let start = Instant::now();
        let mut b = Bucket { tokens: 3.0, at: start };
        for _ in 0..3 {
            assert_eq!(take(&mut b, 3, start), Ok(()));
        }
        assert_eq!(take(&mut b, 3, start), Err(20));
        assert_eq!(take(&mut b, 3, start + Duration::from_secs(20)), Ok(()));
    }

    #[test]
    fn secrets_are_random_and_hashed() {
        let (a, b) = (generate_secret(), generate_secret());
        assert_ne!(a, b);
        assert!(a.starts_with(KEY_PREFIX) && a.len() == 67);
        assert_eq!(secret_hash(&a), keccak256(a.as_bytes()));
        assert_ne!(secret_hash(&a), secret_hash(&b));
    }

    fn key(chains: Vec<u64>, policies: Vec<&str>) -> Admitted {
        Admitted {
            key: ApiKeyRecord {
                id: "key_1".into(),
                name: "k".into(),
                secret_hash: B256::ZERO,
                chains,
                policies: policies.into_iter().map(String::from).collect(),
                rate_per_minute: 0,
                created_at: 0,
                revoked_at: None,
            },
        }
    }

    #[test]
    fn scope_is_checked_against_the_grant() {
        let asked = Requested { chains: vec![5], policies: vec!["p".into()] };
        assert_eq!(key(vec![], vec![]).check_scope(&asked), Ok(()));
        assert_eq!(key(vec![5], vec!["p"]).check_scope(&asked), Ok(()));
        assert_eq!(key(vec![1], vec![]).check_scope(&asked), Err(Refusal::Chain { id: "key_1".into(), chain: 5 }));
        assert_eq!(
            key(vec![], vec!["q"]).check_scope(&asked),
            Err(Refusal::Policy { id: "key_1".into(), policy: "p".into() })
        );
    }
}
