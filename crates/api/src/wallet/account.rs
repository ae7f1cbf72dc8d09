//! `wallet_requestAccount` and `wallet_listAccounts` (wallet-api.md §3.1, §3.2).

use alloy::primitives::{Address, Bytes};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

use super::hex::{Cursor, HexBigInt, UuidV4, strict, strict_opt, strict_opt_vec, with_field_path};

/// `creationHint.accountType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccountType {
    /// Modular Account v2, semi-modular (owner in bytecode): Keyward's default.
    #[serde(rename = "sma-b")]
    SmaB,
    /// Light Account v2.
    #[serde(rename = "la-v2")]
    LaV2,
    /// Light Account v1.0.1 (deprecated).
    #[serde(rename = "la-v1.0.1")]
    LaV101,
    /// Light Account v1.0.2 (deprecated).
    #[serde(rename = "la-v1.0.2")]
    LaV102,
    /// Light Account v1.1.0 (deprecated).
    #[serde(rename = "la-v1.1.0")]
    LaV110,
    /// Multi-owner Light Account v2.
    #[serde(rename = "la-v2-multi-owner")]
    LaV2MultiOwner,
    /// Modular Account v1 multi-owner.
    #[serde(rename = "ma-v1-multi-owner")]
    MaV1MultiOwner,
    /// The signer's own EOA, delegated with EIP-7702.
    #[serde(rename = "7702")]
    Eip7702,
}

/// A literal `true` (`createAdditional`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct True;

impl Serialize for True {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bool(true)
    }
}

impl<'de> Deserialize<'de> for True {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if bool::deserialize(d)? { Ok(True) } else { Err(D::Error::custom("expected the literal true")) }
    }
}

/// `creationHint`: single owner, multi owner, or 7702 (one struct; the service checks combinations).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreationHint {
    /// Account type; absent = `sma-b`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub account_type: Option<AccountType>,
    /// Permits more than one account per signer.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub create_additional: Option<True>,
    /// CREATE2 salt.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub salt: Option<HexBigInt>,
    /// Initial owners of a multi-owner account.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "strict_opt_vec",
        serialize_with = "super::checksum_opt_vec"
    )]
    pub initial_owners: Option<Vec<Address>>,
}

/// `wallet_requestAccount` params: by signer, or by account address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum RequestAccountParams {
    /// Create or find the account of a signer.
    #[serde(rename_all = "camelCase")]
    BySigner {
        /// Owner EOA.
        #[serde(serialize_with = "super::checksum")]
        signer_address: Address,
        /// Selects/creates the account with this id.
        #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
        id: Option<UuidV4>,
        /// How to create the account (ignored when it exists).
        #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
        creation_hint: Option<CreationHint>,
        /// Whether to return `counterfactualInfo`.
        #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
        include_counterfactual_info: Option<bool>,
    },
    /// Look an account up by its address.
    #[serde(rename_all = "camelCase")]
    ByAccount {
        /// The account.
        #[serde(serialize_with = "super::checksum")]
        account_address: Address,
        /// Whether to return `counterfactualInfo`.
        #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
        include_counterfactual_info: Option<bool>,
    },
}

impl<'de> Deserialize<'de> for RequestAccountParams {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct BySigner {
            #[serde(deserialize_with = "strict")]
            signer_address: Address,
            #[serde(default, deserialize_with = "super::some")]
            id: Option<UuidV4>,
            #[serde(default, deserialize_with = "super::some")]
            creation_hint: Option<CreationHint>,
            #[serde(default, deserialize_with = "super::some")]
            include_counterfactual_info: Option<bool>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct ByAccount {
            #[serde(deserialize_with = "strict")]
            account_address: Address,
            #[serde(default, deserialize_with = "super::some")]
            include_counterfactual_info: Option<bool>,
        }
        with_field_path(d, |value| {
            let has = |k: &str| value.get(k).is_some();
            match (has("signerAddress"), has("accountAddress")) {
                (true, true) => Err(serde_json::Error::custom("give signerAddress or accountAddress, not both")),
                (true, false) => {
                    let p = BySigner::deserialize(value)?;
                    Ok(Self::BySigner {
                        signer_address: p.signer_address,
                        id: p.id,
                        creation_hint: p.creation_hint,
                        include_counterfactual_info: p.include_counterfactual_info,
                    })
                }
                (false, true) => {
                    let p = ByAccount::deserialize(value)?;
                    Ok(Self::ByAccount {
                        account_address: p.account_address,
                        include_counterfactual_info: p.include_counterfactual_info,
                    })
                }
                (false, false) => Err(serde_json::Error::custom("missing field signerAddress (or accountAddress)")),
            }
        })
    }
}

/// `counterfactualInfo.factoryType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FactoryType {
    /// Light Account v1.0.1.
    #[serde(rename = "LightAccountV1.0.1")]
    LightAccountV101,
    /// Light Account v1.0.2.
    #[serde(rename = "LightAccountV1.0.2")]
    LightAccountV102,
    /// Light Account v1.1.0.
    #[serde(rename = "LightAccountV1.1.0")]
    LightAccountV110,
    /// Light Account v2.
    #[serde(rename = "LightAccountV2.0.0")]
    LightAccountV200,
    /// Multi-owner Light Account v2.
    #[serde(rename = "LightAccountV2.0.0-MultiOwner")]
    LightAccountV200MultiOwner,
    /// Modular Account v1 multi-owner.
    #[serde(rename = "MAv1.0.0-MultiOwner")]
    MaV1MultiOwner,
    /// Modular Account v1 multisig.
    #[serde(rename = "MAv1.0.0-MultiSig")]
    MaV1MultiSig,
    /// Modular Account v2, semi-modular bytecode (Keyward's accounts).
    #[serde(rename = "MAv2.0.0-sma-b")]
    MaV2SmaB,
    /// Modular Account v2 with a single-signer validation.
    #[serde(rename = "MAv2.0.0-ma-ssv")]
    MaV2MaSsv,
    /// Unknown.
    #[serde(rename = "unknown")]
    Unknown,
}

/// How to deploy a counterfactual account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CounterfactualInfo {
    /// Factory kind.
    pub factory_type: FactoryType,
    /// Factory address.
    #[serde(serialize_with = "super::checksum", deserialize_with = "strict")]
    pub factory_address: Address,
    /// Factory calldata.
    #[serde(deserialize_with = "strict")]
    pub factory_data: Bytes,
}

/// `wallet_requestAccount` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestAccountResult {
    /// The (counterfactual) account address; for 7702 the signer itself.
    #[serde(serialize_with = "super::checksum", deserialize_with = "strict")]
    pub account_address: Address,
    /// The account's UUID v4.
    pub id: UuidV4,
    /// How to deploy it (when asked for).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub counterfactual_info: Option<CounterfactualInfo>,
    /// The 7702 delegate of a 7702 account.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "strict_opt",
        serialize_with = "super::checksum_opt"
    )]
    pub delegation: Option<Address>,
}

/// `wallet_listAccounts` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", remote = "Self")]
pub struct ListAccountsParams {
    /// Owner EOA.
    #[serde(serialize_with = "super::checksum", deserialize_with = "strict")]
    pub signer_address: Address,
    /// Page size, 1…100 (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "limit_1_100")]
    pub limit: Option<u32>,
    /// Cursor of the previous page.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub after: Option<Cursor>,
}

impl Serialize for ListAccountsParams {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ListAccountsParams::serialize(self, s)
    }
}

impl<'de> Deserialize<'de> for ListAccountsParams {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        with_field_path(d, |v| ListAccountsParams::deserialize(v))
    }
}

fn limit_1_100<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let n = u64::deserialize(d)?;
    if (1..=100).contains(&n) {
        Ok(Some(n as u32))
    } else {
        Err(D::Error::custom(format!("limit must be between 1 and 100, got {n}")))
    }
}

/// One account of `wallet_listAccounts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountSummary {
    /// The account address.
    #[serde(serialize_with = "super::checksum", deserialize_with = "strict")]
    pub account_address: Address,
    /// Its UUID v4.
    pub id: UuidV4,
}

/// Paging metadata; `after` is required and `null` on the last page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListAccountsMeta {
    /// Accounts of the signer in total.
    pub total_count: u64,
    /// Cursor of the next page, or null.
    #[serde(deserialize_with = "required_nullable")]
    pub after: Option<Cursor>,
}

fn required_nullable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Cursor>, D::Error> {
    Option::<Cursor>::deserialize(d)
}

/// `wallet_listAccounts` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListAccountsResult {
    /// This page.
    pub accounts: Vec<AccountSummary>,
    /// Paging.
    pub meta: ListAccountsMeta,
}
