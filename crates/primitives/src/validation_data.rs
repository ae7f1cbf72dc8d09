//! The `validationData` word of ERC-4337: authorizer and validity window packed in 256 bits.

use alloy::primitives::{Address, U256};

/// Decoded `validationData`: who authorised the operation and when it is valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValidationData {
    /// 0 = valid signature, 1 = signature failure, otherwise an aggregator.
    pub authorizer: Address,
    /// First second (inclusive) in which the operation is valid.
    pub valid_after: u64,
    /// Last second (inclusive) in which the operation is valid; `u48::MAX` when unbounded.
    pub valid_until: u64,
}

/// The largest 48-bit timestamp, which `validUntil = 0` stands for.
pub const MAX_U48: u64 = (1 << 48) - 1;

impl ValidationData {
    /// Decodes the packed word; `validUntil = 0` reads as "no expiry".
    pub fn decode(word: U256) -> Self {
        let bytes = word.to_be_bytes::<32>();
        let valid_after = u64::from_be_bytes([0, 0, bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5]]);
        let until = u64::from_be_bytes([0, 0, bytes[6], bytes[7], bytes[8], bytes[9], bytes[10], bytes[11]]);
        Self {
            authorizer: Address::from_slice(&bytes[12..]),
            valid_after,
            valid_until: if until == 0 { MAX_U48 } else { until },
        }
    }

    /// Encodes back into the packed word (an unbounded `valid_until` becomes 0).
    pub fn encode(&self) -> U256 {
        let until = if self.valid_until >= MAX_U48 { 0 } else { self.valid_until };
        (U256::from(self.valid_after & MAX_U48) << 208)
            | (U256::from(until & MAX_U48) << 160)
            | U256::from_be_slice(self.authorizer.as_slice())
    }

    /// True when the signature was reported as invalid (`authorizer == 1`).
    pub fn is_signature_failure(&self) -> bool {
        self.authorizer == Address::with_last_byte(1)
    }

    /// True when `timestamp` is inside the inclusive window.
    pub fn is_valid_at(&self, timestamp: u64) -> bool {
        timestamp >= self.valid_after && timestamp <= self.valid_until
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_means_valid_forever() {
        let v = ValidationData::decode(U256::ZERO);
        assert_eq!(v.authorizer, Address::ZERO);
        assert_eq!(v.valid_after, 0);
        assert_eq!(v.valid_until, MAX_U48);
        assert!(v.is_valid_at(u64::from(u32::MAX)));
    }

    #[test]
    fn round_trip_window_and_failure() {
        let v = ValidationData { authorizer: Address::with_last_byte(1), valid_after: 10, valid_until: 20 };
        let word = v.encode();
        assert_eq!(word >> 208, U256::from(10));
        assert_eq!((word >> 160) & U256::from(MAX_U48), U256::from(20));
        assert_eq!(ValidationData::decode(word), v);
        assert!(v.is_signature_failure());
        assert!(!v.is_valid_at(9) && v.is_valid_at(10) && v.is_valid_at(20) && !v.is_valid_at(21));
    }
}
