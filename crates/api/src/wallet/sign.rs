//! `wallet_prepareSign` and `wallet_formatSign` (wallet-api.md §3.7, §3.8): ERC-1271 signing by the
//! smart account.

use alloy::primitives::{Address, Bytes};
use serde::{Deserialize, Serialize};

use super::hex::{HexNumber, strict, with_field_path};
use super::session::PermissionsCapability;
use super::signature::{SigEnvelope, SignableRequest};

/// Capabilities of the sign methods: `permissions` is required when the object is present.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignCapabilities {
    /// Sign through a session key.
    pub permissions: PermissionsCapability,
}

/// `wallet_prepareSign` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", remote = "Self")]
pub struct PrepareSignParams {
    /// The signing account.
    #[serde(serialize_with = "super::checksum", deserialize_with = "strict")]
    pub from: Address,
    /// Chain.
    pub chain_id: HexNumber,
    /// The message or typed data the account signs.
    pub signature_request: SignableRequest,
    /// Session-key signing.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub capabilities: Option<SignCapabilities>,
}

impl Serialize for PrepareSignParams {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        PrepareSignParams::serialize(self, s)
    }
}

impl<'de> Deserialize<'de> for PrepareSignParams {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        with_field_path(d, |v| PrepareSignParams::deserialize(v))
    }
}

/// `wallet_prepareSign` result: what the key must sign (e.g. a `ReplaySafeHash` wrapper).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrepareSignResult {
    /// Chain.
    pub chain_id: HexNumber,
    /// What the key signs.
    pub signature_request: SignableRequest,
}

/// `wallet_formatSign` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", remote = "Self")]
pub struct FormatSignParams {
    /// The signing account.
    #[serde(serialize_with = "super::checksum", deserialize_with = "strict")]
    pub from: Address,
    /// Chain.
    pub chain_id: HexNumber,
    /// The key's raw signature over the prepareSign result.
    pub signature: SigEnvelope,
    /// Session-key signing.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub capabilities: Option<SignCapabilities>,
}

impl Serialize for FormatSignParams {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        FormatSignParams::serialize(self, s)
    }
}

impl<'de> Deserialize<'de> for FormatSignParams {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        with_field_path(d, |v| FormatSignParams::deserialize(v))
    }
}

/// `wallet_formatSign` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormatSignResult {
    /// The signature the account's `isValidSignature` accepts.
    #[serde(deserialize_with = "strict")]
    pub signature: Bytes,
}
