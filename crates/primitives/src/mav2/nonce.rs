//! The MAv2 user-operation nonce: the 192-bit EntryPoint key selects the validation (§4).
//!
//! ```text
//! regular:     key = parallelKey (152 bits) ‖ entityId (32) ‖ options (8)
//! direct call: key = parallelKey (24 bits)  ‖ caller (160)  ‖ options (8, with 0x04)
//! nonce      = key << 64 | sequence
//! ```

use alloy::primitives::{Address, U256, aliases::U192};

use super::ids::{IdError, ValidationLocator};

/// Errors building or reading an MAv2 nonce key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NonceError {
    /// The parallel key does not fit its field (152 bits regular, 24 bits direct call).
    #[error("parallel nonce key {key} exceeds {bits} bits")]
    ParallelKeyTooLarge {
        /// The offending key.
        key: U256,
        /// Width of the field.
        bits: usize,
    },
    /// The key's locator part is not a valid locator.
    #[error("invalid validation locator in nonce key: {0}")]
    Locator(#[from] IdError),
}

/// An MAv2 nonce key: the validation locator plus a free parallel key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NonceKey {
    /// Free bits above the locator; only separate EntryPoint sequences.
    pub parallel_key: U256,
    /// The validation and its options (global, deferred action).
    pub locator: ValidationLocator,
}

/// Bits of the parallel key for a regular locator.
pub const REGULAR_PARALLEL_KEY_BITS: usize = 152;
/// Bits of the parallel key for a direct-call locator.
pub const DIRECT_CALL_PARALLEL_KEY_BITS: usize = 24;

impl NonceKey {
    /// A regular key (`buildFullNonceKey` of the SDK).
    pub fn regular(
        parallel_key: U256,
        entity_id: u32,
        is_global: bool,
        has_deferred_action: bool,
    ) -> Result<Self, NonceError> {
        Self::new(parallel_key, ValidationLocator::regular(entity_id, is_global, has_deferred_action))
    }

    /// A direct-call key (the SDK has no builder for it).
    pub fn direct_call(parallel_key: U256, caller: Address, is_global: bool) -> Result<Self, NonceError> {
        Self::new(parallel_key, ValidationLocator::direct_call(caller, is_global))
    }

    /// The SMA owner key: entity 0, global, parallel key 0 (`0x01`).
    pub fn owner() -> Self {
        Self { parallel_key: U256::ZERO, locator: ValidationLocator::owner() }
    }

    /// A key; checks the parallel key's range.
    pub fn new(parallel_key: U256, locator: ValidationLocator) -> Result<Self, NonceError> {
        let bits = Self::parallel_bits(&locator);
        if parallel_key.bit_len() > bits {
            return Err(NonceError::ParallelKeyTooLarge { key: parallel_key, bits });
        }
        Ok(Self { parallel_key, locator })
    }

    fn parallel_bits(locator: &ValidationLocator) -> usize {
        match locator {
            ValidationLocator::Regular { .. } => REGULAR_PARALLEL_KEY_BITS,
            ValidationLocator::DirectCall { .. } => DIRECT_CALL_PARALLEL_KEY_BITS,
        }
    }

    /// The same key with the deferred-action option set or cleared (regular locators only;
    /// a direct-call key is returned unchanged).
    pub fn with_deferred_action(mut self, has_deferred_action: bool) -> Self {
        if let ValidationLocator::Regular { has_deferred_action: d, .. } = &mut self.locator {
            *d = has_deferred_action;
        }
        self
    }

    /// The 192-bit EntryPoint key.
    pub fn full_key(&self) -> U192 {
        let locator = U256::from_be_slice(self.locator.encode().as_slice());
        let shift = 192 - Self::parallel_bits(&self.locator);
        // The range was checked at construction, so the sum fits 192 bits.
        U192::wrapping_from((self.parallel_key << shift) | locator)
    }

    /// The full nonce `key << 64 | sequence`.
    pub fn nonce(&self, sequence: u64) -> U256 {
        crate::nonce::nonce_from_parts(self.full_key(), sequence)
    }

    /// Reads a 192-bit key; bit 0x04 of the options byte selects the direct-call form.
    pub fn from_full_key(key: U192) -> Result<Self, NonceError> {
        let key = U256::from(key);
        let bytes = key.to_be_bytes::<32>();
        let options = bytes[31];
        let direct = options & super::ids::LOCATOR_OPTION_DIRECT_CALL != 0;
        let locator_bytes: [u8; 21] = if direct {
            let mut b = [0u8; 21];
            b.copy_from_slice(&bytes[11..32]);
            b
        } else {
            let mut b = [0u8; 21];
            b[16..].copy_from_slice(&bytes[27..32]);
            b
        };
        let locator = ValidationLocator::decode(locator_bytes.into())?;
        let shift = 192 - Self::parallel_bits(&locator);
        Ok(Self { parallel_key: key >> shift, locator })
    }

    /// Splits a full nonce into its key and sequence.
    pub fn from_nonce(nonce: U256) -> Result<(Self, u64), NonceError> {
        let (key, sequence) = crate::nonce::split_nonce(nonce);
        Ok((Self::from_full_key(key)?, sequence))
    }
}
