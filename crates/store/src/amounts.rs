//! Wei amounts that SQL adds up exactly: the sponsorship totals keep each amount `x` in two BIGINT
//! columns, `x_gwei` (whole gwei) and `x_wei` (the wei below one gwei, `0 ≤ x_wei < 10⁹`). Both
//! databases add BIGINTs exactly, so a total moves by one statement with no read of its old value,
//! and a limit is checked in the same statement's `WHERE`:
//!
//! ```text
//!  a + b  =  ( a_gwei + b_gwei + (a_wei + b_wei) / 10⁹ ,  (a_wei + b_wei) % 10⁹ )
//!  a ≤ b  ⟺  a_gwei < b_gwei  ∨  (a_gwei = b_gwei ∧ a_wei ≤ b_wei)
//! ```
//!
//! A stored amount is at most [`MAX_GWEI`] gwei (~1.15 billion ETH), so a sum of four fits in an
//! i64 and no statement here can overflow. The fragments below are SQL text built from column
//! names and placeholder numbers only, never from input.

use alloy::primitives::U256;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::CodecError;

/// Wei in one gwei: the base of the low limb.
const WEI_PER_GWEI: u64 = 1_000_000_000;

/// The most gwei an amount may hold (2⁶⁰): four of them add up within an i64.
pub(crate) const MAX_GWEI: i64 = 1 << 60;

/// One amount as its two columns' values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Limbs {
    /// Whole gwei.
    pub(crate) gwei: i64,
    /// Wei below one gwei.
    pub(crate) wei: i64,
}

impl Limbs {
    /// Zero.
    pub(crate) const ZERO: Limbs = Limbs { gwei: 0, wei: 0 };

    /// `v` as limbs; an amount above [`MAX_GWEI`] gwei is refused (`what` names it).
    pub(crate) fn of(what: &str, v: U256) -> Result<Self, CodecError> {
        let (gwei, wei) = v.div_rem(U256::from(WEI_PER_GWEI));
        match i64::try_from(gwei) {
            Ok(gwei) if gwei <= MAX_GWEI => Ok(Limbs { gwei, wei: wei.to::<i64>() }),
            _ => Err(CodecError::Input(format!("{what} = {v} wei is more than the ledger can count"))),
        }
    }

    /// A limit as limbs: `None` (no limit) also for a limit no amount can reach.
    pub(crate) fn of_limit(limit: Option<U256>) -> Option<Self> {
        limit.and_then(|l| Limbs::of("limit", l).ok())
    }

    /// The amount the limbs hold.
    pub(crate) fn value(self) -> U256 {
        U256::from(self.gwei as u64) * U256::from(WEI_PER_GWEI) + U256::from(self.wei as u64)
    }

    /// Reads the amount `name` (columns `name_gwei`, `name_wei`) from `row`.
    pub(crate) fn read<E>(row: &AnyRow, name: &str) -> Result<U256, E>
    where
        E: From<sqlx::Error> + From<CodecError>,
    {
        let gwei: i64 = row.try_get(format!("{name}_gwei").as_str())?;
        let wei: i64 = row.try_get(format!("{name}_wei").as_str())?;
        let in_range = (0..=MAX_GWEI).contains(&gwei) && (0..WEI_PER_GWEI as i64).contains(&wei);
        match in_range {
            true => Ok(Limbs { gwei, wei }.value()),
            false => Err(CodecError::Corrupt(format!("{name}: limbs ({gwei}, {wei}) out of range")).into()),
        }
    }
}

/// The `SET` items adding the amount whose limbs are the SQL expressions `gwei` and `wei` to the
/// amount `name` of `table`'s row.
pub(crate) fn add_to(table: &str, name: &str, gwei: &str, wei: &str) -> String {
    format!(
        "{name}_gwei = {table}.{name}_gwei + {gwei} + ({table}.{name}_wei + {wei}) / {WEI_PER_GWEI}, \
         {name}_wei = ({table}.{name}_wei + {wei}) % {WEI_PER_GWEI}"
    )
}

/// The condition `sum of the amounts lhs ≤ sum of the amounts rhs`, each amount given as the SQL
/// expressions of its two limbs (at most four amounts a side).
pub(crate) fn sum_at_most(lhs: &[(&str, &str)], rhs: &[(&str, &str)]) -> String {
    let side = |amounts: &[(&str, &str)]| {
        let gwei = amounts.iter().map(|(g, _)| *g).collect::<Vec<_>>().join(" + ");
        let wei = amounts.iter().map(|(_, w)| *w).collect::<Vec<_>>().join(" + ");
        (format!("({gwei} + ({wei}) / {WEI_PER_GWEI})"), format!("(({wei}) % {WEI_PER_GWEI})"))
    };
    let ((lg, lw), (rg, rw)) = (side(lhs), side(rhs));
    format!("({lg} < {rg} OR ({lg} = {rg} AND {lw} <= {rw}))")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limbs_round_trip_and_cap() {
        for v in [0u64, 1, 999_999_999, 1_000_000_000, 1_000_000_001, u64::MAX] {
            let l = Limbs::of("v", U256::from(v)).unwrap();
            assert!((0..1_000_000_000).contains(&l.wei));
            assert_eq!(l.value(), U256::from(v));
        }
        let cap = U256::from(MAX_GWEI as u64) * U256::from(WEI_PER_GWEI) + U256::from(999_999_999u64);
        assert_eq!(Limbs::of("v", cap).unwrap().value(), cap);
        assert!(matches!(Limbs::of("v", cap + U256::from(1u8)), Err(CodecError::Input(_))));
        assert_eq!(Limbs::of_limit(Some(U256::MAX)), None, "a limit nothing can reach is none");
        assert_eq!(Limbs::of_limit(Some(U256::from(5u8))), Some(Limbs { gwei: 0, wei: 5 }));
    }
}
