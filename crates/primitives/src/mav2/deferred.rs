//! Deferred actions (§8): the EIP-712 `DeferredAction` the granting validation signs, the
//! signature prefix of the user operation that carries it, and the SDK's hand-off blobs (§8.5).

use alloy::dyn_abi::TypedData;
use alloy::primitives::{Address, B256, Bytes, FixedBytes, U256, aliases::U48};
use alloy::sol_types::{Eip712Domain, SolStruct};

use super::ids::{IdError, ValidationLocator};
use super::modules::MAX_UINT48;

alloy::sol! {
    /// `DeferredAction(uint256 nonce,uint48 deadline,bytes call)` (§8.1).
    #[derive(Debug, PartialEq, Eq, serde::Serialize)]
    struct DeferredAction {
        uint256 nonce;
        uint48 deadline;
        bytes call;
    }
}

/// `keccak256("DeferredAction(uint256 nonce,uint48 deadline,bytes call)")`.
pub const DEFERRED_ACTION_TYPEHASH: B256 =
    alloy::primitives::b256!("0x9b23e06584efc6b65fc854cee55011d89f86485487b6db36aed7d23884711ea3");

/// Errors building or reading deferred actions.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeferredError {
    /// The deadline does not fit `uint48` (the account would mask it; clients must reject it).
    #[error("deferred-action deadline {0} does not fit uint48")]
    DeadlineOverflow(u64),
    /// A length-prefixed part is longer than a `uint32` length can express.
    #[error("deferred-action {0} is longer than 2^32-1 bytes")]
    TooLong(&'static str),
    /// The signature ends inside the deferred-action prefix.
    #[error("deferred-action prefix truncated: {part} needs {needed} bytes, {available} remain")]
    Truncated {
        /// Which part was being read.
        part: &'static str,
        /// Bytes required.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// The encoded data is shorter than locator (21) + deadline (6).
    #[error("deferred-action encodedData is {0} bytes, shorter than locator (21) + deadline (6)")]
    ShortEncodedData(usize),
    /// The inner locator is invalid.
    #[error("invalid inner validation locator: {0}")]
    Locator(#[from] IdError),
    /// The SDK blob's flag byte is neither 0x00 nor 0x01.
    #[error("deferred-action blob flag byte 0x{0:02x} is neither 0x00 nor 0x01")]
    BadFlag(u8),
}

impl DeferredAction {
    /// A deferred action; `nonce` is the full nonce of the user op that carries it (with the
    /// deferred-action option set), `deadline` Unix seconds (0 = none), `call` the self-call.
    pub fn build(nonce: U256, deadline: u64, call: Bytes) -> Result<Self, DeferredError> {
        if deadline > MAX_UINT48 {
            return Err(DeferredError::DeadlineOverflow(deadline));
        }
        Ok(Self { nonce, deadline: U48::from(deadline), call })
    }

    /// `{chainId, verifyingContract: account}` (no name, no version).
    pub fn domain(chain_id: u64, account: Address) -> Eip712Domain {
        Eip712Domain { chain_id: Some(U256::from(chain_id)), verifying_contract: Some(account), ..Default::default() }
    }

    /// The EIP-712 digest the SMA owner signs directly (no ReplaySafeHash wrapping).
    pub fn digest(&self, chain_id: u64, account: Address) -> B256 {
        self.eip712_signing_hash(&Self::domain(chain_id, account))
    }

    /// The typed data the owner signs (`eth_signTypedData_v4`): this struct, its type and the
    /// domain of [`Self::digest`], so its EIP-712 hash is that digest. Its `types` include
    /// `EIP712Domain`; the message's integers are hex strings.
    pub fn typed_data(&self, chain_id: u64, account: Address) -> TypedData {
        TypedData::from_struct(self, Some(Self::domain(chain_id, account)))
    }

    /// The deadline as `u64`.
    pub fn deadline_secs(&self) -> u64 {
        self.deadline.to::<u64>()
    }
}

fn u32_len(len: usize, what: &'static str) -> Result<[u8; 4], DeferredError> {
    u32::try_from(len).map(u32::to_be_bytes).map_err(|_| DeferredError::TooLong(what))
}

fn take<'a>(data: &'a [u8], n: usize, part: &'static str) -> Result<(&'a [u8], &'a [u8]), DeferredError> {
    if data.len() < n {
        return Err(DeferredError::Truncated { part, needed: n, available: data.len() });
    }
    Ok(data.split_at(n))
}

fn take_u32_prefixed<'a>(data: &'a [u8], part: &'static str) -> Result<(&'a [u8], &'a [u8]), DeferredError> {
    let (len, rest) = take(data, 4, part)?;
    let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
    take(rest, len, part)
}

/// The part of a deferred-action user-op signature in front of the outer validation's signature
/// (§8.2): `uint32 len ‖ (innerLocator ‖ uint48 deadline ‖ call) ‖ uint32 len ‖ deferredSig`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DeferredActionPrefix {
    /// The granting validation (SMA owner: entity 0, global).
    pub inner_locator: ValidationLocator,
    /// `uint48` deadline, 0 = none.
    pub deadline: u64,
    /// The self-call.
    pub call: Bytes,
    /// The granting validation's 1271 validation data (`0x00 ‖ r s v` for an EOA), no locator, no `0xFF`.
    pub deferred_signature: Bytes,
}

impl DeferredActionPrefix {
    /// `innerLocator (21) ‖ deadline (6) ‖ call`.
    pub fn encoded_data(&self) -> Result<Vec<u8>, DeferredError> {
        if self.deadline > MAX_UINT48 {
            return Err(DeferredError::DeadlineOverflow(self.deadline));
        }
        let mut out = Vec::with_capacity(27 + self.call.len());
        out.extend_from_slice(self.inner_locator.encode().as_slice());
        out.extend_from_slice(&self.deadline.to_be_bytes()[2..]);
        out.extend_from_slice(&self.call);
        Ok(out)
    }

    /// The SDK's `preSignature`: `uint32 len(encodedData) ‖ encodedData`.
    pub fn pre_signature(&self) -> Result<Vec<u8>, DeferredError> {
        let data = self.encoded_data()?;
        let mut out = u32_len(data.len(), "encodedData")?.to_vec();
        out.extend_from_slice(&data);
        Ok(out)
    }

    /// The whole prefix: `preSignature ‖ uint32 len(deferredSig) ‖ deferredSig`.
    pub fn encode(&self) -> Result<Vec<u8>, DeferredError> {
        let mut out = self.pre_signature()?;
        out.extend_from_slice(&u32_len(self.deferred_signature.len(), "deferredSig")?);
        out.extend_from_slice(&self.deferred_signature);
        Ok(out)
    }

    /// The carrying user op's signature: the prefix followed by the outer validation's normal
    /// signature (e.g. `0xFF 0x00 r s v`).
    pub fn user_op_signature(&self, outer_signature: &[u8]) -> Result<Bytes, DeferredError> {
        let mut out = self.encode()?;
        out.extend_from_slice(outer_signature);
        Ok(out.into())
    }

    /// Splits a deferred-action user-op signature into the prefix and the outer signature.
    pub fn decode(signature: &[u8]) -> Result<(Self, &[u8]), DeferredError> {
        let (encoded, rest) = take_u32_prefixed(signature, "encodedData")?;
        if encoded.len() < 27 {
            return Err(DeferredError::ShortEncodedData(encoded.len()));
        }
        let inner_locator = ValidationLocator::decode(FixedBytes::<21>::from_slice(&encoded[..21]))?;
        let mut deadline = [0u8; 8];
        deadline[2..].copy_from_slice(&encoded[21..27]);
        let call = Bytes::copy_from_slice(&encoded[27..]);
        let (deferred_signature, outer) = take_u32_prefixed(rest, "deferredSig")?;
        Ok((
            Self {
                inner_locator,
                deadline: u64::from_be_bytes(deadline),
                call,
                deferred_signature: Bytes::copy_from_slice(deferred_signature),
            },
            outer,
        ))
    }

    /// The typed data the inner validation signed, for the carrying op's full `nonce`.
    pub fn typed_data(&self, nonce: U256) -> Result<DeferredAction, DeferredError> {
        DeferredAction::build(nonce, self.deadline, self.call.clone())
    }

    /// The SDK's `fullPreSignature`: `flag ‖ uint256 nonce ‖ preSignature`, flag `0x01` when the
    /// session has execution hooks (its user ops need the `executeUserOp` prefix).
    pub fn full_pre_signature(&self, has_execution_hooks: bool, nonce: U256) -> Result<Vec<u8>, DeferredError> {
        let mut out = vec![has_execution_hooks as u8];
        out.extend_from_slice(&nonce.to_be_bytes::<32>());
        out.extend_from_slice(&self.pre_signature()?);
        Ok(out)
    }

    /// The SDK's `deferredAction` blob: `fullPreSignature ‖ uint32 len(deferredSig) ‖ deferredSig`.
    pub fn sdk_blob(&self, has_execution_hooks: bool, nonce: U256) -> Result<Bytes, DeferredError> {
        let mut out = vec![has_execution_hooks as u8];
        out.extend_from_slice(&nonce.to_be_bytes::<32>());
        out.extend_from_slice(&self.encode()?);
        Ok(out.into())
    }

    /// Reads an SDK `deferredAction` blob: `(hasExecutionHooks, nonce, prefix, remainder)`, where
    /// `remainder` is whatever follows the deferred signature (empty for a well-formed blob).
    pub fn decode_sdk_blob(blob: &[u8]) -> Result<(bool, U256, Self, &[u8]), DeferredError> {
        let (head, rest) = take(blob, 33, "flag and nonce")?;
        let flag = match head[0] {
            0 => false,
            1 => true,
            other => return Err(DeferredError::BadFlag(other)),
        };
        let nonce = U256::from_be_slice(&head[1..]);
        let (prefix, remainder) = Self::decode(rest)?;
        Ok((flag, nonce, prefix, remainder))
    }
}
