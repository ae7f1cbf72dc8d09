//! The Wallet API (Alchemy-compatible `wallet_*` JSON-RPC) exactly as ../shared/spec/wallet-api.md
//! specifies it: wire primitives, params and results of every EVM method, and the jsonrpsee trait.
//!
//! Responses serialize the way the official SDK's validators demand (optional fields omitted, never
//! null; minimal hex; checksummed addresses); requests are read leniently where the spec says the
//! server must accept variants (address case, leading zeros, v ∈ {0,1,27,28}, `ecdsa` alias) and
//! strictly where the SDK is strict (`null` for an optional field, `"0x"` HexBigInt, non-v4 UUIDs,
//! HexNumber above uint32).

pub mod account;
pub mod calls;
pub mod capabilities;
pub mod hex;
pub mod manage;
pub mod permissions;
pub mod rpc;
pub mod session;
pub mod sign;
pub mod signature;
pub mod status;
pub mod typed_data;

#[cfg(test)]
mod tests;

pub use account::*;
pub use calls::*;
pub use capabilities::*;
pub use hex::*;
pub use manage::*;
pub use permissions::Permission;
pub use rpc::*;
pub use session::*;
pub use sign::*;
pub use signature::*;
pub use status::*;
pub use typed_data::*;

use serde::{Deserialize, Deserializer};

/// Reads an optional field that, when present, must hold a value: `null` is refused (the SDK
/// refuses `null` for optional fields).
pub(crate) fn some<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// Writes an address EIP-55 checksummed (alloy's serde writes lowercase).
pub(crate) fn checksum<S: serde::Serializer>(a: &alloy::primitives::Address, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&a.to_checksum(None))
}

/// [`checksum`] for an optional address (absent fields are skipped before this is called).
pub(crate) fn checksum_opt<S: serde::Serializer>(
    a: &Option<alloy::primitives::Address>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match a {
        Some(a) => checksum(a, s),
        None => s.serialize_none(),
    }
}

/// [`checksum`] for an optional list of addresses.
pub(crate) fn checksum_opt_vec<S: serde::Serializer>(
    a: &Option<Vec<alloy::primitives::Address>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    match a {
        Some(list) => {
            let mut seq = s.serialize_seq(Some(list.len()))?;
            for a in list {
                seq.serialize_element(&a.to_checksum(None))?;
            }
            seq.end()
        }
        None => s.serialize_none(),
    }
}
