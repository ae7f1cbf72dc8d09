//! `wallet_createSession` and the `permissions` capability (wallet-api.md §3.3, §5.3, §6).

use alloy::primitives::{Address, Bytes, Selector};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

use super::hex::{HexError, HexNumber, SessionId, parse_strict, require_strict, strict, with_field_path};
use super::typed_data::TypedData;
use alloy::primitives::B256;
use keyward_primitives::mav2::P256PublicKey;

use super::permissions::Permission;

/// Largest `expirySec` the SDK lets through.
pub const MAX_EXPIRY_SEC: u64 = 9_999_999_999;

/// `key.type` of a session key; `ecdsa` is an alias of `secp256k1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyType {
    /// An EOA-style ECDSA key (signature prefix 0x00).
    Secp256k1,
    /// Alias of secp256k1.
    Ecdsa,
    /// An ERC-1271 contract signer (signature prefix 0x01).
    Contract,
    /// A P-256 (secp256r1) passkey: Keyward extension.
    P256,
}

/// The session key `{type, publicKey}`: the 20-byte address of a `secp256k1` / `ecdsa` key (or of
/// a `contract` signer), or — Keyward extension — the public key of a `p256` passkey, sent as
/// `0x04 ‖ x ‖ y` (65 bytes, WebCrypto's raw export) or `x ‖ y` (64 bytes), always answered as
/// the 65-byte form. A `p256` key is a point of the curve: anything else is refused when read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKey {
    /// `secp256k1`: the key's address.
    Secp256k1(Address),
    /// `ecdsa`: alias of `secp256k1`.
    Ecdsa(Address),
    /// `contract`: the signing contract's address.
    Contract(Address),
    /// `p256`: the passkey's public key.
    P256(P256PublicKey),
}

impl SessionKey {
    /// The key's type.
    pub const fn ty(&self) -> KeyType {
        match self {
            Self::Secp256k1(_) => KeyType::Secp256k1,
            Self::Ecdsa(_) => KeyType::Ecdsa,
            Self::Contract(_) => KeyType::Contract,
            Self::P256(_) => KeyType::P256,
        }
    }
}

impl Serialize for SessionKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire {
            #[serde(rename = "type")]
            ty: KeyType,
            public_key: String,
        }
        let public_key = match self {
            Self::Secp256k1(a) | Self::Ecdsa(a) | Self::Contract(a) => a.to_checksum(None),
            Self::P256(k) => k.uncompressed().to_string(),
        };
        Wire { ty: self.ty(), public_key }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for SessionKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire {
            #[serde(rename = "type")]
            ty: KeyType,
            public_key: String,
        }
        let w = Wire::deserialize(d)?;
        let address =
            || parse_strict::<Address>(&w.public_key).map_err(|e| D::Error::custom(format!("publicKey: {e}")));
        Ok(match w.ty {
            KeyType::Secp256k1 => Self::Secp256k1(address()?),
            KeyType::Ecdsa => Self::Ecdsa(address()?),
            KeyType::Contract => Self::Contract(address()?),
            KeyType::P256 => {
                let bytes =
                    parse_strict::<Bytes>(&w.public_key).map_err(|e| D::Error::custom(format!("publicKey: {e}")))?;
                Self::P256(
                    P256PublicKey::from_slice(&bytes)
                        .map_err(|e| D::Error::custom(format!("publicKey: not a p256 public key: {e}")))?,
                )
            }
        })
    }
}

/// `wallet_createSession` params.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateSessionParams {
    /// The account granting the session.
    #[serde(serialize_with = "super::checksum")]
    pub account: Address,
    /// Chain of the session.
    pub chain_id: HexNumber,
    /// Unix expiry in seconds; 0 or absent = never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry_sec: Option<u64>,
    /// The session key.
    pub key: SessionKey,
    /// What the key may do (at least one).
    pub permissions: Vec<Permission>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCreateSession {
    #[serde(serialize_with = "super::checksum", deserialize_with = "strict")]
    account: Address,
    chain_id: HexNumber,
    #[serde(default, deserialize_with = "super::some")]
    expiry_sec: Option<u64>,
    key: SessionKey,
    permissions: Vec<Permission>,
}

/// Checks the client-side rules of a permission list: at least one, and every `functions` list
/// non-empty.
pub fn check_permissions(permissions: &[Permission]) -> Result<(), String> {
    if permissions.is_empty() {
        return Err("permissions must contain at least one permission".into());
    }
    for p in permissions {
        if let Permission::AccountFunctions { functions }
        | Permission::FunctionsOnAllContracts { functions }
        | Permission::FunctionsOnContract { functions, .. } = p
            && functions.is_empty()
        {
            return Err(format!("permission {}: functions must list at least one selector", p.type_name()));
        }
    }
    super::permissions::check_rule_values(permissions)
}

impl TryFrom<RawCreateSession> for CreateSessionParams {
    type Error = String;
    fn try_from(r: RawCreateSession) -> Result<Self, String> {
        if let Some(e) = r.expiry_sec
            && e > MAX_EXPIRY_SEC
        {
            return Err(format!("expirySec must be at most {MAX_EXPIRY_SEC}, got {e}"));
        }
        check_permissions(&r.permissions)?;
        Ok(Self {
            account: r.account,
            chain_id: r.chain_id,
            expiry_sec: r.expiry_sec,
            key: r.key,
            permissions: r.permissions,
        })
    }
}

impl<'de> Deserialize<'de> for CreateSessionParams {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        with_field_path(d, |v| {
            strict_permission_fields(v).map_err(serde_json::Error::custom)?;
            Self::try_from(RawCreateSession::deserialize(v)?).map_err(serde_json::Error::custom)
        })
    }
}

/// [`Permission`]'s serde reads addresses and selectors as alloy does,
/// with or without `0x`: the `data.address` and `data.functions` of each permission are checked
/// strictly here first.
fn strict_permission_fields(params: &serde_json::Value) -> Result<(), HexError> {
    let Some(permissions) = params.get("permissions").and_then(serde_json::Value::as_array) else { return Ok(()) };
    for data in permissions.iter().filter_map(|p| p.get("data")) {
        require_strict::<Address>(data, &["address"])?;
        for selector in data.get("functions").and_then(serde_json::Value::as_array).into_iter().flatten() {
            if let Some(s) = selector.as_str() {
                parse_strict::<Selector>(s)?;
            }
        }
    }
    Ok(())
}

/// The owner's signature request of a session: always EIP-712 typed data with its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum SessionSignatureRequest {
    /// The only form: `eth_signTypedData_v4`.
    #[serde(rename = "eth_signTypedData_v4", rename_all = "camelCase")]
    TypedData {
        /// The `DeferredAction` typed data.
        data: TypedData,
        /// Its EIP-712 digest.
        #[serde(deserialize_with = "strict")]
        raw_payload: B256,
    },
}

/// `wallet_createSession` result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateSessionResult {
    /// Server-chosen 16-byte session id.
    pub session_id: SessionId,
    /// Chain of the session.
    pub chain_id: HexNumber,
    /// What the owner signs.
    pub signature_request: SessionSignatureRequest,
}

/// The `permissions` capability: the encoded context, or its remote-mode parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum PermissionsCapability {
    /// `{ context }`: `0x00 ‖ sessionId ‖ ownerSig`, `0x01 ‖ deferred action`, or `0x02 ‖ global ‖ entityId`.
    Context {
        /// The encoded context.
        context: Bytes,
    },
    /// `{ sessionId, signature }`: remote mode un-concatenated.
    #[serde(rename_all = "camelCase")]
    Session {
        /// The session.
        session_id: SessionId,
        /// The owner's signature over the session's typed data.
        signature: Bytes,
    },
}

impl<'de> Deserialize<'de> for PermissionsCapability {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Ctx {
            #[serde(deserialize_with = "strict")]
            context: Bytes,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Sess {
            session_id: SessionId,
            #[serde(deserialize_with = "strict")]
            signature: Bytes,
        }
        let value = serde_json::Value::deserialize(d)?;
        if value.get("context").is_some() {
            let c: Ctx = serde_json::from_value(value).map_err(|e| D::Error::custom(format!("permissions: {e}")))?;
            Ok(Self::Context { context: c.context })
        } else if value.get("sessionId").is_some() {
            let s: Sess = serde_json::from_value(value).map_err(|e| D::Error::custom(format!("permissions: {e}")))?;
            Ok(Self::Session { session_id: s.session_id, signature: s.signature })
        } else {
            Err(D::Error::custom("permissions capability needs context, or sessionId and signature"))
        }
    }
}

impl PermissionsCapability {
    /// The context bytes (`{sessionId, signature}` becomes `0x00 ‖ sessionId ‖ signature`).
    pub fn context(&self) -> Bytes {
        match self {
            Self::Context { context } => context.clone(),
            Self::Session { session_id, signature } => {
                let mut out = Vec::with_capacity(17 + signature.len());
                out.push(0);
                out.extend_from_slice(session_id.0.as_slice());
                out.extend_from_slice(signature);
                out.into()
            }
        }
    }
}
