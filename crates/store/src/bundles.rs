//! The handleOps transactions the submitter sent, so a restart knows which nonces are in flight.

use alloy::primitives::{Address, B256};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::codec::{
    address_bin, address_from_bin, b256_bin, b256_from_bin, now_secs, u64_from_db, u64_to_db, u128_bin, u128_from_bin,
};
use crate::db::Store;
use crate::error::{CodecError, StoreError};
use crate::roles::Fence;
use crate::script::Statement;

/// Lifecycle of a bundle transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BundleStatus {
    /// Sent, not yet mined.
    Pending,
    /// Mined (whatever the ops' outcomes).
    Mined,
    /// Superseded by another transaction with the same nonce (fee bump).
    Replaced,
    /// Will never be mined (rejected, dropped, or reverted as a whole).
    Failed,
}

impl BundleStatus {
    /// Every status.
    pub const ALL: [BundleStatus; 4] =
        [BundleStatus::Pending, BundleStatus::Mined, BundleStatus::Replaced, BundleStatus::Failed];

    /// The lowercase text stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            BundleStatus::Pending => "pending",
            BundleStatus::Mined => "mined",
            BundleStatus::Replaced => "replaced",
            BundleStatus::Failed => "failed",
        }
    }

    /// Parses the stored text (lowercase only).
    pub fn parse(s: &str) -> Option<BundleStatus> {
        BundleStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl std::fmt::Display for BundleStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One sent bundle transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleRecord {
    /// Hash of the handleOps transaction (primary key).
    pub tx_hash: B256,
    /// Chain it was sent on.
    pub chain_id: u64,
    /// The bundler key's address (transaction sender).
    pub bundler: Address,
    /// The transaction's nonce.
    pub tx_nonce: u64,
    /// The transaction's maxFeePerGas.
    pub max_fee_per_gas: u128,
    /// The transaction's maxPriorityFeePerGas.
    pub max_priority_fee_per_gas: u128,
    /// userOpHashes of the ops it carries, in bundle order.
    pub op_hashes: Vec<B256>,
    /// Where the transaction is in its lifecycle.
    pub status: BundleStatus,
    /// When it was sent (unix seconds).
    pub sent_at: u64,
    /// The chain's latest block number when it was sent.
    pub sent_at_block: u64,
    /// When its status last changed (unix seconds).
    pub updated_at: u64,
}

/// Columns of `bundles` in the order [`bundle_from_row`] reads them.
macro_rules! bundle_columns {
    () => {
        "tx_hash, chain_id, bundler, tx_nonce, max_fee_per_gas, max_priority_fee_per_gas, op_hashes, status, \
         sent_at, sent_at_block, updated_at"
    };
}

/// Decodes one `bundles` row selected with [`bundle_columns`].
fn bundle_from_row(row: &AnyRow) -> Result<BundleRecord, StoreError> {
    let bin = |c: &str| row.try_get::<Vec<u8>, _>(c);
    let status_text: String = row.try_get("status")?;
    let status = BundleStatus::parse(&status_text)
        .ok_or_else(|| StoreError::Corrupt(format!("bundles.status: unknown value {status_text:?}")))?;
    Ok(BundleRecord {
        tx_hash: b256_from_bin("tx_hash", &bin("tx_hash")?)?,
        chain_id: u64_from_db("chain_id", row.try_get("chain_id")?)?,
        bundler: address_from_bin("bundler", &bin("bundler")?)?,
        tx_nonce: u64_from_db("tx_nonce", row.try_get("tx_nonce")?)?,
        max_fee_per_gas: u128_from_bin("max_fee_per_gas", &bin("max_fee_per_gas")?)?,
        max_priority_fee_per_gas: u128_from_bin("max_priority_fee_per_gas", &bin("max_priority_fee_per_gas")?)?,
        op_hashes: op_hashes_from_bin(&bin("op_hashes")?)?,
        status,
        sent_at: u64_from_db("sent_at", row.try_get("sent_at")?)?,
        sent_at_block: u64_from_db("sent_at_block", row.try_get("sent_at_block")?)?,
        updated_at: u64_from_db("updated_at", row.try_get("updated_at")?)?,
    })
}

impl Store {
    /// Records a sent bundle transaction; returns false (and changes nothing) if `tx_hash` is already recorded.
    pub async fn record_bundle(&self, rec: &BundleRecord) -> Result<bool, StoreError> {
        let mut conn = self.writer().acquire().await?;
        insert_bundle(&mut conn, rec).await
    }

    /// Pending bundle transactions of one bundler key on one chain, by nonce then send time.
    pub async fn pending_bundles(&self, chain_id: u64, bundler: Address) -> Result<Vec<BundleRecord>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            bundle_columns!(),
            " FROM bundles WHERE chain_id = $1 AND bundler = $2 AND status = 'pending' \
             ORDER BY tx_nonce, sent_at, tx_hash"
        ))
        .bind(u64_to_db("chain_id", chain_id)?)
        .bind(address_bin(&bundler))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(bundle_from_row).collect()
    }

    /// Sets the status of a recorded bundle transaction, as the holder of `fence`; NotFound if it
    /// was never recorded.
    pub async fn mark_bundle(&self, fence: &Fence, tx_hash: B256, status: BundleStatus) -> Result<(), StoreError> {
        let mut tx = self.begin_fenced::<StoreError>(fence).await?;
        if !set_bundle_status_in::<StoreError>(&mut tx, tx_hash, status).await? {
            tx.rollback().await?;
            return Err(StoreError::NotFound(format!("bundle transaction {tx_hash}")));
        }
        tx.commit().await?;
        Ok(())
    }

    /// The recorded bundle transaction with this hash, if any.
    pub async fn bundle_by_tx(&self, tx_hash: B256) -> Result<Option<BundleRecord>, StoreError> {
        let row = sqlx::query(concat!("SELECT ", bundle_columns!(), " FROM bundles WHERE tx_hash = $1"))
            .bind(b256_bin(&tx_hash))
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(bundle_from_row).transpose()
    }
}

/// The `op_hashes` column: the userOpHashes in bundle order, 32 bytes each.
fn op_hashes_from_bin(bytes: &[u8]) -> Result<Vec<B256>, StoreError> {
    if !bytes.len().is_multiple_of(32) {
        return Err(StoreError::Corrupt(format!("bundles.op_hashes: {} bytes, not a multiple of 32", bytes.len())));
    }
    Ok(bytes.chunks_exact(32).map(B256::from_slice).collect())
}

/// Inserts `rec` on `conn` (a pool connection or a transaction); false if `tx_hash` was recorded.
pub(crate) async fn insert_bundle(conn: &mut sqlx::AnyConnection, rec: &BundleRecord) -> Result<bool, StoreError> {
    Ok(bundle_insert(rec)?.query().execute(&mut *conn).await?.rows_affected() == 1)
}

/// The statement of [`insert_bundle`]: it changes no row where the transaction is recorded.
pub(crate) fn bundle_insert(rec: &BundleRecord) -> Result<Statement, CodecError> {
    let op_hashes: Vec<u8> = rec.op_hashes.iter().flat_map(|h| h.0).collect();
    Ok(Statement::new(
        "INSERT INTO bundles (tx_hash, chain_id, bundler, tx_nonce, max_fee_per_gas, max_priority_fee_per_gas, \
         op_hashes, status, sent_at, sent_at_block, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (tx_hash) DO NOTHING",
    )
    .bind(b256_bin(&rec.tx_hash))
    .bind(u64_to_db("chain_id", rec.chain_id)?)
    .bind(address_bin(&rec.bundler))
    .bind(u64_to_db("tx_nonce", rec.tx_nonce)?)
    .bind(u128_bin(rec.max_fee_per_gas))
    .bind(u128_bin(rec.max_priority_fee_per_gas))
    .bind(op_hashes)
    .bind(rec.status.as_str())
    .bind(u64_to_db("sent_at", rec.sent_at)?)
    .bind(u64_to_db("sent_at_block", rec.sent_at_block)?)
    .bind(u64_to_db("updated_at", rec.updated_at)?))
}

/// Sets a recorded bundle's status inside `tx`; false if it was never recorded.
pub(crate) async fn set_bundle_status_in<E>(
    tx: &mut Transaction<'static, Any>,
    tx_hash: B256,
    status: BundleStatus,
) -> Result<bool, E>
where
    E: From<sqlx::Error> + From<CodecError>,
{
    Ok(bundle_status(tx_hash, status)?.query().execute(&mut **tx).await?.rows_affected() != 0)
}

/// The statement of [`set_bundle_status_in`]: it changes no row where the bundle is not stored.
pub(crate) fn bundle_status(tx_hash: B256, status: BundleStatus) -> Result<Statement, CodecError> {
    Ok(Statement::new("UPDATE bundles SET status = $2, updated_at = $3 WHERE tx_hash = $1")
        .bind(b256_bin(&tx_hash))
        .bind(status.as_str())
        .bind(u64_to_db("updated_at", now_secs())?))
}
