//! Gas the bundler must be paid for that the EntryPoint does not meter: `preVerificationGas`.

use alloy::primitives::U256;
use alloy::sol_types::SolValue;
use keyward_primitives::PackedUserOperation;

/// Overheads of one operation inside a `handleOps` transaction (the figures the reference
/// bundlers use for EntryPoint v0.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GasOverheads {
    /// Transaction base cost, shared by the bundle.
    pub fixed: u64,
    /// Per-operation bookkeeping outside the metered parts.
    pub per_user_op: u64,
    /// Per 32-byte word of the encoded operation (copying and hashing).
    pub per_user_op_word: u64,
    /// Calldata cost of a zero byte.
    pub zero_byte: u64,
    /// Calldata cost of a non-zero byte.
    pub non_zero_byte: u64,
    /// Operations a bundle is assumed to share the fixed cost with.
    pub bundle_size: u64,
}

impl Default for GasOverheads {
    fn default() -> Self {
        Self {
            fixed: 21_000,
            per_user_op: 18_300,
            per_user_op_word: 4,
            zero_byte: 4,
            non_zero_byte: 16,
            bundle_size: 1,
        }
    }
}

impl GasOverheads {
    /// The smallest `preVerificationGas` that pays for `op`'s share of the bundle transaction.
    pub fn pre_verification_gas(&self, op: &PackedUserOperation) -> U256 {
        let encoded = op.abi_encode();
        let calldata: u64 = encoded.iter().map(|b| if *b == 0 { self.zero_byte } else { self.non_zero_byte }).sum();
        let words = encoded.len().div_ceil(32) as u64;
        U256::from(calldata + self.fixed / self.bundle_size.max(1) + self.per_user_op + words * self.per_user_op_word)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::Bytes;

    #[test]
    fn longer_calldata_costs_more_and_zero_bytes_cost_less() {
        let g = GasOverheads::default();
        let base = PackedUserOperation::default();
        let zeros = PackedUserOperation { callData: Bytes::from(vec![0u8; 64]), ..Default::default() };
        let ones = PackedUserOperation { callData: Bytes::from(vec![1u8; 64]), ..Default::default() };
        let (b, z, o) = (g.pre_verification_gas(&base), g.pre_verification_gas(&zeros), g.pre_verification_gas(&ones));
        // 64 more zero bytes at 4 gas, two more words at 4, and the length word's low byte turns
        // non-zero (16 instead of 4); non-zero content costs 64×(16−4) more.
        assert_eq!(z - b, U256::from(64 * 4 + 2 * 4 + 12));
        assert_eq!(o - z, U256::from(64 * 12));
    }
}
