//! Wei amounts in configuration: a decimal or `0x` hex string (TOML integers stop at 2^63), or a
//! small integer.

use std::fmt;

use alloy::primitives::U256;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An amount of wei, written `"1000000000000000000"`, `"0xde0b6b3a7640000"` or `1000`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Wei(pub U256);

impl Wei {
    /// Parses a decimal or `0x` hex string.
    pub fn parse(s: &str) -> Result<Wei, String> {
        let t = s.trim();
        let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            Some(hex) if !hex.is_empty() => U256::from_str_radix(hex, 16),
            Some(_) => return Err(format!("{s:?} is not an amount of wei (empty hex)")),
            None if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) => U256::from_str_radix(t, 10),
            None => return Err(format!("{s:?} is not an amount of wei (decimal digits or 0x hex)")),
        };
        parsed.map(Wei).map_err(|e| format!("{s:?} is not an amount of wei: {e}"))
    }
}

impl Serialize for Wei {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for Wei {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Wei;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an amount of wei: a decimal or 0x-hex string, or a non-negative integer")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Wei, E> {
                Wei::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Wei, E> {
                Ok(Wei(U256::from(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Wei, E> {
                u64::try_from(v).map(|v| Wei(U256::from(v))).map_err(|_| E::custom(format!("negative amount {v}")))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_decimal_hex_and_refuses_the_rest() {
        assert_eq!(Wei::parse("1000").unwrap().0, U256::from(1000));
        assert_eq!(Wei::parse("0x3e8").unwrap().0, U256::from(1000));
        for bad in ["", "0x", "1e18", "-1", "12a", "0xzz"] {
            assert!(Wei::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
