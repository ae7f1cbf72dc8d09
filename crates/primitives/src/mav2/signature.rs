//! MAv2 signature layouts: user-operation signatures with per-hook segments (§5), the validation
//! data of SingleSigner and the SMA owner (§5.2), runtime authorizations (§6.1) and ERC-1271
//! signatures over the ReplaySafeHash (§7).

use alloy::primitives::{Address, B256, Bytes, Signature, U256, bytes, eip191_hash_message};
use alloy::sol_types::{Eip712Domain, SolStruct};

use super::ids::{IdError, ValidationLocator};

/// Marker byte that ends the hook segments; the validation's own data follows it.
pub const VALIDATION_DATA_MARKER: u8 = 0xff;

/// Largest index a hook segment may use (`0xFE`; `0xFF` is the marker).
pub const MAX_SEGMENT_INDEX: u8 = 0xfe;

/// ERC-1271 `isValidSignature` success value.
pub const ERC1271_MAGIC_VALUE: [u8; 4] = [0x16, 0x26, 0xba, 0x7e];

/// ERC-1271 failure value returned by MAv2.
pub const ERC1271_INVALID: [u8; 4] = [0xff, 0xff, 0xff, 0xff];

/// The SDK's dummy user-op signature for gas estimation: `0xFF 0x00 ‖ r ‖ s ‖ v`, well-formed,
/// low-s, recovering to an unrelated address (so it takes the full ecrecover path and fails).
pub const DUMMY_USER_OP_SIGNATURE: Bytes = bytes!(
    "ff00fffffffffffffffffffffffffffffff0000000000000000000000000000000007aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1c"
);

/// `keccak256("ReplaySafeHash(bytes32 hash)")`.
pub const REPLAY_SAFE_HASH_TYPEHASH: B256 =
    alloy::primitives::b256!("0x294a8735843d4afb4f017c76faf3b7731def145ed0025fc9b1d5ce30adf113ff");

alloy::sol! {
    /// The EIP-712 struct an ERC-1271 signer signs instead of the raw hash (§7).
    #[derive(Debug, PartialEq, Eq)]
    struct ReplaySafeHash {
        bytes32 hash;
    }
}

/// Signature type byte in front of SingleSigner / SMA-owner validation data (§5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum SignerType {
    /// `0x00`: 65-byte ECDSA signature `r ‖ s ‖ v` of the signer EOA.
    Eoa = 0x00,
    /// `0x01`: the payload is passed to `signer.isValidSignature(digest, payload)`.
    Contract = 0x01,
    /// `0x02` (Keyward extension, not MAv2): 65-byte ECDSA signature of the EOA over the EIP-191
    /// message hash of the 32-byte digest (what a `personal_sign` of a `rawPayload` produces).
    EoaPersonalSign = 0x02,
}

/// Errors encoding or decoding signature layouts.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A hook segment index is `0xFF`, the marker reserved for the validation data.
    #[error("hook segment index 0xff is reserved for the validation data")]
    SegmentIndexReserved,
    /// Hook segment indices are not strictly increasing (`SegmentOutOfOrder`).
    #[error("hook segment index {index} does not follow index {previous} (indices must strictly increase)")]
    SegmentOutOfOrder {
        /// Index of the previous segment.
        previous: u8,
        /// Offending index.
        index: u8,
    },
    /// A hook segment is empty (`NonCanonicalEncoding`): absent hooks must be omitted instead.
    #[error("hook segment {0} is empty (omit the segment instead)")]
    EmptySegment(u8),
    /// A hook segment is longer than a `uint32` length can express.
    #[error("hook segment {0} is longer than 2^32-1 bytes")]
    SegmentTooLong(u8),
    /// The signature ended before the `0xFF` marker (`ValidationSignatureSegmentMissing`).
    #[error("signature has no 0xff validation-data marker")]
    MissingValidationData,
    /// A segment's declared length runs past the end of the signature.
    #[error("hook segment {index} declares {len} bytes but only {available} remain")]
    TruncatedSegment {
        /// Segment index.
        index: u8,
        /// Declared length.
        len: usize,
        /// Bytes left.
        available: usize,
    },
    /// The validation data is empty or starts with an unknown signer type (`InvalidSignatureType`).
    #[error("validation data has no valid signer type byte (0x00 EOA or 0x01 contract)")]
    InvalidSignatureType,
    /// An EOA validation payload is not exactly 65 bytes.
    #[error("EOA signature must be 65 bytes r||s||v, got {0}")]
    BadEcdsaLength(usize),
    /// The packed locator in front of a runtime authorization or ERC-1271 signature is invalid.
    #[error("invalid packed validation locator: {0}")]
    Locator(#[from] IdError),
}

/// Per-hook data for the validation hook at `index` (position among the validation's
/// validation hooks in installation order).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct HookSegment {
    /// Position of the hook (0..=254).
    pub index: u8,
    /// The hook's data (non-empty).
    pub data: Bytes,
}

/// `0x00 ‖ r ‖ s ‖ v` with `v ∈ {27, 28}`: the validation data of an EOA signer.
pub fn eoa_validation_data(signature: &Signature) -> Bytes {
    let mut out = Vec::with_capacity(66);
    out.push(SignerType::Eoa as u8);
    out.extend_from_slice(&signature.as_bytes());
    out.into()
}

/// `0x02 ‖ r ‖ s ‖ v`: the validation data of an EOA that signed EIP-191(digest) instead of the
/// digest (Keyward's accounts only).
pub fn eoa_personal_sign_validation_data(signature: &Signature) -> Bytes {
    let mut out = Vec::with_capacity(66);
    out.push(SignerType::EoaPersonalSign as u8);
    out.extend_from_slice(&signature.as_bytes());
    out.into()
}

/// `0x01 ‖ payload`: the validation data of an ERC-1271 contract signer.
pub fn contract_validation_data(payload: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(1 + payload.len());
    out.push(SignerType::Contract as u8);
    out.extend_from_slice(payload);
    out.into()
}

/// Splits validation data into its signer type and payload; an EOA payload must be 65 bytes.
pub fn decode_validation_data(data: &[u8]) -> Result<(SignerType, &[u8]), SignatureError> {
    match data.split_first() {
        Some((0x00, payload)) if payload.len() == 65 => Ok((SignerType::Eoa, payload)),
        Some((0x00, payload)) => Err(SignatureError::BadEcdsaLength(payload.len())),
        Some((0x01, payload)) => Ok((SignerType::Contract, payload)),
        Some((0x02, payload)) if payload.len() == 65 => Ok((SignerType::EoaPersonalSign, payload)),
        Some((0x02, payload)) => Err(SignatureError::BadEcdsaLength(payload.len())),
        _ => Err(SignatureError::InvalidSignatureType),
    }
}

/// `segment* ‖ 0xFF ‖ validationData` (§5.1), checking that indices strictly increase, are below
/// `0xFF`, and that every segment is non-empty.
pub fn encode_segmented(segments: &[HookSegment], validation_data: &[u8]) -> Result<Vec<u8>, SignatureError> {
    let mut out = Vec::new();
    let mut previous: Option<u8> = None;
    for seg in segments {
        if seg.index == VALIDATION_DATA_MARKER {
            return Err(SignatureError::SegmentIndexReserved);
        }
        if let Some(p) = previous
            && seg.index <= p
        {
            return Err(SignatureError::SegmentOutOfOrder { previous: p, index: seg.index });
        }
        if seg.data.is_empty() {
            return Err(SignatureError::EmptySegment(seg.index));
        }
        let len = u32::try_from(seg.data.len()).map_err(|_| SignatureError::SegmentTooLong(seg.index))?;
        out.push(seg.index);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&seg.data);
        previous = Some(seg.index);
    }
    out.push(VALIDATION_DATA_MARKER);
    out.extend_from_slice(validation_data);
    Ok(out)
}

/// Reads `segment* ‖ 0xFF ‖ validationData` with the account's rules; returns the segments and
/// the validation data.
pub fn decode_segmented(signature: &[u8]) -> Result<(Vec<HookSegment>, &[u8]), SignatureError> {
    let mut segments = Vec::new();
    let mut rest = signature;
    let mut previous: Option<u8> = None;
    loop {
        let Some((&index, after)) = rest.split_first() else {
            return Err(SignatureError::MissingValidationData);
        };
        if index == VALIDATION_DATA_MARKER {
            return Ok((segments, after));
        }
        if let Some(p) = previous
            && index <= p
        {
            return Err(SignatureError::SegmentOutOfOrder { previous: p, index });
        }
        if after.len() < 4 {
            return Err(SignatureError::TruncatedSegment { index, len: 4, available: after.len() });
        }
        let len = u32::from_be_bytes([after[0], after[1], after[2], after[3]]) as usize;
        let body = &after[4..];
        if len == 0 {
            return Err(SignatureError::EmptySegment(index));
        }
        if body.len() < len {
            return Err(SignatureError::TruncatedSegment { index, len, available: body.len() });
        }
        segments.push(HookSegment { index, data: Bytes::copy_from_slice(&body[..len]) });
        rest = &body[len..];
        previous = Some(index);
    }
}

/// A user-operation signature: `segment* ‖ 0xFF ‖ validationData` (§5.1).
pub fn user_op_signature(segments: &[HookSegment], validation_data: &[u8]) -> Result<Bytes, SignatureError> {
    encode_segmented(segments, validation_data).map(Bytes::from)
}

/// The simplest owner or session-key user-op signature: `0xFF ‖ 0x00 ‖ r ‖ s ‖ v` (67 bytes).
pub fn eoa_user_op_signature(signature: &Signature) -> Bytes {
    let mut out = Vec::with_capacity(67);
    out.push(VALIDATION_DATA_MARKER);
    out.extend_from_slice(&eoa_validation_data(signature));
    out.into()
}

/// What an EOA signer of a user op signs: `keccak256("\x19Ethereum Signed Message:\n32" ‖ userOpHash)`.
pub fn user_op_signing_hash(user_op_hash: B256) -> B256 {
    eip191_hash_message(user_op_hash)
}

/// A runtime authorization (`executeWithRuntimeValidation`) or ERC-1271 signature:
/// `packedLocator ‖ segment* ‖ 0xFF ‖ validationData` (§6.1, §7).
pub fn locator_prefixed_signature(
    locator: &ValidationLocator,
    segments: &[HookSegment],
    validation_data: &[u8],
) -> Result<Bytes, SignatureError> {
    let mut out = locator.encode_packed();
    out.extend_from_slice(&encode_segmented(segments, validation_data)?);
    Ok(out.into())
}

/// Reads `packedLocator ‖ segment* ‖ 0xFF ‖ validationData`.
pub fn decode_locator_prefixed(
    signature: &[u8],
) -> Result<(ValidationLocator, Vec<HookSegment>, &[u8]), SignatureError> {
    let (locator, rest) = ValidationLocator::decode_packed(signature)?;
    let (segments, data) = decode_segmented(rest)?;
    Ok((locator, segments, data))
}

/// The SDK's ERC-1271 signature for an EOA signer without hook data:
/// `0x00 ‖ uint32 entityId ‖ 0xFF ‖ 0x00 ‖ r ‖ s ‖ v` (72 bytes).
pub fn erc1271_eoa_signature(entity_id: u32, signature: &Signature) -> Bytes {
    let mut out = Vec::with_capacity(72);
    out.extend_from_slice(&ValidationLocator::regular(entity_id, false, false).encode_packed());
    out.push(VALIDATION_DATA_MARKER);
    out.extend_from_slice(&eoa_validation_data(signature));
    out.into()
}

/// The EIP-712 domain an ERC-1271 signer wraps the hash in (§7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReplaySafeDomain {
    /// SMA owner (fallback validation): `{chainId, verifyingContract: account}`.
    Account {
        /// Chain id.
        chain_id: u64,
        /// The account.
        account: Address,
    },
    /// A validation module (SingleSigner, WebAuthn): `{chainId, verifyingContract: module, salt: bytes32(account)}`.
    Module {
        /// Chain id.
        chain_id: u64,
        /// The validation module.
        module: Address,
        /// The account.
        account: Address,
    },
}

impl ReplaySafeDomain {
    /// The EIP-712 domain (no name, no version).
    pub fn domain(&self) -> Eip712Domain {
        match *self {
            Self::Account { chain_id, account } => Eip712Domain {
                chain_id: Some(U256::from(chain_id)),
                verifying_contract: Some(account),
                ..Default::default()
            },
            Self::Module { chain_id, module, account } => Eip712Domain {
                chain_id: Some(U256::from(chain_id)),
                verifying_contract: Some(module),
                salt: Some(account.into_word()),
                ..Default::default()
            },
        }
    }

    /// `keccak256(0x1901 ‖ domainSeparator ‖ keccak256(typeHash ‖ hash))`: what the signer signs.
    pub fn replay_safe_hash(&self, hash: B256) -> B256 {
        ReplaySafeHash { hash }.eip712_signing_hash(&self.domain())
    }
}
