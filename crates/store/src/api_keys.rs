//! API keys of `keyward serve`, stored by the hash of their secret: created, listed, revoked, and
//! looked up by the server on every request (through its cache).

use alloy::primitives::B256;

use crate::codec::{b256_text, u64_from_db, u64_to_db};
use crate::db::Store;
use crate::error::StoreError;

/// One API key as stored (never its secret).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Public id (shown in lists, logs and metrics).
    pub id: String,
    /// Name given at creation.
    pub name: String,
    /// sha256 of the secret.
    pub secret_hash: B256,
    /// Chains the key may use; empty = every chain served.
    pub chains: Vec<u64>,
    /// Gas policies the key may name; empty = every policy.
    pub policies: Vec<String>,
    /// Requests per minute allowed; 0 = no limit.
    pub rate_per_minute: u64,
    /// Creation time (unix seconds).
    pub created_at: u64,
    /// Revocation time (unix seconds), if revoked.
    pub revoked_at: Option<u64>,
}

/// `SELECT` of every column of `api_keys`, in [`ApiKeyRow`] order.
macro_rules! select_keys {
    ($tail:literal) => {
        concat!(
            "SELECT id, name, secret_hash, chains_json, policies_json, rate_per_minute, created_at, revoked_at ",
            "FROM api_keys ",
            $tail
        )
    };
}

type ApiKeyRow = (String, String, String, String, String, i64, i64, Option<i64>);

fn decode(row: ApiKeyRow) -> Result<ApiKeyRecord, StoreError> {
    let (id, name, secret_hash, chains, policies, rate, created_at, revoked_at) = row;
    let corrupt = |what: &str, e: &dyn std::fmt::Display| StoreError::Corrupt(format!("api_keys.{what} of {id}: {e}"));
    Ok(ApiKeyRecord {
        secret_hash: secret_hash.parse().map_err(|e| corrupt("secret_hash", &e))?,
        chains: serde_json::from_str(&chains).map_err(|e| corrupt("chains_json", &e))?,
        policies: serde_json::from_str(&policies).map_err(|e| corrupt("policies_json", &e))?,
        rate_per_minute: u64_from_db("rate_per_minute", rate)?,
        created_at: u64_from_db("created_at", created_at)?,
        revoked_at: revoked_at.map(|t| u64_from_db("revoked_at", t)).transpose()?,
        name,
        id,
    })
}

impl Store {
    /// Stores a new key. Fails with [`StoreError::InvalidInput`] when its id or secret exists.
    pub async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        let result = sqlx::query(
            "INSERT INTO api_keys (id, name, secret_hash, chains_json, policies_json, rate_per_minute, created_at, \
             revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)",
        )
        .bind(&key.id)
        .bind(&key.name)
        .bind(b256_text(&key.secret_hash))
        .bind(to_json(&key.chains)?)
        .bind(to_json(&key.policies)?)
        .bind(u64_to_db("rate_per_minute", key.rate_per_minute)?)
        .bind(u64_to_db("created_at", key.created_at)?)
        .execute(self.writer())
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::InvalidInput(format!("an API key with id {} or the same secret exists", key.id)))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The key whose secret hashes to `secret_hash`, revoked or not.
    pub async fn api_key_by_secret(&self, secret_hash: B256) -> Result<Option<ApiKeyRecord>, StoreError> {
        let row: Option<ApiKeyRow> = sqlx::query_as(select_keys!("WHERE secret_hash = $1"))
            .bind(b256_text(&secret_hash))
            .fetch_optional(self.pool())
            .await?;
        row.map(decode).transpose()
    }

    /// Every key, oldest first.
    pub async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let rows: Vec<ApiKeyRow> =
            sqlx::query_as(select_keys!("ORDER BY created_at, id")).fetch_all(self.pool()).await?;
        rows.into_iter().map(decode).collect()
    }

    /// Revokes the key `id` at `now`; whether a key with that id exists. Revoking twice keeps the
    /// first revocation time.
    pub async fn revoke_api_key(&self, id: &str, now: u64) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2")
            .bind(u64_to_db("now", now)?)
            .bind(id)
            .execute(self.writer())
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// JSON text of a list column.
fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::InvalidInput(e.to_string()))
}
