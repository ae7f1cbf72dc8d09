//! Wire primitives of the Wallet API (wallet-api.md §2.1): HexNumber, HexBigInt, UUID v4, base64url
//! cursors, and a 16-byte session id, each validated exactly as the official SDK validates them.

use std::fmt;
use std::str::FromStr;

use alloy::primitives::{Address, B128, B256, Bytes, Selector, U256};
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
    let digits = s.strip_prefix("0x").ok_or_else(|| refused(s, WireError::MissingPrefix(what)))?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(refused(s, WireError::BadDigits(what)));
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
        let bytes: Bytes = parse_strict(s).map_err(|_| refused(s, WireError::SessionIdHex))?;
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

/// A value the spec types `Hex` or `Address` (§2.1): it must start with lowercase `0x`. alloy's own
/// serde for [`Address`], [`Bytes`], [`B256`] and selectors also reads them without the prefix;
/// the Wallet API and the bundler RPC read every such field through [`StrictHex`] instead.
pub trait StrictHex: Sized {
    /// The spec's name of the type, for errors (`Address`, `Hex`, …).
    const KIND: &'static str;
    /// Parses the digits after `0x`-checking, with alloy's own parser.
    fn parse_hex(s: &str) -> Result<Self, String>;
}

macro_rules! strict_hex {
    ($($ty:ty => $kind:literal),* $(,)?) => {$(
        impl StrictHex for $ty {
            const KIND: &'static str = $kind;
            fn parse_hex(s: &str) -> Result<Self, String> {
                s.parse::<$ty>().map_err(|e| e.to_string())
            }
        }
    )*};
}

strict_hex! {
    Address => "Address",
    Bytes => "Hex",
    B256 => "Hex (32 bytes)",
    Selector => "Hex (4-byte selector)",
}

/// Why a `Hex` or `Address` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HexError {
    /// No lowercase `0x` prefix.
    #[error("{kind} {value:?} must start with lowercase 0x")]
    MissingPrefix {
        /// The spec type.
        kind: &'static str,
        /// The value as sent (its first 80 characters).
        value: String,
    },
    /// Prefixed, but not a value of the type.
    #[error("{kind} {value:?} is not valid: {reason}")]
    Invalid {
        /// The spec type.
        kind: &'static str,
        /// The value as sent (its first 80 characters).
        value: String,
        /// alloy's reason.
        reason: String,
    },
}

impl HexError {
    /// The value that was refused.
    pub fn value(&self) -> &str {
        match self {
            Self::MissingPrefix { value, .. } | Self::Invalid { value, .. } => value,
        }
    }
}

/// At most the first 80 characters of `s`, for errors.
fn shown(s: &str) -> String {
    s.chars().take(80).collect()
}

thread_local! {
    /// The last refusal of a hex value on this thread (the value as sent, and the reason), so that
    /// [`with_field_path`] can name where it was.
    static LAST_REFUSAL: std::cell::RefCell<Option<(String, String)>> = const { std::cell::RefCell::new(None) };
}

/// Records the refusal of `raw` for [`with_field_path`]; returns `error`.
fn refused<E: fmt::Display>(raw: &str, error: E) -> E {
    LAST_REFUSAL.with(|last| *last.borrow_mut() = Some((raw.to_string(), error.to_string())));
    error
}

/// Parses `s` as a strict `Hex`/`Address` value of type `T`.
pub fn parse_strict<T: StrictHex>(s: &str) -> Result<T, HexError> {
    let refuse = |error: HexError| refused(s, error);
    if !s.starts_with("0x") {
        return Err(refuse(HexError::MissingPrefix { kind: T::KIND, value: shown(s) }));
    }
    T::parse_hex(s).map_err(|reason| refuse(HexError::Invalid { kind: T::KIND, value: shown(s), reason }))
}

/// A `Hex`/`Address` value read strictly (for map keys and list items; fields use [`strict`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Strict<T>(pub T);

impl<'de, T: StrictHex> Deserialize<'de> for Strict<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_strict(&s).map(Strict).map_err(D::Error::custom)
    }
}

/// `deserialize_with` of a required `Hex`/`Address` field.
pub fn strict<'de, D: Deserializer<'de>, T: StrictHex>(d: D) -> Result<T, D::Error> {
    Strict::<T>::deserialize(d).map(|s| s.0)
}

/// `deserialize_with` of an optional `Hex`/`Address` field (absent = `None`; `null` is refused).
pub fn strict_opt<'de, D: Deserializer<'de>, T: StrictHex>(d: D) -> Result<Option<T>, D::Error> {
    strict(d).map(Some)
}

/// `deserialize_with` of an optional `Hex`/`Address` field that may also be `null` (ERC-7769
/// user operations).
pub fn strict_or_null<'de, D: Deserializer<'de>, T: StrictHex>(d: D) -> Result<Option<T>, D::Error> {
    Option::<Strict<T>>::deserialize(d).map(|v| v.map(|s| s.0))
}

/// `deserialize_with` of a list of `Hex`/`Address` values.
pub fn strict_vec<'de, D: Deserializer<'de>, T: StrictHex>(d: D) -> Result<Vec<T>, D::Error> {
    Vec::<Strict<T>>::deserialize(d).map(|v| v.into_iter().map(|s| s.0).collect())
}

/// `deserialize_with` of an optional list of `Hex`/`Address` values.
pub fn strict_opt_vec<'de, D: Deserializer<'de>, T: StrictHex>(d: D) -> Result<Option<Vec<T>>, D::Error> {
    strict_vec(d).map(Some)
}

/// `deserialize_with` of an optional map keyed by `Hex`/`Address` values (e.g. `stateOverride`).
pub fn strict_opt_keys<'de, D, K, V>(d: D) -> Result<Option<std::collections::BTreeMap<K, V>>, D::Error>
where
    D: Deserializer<'de>,
    K: StrictHex + Ord,
    V: Deserialize<'de>,
{
    let map = std::collections::BTreeMap::<Strict<K>, V>::deserialize(d)?;
    Ok(Some(map.into_iter().map(|(k, v)| (k.0, v)).collect()))
}

/// `deserialize_with` of an optional map from `Hex` to `Hex` (storage slots and values).
pub fn strict_opt_words<'de, D, K, V>(d: D) -> Result<Option<std::collections::BTreeMap<K, V>>, D::Error>
where
    D: Deserializer<'de>,
    K: StrictHex + Ord,
    V: StrictHex,
{
    let map = std::collections::BTreeMap::<Strict<K>, Strict<V>>::deserialize(d)?;
    Ok(Some(map.into_iter().map(|(k, v)| (k.0, v.0)).collect()))
}

/// Checks that the string fields `names` of the JSON object `value`, where present, are strict
/// `Hex`/`Address` values of type `T` (for types whose serde is not ours, e.g. the ERC-7769 user
/// operation of `keyward-primitives`).
pub fn require_strict<T: StrictHex>(value: &serde_json::Value, names: &[&str]) -> Result<(), HexError> {
    for name in names {
        if let Some(serde_json::Value::String(s)) = value.get(*name) {
            parse_strict::<T>(s)?;
        }
    }
    Ok(())
}

/// Reads request params with `read` from `d`; when a `Hex`/`Address` value was refused, the error
/// names where it is in the request (`calls[0].to: Address "12…" must start with lowercase 0x`).
///
/// serde tracks no field paths (and loses them through flattened and tagged types), so the
/// refused value, recorded by [`parse_strict`], is looked up in the request itself.
pub fn with_field_path<'de, D, T>(
    d: D,
    read: impl FnOnce(&serde_json::Value) -> Result<T, serde_json::Error>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    let value = serde_json::Value::deserialize(d)?;
    LAST_REFUSAL.with(|last| last.borrow_mut().take());
    let result = read(&value).map_err(|e| {
        let refusal = LAST_REFUSAL.with(|last| last.borrow_mut().take());
        // Only a refusal that is the cause of this error (its message carried along) is located.
        let located = refusal
            .filter(|(_, reason)| e.to_string().contains(reason.as_str()))
            .and_then(|(raw, reason)| field_path(&value, &raw).map(|path| format!("{path}: {reason}")));
        D::Error::custom(located.unwrap_or_else(|| e.to_string()))
    });
    LAST_REFUSAL.with(|last| last.borrow_mut().take());
    result
}

/// The path of the first string (or object key) equal to `raw` in `value`: `a.b[2].c`, or
/// `a.b key` for a key of the object at `a.b`.
pub fn field_path(value: &serde_json::Value, raw: &str) -> Option<String> {
    fn walk(value: &serde_json::Value, raw: &str, path: &str) -> Option<String> {
        match value {
            serde_json::Value::String(s) if s == raw => Some(path.to_string()),
            serde_json::Value::Array(items) => {
                items.iter().enumerate().find_map(|(i, item)| walk(item, raw, &format!("{path}[{i}]")))
            }
            serde_json::Value::Object(fields) => fields.iter().find_map(|(k, v)| {
                if k == raw {
                    return Some(if path.is_empty() { "key".to_string() } else { format!("{path} key") });
                }
                walk(v, raw, &if path.is_empty() { k.clone() } else { format!("{path}.{k}") })
            }),
            _ => None,
        }
    }
    walk(value, raw, "")
}

/// The positional parameters typed `Hex`/`Address` of the methods whose parameters are not one
/// object (method, position, name, spec type): the server checks them with
/// [`positional_hex_refusal`], since a jsonrpsee method reads them with alloy's lenient serde.
pub const POSITIONAL_HEX_PARAMS: &[(&str, usize, &str, &str)] = &[
    ("wallet_getCallsStatus", 0, "id", "Hex"),
    ("wallet_getCapabilities", 0, "address", "Address"),
    ("eth_sendUserOperation", 1, "entryPoint", "Address"),
    ("eth_estimateUserOperationGas", 1, "entryPoint", "Address"),
    ("eth_getUserOperationByHash", 0, "userOpHash", "Hex"),
    ("eth_getUserOperationReceipt", 0, "userOpHash", "Hex"),
    ("debug_bundler_dumpMempool", 0, "entryPoint", "Address"),
    ("debug_bundler_dumpReputation", 0, "entryPoint", "Address"),
    ("debug_bundler_setReputation", 1, "entryPoint", "Address"),
    ("debug_bundler_getStakeStatus", 0, "address", "Address"),
    ("debug_bundler_getStakeStatus", 1, "entryPoint", "Address"),
];

/// The refusal (`name: <reason>`) of a positional `Hex`/`Address` parameter of `method` sent
/// without its `0x` prefix, if any; `params` is the JSON text of the parameters.
pub fn positional_hex_refusal(method: &str, params: Option<&str>) -> Option<String> {
    let checked: Vec<_> = POSITIONAL_HEX_PARAMS.iter().filter(|(m, ..)| *m == method).collect();
    if checked.is_empty() {
        return None;
    }
    let params: Vec<serde_json::Value> = serde_json::from_str(params?).ok()?;
    checked.into_iter().find_map(|(_, position, name, kind)| match params.get(*position) {
        Some(serde_json::Value::String(s)) if !s.starts_with("0x") => {
            Some(format!("{name}: {}", HexError::MissingPrefix { kind, value: shown(s) }))
        }
        _ => None,
    })
}
