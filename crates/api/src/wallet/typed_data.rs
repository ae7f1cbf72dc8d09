//! EIP-712 typed data in the Wallet API's wire form (wallet-api.md §2.3): `domain.chainId` is a JSON
//! number, integers in `message` may be numbers or (hex) strings.

use std::collections::BTreeMap;

use alloy::primitives::{Address, B256};
use alloy_dyn_abi::TypedData as AlloyTypedData;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

use super::hex::strict_opt;

/// Why typed data cannot be hashed.
#[derive(Debug, thiserror::Error)]
#[error("typed data cannot be hashed: {0}")]
pub struct TypedDataError(pub String);

/// The EIP-712 domain; every field optional, `chainId` a JSON number.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypedDataDomain {
    /// Domain name.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub name: Option<String>,
    /// Domain version.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub version: Option<String>,
    /// Chain id, a JSON number (a numeric string is tolerated in requests).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "chain_id_number")]
    pub chain_id: Option<u64>,
    /// Verifying contract.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "strict_opt",
        serialize_with = "super::checksum_opt"
    )]
    pub verifying_contract: Option<Address>,
    /// Salt.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "strict_opt")]
    pub salt: Option<B256>,
}

fn chain_id_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumOrStr {
        Num(u64),
        Str(String),
    }
    match Option::<NumOrStr>::deserialize(d)? {
        None => Err(D::Error::custom("domain.chainId must be a number, not null")),
        Some(NumOrStr::Num(n)) => Ok(Some(n)),
        Some(NumOrStr::Str(s)) => {
            let parsed = match s.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16).ok(),
                None => s.parse().ok(),
            };
            parsed.map(Some).ok_or_else(|| D::Error::custom(format!("domain.chainId {s:?} is not a chain id")))
        }
    }
}

/// One member of a struct type: `{ name, type }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypedDataField {
    /// Member name.
    pub name: String,
    /// Solidity type of the member.
    #[serde(rename = "type")]
    pub ty: String,
}

/// EIP-712 typed data as it travels in requests and responses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypedData {
    /// The domain (omitted when empty).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::some")]
    pub domain: Option<TypedDataDomain>,
    /// Struct types by name (may include `EIP712Domain`).
    pub types: BTreeMap<String, Vec<TypedDataField>>,
    /// The struct type of `message`.
    pub primary_type: String,
    /// The message, free-form JSON.
    pub message: serde_json::Value,
}

impl TypedData {
    /// The wire form of alloy's dynamic EIP-712 value (e.g. a primitives-built `DeferredAction`):
    /// the domain's fields as given (omitted when empty), the struct types without `EIP712Domain`
    /// (the domain object implies it), the message as is.
    pub fn from_alloy(t: &AlloyTypedData) -> Result<Self, TypedDataError> {
        let d = &t.domain;
        let chain_id = d
            .chain_id
            .map(|c| u64::try_from(c).map_err(|_| TypedDataError(format!("domain.chainId {c} exceeds 64 bits"))))
            .transpose()?;
        let domain = TypedDataDomain {
            name: d.name.as_ref().map(|n| n.to_string()),
            version: d.version.as_ref().map(|v| v.to_string()),
            chain_id,
            verifying_contract: d.verifying_contract,
            salt: d.salt,
        };
        let types_json = serde_json::to_value(&t.resolver).map_err(|e| TypedDataError(e.to_string()))?;
        let mut types: BTreeMap<String, Vec<TypedDataField>> =
            serde_json::from_value(types_json).map_err(|e| TypedDataError(e.to_string()))?;
        types.remove("EIP712Domain");
        Ok(Self {
            domain: (domain != TypedDataDomain::default()).then_some(domain),
            types,
            primary_type: t.primary_type.clone(),
            message: t.message.clone(),
        })
    }

    /// The same typed data as alloy's dynamic EIP-712 value (for hashing and signing).
    pub fn to_alloy(&self) -> Result<AlloyTypedData, TypedDataError> {
        let mut value = serde_json::to_value(self).map_err(|e| TypedDataError(e.to_string()))?;
        if value.get("domain").is_none() {
            value["domain"] = serde_json::json!({});
        }
        serde_json::from_value(value).map_err(|e| TypedDataError(e.to_string()))
    }

    /// The EIP-712 digest (`keccak256(0x1901 ‖ domainSeparator ‖ hashStruct(message))`), as viem and
    /// `eth_signTypedData_v4` compute it.
    pub fn signing_hash(&self) -> Result<B256, TypedDataError> {
        self.to_alloy()?.eip712_signing_hash().map_err(|e| TypedDataError(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{Address, Bytes, U256};
    use keyward_primitives::mav2::DeferredAction;
    use serde_json::{Value, json};
    use std::path::PathBuf;

    fn vector_cases() -> Vec<Value> {
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../vendor/shared/vectors/eip712-deferred-action.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let v: Value = serde_json::from_str(&text).unwrap();
        v["cases"].as_array().unwrap().clone()
    }

    fn dec(v: &Value) -> U256 {
        v.as_str().unwrap().parse().unwrap()
    }

    /// The wire typed data of a primitives `DeferredAction` hashes to the primitives digest and to
    /// the vector's (account-kit's) digest, and has the vector's shape.
    #[test]
    fn deferred_action_typed_data_hashes_to_the_primitives_digest() {
        let mut checked = 0;
        for case in vector_cases() {
            let (i, e) = (&case["input"], &case["expected"]);
            let name = case["name"].as_str().unwrap();
            let (chain_id, account, action) = match i["kind"].as_str().unwrap() {
                "typedData" => {
                    let action = DeferredAction::build(
                        dec(&i["nonce"]),
                        dec(&i["deadline"]).to(),
                        i["call"].as_str().unwrap().parse::<Bytes>().unwrap(),
                    )
                    .unwrap();
                    (dec(&i["chainId"]).to::<u64>(), i["account"].as_str().unwrap().parse::<Address>().unwrap(), action)
                }
                _ => {
                    let m = &e["typedData"]["message"];
                    let action = DeferredAction::build(
                        dec(&m["nonce"]),
                        dec(&m["deadline"]).to(),
                        m["call"].as_str().unwrap().parse::<Bytes>().unwrap(),
                    )
                    .unwrap();
                    (dec(&i["chainId"]).to::<u64>(), e["account"].as_str().unwrap().parse::<Address>().unwrap(), action)
                }
            };
            let digest = action.digest(chain_id, account);
            assert_eq!(digest, e["digest"].as_str().unwrap().parse::<B256>().unwrap(), "{name}: primitives digest");
            let wire = TypedData::from_alloy(&action.typed_data(chain_id, account)).unwrap();
            assert_eq!(wire.signing_hash().unwrap(), digest, "{name}: wire signing hash");
            // The shape the Wallet API has always answered: a numeric chainId, no EIP712Domain type,
            // minimal-hex integers in the message.
            let v = serde_json::to_value(&wire).unwrap();
            assert_eq!(v["domain"], json!({"chainId": chain_id, "verifyingContract": account.to_checksum(None)}));
            assert_eq!(v["types"], e["typedData"]["types"], "{name}: types");
            assert_eq!(v["primaryType"], "DeferredAction");
            assert_eq!(
                v["message"],
                json!({
                    "nonce": format!("{:#x}", action.nonce),
                    "deadline": format!("{:#x}", action.deadline_secs()),
                    "call": action.call.to_string(),
                }),
                "{name}: message"
            );
            checked += 1;
        }
        assert_eq!(checked, 21);
    }

    #[test]
    fn empty_domain_is_omitted_and_big_chain_ids_refused() {
        let mut t = DeferredAction::build(U256::ZERO, 0, Bytes::new()).unwrap().typed_data(1, Address::ZERO);
        t.domain = Default::default();
        assert_eq!(TypedData::from_alloy(&t).unwrap().domain, None);
        t.domain.chain_id = Some(U256::from(u64::MAX) + U256::from(1));
        assert!(TypedData::from_alloy(&t).is_err());
    }
}
