//! Signatures and signature requests (wallet-api.md §2.4, §4.3): the three ECDSA value forms, the
//! `{type, data}` envelope, and what the server asks a key to sign.

use alloy::primitives::{B256, Bytes, Signature, U256, eip191_hash_message};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::hex::{HexBigInt, parse_strict, strict};
use super::typed_data::{TypedData, TypedDataError};

/// Why a signature value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A `p256` envelope whose data is not a hex string (or an envelope of another type).
    #[error("a p256 signature's data must be a hex string: r ‖ s (64 bytes) or DER")]
    NotP256,
    /// A hex signature that is not 65 bytes.
    #[error("signature must be 65 bytes (r ‖ s ‖ v), got {0}")]
    Length(usize),
    /// A recovery value outside {0, 1, 27, 28}.
    #[error("signature v/yParity must be 0, 1, 27 or 28, got {0}")]
    BadV(U256),
    /// r or s does not fit 256 bits (cannot happen for HexBigInt) or is zero.
    #[error("signature r and s must be non-zero")]
    ZeroComponent,
}

/// An ECDSA signature value in one of its three wire forms (the SDK sends the hex form, v = 27/28).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EcdsaSigData {
    /// `r ‖ s ‖ v`, 65 bytes.
    Hex(Bytes),
    /// `{ r, s, yParity }`.
    YParity {
        /// r.
        r: HexBigInt,
        /// s.
        s: HexBigInt,
        /// 0 or 1 (27/28 tolerated).
        y_parity: HexBigInt,
    },
    /// `{ r, s, v }`.
    V {
        /// r.
        r: HexBigInt,
        /// s.
        s: HexBigInt,
        /// 27 or 28 (0/1 tolerated).
        v: HexBigInt,
    },
}

fn parity(v: U256) -> Result<bool, SignatureError> {
    if v > U256::from(28u8) {
        return Err(SignatureError::BadV(v));
    }
    match v.to::<u64>() {
        0 | 27 => Ok(false),
        1 | 28 => Ok(true),
        _ => Err(SignatureError::BadV(v)),
    }
}

impl EcdsaSigData {
    /// The signature, with v ∈ {0, 1, 27, 28} normalised to a y parity.
    pub fn signature(&self) -> Result<Signature, SignatureError> {
        let (r, s, odd) = match self {
            Self::Hex(b) => {
                if b.len() != 65 {
                    return Err(SignatureError::Length(b.len()));
                }
                (U256::from_be_slice(&b[..32]), U256::from_be_slice(&b[32..64]), parity(U256::from(b[64]))?)
            }
            Self::YParity { r, s, y_parity } => (r.0, s.0, parity(y_parity.0)?),
            Self::V { r, s, v } => (r.0, s.0, parity(v.0)?),
        };
        if r.is_zero() || s.is_zero() {
            return Err(SignatureError::ZeroComponent);
        }
        Ok(Signature::new(r, s, odd))
    }

    /// The hex form of a signature, `r ‖ s ‖ v` with v = 27/28 (what the SDK sends).
    pub fn from_signature(sig: &Signature) -> Self {
        Self::Hex(Bytes::from(sig.as_bytes().to_vec()))
    }
}

impl Serialize for EcdsaSigData {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Ry<'a> {
            r: &'a HexBigInt,
            s: &'a HexBigInt,
            y_parity: &'a HexBigInt,
        }
        #[derive(Serialize)]
        struct Rv<'a> {
            r: &'a HexBigInt,
            s: &'a HexBigInt,
            v: &'a HexBigInt,
        }
        match self {
            Self::Hex(b) => b.serialize(s),
            Self::YParity { r, s: ss, y_parity } => Ry { r, s: ss, y_parity }.serialize(s),
            Self::V { r, s: ss, v } => Rv { r, s: ss, v }.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for EcdsaSigData {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Obj {
            r: HexBigInt,
            s: HexBigInt,
            #[serde(default, deserialize_with = "super::some")]
            y_parity: Option<HexBigInt>,
            #[serde(default, deserialize_with = "super::some")]
            v: Option<HexBigInt>,
        }
        let value = serde_json::Value::deserialize(d)?;
        match value {
            serde_json::Value::String(s) => parse_strict::<Bytes>(&s).map(Self::Hex).map_err(D::Error::custom),
            serde_json::Value::Object(_) => {
                let o: Obj = serde_json::from_value(value).map_err(|e| D::Error::custom(format!("signature: {e}")))?;
                match (o.y_parity, o.v) {
                    (Some(y_parity), _) => Ok(Self::YParity { r: o.r, s: o.s, y_parity }),
                    (None, Some(v)) => Ok(Self::V { r: o.r, s: o.s, v }),
                    (None, None) => Err(D::Error::custom("signature object needs yParity or v")),
                }
            }
            _ => Err(D::Error::custom("signature must be a hex string or an {r, s, yParity|v} object")),
        }
    }
}

/// The key type of a signature envelope; `ecdsa` is an alias of `secp256k1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SigType {
    /// secp256k1 ECDSA.
    Secp256k1,
    /// Alias of secp256k1 (what the SDK sends to `wallet_formatSign`).
    Ecdsa,
    /// Keyward extension: a P-256 passkey's signature of a user operation, `data` = `r ‖ s`
    /// (64 bytes, WebCrypto's form; a high `s` is accepted and made low) or DER.
    P256,
}

/// `{ type: "secp256k1" | "ecdsa", data: EcdsaSigData }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigEnvelope {
    /// Key type.
    #[serde(rename = "type")]
    pub ty: SigType,
    /// The signature value.
    pub data: EcdsaSigData,
}

impl SigEnvelope {
    /// A `secp256k1` envelope around the hex form of `sig`.
    pub fn secp256k1(sig: &Signature) -> Self {
        Self { ty: SigType::Secp256k1, data: EcdsaSigData::from_signature(sig) }
    }

    /// A `p256` envelope around a P-256 signature (`r ‖ s`, or DER).
    pub fn p256(signature: &[u8]) -> Self {
        Self { ty: SigType::P256, data: EcdsaSigData::Hex(Bytes::copy_from_slice(signature)) }
    }

    /// The raw bytes of a `p256` signature (its `data` must be a hex string).
    pub fn p256_bytes(&self) -> Result<&Bytes, SignatureError> {
        match (&self.ty, &self.data) {
            (SigType::P256, EcdsaSigData::Hex(b)) => Ok(b),
            _ => Err(SignatureError::NotP256),
        }
    }
}

/// The hash function a P-256 signature request names: SHA-256, as WebCrypto's `{hash: "SHA-256"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum P256Hash {
    /// SHA-256.
    #[serde(rename = "SHA-256")]
    Sha256,
}

/// What a P-256 session key signs (Keyward extension): ECDSA with `hash` over `message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct P256SignData {
    /// The message: the 32-byte userOpHash (what WebCrypto's `sign` is given).
    #[serde(deserialize_with = "strict")]
    pub message: B256,
    /// The hash ECDSA applies to it first: SHA-256.
    pub hash: P256Hash,
}

/// What `personal_sign` signs: a non-empty UTF-8 string, or raw bytes `{ raw }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum PersonalSignData {
    /// A UTF-8 message.
    Text(String),
    /// Raw bytes.
    Raw {
        /// The bytes.
        raw: Bytes,
    },
}

impl PersonalSignData {
    /// The bytes that are signed (behind the EIP-191 prefix).
    pub fn bytes(&self) -> &[u8] {
        match self {
            Self::Text(t) => t.as_bytes(),
            Self::Raw { raw } => raw,
        }
    }

    /// The EIP-191 digest `keccak256("\x19Ethereum Signed Message:\n" ‖ len ‖ bytes)`.
    pub fn eip191_hash(&self) -> B256 {
        eip191_hash_message(self.bytes())
    }
}

impl<'de> Deserialize<'de> for PersonalSignData {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(deserialize_with = "strict")]
            raw: Bytes,
        }
        let value = serde_json::Value::deserialize(d)?;
        match value {
            serde_json::Value::String(s) if s.is_empty() => Err(D::Error::custom("personal_sign message is empty")),
            serde_json::Value::String(s) => Ok(Self::Text(s)),
            serde_json::Value::Object(_) => serde_json::from_value::<Raw>(value)
                .map(|r| Self::Raw { raw: r.raw })
                .map_err(|e| D::Error::custom(format!("personal_sign data: {e}"))),
            _ => Err(D::Error::custom("personal_sign data must be a string or {raw: hex}")),
        }
    }
}

/// A signature request of a prepared call or session (`rawPayload` = the 32-byte digest to sign).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum SignatureRequest {
    /// EIP-191 over a message or raw bytes.
    #[serde(rename = "personal_sign", rename_all = "camelCase")]
    PersonalSign {
        /// What is signed.
        data: PersonalSignData,
        /// `hashMessage(data)`; required in prepareCalls answers.
        #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::hex::strict_opt")]
        raw_payload: Option<B256>,
    },
    /// EIP-712 typed data.
    #[serde(rename = "eth_signTypedData_v4", rename_all = "camelCase")]
    TypedData {
        /// The typed data.
        data: TypedData,
        /// The EIP-712 digest; required in prepareCalls / createSession answers.
        #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "super::hex::strict_opt")]
        raw_payload: Option<B256>,
    },
    /// An EIP-7702 authorization (only on `authorization` items).
    #[serde(rename = "eip7702Auth", rename_all = "camelCase")]
    Eip7702Auth {
        /// `keccak256(0x05 ‖ rlp([chainId, address, nonce]))`.
        #[serde(deserialize_with = "strict")]
        raw_payload: B256,
    },
    /// Keyward extension, for a user operation of a `p256` session: the passkey signs
    /// `data.message` (the userOpHash) with ECDSA over SHA-256 — WebCrypto's
    /// `sign({name: "ECDSA", hash: "SHA-256"}, key, message)` — and `rawPayload` is the digest that
    /// ECDSA signs, `sha256(message)`, for signers that take a digest.
    #[serde(rename = "p256", rename_all = "camelCase")]
    P256 {
        /// The message and the hash.
        data: P256SignData,
        /// `sha256(data.message)`.
        #[serde(deserialize_with = "strict")]
        raw_payload: B256,
    },
}

impl SignatureRequest {
    /// The standard request of a user operation: personal_sign of the raw userOpHash.
    pub fn personal_sign_raw(hash: B256) -> Self {
        let data = PersonalSignData::Raw { raw: Bytes::copy_from_slice(hash.as_slice()) };
        let raw_payload = Some(data.eip191_hash());
        Self::PersonalSign { data, raw_payload }
    }

    /// The request of a `p256` session's user operation: ECDSA(SHA-256) of the userOpHash.
    pub fn p256(hash: B256) -> Self {
        Self::P256 {
            data: P256SignData { message: hash, hash: P256Hash::Sha256 },
            raw_payload: keyward_primitives::mav2::session_key::p256_signing_digest(hash),
        }
    }

    /// A typed-data request with its digest computed.
    pub fn typed_data(data: TypedData) -> Result<Self, TypedDataError> {
        let raw_payload = Some(data.signing_hash()?);
        Ok(Self::TypedData { data, raw_payload })
    }

    /// The digest a raw-hash signer signs, computed from `data` (never trusting `rawPayload`).
    pub fn digest(&self) -> Result<B256, TypedDataError> {
        match self {
            Self::PersonalSign { data, .. } => Ok(data.eip191_hash()),
            Self::TypedData { data, .. } => data.signing_hash(),
            Self::Eip7702Auth { raw_payload } => Ok(*raw_payload),
            Self::P256 { data, .. } => Ok(keyward_primitives::mav2::session_key::p256_signing_digest(data.message)),
        }
    }
}

/// What `wallet_prepareSign` takes and returns: a message or typed data, no `rawPayload`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum SignableRequest {
    /// EIP-191 over a message or raw bytes.
    #[serde(rename = "personal_sign")]
    PersonalSign {
        /// What is signed.
        data: PersonalSignData,
    },
    /// EIP-712 typed data.
    #[serde(rename = "eth_signTypedData_v4")]
    TypedData {
        /// The typed data.
        data: TypedData,
    },
}

impl SignableRequest {
    /// The digest the signer signs (EIP-191 or EIP-712).
    pub fn digest(&self) -> Result<B256, TypedDataError> {
        match self {
            Self::PersonalSign { data } => Ok(data.eip191_hash()),
            Self::TypedData { data } => data.signing_hash(),
        }
    }
}
