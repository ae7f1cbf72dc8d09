//! The ERC-4337 two-dimensional nonce: `nonce = key (192 bits) << 64 | sequence (64 bits)`.
//!
//! The EntryPoint keeps one sequence per `(sender, key)`; `getNonce(sender, key)` returns the next
//! full nonce of that key. Every split of a nonce into key and sequence goes through here.

use alloy::primitives::{U256, aliases::U192};

/// The 192-bit key of a full nonce (`nonce >> 64`).
pub fn nonce_key(nonce: U256) -> U192 {
    // The shift leaves at most 192 significant bits, so the narrowing is exact.
    U192::wrapping_from(nonce >> 64)
}

/// The 64-bit sequence of a full nonce (its low 64 bits).
pub fn nonce_sequence(nonce: U256) -> u64 {
    nonce.as_limbs()[0]
}

/// Splits a full nonce into `(key, sequence)`.
pub fn split_nonce(nonce: U256) -> (U192, u64) {
    (nonce_key(nonce), nonce_sequence(nonce))
}

/// The full nonce `key << 64 | sequence`.
pub fn nonce_from_parts(key: U192, sequence: u64) -> U256 {
    (U256::from(key) << 64) | U256::from(sequence)
}

/// The 192-bit key of a full nonce as a `U256` (what `getNonce` callers often carry).
pub fn nonce_key_u256(nonce: U256) -> U256 {
    nonce >> 64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_joins() {
        let key = U192::from(0x0102_0304u64) | (U192::from(0xabu64) << 184);
        let nonce = nonce_from_parts(key, 0xdead_beef);
        assert_eq!(split_nonce(nonce), (key, 0xdead_beef));
        assert_eq!(nonce_key_u256(nonce), U256::from(key));
        assert_eq!(nonce_from_parts(U192::from(1), 1), U256::from(1) | (U256::from(1) << 64));
    }

    #[test]
    fn extremes() {
        assert_eq!(split_nonce(U256::ZERO), (U192::ZERO, 0));
        assert_eq!(split_nonce(U256::MAX), (U192::MAX, u64::MAX));
        assert_eq!(nonce_from_parts(U192::MAX, u64::MAX), U256::MAX);
        assert_eq!(nonce_sequence(U256::from(u64::MAX) + U256::from(1)), 0);
        assert_eq!(nonce_key(U256::from(u64::MAX)), U192::ZERO);
    }
}
