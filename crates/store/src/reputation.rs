//! The bundler's ERC-7562 reputation table: per entity address (sender, factory, paymaster),
//! `opsSeen` and `opsIncluded`, decayed every hour as `value * 23 / 24`. The decay is applied
//! lazily: each row remembers the hour it was last decayed, and every read or write first brings
//! it up to the current hour. Also the facts of a pooled operation's first validation that its
//! second validation is compared with (COD-010).

use std::collections::BTreeMap;

use alloy::primitives::Address;
use sqlx::Row as _;
use sqlx::{Any, Transaction};

use crate::codec::{address_text, parse_address, u64_from_db, u64_to_db};
use crate::db::Store;
use crate::error::{CodecError, StoreError};
use crate::script::Statement;

/// Seconds per decay step.
const HOUR: u64 = 3600;

/// One entity's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReputationRecord {
    /// The entity.
    pub address: Address,
    /// Unique valid operations referencing it that this bundler accepted (decayed).
    pub ops_seen: u64,
    /// Of those, how many were included onchain (decayed).
    pub ops_included: u64,
}

/// `value` after `hours` hourly decays of ERC-7562 (`value = value * 23 / 24` each).
pub fn decay(mut value: u64, hours: u64) -> u64 {
    for _ in 0..hours {
        if value == 0 {
            break;
        }
        value = value * 23 / 24;
    }
    value
}

type Row = (String, i64, i64, i64);

fn record(row: Row, now: u64) -> Result<ReputationRecord, CodecError> {
    let (address, seen, included, hour) = row;
    let hours = (now / HOUR).saturating_sub(u64_from_db("decayed_hour", hour)?);
    Ok(ReputationRecord {
        address: parse_address("address", &address)?,
        ops_seen: decay(u64_from_db("ops_seen", seen)?, hours),
        ops_included: decay(u64_from_db("ops_included", included)?, hours),
    })
}

impl Store {
    /// Every entity's counters for `(chain_id, entry_point)` at time `now` (unix seconds).
    pub async fn reputation_entries(
        &self,
        chain_id: u64,
        entry_point: Address,
        now: u64,
    ) -> Result<Vec<ReputationRecord>, StoreError> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT address, ops_seen, ops_included, decayed_hour FROM bundler_reputation \
             WHERE chain_id = $1 AND entry_point = $2 ORDER BY address",
        )
        .bind(u64_to_db("chain_id", chain_id)?)
        .bind(address_text(&entry_point))
        .fetch_all(self.pool())
        .await?;
        rows.into_iter().map(|r| record(r, now).map_err(StoreError::from)).collect()
    }

    /// One entity's counters at `now` (zeros for an entity never seen).
    pub async fn reputation_of(
        &self,
        chain_id: u64,
        entry_point: Address,
        address: Address,
        now: u64,
    ) -> Result<ReputationRecord, StoreError> {
        let row: Option<Row> = sqlx::query_as(
            "SELECT address, ops_seen, ops_included, decayed_hour FROM bundler_reputation \
             WHERE chain_id = $1 AND entry_point = $2 AND address = $3",
        )
        .bind(u64_to_db("chain_id", chain_id)?)
        .bind(address_text(&entry_point))
        .bind(address_text(&address))
        .fetch_optional(self.pool())
        .await?;
        match row {
            Some(r) => Ok(record(r, now)?),
            None => Ok(ReputationRecord { address, ..Default::default() }),
        }
    }

    /// Changes one entity's counters at `now`: `f` gets them decayed to the current hour and
    /// edits them; the result is stored (atomically with respect to other updates of the entity).
    pub async fn update_reputation(
        &self,
        chain_id: u64,
        entry_point: Address,
        address: Address,
        now: u64,
        f: impl FnOnce(&mut ReputationRecord) + Send,
    ) -> Result<ReputationRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        let r = self.update_reputation_in::<StoreError>(&mut tx, (chain_id, entry_point), address, now, f).await?;
        tx.commit().await?;
        Ok(r)
    }

    /// Counts in the caller's write transaction `tx` each entity's `n` more operations seen
    /// (`included` false) or included (true); `at` is (chain_id, entry_point). The entities'
    /// locks are taken in address order (every transaction that counts takes them so, so an
    /// admission and a mined bundle naming the same paymaster cannot deadlock); the usual case,
    /// rows already decayed to this hour, is one statement per distinct `n`; an entity without
    /// such a row goes through [`Store::update_reputation`]'s read and rewrite.
    pub(crate) async fn count_reputations_in<E: From<sqlx::Error> + From<CodecError>>(
        &self,
        tx: &mut Transaction<'static, Any>,
        at: (u64, Address),
        counts: &BTreeMap<Address, u64>,
        now: u64,
        included: bool,
    ) -> Result<(), E> {
        for address in counts.keys() {
            self.advisory_lock(tx, reputation_lock(at, address)).await?;
        }
        for Counting { statement, n, addresses } in counting(at, counts, now, included)? {
            let rows = statement.query().fetch_all(&mut **tx).await?;
            let counted: Vec<String> = rows.iter().map(|r| r.try_get("address")).collect::<Result<_, _>>()?;
            for address in addresses.iter().filter(|a| !counted.contains(&address_text(a))) {
                self.update_reputation_in::<E>(tx, at, *address, now, |r| match included {
                    false => r.ops_seen = r.ops_seen.saturating_add(n),
                    true => r.ops_included = r.ops_included.saturating_add(n),
                })
                .await?;
            }
        }
        Ok(())
    }

    /// [`Store::update_reputation`] inside the caller's write transaction `tx`; `at` is
    /// (chain_id, entry_point).
    pub(crate) async fn update_reputation_in<E: From<sqlx::Error> + From<CodecError>>(
        &self,
        tx: &mut Transaction<'static, Any>,
        at: (u64, Address),
        address: Address,
        now: u64,
        f: impl FnOnce(&mut ReputationRecord) + Send,
    ) -> Result<ReputationRecord, E> {
        let (chain_id, entry_point) = at;
        self.advisory_lock(tx, reputation_lock(at, &address)).await?;
        let (chain, ep, addr) = (u64_to_db("chain_id", chain_id)?, address_text(&entry_point), address_text(&address));
        let row: Option<Row> = sqlx::query_as(
            "SELECT address, ops_seen, ops_included, decayed_hour FROM bundler_reputation \
             WHERE chain_id = $1 AND entry_point = $2 AND address = $3",
        )
        .bind(chain)
        .bind(&ep)
        .bind(&addr)
        .fetch_optional(&mut **tx)
        .await?;
        let mut r = match row {
            Some(r) => record(r, now)?,
            None => ReputationRecord { address, ..Default::default() },
        };
        f(&mut r);
        sqlx::query("DELETE FROM bundler_reputation WHERE chain_id = $1 AND entry_point = $2 AND address = $3")
            .bind(chain)
            .bind(&ep)
            .bind(&addr)
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "INSERT INTO bundler_reputation (chain_id, entry_point, address, ops_seen, ops_included, decayed_hour) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(chain)
        .bind(&ep)
        .bind(&addr)
        .bind(u64_to_db("ops_seen", r.ops_seen)?)
        .bind(u64_to_db("ops_included", r.ops_included)?)
        .bind(u64_to_db("decayed_hour", now / HOUR)?)
        .execute(&mut **tx)
        .await?;
        Ok(r)
    }

    /// Forgets every entity's counters for `(chain_id, entry_point)`.
    pub async fn clear_reputation(&self, chain_id: u64, entry_point: Address) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM bundler_reputation WHERE chain_id = $1 AND entry_point = $2")
            .bind(u64_to_db("chain_id", chain_id)?)
            .bind(address_text(&entry_point))
            .execute(self.writer())
            .await?;
        Ok(())
    }
}

/// One statement counting `n` more operations for each of `addresses` in their rows decayed to
/// this hour; it returns the addresses it counted (one left out has no row of this hour).
pub(crate) struct Counting {
    /// The `UPDATE … RETURNING address`.
    pub(crate) statement: Statement,
    /// What it adds.
    pub(crate) n: u64,
    /// The entities it names.
    pub(crate) addresses: Vec<Address>,
}

/// The statements that count `counts` (each entity's `n` more operations seen, or included when
/// `included`): one per distinct `n`.
pub(crate) fn counting(
    at: (u64, Address),
    counts: &BTreeMap<Address, u64>,
    now: u64,
    included: bool,
) -> Result<Vec<Counting>, CodecError> {
    let (chain_id, entry_point) = at;
    let mut by_count: BTreeMap<u64, Vec<Address>> = BTreeMap::new();
    for (address, n) in counts {
        by_count.entry(*n).or_default().push(*address);
    }
    let column = if included { "ops_included" } else { "ops_seen" };
    by_count
        .into_iter()
        .map(|(n, addresses)| {
            let sql = format!(
                "UPDATE bundler_reputation SET {column} = {column} + $4 \
                 WHERE chain_id = $1 AND entry_point = $2 AND decayed_hour = $3 AND address IN ({}) RETURNING address",
                crate::db::placeholders(5, addresses.len())
            );
            let statement = Statement::new(sql)
                .bind(u64_to_db("chain_id", chain_id)?)
                .bind(address_text(&entry_point))
                .bind(u64_to_db("decayed_hour", now / HOUR)?)
                .bind(u64_to_db("count", n)?);
            let statement = addresses.iter().fold(statement, |st, a| st.bind(address_text(a)));
            Ok(Counting { statement, n, addresses })
        })
        .collect()
}

/// The advisory lock of one entity's counters under `at` (chain_id, entry_point).
fn reputation_lock(at: (u64, Address), address: &Address) -> i64 {
    let (chain_id, entry_point) = at;
    crate::db::lock_key("reputation", &[entry_point.as_slice(), address.as_slice(), &chain_id.to_be_bytes()].concat())
}

#[cfg(test)]
mod tests {
    use super::decay;

    #[test]
    fn hourly_decay_is_23_24_rounded_down() {
        assert_eq!(decay(240, 0), 240);
        assert_eq!(decay(240, 1), 230);
        assert_eq!(decay(240, 2), 220);
        assert_eq!(decay(1, 1), 0);
        assert_eq!(decay(10_000, 24 * 4) * 100 / 10_000, 1, "about 1% after four days");
    }
}
