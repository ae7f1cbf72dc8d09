//! Session keys: a secp256k1 key (an address, SingleSigner validation) or a P-256 passkey (a point
//! of the curve, Keyward's `P256ValidationModule`). A [`P256PublicKey`] is always a point of the
//! curve: it can only be built through the checks here.
//!
//! What a P-256 key signs is WebCrypto's `ECDSA` with `SHA-256` over the 32-byte userOpHash: the
//! digest is `sha256(userOpHash)` ([`p256_signing_digest`]), the module takes `r ‖ s` with a low `s`
//! placed after the account's `0xFF` validation marker ([`p256_user_op_signature`]).

use alloy::primitives::{Address, B256, Bytes, U256, bytes};
use alloy::sol_types::SolValue;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::sec1::{EncodedPoint, FromEncodedPoint};
use p256::{AffinePoint, NistP256};

use super::signature::VALIDATION_DATA_MARKER;

/// The key of a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SessionKey {
    /// A secp256k1 key, by its address (SingleSignerValidationModule).
    Secp256k1(Address),
    /// A P-256 public key (P256ValidationModule).
    P256(P256PublicKey),
}

impl SessionKey {
    /// The wire and store name of the key's type: `secp256k1` or `p256`.
    pub const fn type_name(&self) -> &'static str {
        match self {
            Self::Secp256k1(_) => "secp256k1",
            Self::P256(_) => "p256",
        }
    }

    /// The address of a secp256k1 key (`None` for a P-256 key).
    pub const fn address(&self) -> Option<Address> {
        match self {
            Self::Secp256k1(a) => Some(*a),
            Self::P256(_) => None,
        }
    }

    /// The P-256 public key (`None` for a secp256k1 key).
    pub const fn p256(&self) -> Option<&P256PublicKey> {
        match self {
            Self::Secp256k1(_) => None,
            Self::P256(k) => Some(k),
        }
    }
}

impl From<Address> for SessionKey {
    fn from(a: Address) -> Self {
        Self::Secp256k1(a)
    }
}

impl From<P256PublicKey> for SessionKey {
    fn from(k: P256PublicKey) -> Self {
        Self::P256(k)
    }
}

/// Why bytes are not a P-256 public key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum P256KeyError {
    /// Neither `0x04 ‖ x ‖ y` (65 bytes) nor `x ‖ y` (64 bytes).
    #[error(
        "a P-256 public key is 65 bytes 0x04 ‖ x ‖ y (uncompressed SEC1, WebCrypto's raw export) or 64 bytes x ‖ y, \
         got {0} bytes"
    )]
    Length(usize),
    /// 65 bytes not starting with `0x04`.
    #[error("a 65-byte P-256 public key must start with 0x04 (uncompressed), got {0:#04x}")]
    NotUncompressed(u8),
    /// (x, y) is not a point of the curve.
    #[error("(x, y) is not a point of the P-256 curve")]
    NotOnCurve,
}

/// A P-256 public key: a point of the curve (never the point at infinity).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct P256PublicKey {
    x: B256,
    y: B256,
}

impl P256PublicKey {
    /// The key at `(x, y)`, checked to be a point of the curve.
    pub fn from_xy(x: B256, y: B256) -> Result<Self, P256KeyError> {
        let point = EncodedPoint::<NistP256>::from_affine_coordinates(&x.0.into(), &y.0.into(), false);
        if bool::from(AffinePoint::from_encoded_point(&point).is_none()) {
            return Err(P256KeyError::NotOnCurve);
        }
        Ok(Self { x, y })
    }

    /// The key from `0x04 ‖ x ‖ y` (65 bytes, what WebCrypto's `exportKey("raw")` gives) or `x ‖ y`
    /// (64 bytes).
    pub fn from_slice(bytes: &[u8]) -> Result<Self, P256KeyError> {
        let xy = match bytes.len() {
            65 if bytes[0] == 0x04 => &bytes[1..],
            65 => return Err(P256KeyError::NotUncompressed(bytes[0])),
            64 => bytes,
            n => return Err(P256KeyError::Length(n)),
        };
        Self::from_xy(B256::from_slice(&xy[..32]), B256::from_slice(&xy[32..]))
    }

    /// The x coordinate.
    pub const fn x(&self) -> B256 {
        self.x
    }

    /// The y coordinate.
    pub const fn y(&self) -> B256 {
        self.y
    }

    /// `x ‖ y`, 64 bytes (how the store keeps it).
    pub fn xy(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(self.x.as_slice());
        out[32..].copy_from_slice(self.y.as_slice());
        out
    }

    /// `0x04 ‖ x ‖ y`, 65 bytes (uncompressed SEC1, how the Wallet API shows it).
    pub fn uncompressed(&self) -> Bytes {
        let mut out = Vec::with_capacity(65);
        out.push(0x04);
        out.extend_from_slice(&self.xy());
        out.into()
    }

    /// The key as RustCrypto's verifying key.
    pub fn verifying_key(&self) -> Result<VerifyingKey, P256KeyError> {
        let point = EncodedPoint::<NistP256>::from_affine_coordinates(&self.x.0.into(), &self.y.0.into(), false);
        VerifyingKey::from_encoded_point(&point).map_err(|_| P256KeyError::NotOnCurve)
    }

    /// The key of a RustCrypto verifying key.
    pub fn from_verifying_key(key: &VerifyingKey) -> Result<Self, P256KeyError> {
        Self::from_slice(key.to_encoded_point(false).as_bytes())
    }

    /// Checks `signature` — 64 bytes `r ‖ s` (WebCrypto's IEEE P1363 form) or DER — as WebCrypto's
    /// ECDSA with SHA-256 of the 32-byte `user_op_hash`, and returns it as the module takes it:
    /// `r ‖ s` with `s` in its low form (a high `s` is replaced by `n − s`, an equally valid
    /// signature of the same message).
    pub fn verify_user_op(&self, user_op_hash: B256, signature: &[u8]) -> Result<[u8; 64], P256SignatureError> {
        let sig = match signature.len() {
            64 => Signature::from_slice(signature).map_err(|_| P256SignatureError::Malformed)?,
            n if (8..=72).contains(&n) && signature[0] == 0x30 => {
                Signature::from_der(signature).map_err(|_| P256SignatureError::Malformed)?
            }
            n => return Err(P256SignatureError::Length(n)),
        };
        let low = sig.normalize_s().unwrap_or(sig);
        let key = self.verifying_key().map_err(|_| P256SignatureError::Invalid)?;
        key.verify(user_op_hash.as_slice(), &low).map_err(|_| P256SignatureError::Invalid)?;
        let mut out = [0u8; 64];
        out.copy_from_slice(&low.to_bytes());
        Ok(out)
    }
}

/// Why a P-256 signature is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum P256SignatureError {
    /// Neither 64 bytes nor DER.
    #[error("a P-256 signature is 64 bytes r ‖ s (WebCrypto's form) or DER, got {0} bytes")]
    Length(usize),
    /// r or s is zero or not below the group order, or the DER is malformed.
    #[error("the P-256 signature is malformed (r and s must be in 1..n; DER must be a SEQUENCE of two INTEGERs)")]
    Malformed,
    /// A well-formed signature that the key did not make over this message.
    #[error("the P-256 signature does not verify: it is not ECDSA(SHA-256) of the userOpHash by the session's key")]
    Invalid,
}

/// The digest a P-256 session key signs for a user operation: `sha256(userOpHash)` (WebCrypto
/// hashes the 32-byte message itself).
pub fn p256_signing_digest(user_op_hash: B256) -> B256 {
    use sha2::Digest;
    B256::from_slice(&sha2::Sha256::digest(user_op_hash.as_slice()))
}

/// P256ValidationModule: `abi.encode(uint32 entityId, uint256 x, uint256 y)`.
pub fn p256_install_data(entity_id: u32, key: &P256PublicKey) -> Bytes {
    (entity_id, U256::from_be_bytes(key.x.0), U256::from_be_bytes(key.y.0)).abi_encode_params().into()
}

/// A P-256 session's user-op signature: `0xFF ‖ r ‖ s` (`r ‖ s` low-s, as
/// [`P256PublicKey::verify_user_op`] returns it).
pub fn p256_user_op_signature(rs: &[u8; 64]) -> Bytes {
    let mut out = Vec::with_capacity(65);
    out.push(VALIDATION_DATA_MARKER);
    out.extend_from_slice(rs);
    out.into()
}

/// The dummy user-op signature of a P-256 session for gas estimation: `0xFF ‖ r ‖ s`, in range and
/// low-s, so the module runs the whole verification (and refuses it): a valid signature costs no
/// more.
pub const DUMMY_P256_USER_OP_SIGNATURE: Bytes = bytes!(
    "ff7fffffff800000007fffffffffffffffde737d56d38bcf4279dce5617e3192a97fffffff800000007fffffffffffffffde737d56d38bcf4279dce5617e3192a8"
);

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::SigningKey;
    use p256::ecdsa::signature::Signer;

    fn key() -> SigningKey {
        SigningKey::from_slice(&[7u8; 32]).unwrap()
    }

    #[test]
    fn public_keys_in_both_forms_and_only_points_of_the_curve() {
        let sk = key();
        let sec1 = sk.verifying_key().to_encoded_point(false);
        let k = P256PublicKey::from_slice(sec1.as_bytes()).unwrap();
        assert_eq!(P256PublicKey::from_slice(&sec1.as_bytes()[1..]).unwrap(), k);
        assert_eq!(k.uncompressed().as_ref(), sec1.as_bytes());
        assert_eq!(P256PublicKey::from_verifying_key(sk.verifying_key()).unwrap(), k);
        let mut off = k.xy();
        off[63] ^= 1;
        assert_eq!(P256PublicKey::from_slice(&off), Err(P256KeyError::NotOnCurve));
        assert_eq!(P256PublicKey::from_slice(&[0u8; 64]), Err(P256KeyError::NotOnCurve));
        assert_eq!(P256PublicKey::from_slice(&[0u8; 33]), Err(P256KeyError::Length(33)));
        let mut compressed_tag = sec1.as_bytes().to_vec();
        compressed_tag[0] = 0x02;
        assert_eq!(P256PublicKey::from_slice(&compressed_tag), Err(P256KeyError::NotUncompressed(0x02)));
        let data = p256_install_data(9, &k);
        assert_eq!(data.len(), 96);
        assert_eq!(&data[64..], k.y().as_slice());
    }

    #[test]
    fn signatures_verify_as_webcrypto_signs_and_come_back_low_s() {
        let sk = key();
        let k = P256PublicKey::from_verifying_key(sk.verifying_key()).unwrap();
        let hash = B256::repeat_byte(0x42);
        // WebCrypto: ECDSA with SHA-256 over the 32-byte message.
        let sig: Signature = sk.sign(hash.as_slice());
        let low = sig.normalize_s().unwrap_or(sig);
        let n = U256::from_be_slice(&hex_n());
        let high_s = n - U256::from_be_slice(&low.s().to_bytes());
        let mut high = low.r().to_bytes().to_vec();
        high.extend_from_slice(&high_s.to_be_bytes::<32>());
        let expected: [u8; 64] = low.to_bytes().into();
        assert_eq!(k.verify_user_op(hash, &low.to_bytes()).unwrap(), expected);
        assert_eq!(k.verify_user_op(hash, &high).unwrap(), expected, "high s normalised");
        assert_eq!(k.verify_user_op(hash, low.to_der().as_bytes()).unwrap(), expected, "DER");
        assert_eq!(k.verify_user_op(B256::ZERO, &low.to_bytes()), Err(P256SignatureError::Invalid));
        let other = P256PublicKey::from_verifying_key(SigningKey::from_slice(&[8u8; 32]).unwrap().verifying_key());
        assert_eq!(other.unwrap().verify_user_op(hash, &low.to_bytes()), Err(P256SignatureError::Invalid));
        assert_eq!(k.verify_user_op(hash, &[0u8; 64]), Err(P256SignatureError::Malformed));
        assert_eq!(k.verify_user_op(hash, &[1u8; 65]), Err(P256SignatureError::Length(65)));
        // The digest the key signs is sha256 of the userOpHash.
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        sk.verifying_key().verify_prehash(p256_signing_digest(hash).as_slice(), &low).unwrap();
        assert_eq!(p256_user_op_signature(&expected)[0], 0xff);
    }

    fn hex_n() -> [u8; 32] {
        alloy::primitives::b256!("0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551").0
    }

    #[test]
    fn the_dummy_signature_is_in_range_and_low_s() {
        let rs = &DUMMY_P256_USER_OP_SIGNATURE[1..];
        let sig = Signature::from_slice(rs).unwrap();
        assert!(sig.normalize_s().is_none(), "already low s");
        assert_eq!(DUMMY_P256_USER_OP_SIGNATURE.len(), 65);
    }
}
