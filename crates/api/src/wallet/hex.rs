//! Wire primitives of the Wallet API (wallet-api.md §2.1): HexNumber, HexBigInt, UUID v4, base64url
//! cursors, and a 16-byte session id, each validated exactly as the official SDK validates them.

use std::fmt;
use std::str::FromStr;

use alloy::primitives::{B128, U256};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a wire primitive was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The value does not start with lowercase `0x`.
    #[error("{0} must start with lowercase 0x")]
    MissingPrefix(&'static str),
    /// Nothing, or something other than hex digits, after `0x`.
    #[error("{0} needs at least one hex digit after 0x and nothing else")]
    BadDigits(&'static str),
    /// A HexNumber above `0xffffffff`.
    #[error("HexNumber {0} exceeds uint32 (0xffffffff)")]
    Uint32Overflow(String),
    /// A HexBigInt above 256 bits.
    #[error("HexBigInt {0} exceeds 256 bits")]
    Uint256Overflow(String),
    /// Not a canonical version-4 UUID.
    #[error("{0:?} is not a UUID v4 (8-4-4-4-12 lowercase or uppercase hex, version 4, variant 8/9/a/b)")]
    NotUuidV4(String),
    /// Not an unpadded base64url string.
    #[error("{0:?} is not an unpadded base64url cursor")]
    NotBase64Url(String),
    /// A session id of the wrong length.
    #[error("sessionId must be exactly 16 bytes, got {0}")]
    SessionIdLength(usize),
    /// A session id that is not hex.
    #[error("sessionId must be 0x-prefixed hex")]
    SessionIdHex,
}

fn hex_digits<'a>(s: &'a str, what: &'static str) -> Result<&'a str, WireError> {
    let digits = s.strip_prefix("0x").ok_or(WireError::MissingPrefix(what))?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(WireError::BadDigits(what));
    }
    Ok(digits)
}

/// `HexNumber`: a uint32 as `0x`-hex (chain ids, authorization nonces, entity ids). Leading zeros
/// and upper-case digits are accepted; `"0x"` and values above `0xffffffff` are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HexNumber(pub u32);

impl HexNumber {
    /// The value.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl From<u32> for HexNumber {
    fn from(v: u32) -> Self {
        Self(v)
    }
}

impl From<HexNumber> for u64 {
    fn from(v: HexNumber) -> Self {
        v.0 as u64
    }
}

impl TryFrom<u64> for HexNumber {
    type Error = WireError;
    fn try_from(v: u64) -> Result<Self, WireError> {
        u32::try_from(v).map(Self).map_err(|_| WireError::Uint32Overflow(format!("{v:#x}")))
    }
}

impl FromStr for HexNumber {
    type Err = WireError;
    fn from_str(s: &str) -> Result<Self, WireError> {
        let digits = hex_digits(s, "HexNumber")?;
        let trimmed = digits.trim_start_matches('0');
        if trimmed.len() > 8 {
            return Err(WireError::Uint32Overflow(s.to_string()));
        }
        u32::from_str_radix(if trimmed.is_empty() { "0" } else { trimmed }, 16)
            .map(Self)
            .map_err(|_| WireError::Uint32Overflow(s.to_string()))
    }
}

impl fmt::Display for HexNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl Serialize for HexNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HexNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(D::Error::custom)
    }
}

/// `HexBigInt`: an unsigned integer of up to 256 bits as `0x`-hex, emitted minimal (`"0x0"`).
/// Leading zeros and upper-case digits are accepted; `"0x"` alone is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HexBigInt(pub U256);

impl HexBigInt {
    /// The value.
    pub const fn get(self) -> U256 {
        self.0
    }
}

impl From<U256> for HexBigInt {
    fn from(v: U256) -> Self {
        Self(v)
    }
}

impl From<u64> for HexBigInt {
    fn from(v: u64) -> Self {
        Self(U256::from(v))
    }
}

impl From<u128> for HexBigInt {
    fn from(v: u128) -> Self {
        Self(U256::from(v))
    }
}

impl From<HexBigInt> for U256 {
    fn from(v: HexBigInt) -> Self {
        v.0
    }
}

impl FromStr for HexBigInt {
    type Err = WireError;
    fn from_str(s: &str) -> Result<Self, WireError> {
        let digits = hex_digits(s, "HexBigInt")?;
        U256::from_str_radix(digits, 16).map(Self).map_err(|_| WireError::Uint256Overflow(s.to_string()))
    }
}

impl fmt::Display for HexBigInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl Serialize for HexBigInt {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HexBigInt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(D::Error::custom)
    }
}

/// A canonical version-4 UUID (account ids, policy ids), kept as sent; compare with [`Self::key`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UuidV4(String);

impl UuidV4 {
    /// A v4 UUID from 16 random bytes (the version and variant bits are set here).
    pub fn from_random_bytes(mut bytes: [u8; 16]) -> Self {
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let h = alloy::hex::encode(bytes);
        Self(format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32]))
    }

    /// The UUID as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The lowercase form, for lookups (UUIDs are case-insensitive).
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl FromStr for UuidV4 {
    type Err = WireError;
    fn from_str(s: &str) -> Result<Self, WireError> {
        let b = s.as_bytes();
        let shape_ok = b.len() == 36
            && b.iter().enumerate().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => *c == b'-',
                _ => c.is_ascii_hexdigit(),
            });
        if !shape_ok || b[14] != b'4' || !matches!(b[19], b'8' | b'9' | b'a' | b'b' | b'A' | b'B') {
            return Err(WireError::NotUuidV4(s.to_string()));
        }
        Ok(Self(s.to_string()))
    }
}

impl fmt::Display for UuidV4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for UuidV4 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for UuidV4 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(D::Error::custom)
    }
}

/// A `wallet_listAccounts` paging cursor: unpadded base64url (`[A-Za-z0-9_-]*`, length mod 4 ≠ 1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor(String);

impl Cursor {
    /// The cursor text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Cursor {
    type Err = WireError;
    fn from_str(s: &str) -> Result<Self, WireError> {
        let ok = s.len() % 4 != 1 && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_');
        if ok { Ok(Self(s.to_string())) } else { Err(WireError::NotBase64Url(s.to_string())) }
    }
}

impl Serialize for Cursor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Cursor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(D::Error::custom)
    }
}

/// A session id: exactly 16 bytes (the permissions context layout depends on it, §5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId(pub B128);

impl FromStr for SessionId {
    type Err = WireError;
    fn from_str(s: &str) -> Result<Self, WireError> {
        let bytes = alloy::hex::decode(s).map_err(|_| WireError::SessionIdHex)?;
        if !s.starts_with("0x") {
            return Err(WireError::SessionIdHex);
        }
        if bytes.len() != 16 {
            return Err(WireError::SessionIdLength(bytes.len()));
        }
        Ok(Self(B128::from_slice(&bytes)))
    }
}

impl Serialize for SessionId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for SessionId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(D::Error::custom)
    }
}
