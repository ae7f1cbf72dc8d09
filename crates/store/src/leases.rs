//! Nonce leases: while a prepared user operation waits for its signature and send, it holds its
//! (account, nonce key) so a concurrent prepare of the same account picks another key instead of
//! the same nonce. A lease ends when its operation is sent (`Store::insert_call`) or when it
//! expires (an abandoned prepare never blocks a key for longer than its lease).

use alloy::primitives::{Address, U256};

use crate::codec::{address_text, u64_to_db, u256_text};
use crate::db::Store;
use crate::error::StoreError;

/// One lease request: who wants which key, and until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NonceLease {
    /// Chain id.
    pub chain_id: u64,
    /// The sender.
    pub account: Address,
    /// The 192-bit EntryPoint nonce key.
    pub nonce_key: U256,
    /// The holder (random per prepare: every lease of one prepare has the same token, which its
    /// prepared row keeps, so recording its call ends them all).
    pub token: String,
    /// End of the lease (unix seconds).
    pub expires_at: u64,
}

impl Store {
    /// Takes `lease` unless another holder's lease of the same key is still live at `now`; whether
    /// it was taken. Retaking one's own lease extends it.
    pub async fn take_nonce_lease(&self, lease: &NonceLease, now: u64) -> Result<bool, StoreError> {
        // One statement, atomic on both backends: a new key is inserted; a held one is taken over
        // only when it is the same holder's or has expired (otherwise nothing changes).
        let taken = sqlx::query(
            "INSERT INTO wallet_nonce_leases (chain_id, account, nonce_key, token, hash, expires_at) \
             VALUES ($1, $2, $3, $4, NULL, $5) \
             ON CONFLICT (chain_id, account, nonce_key) DO UPDATE \
             SET token = excluded.token, hash = NULL, expires_at = excluded.expires_at \
             WHERE wallet_nonce_leases.token = excluded.token OR wallet_nonce_leases.expires_at <= $6",
        )
        .bind(u64_to_db("chain_id", lease.chain_id)?)
        .bind(address_text(&lease.account))
        .bind(u256_text(&lease.nonce_key))
        .bind(&lease.token)
        .bind(u64_to_db("expires_at", lease.expires_at)?)
        .bind(u64_to_db("now", now)?)
        .execute(self.writer())
        .await?
        .rows_affected();
        Ok(taken == 1)
    }

    /// Ends the lease `lease`'s holder took (a prepare that failed after taking it).
    pub async fn drop_nonce_lease(&self, lease: &NonceLease) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE FROM wallet_nonce_leases WHERE chain_id = $1 AND account = $2 AND nonce_key = $3 AND token = $4",
        )
        .bind(u64_to_db("chain_id", lease.chain_id)?)
        .bind(address_text(&lease.account))
        .bind(u256_text(&lease.nonce_key))
        .bind(&lease.token)
        .execute(self.writer())
        .await?;
        Ok(())
    }
}
