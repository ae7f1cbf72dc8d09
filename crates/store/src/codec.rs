//! Column encodings shared by the repositories: raw big-endian bytes (BYTEA / BLOB) for the hashes,
//! addresses, U256 and u128 of the per-call tables (since migration 0012; fixed width, so byte order
//! is numeric order), fixed-width lowercase 0x-hex TEXT in the other tables; BIGINT for u64 values;
//! packed JSON documents (`packed`: hex strings as bytes, deflated with a preset dictionary) for
//! what is kept for history (an operation, its receipt, a call's calls).

use alloy::hex;
use alloy::primitives::{Address, B256, U256};

use crate::error::CodecError;

/// `0x` + 64 lowercase hex digits.
pub(crate) fn b256_text(v: &B256) -> String {
    hex::encode_prefixed(v.as_slice())
}

/// `0x` + 40 lowercase hex digits.
pub(crate) fn address_text(v: &Address) -> String {
    hex::encode_prefixed(v.as_slice())
}

/// `0x` + 64 lowercase hex digits (big-endian, zero-padded, so text order is numeric order).
pub(crate) fn u256_text(v: &U256) -> String {
    hex::encode_prefixed(v.to_be_bytes::<32>())
}

/// A hash as stored in a binary column: its 32 bytes.
pub(crate) fn b256_bin(v: &B256) -> Vec<u8> {
    v.to_vec()
}

/// An address as stored in a binary column: its 20 bytes.
pub(crate) fn address_bin(v: &Address) -> Vec<u8> {
    v.to_vec()
}

/// A U256 as stored in a binary column: 32 bytes, big-endian.
pub(crate) fn u256_bin(v: &U256) -> Vec<u8> {
    v.to_be_bytes::<32>().to_vec()
}

/// An amount as stored in a binary column: big-endian without leading zero bytes (one byte for
/// zero), for amounts that are read and written but never compared in SQL.
pub(crate) fn u256_amount_bin(v: &U256) -> Vec<u8> {
    let bytes = v.to_be_bytes::<32>();
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(31);
    bytes[first..].to_vec()
}

/// Parses a [`u256_amount_bin`] value (1 to 32 bytes).
pub(crate) fn u256_from_amount_bin(column: &str, bytes: &[u8]) -> Result<U256, CodecError> {
    if bytes.is_empty() || bytes.len() > 32 {
        return Err(CodecError::Corrupt(format!("{column}: expected 1 to 32 bytes, got {}", bytes.len())));
    }
    Ok(U256::from_be_slice(bytes))
}

/// A u128 as stored in a binary column: 16 bytes, big-endian (byte order is numeric order).
pub(crate) fn u128_bin(v: u128) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}

/// `bytes` as an array of exactly `N` bytes, else corrupt.
fn fixed<const N: usize>(column: &str, bytes: &[u8]) -> Result<[u8; N], CodecError> {
    <[u8; N]>::try_from(bytes)
        .map_err(|_| CodecError::Corrupt(format!("{column}: expected {N} bytes, got {}", bytes.len())))
}

/// Parses a [`b256_bin`] value.
pub(crate) fn b256_from_bin(column: &str, bytes: &[u8]) -> Result<B256, CodecError> {
    Ok(B256::from(fixed::<32>(column, bytes)?))
}

/// Parses an [`address_bin`] value.
pub(crate) fn address_from_bin(column: &str, bytes: &[u8]) -> Result<Address, CodecError> {
    Ok(Address::from(fixed::<20>(column, bytes)?))
}

/// Parses a [`u256_bin`] value.
pub(crate) fn u256_from_bin(column: &str, bytes: &[u8]) -> Result<U256, CodecError> {
    Ok(U256::from_be_bytes(fixed::<32>(column, bytes)?))
}

/// Parses a [`u128_bin`] value.
pub(crate) fn u128_from_bin(column: &str, bytes: &[u8]) -> Result<u128, CodecError> {
    Ok(u128::from_be_bytes(fixed::<16>(column, bytes)?))
}

/// Strips `0x` and checks the digit count and case, so only what we wrote is accepted.
fn hex_digits<'a>(column: &str, s: &'a str, digits: usize) -> Result<&'a str, CodecError> {
    let body = s
        .strip_prefix("0x")
        .filter(|b| b.len() == digits && b.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)))
        .ok_or_else(|| {
            CodecError::Corrupt(format!("{column}: expected 0x + {digits} lowercase hex digits, got {s:?}"))
        })?;
    Ok(body)
}

/// Parses a [`b256_text`] value.
pub(crate) fn parse_b256(column: &str, s: &str) -> Result<B256, CodecError> {
    let body = hex_digits(column, s, 64)?;
    let bytes = hex::decode(body).map_err(|e| CodecError::Corrupt(format!("{column}: {e}")))?;
    Ok(B256::from_slice(&bytes))
}

/// Parses an [`address_text`] value.
pub(crate) fn parse_address(column: &str, s: &str) -> Result<Address, CodecError> {
    let body = hex_digits(column, s, 40)?;
    let bytes = hex::decode(body).map_err(|e| CodecError::Corrupt(format!("{column}: {e}")))?;
    Ok(Address::from_slice(&bytes))
}

/// Parses a [`u256_text`] value.
pub(crate) fn parse_u256(column: &str, s: &str) -> Result<U256, CodecError> {
    Ok(U256::from_be_bytes(parse_b256(column, s)?.0))
}

/// Parses a u128 of 0x + 32 lowercase hex digits (as the tables before migration 0012 kept fees).
pub(crate) fn parse_u128(column: &str, s: &str) -> Result<u128, CodecError> {
    let body = hex_digits(column, s, 32)?;
    u128::from_str_radix(body, 16).map_err(|e| CodecError::Corrupt(format!("{column}: {e}")))
}

/// A u64 for a BIGINT column; values above `i64::MAX` are refused.
pub(crate) fn u64_to_db(column: &str, v: u64) -> Result<i64, CodecError> {
    i64::try_from(v).map_err(|_| CodecError::Input(format!("{column} = {v} exceeds the storable maximum {}", i64::MAX)))
}

/// A BIGINT column read back as u64; negative values are corrupt.
pub(crate) fn u64_from_db(column: &str, v: i64) -> Result<u64, CodecError> {
    u64::try_from(v).map_err(|_| CodecError::Corrupt(format!("{column}: negative value {v}")))
}

/// The full u64 range stored bit-for-bit in a BIGINT (two's complement); used for nonce_seq.
pub(crate) fn u64_bits_to_db(v: u64) -> i64 {
    i64::from_ne_bytes(v.to_ne_bytes())
}

/// Inverse of [`u64_bits_to_db`].
pub(crate) fn u64_bits_from_db(v: i64) -> u64 {
    u64::from_ne_bytes(v.to_ne_bytes())
}

/// `json` deflated (fast level), as migration 0011 stored an operation and its receipt.
#[cfg(test)]
pub(crate) fn deflated(json: &str) -> Vec<u8> {
    use std::io::Write;
    let mut encoder =
        flate2::write::DeflateEncoder::new(Vec::with_capacity(json.len() / 2), flate2::Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(json.as_bytes());
    encoder.finish().unwrap_or_default()
}

/// Inverse of plain deflate (0011's `op_z` and `receipt_z`, read when converting them); a value
/// that does not inflate to UTF-8 text is corrupt.
pub(crate) fn inflated(column: &str, bytes: &[u8]) -> Result<String, CodecError> {
    use std::io::Read;
    let mut out = String::with_capacity(bytes.len() * 3);
    flate2::read::DeflateDecoder::new(bytes)
        .read_to_string(&mut out)
        .map_err(|e| CodecError::Corrupt(format!("{column}: {e}")))?;
    Ok(out)
}

/// Current unix time in seconds (0 if the clock is before 1970).
pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_fixed_width() {
        let h = B256::repeat_byte(0xab);
        assert_eq!(parse_b256("h", &b256_text(&h)).unwrap(), h);
        let a = Address::repeat_byte(0xcd);
        assert_eq!(address_text(&a), format!("0x{}", "cd".repeat(20)));
        assert_eq!(parse_address("a", &address_text(&a)).unwrap(), a);
        let u = U256::from(1u64) << 191;
        assert_eq!(u256_text(&u).len(), 66);
        assert_eq!(parse_u256("u", &u256_text(&u)).unwrap(), u);
        assert_eq!(parse_u128("f", &format!("0x{}", "f".repeat(32))).unwrap(), u128::MAX);
        assert_eq!(parse_u128("f", &format!("0x{}ff", "0".repeat(30))).unwrap(), 255);
        for v in [0u64, 1, i64::MAX as u64, u64::MAX] {
            assert_eq!(u64_bits_from_db(u64_bits_to_db(v)), v);
        }
        assert!(u64_to_db("x", u64::MAX).is_err());
        assert!(u64_from_db("x", -1).is_err());
    }

    #[test]
    fn binary_round_trips_and_fixed_width() {
        let h = B256::repeat_byte(0xab);
        assert_eq!(b256_from_bin("h", &b256_bin(&h)).unwrap(), h);
        let a = Address::repeat_byte(0xcd);
        assert_eq!(address_from_bin("a", &address_bin(&a)).unwrap(), a);
        let u = U256::from(1u64) << 191;
        assert_eq!(u256_from_bin("u", &u256_bin(&u)).unwrap(), u);
        assert_eq!(u128_from_bin("f", &u128_bin(u128::MAX)).unwrap(), u128::MAX);
        // Byte order is numeric order.
        assert!(u128_bin(255) < u128_bin(256));
        assert!(u256_bin(&U256::from(255)) < u256_bin(&U256::from(256)));
        assert!(b256_from_bin("h", &[0u8; 31]).is_err());
        assert!(address_from_bin("a", &b256_bin(&h)).is_err());
        assert!(u128_from_bin("f", &[1u8; 17]).is_err());
        for v in [U256::ZERO, U256::from(1), U256::from(0x1_0000u64), U256::MAX] {
            let bin = u256_amount_bin(&v);
            assert_eq!(u256_from_amount_bin("c", &bin).unwrap(), v);
            assert!(bin.len() == 1 || bin[0] != 0, "no leading zero byte: {bin:?}");
        }
        assert_eq!(u256_amount_bin(&U256::ZERO), vec![0]);
        assert_eq!(u256_amount_bin(&U256::from(0x1_0000u64)), vec![1, 0, 0]);
        assert!(u256_from_amount_bin("c", &[]).is_err());
        assert!(u256_from_amount_bin("c", &[1u8; 33]).is_err());
    }

    #[test]
    fn deflated_json_round_trips_and_shrinks() {
        let json = format!(r#"{{"sender":"0x{}","callData":"0x{}"}}"#, "ab".repeat(20), "00".repeat(200));
        let z = deflated(&json);
        assert!(z.len() < json.len() / 2, "{} of {}", z.len(), json.len());
        assert_eq!(inflated("op_z", &z).unwrap(), json);
        assert!(inflated("op_z", b"not deflate").is_err());
    }

    #[test]
    fn refuses_foreign_formats() {
        assert!(parse_b256("h", &format!("0x{}", "AB".repeat(32))).is_err());
        assert!(parse_b256("h", &"ab".repeat(32)).is_err());
        assert!(parse_address("a", "0x1234").is_err());
        assert!(parse_u128("f", "0xff").is_err());
    }
}
