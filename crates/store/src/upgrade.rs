//! Data conversions that a migration leaves to Rust, finished by [`Store::open`] before it returns:
//! a migration that needs one records its name in `store_upgrades`, and the conversion removes it
//! when done. Each moved its old tables aside (`*_00NN`) and created the new ones empty; the
//! conversion copies the rows over.
//!
//! - `0012_binary_columns` (migration 0012): the per-call tables keep raw bytes instead of 0x-hex
//!   text, and packed JSON documents. SQL has no portable hex → bytes (SQLite's `unhex`,
//!   PostgreSQL's `decode`).
//! - `0015_summable_totals` (migration 0015): the sponsorship totals' 0x-hex amounts become the
//!   two BIGINT limbs of `crate::amounts`.
//!
//! Each batch is one transaction that inserts the converted rows and deletes them from the old
//! table, so a crash (or a second process converting at the same time: batches take the write
//! lock, and on PostgreSQL an advisory lock) leaves every row in exactly one of the two; the round
//! that finds nothing left drops the old tables and the `store_upgrades` row. Legacy rows are
//! decoded as strictly as when they were read: a malformed one stops the opening (naming it)
//! rather than being dropped.

use alloy::primitives::B256;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::amounts::Limbs;
use crate::codec::{
    address_bin, b256_bin, inflated, parse_address, parse_b256, parse_u128, parse_u256, u128_bin, u256_amount_bin,
    u256_bin,
};
use crate::db::{Store, lock_key};
use crate::error::{CodecError, StoreError};
use crate::packed::{Doc, packed};

/// Rows of each old table converted per transaction.
const BATCH: i64 = 500;

/// A conversion a migration left to the store.
#[derive(Clone, Copy, Debug)]
enum Upgrade {
    /// Migration 0012: hex text → bytes in the per-call tables.
    BinaryColumns,
    /// Migration 0015: hex-text totals → summable limbs.
    SummableTotals,
}

impl Upgrade {
    /// Every conversion, in the order of their migrations.
    const ALL: [Upgrade; 2] = [Upgrade::BinaryColumns, Upgrade::SummableTotals];

    /// The name its migration records in `store_upgrades`.
    fn name(self) -> &'static str {
        match self {
            Upgrade::BinaryColumns => "0012_binary_columns",
            Upgrade::SummableTotals => "0015_summable_totals",
        }
    }

    /// The old tables it empties and then drops.
    fn legacy_tables(self) -> &'static [&'static str] {
        match self {
            Upgrade::BinaryColumns => &["user_ops_0011", "sponsorships_0011", "wallet_calls_0011", "bundles_0011"],
            Upgrade::SummableTotals => &["sponsorship_totals_0014", "sponsorship_sender_totals_0014"],
        }
    }

    /// Converts up to [`BATCH`] rows of each old table inside `tx`; returns how many it moved.
    async fn convert_batch(self, tx: &mut Transaction<'static, Any>) -> Result<usize, StoreError> {
        match self {
            Upgrade::BinaryColumns => {
                Ok(user_ops(tx).await? + sponsorships(tx).await? + wallet_calls(tx).await? + bundles(tx).await?)
            }
            Upgrade::SummableTotals => Ok(totals(tx, false).await? + totals(tx, true).await?),
        }
    }
}

/// Finishes every conversion the migrations left pending (nothing when none is).
pub(crate) async fn finish(store: &Store) -> Result<(), StoreError> {
    for upgrade in Upgrade::ALL {
        finish_one(store, upgrade).await?;
    }
    Ok(())
}

/// Finishes `upgrade`, batch by batch, if it is pending.
async fn finish_one(store: &Store, upgrade: Upgrade) -> Result<(), StoreError> {
    let name = upgrade.name();
    let fail = |e: StoreError| StoreError::Migrate(format!("finishing {name}: {e}"));
    let mut converted = 0usize;
    loop {
        let mut tx = store.begin_write().await.map_err(|e| fail(e.into()))?;
        store.advisory_lock(&mut tx, lock_key("store-upgrade", name.as_bytes())).await.map_err(|e| fail(e.into()))?;
        let pending: Option<String> = sqlx::query_scalar("SELECT name FROM store_upgrades WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| fail(e.into()))?;
        if pending.is_none() {
            tx.rollback().await.map_err(|e| fail(e.into()))?;
            return Ok(());
        }
        let moved = upgrade.convert_batch(&mut tx).await.map_err(fail)?;
        if moved == 0 {
            for table in upgrade.legacy_tables() {
                sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE {table}")))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| fail(e.into()))?;
            }
            sqlx::query("DELETE FROM store_upgrades WHERE name = $1")
                .bind(name)
                .execute(&mut *tx)
                .await
                .map_err(|e| fail(e.into()))?;
        }
        tx.commit().await.map_err(|e| fail(e.into()))?;
        converted += moved;
        if moved == 0 {
            if converted > 0 {
                tracing::info!(rows = converted, "store: {name} finished");
            }
            return Ok(());
        }
        tracing::debug!(rows = converted, "store: {name} converting");
    }
}

/// The rows of one batch of `table` (columns `columns`).
async fn batch_of(tx: &mut Transaction<'static, Any>, table: &str, columns: &str) -> Result<Vec<AnyRow>, sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {columns} FROM {table} LIMIT $1")))
        .bind(BATCH)
        .fetch_all(&mut **tx)
        .await
}

fn text(row: &AnyRow, column: &str) -> Result<String, sqlx::Error> {
    row.try_get::<String, _>(column)
}

fn opt_text(row: &AnyRow, column: &str) -> Result<Option<String>, sqlx::Error> {
    row.try_get::<Option<String>, _>(column)
}

/// A hash column of hex text as bytes.
fn hash_bin(row: &AnyRow, column: &str) -> Result<Vec<u8>, StoreError> {
    Ok(b256_bin(&parse_b256(column, &text(row, column)?)?))
}

/// An optional hash column of hex text as bytes.
fn opt_hash_bin(row: &AnyRow, column: &str) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(opt_text(row, column)?.map(|s| parse_b256(column, &s).map(|h| b256_bin(&h))).transpose()?)
}

/// An address column of hex text as bytes.
fn address_col_bin(row: &AnyRow, column: &str) -> Result<Vec<u8>, StoreError> {
    Ok(address_bin(&parse_address(column, &text(row, column)?)?))
}

/// A JSON document of 0011's `user_ops`: deflated in `z_column`, or text in `text_column`.
fn legacy_json(row: &AnyRow, text_column: &str, z_column: &str) -> Result<Option<String>, StoreError> {
    if let Some(z) = row.try_get::<Option<Vec<u8>>, _>(z_column)? {
        return Ok(Some(inflated(z_column, &z)?));
    }
    Ok(opt_text(row, text_column)?)
}

async fn user_ops(tx: &mut Transaction<'static, Any>) -> Result<usize, StoreError> {
    let rows = batch_of(
        tx,
        "user_ops_0011",
        "chain_id, entry_point, hash, sender, nonce_key, nonce_seq, max_fee_per_gas, max_priority_fee_per_gas, \
         valid_until, op_json, op_z, status, bundle_tx, block_number, block_hash, receipt_json, receipt_z, failure, \
         created_at, updated_at, claimed_by, claimed_until",
    )
    .await?;
    for row in &rows {
        let op_json = legacy_json(row, "op_json", "op_z")?
            .ok_or_else(|| StoreError::Corrupt("user_ops: op_json and op_z are both empty".into()))?;
        let receipt = legacy_json(row, "receipt_json", "receipt_z")?;
        let claimed_by = opt_text(row, "claimed_by")?
            .map(|s| parse_address("claimed_by", &s).map(|a| address_bin(&a)))
            .transpose()?;
        sqlx::query(
            "INSERT INTO user_ops (chain_id, entry_point, hash, sender, nonce_key, nonce_seq, max_fee_per_gas, \
             max_priority_fee_per_gas, valid_until, op_z, status, bundle_tx, block_number, block_hash, receipt_z, \
             failure, created_at, updated_at, claimed_by, claimed_until) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) \
             ON CONFLICT (chain_id, entry_point, hash) DO NOTHING",
        )
        .bind(row.try_get::<i64, _>("chain_id")?)
        .bind(address_col_bin(row, "entry_point")?)
        .bind(hash_bin(row, "hash")?)
        .bind(address_col_bin(row, "sender")?)
        .bind(u256_bin(&parse_u256("nonce_key", &text(row, "nonce_key")?)?))
        .bind(row.try_get::<i64, _>("nonce_seq")?)
        .bind(u128_bin(parse_u128("max_fee_per_gas", &text(row, "max_fee_per_gas")?)?))
        .bind(u128_bin(parse_u128("max_priority_fee_per_gas", &text(row, "max_priority_fee_per_gas")?)?))
        .bind(row.try_get::<i64, _>("valid_until")?)
        .bind(packed("op_z", Doc::Op, &op_json)?)
        .bind(text(row, "status")?)
        .bind(opt_hash_bin(row, "bundle_tx")?)
        .bind(row.try_get::<Option<i64>, _>("block_number")?)
        .bind(opt_hash_bin(row, "block_hash")?)
        .bind(receipt.map(|r| packed("receipt_z", Doc::Receipt, &r)).transpose()?)
        .bind(opt_text(row, "failure")?)
        .bind(row.try_get::<i64, _>("created_at")?)
        .bind(row.try_get::<i64, _>("updated_at")?)
        .bind(claimed_by)
        .bind(row.try_get::<i64, _>("claimed_until")?)
        .execute(&mut **tx)
        .await?;
        sqlx::query("DELETE FROM user_ops_0011 WHERE chain_id = $1 AND entry_point = $2 AND hash = $3")
            .bind(row.try_get::<i64, _>("chain_id")?)
            .bind(text(row, "entry_point")?)
            .bind(text(row, "hash")?)
            .execute(&mut **tx)
            .await?;
    }
    Ok(rows.len())
}

async fn sponsorships(tx: &mut Transaction<'static, Any>) -> Result<usize, StoreError> {
    let rows = batch_of(
        tx,
        "sponsorships_0011",
        "chain_id, request_key, user_op_hash, policy_id, sender, max_cost, actual_cost, valid_until, valid_after, \
         status, reason",
    )
    .await?;
    let amount =
        |column: &str, s: &str| -> Result<Vec<u8>, CodecError> { Ok(u256_amount_bin(&parse_u256(column, s)?)) };
    for row in &rows {
        sqlx::query(
            "INSERT INTO sponsorships (chain_id, request_key, user_op_hash, policy_id, sender, max_cost, actual_cost, \
             valid_until, valid_after, status, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (chain_id, request_key) DO NOTHING",
        )
        .bind(row.try_get::<i64, _>("chain_id")?)
        .bind(hash_bin(row, "request_key")?)
        .bind(hash_bin(row, "user_op_hash")?)
        .bind(text(row, "policy_id")?)
        .bind(address_col_bin(row, "sender")?)
        .bind(amount("max_cost", &text(row, "max_cost")?)?)
        .bind(opt_text(row, "actual_cost")?.map(|s| amount("actual_cost", &s)).transpose()?)
        .bind(row.try_get::<i64, _>("valid_until")?)
        .bind(row.try_get::<i64, _>("valid_after")?)
        .bind(text(row, "status")?)
        .bind(opt_text(row, "reason")?)
        .execute(&mut **tx)
        .await?;
        sqlx::query("DELETE FROM sponsorships_0011 WHERE chain_id = $1 AND request_key = $2")
            .bind(row.try_get::<i64, _>("chain_id")?)
            .bind(text(row, "request_key")?)
            .execute(&mut **tx)
            .await?;
    }
    Ok(rows.len())
}

async fn wallet_calls(tx: &mut Transaction<'static, Any>) -> Result<usize, StoreError> {
    let rows = batch_of(tx, "wallet_calls_0011", "chain_id, hash, account, calls_json, session_id, created_at").await?;
    for row in &rows {
        let session = opt_text(row, "session_id")?
            .map(|s| crate::wallet::parse_session_id("session_id", &s).map(|id| id.to_vec()))
            .transpose()?;
        sqlx::query(
            "INSERT INTO wallet_calls (chain_id, hash, account, calls_z, session_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (chain_id, hash) DO NOTHING",
        )
        .bind(row.try_get::<i64, _>("chain_id")?)
        .bind(hash_bin(row, "hash")?)
        .bind(address_col_bin(row, "account")?)
        .bind(packed("calls_z", Doc::Calls, &text(row, "calls_json")?)?)
        .bind(session)
        .bind(row.try_get::<i64, _>("created_at")?)
        .execute(&mut **tx)
        .await?;
        sqlx::query("DELETE FROM wallet_calls_0011 WHERE chain_id = $1 AND hash = $2")
            .bind(row.try_get::<i64, _>("chain_id")?)
            .bind(text(row, "hash")?)
            .execute(&mut **tx)
            .await?;
    }
    Ok(rows.len())
}

async fn bundles(tx: &mut Transaction<'static, Any>) -> Result<usize, StoreError> {
    let rows = batch_of(
        tx,
        "bundles_0011",
        "tx_hash, chain_id, bundler, tx_nonce, max_fee_per_gas, max_priority_fee_per_gas, op_hashes, status, sent_at, \
         sent_at_block, updated_at",
    )
    .await?;
    for row in &rows {
        let op_hashes: Vec<B256> = serde_json::from_str(&text(row, "op_hashes")?)
            .map_err(|e| StoreError::Corrupt(format!("bundles.op_hashes: {e}")))?;
        sqlx::query(
            "INSERT INTO bundles (tx_hash, chain_id, bundler, tx_nonce, max_fee_per_gas, max_priority_fee_per_gas, \
             op_hashes, status, sent_at, sent_at_block, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (tx_hash) DO NOTHING",
        )
        .bind(hash_bin(row, "tx_hash")?)
        .bind(row.try_get::<i64, _>("chain_id")?)
        .bind(address_col_bin(row, "bundler")?)
        .bind(row.try_get::<i64, _>("tx_nonce")?)
        .bind(u128_bin(parse_u128("max_fee_per_gas", &text(row, "max_fee_per_gas")?)?))
        .bind(u128_bin(parse_u128("max_priority_fee_per_gas", &text(row, "max_priority_fee_per_gas")?)?))
        .bind(op_hashes.iter().flat_map(|h| h.0).collect::<Vec<u8>>())
        .bind(text(row, "status")?)
        .bind(row.try_get::<i64, _>("sent_at")?)
        .bind(row.try_get::<i64, _>("sent_at_block")?)
        .bind(row.try_get::<i64, _>("updated_at")?)
        .execute(&mut **tx)
        .await?;
        sqlx::query("DELETE FROM bundles_0011 WHERE tx_hash = $1")
            .bind(text(row, "tx_hash")?)
            .execute(&mut **tx)
            .await?;
    }
    Ok(rows.len())
}

/// One batch of the old sponsorship totals (per policy, or per policy and sender) as limbs in the
/// one new table (a policy's own row with the sender ''): `spent` as it was, `held` = the old
/// `reserved`, `freed` = 0.
async fn totals(tx: &mut Transaction<'static, Any>, per_sender: bool) -> Result<usize, StoreError> {
    let (old, key, key_filter) = match per_sender {
        false => ("sponsorship_totals_0014", "policy_id", "policy_id = $1"),
        true => ("sponsorship_sender_totals_0014", "policy_id, sender", "policy_id = $1 AND sender = $2"),
    };
    let rows = batch_of(tx, old, &format!("{key}, spent, reserved, updated_at")).await?;
    for row in &rows {
        let amount = |column: &str| -> Result<Limbs, StoreError> {
            Ok(Limbs::of(column, parse_u256(column, &text(row, column)?)?)?)
        };
        let (spent, held) = (amount("spent")?, amount("reserved")?);
        let policy_id = text(row, "policy_id")?;
        let sender = if per_sender { text(row, "sender")? } else { String::new() };
        sqlx::query(
            "INSERT INTO sponsorship_totals (policy_id, sender, spent_gwei, spent_wei, held_gwei, held_wei, \
             freed_gwei, freed_wei, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 0, 0, $7)",
        )
        .bind(&policy_id)
        .bind(&sender)
        .bind(spent.gwei)
        .bind(spent.wei)
        .bind(held.gwei)
        .bind(held.wei)
        .bind(row.try_get::<i64, _>("updated_at")?)
        .execute(&mut **tx)
        .await?;
        let delete = sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {old} WHERE {key_filter}"))).bind(&policy_id);
        match per_sender {
            true => delete.bind(&sender).execute(&mut **tx).await?,
            false => delete.execute(&mut **tx).await?,
        };
    }
    Ok(rows.len())
}
