//! Keyward's `VerifyingPaymaster`: the hash its signer signs, its `paymasterData` layout, and the
//! stub data used while gas is estimated.
//!
//! `paymasterAndData = paymaster (20) ‖ pmVerificationGasLimit (16) ‖ pmPostOpGasLimit (16) ‖
//! validUntil (6) ‖ validAfter (6) ‖ signature (65)`; the signer signs EIP-191 of
//! [`sponsorship_hash`] (the contract's `getHash`).

use alloy::primitives::{Address, B256, Bytes, U256, eip191_hash_message, keccak256};
use alloy::sol_types::SolValue;

use crate::user_operation::{PaymasterInit, UserOperation, pack_u128_pair};
use crate::validation_data::MAX_U48;

/// Bytes of `paymaster ‖ pmVerificationGasLimit ‖ pmPostOpGasLimit` before `paymasterData`.
pub const PAYMASTER_DATA_OFFSET: usize = 52;
/// Length of the ECDSA signature `r ‖ s ‖ v` in `paymasterData`.
pub const SIGNATURE_LEN: usize = 65;
/// Length of the verifying paymaster's `paymasterData`: two 6-byte timestamps and the signature.
pub const PAYMASTER_DATA_LEN: usize = 12 + SIGNATURE_LEN;

/// A dummy signature with the shape of a real one (non-zero bytes, low `s`, `v = 28`): the contract
/// recovers some other address from it and reports a signature failure instead of reverting, so an
/// operation carrying it can be simulated and priced like a signed one.
pub const STUB_SIGNATURE: [u8; SIGNATURE_LEN] = {
    let mut sig = [0xffu8; SIGNATURE_LEN];
    let mut i = 32;
    while i < 64 {
        sig[i] = 0x7a;
        i += 1;
    }
    sig[64] = 28;
    sig
};

/// When a sponsorship is valid: `[valid_after, valid_until]`, inclusive, unix seconds (48-bit).
/// `valid_until = 0` means no expiry, as in ERC-4337 validation data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ValidityWindow {
    /// Last valid second (0 = unbounded).
    pub valid_until: u64,
    /// First valid second.
    pub valid_after: u64,
}

/// The verifying paymaster's `paymasterData`, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyingPaymasterData {
    /// The window the signer approved.
    pub window: ValidityWindow,
    /// `r ‖ s ‖ v` over EIP-191 of [`sponsorship_hash`].
    pub signature: Bytes,
}

/// Why paymaster fields cannot be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymasterDataError {
    /// A timestamp does not fit in 48 bits.
    #[error("{field} = {value} does not fit in 48 bits (max {MAX_U48})")]
    TimestampTooLarge {
        /// `validUntil` or `validAfter`.
        field: &'static str,
        /// The value given.
        value: u64,
    },
    /// `paymasterData` is not `validUntil (6) ‖ validAfter (6) ‖ signature (65)`.
    #[error("paymasterData must be {PAYMASTER_DATA_LEN} bytes (validUntil 6, validAfter 6, signature 65), got {0}")]
    DataLength(usize),
    /// `paymasterAndData` is shorter than the 52-byte paymaster/gas-limit prefix.
    #[error("paymasterAndData must be at least {PAYMASTER_DATA_OFFSET} bytes, got {0}")]
    PrefixLength(usize),
    /// The operation has no paymaster fields, so there is nothing to sign.
    #[error("the user operation has no paymaster")]
    NoPaymaster,
}

impl ValidityWindow {
    /// Checks that both ends fit in 48 bits.
    pub fn checked(self) -> Result<Self, PaymasterDataError> {
        for (field, value) in [("validUntil", self.valid_until), ("validAfter", self.valid_after)] {
            if value > MAX_U48 {
                return Err(PaymasterDataError::TimestampTooLarge { field, value });
            }
        }
        Ok(self)
    }

    /// The 12 bytes `validUntil (6) ‖ validAfter (6)`.
    fn to_bytes(self) -> Result<[u8; 12], PaymasterDataError> {
        let w = self.checked()?;
        let mut out = [0u8; 12];
        out[..6].copy_from_slice(&w.valid_until.to_be_bytes()[2..]);
        out[6..].copy_from_slice(&w.valid_after.to_be_bytes()[2..]);
        Ok(out)
    }
}

impl VerifyingPaymasterData {
    /// `validUntil ‖ validAfter ‖ signature`; the signature must be 65 bytes.
    pub fn encode(&self) -> Result<Bytes, PaymasterDataError> {
        if self.signature.len() != SIGNATURE_LEN {
            return Err(PaymasterDataError::DataLength(12 + self.signature.len()));
        }
        Ok([self.window.to_bytes()?.as_slice(), self.signature.as_ref()].concat().into())
    }

    /// Parses `paymasterData` (what follows the 52-byte prefix).
    pub fn decode(data: &[u8]) -> Result<Self, PaymasterDataError> {
        if data.len() != PAYMASTER_DATA_LEN {
            return Err(PaymasterDataError::DataLength(data.len()));
        }
        let mut until = [0u8; 8];
        let mut after = [0u8; 8];
        until[2..].copy_from_slice(&data[..6]);
        after[2..].copy_from_slice(&data[6..12]);
        Ok(Self {
            window: ValidityWindow { valid_until: u64::from_be_bytes(until), valid_after: u64::from_be_bytes(after) },
            signature: Bytes::copy_from_slice(&data[12..]),
        })
    }

    /// Stub data for estimation: the window and [`STUB_SIGNATURE`].
    pub fn stub(window: ValidityWindow) -> Self {
        Self { window, signature: Bytes::copy_from_slice(&STUB_SIGNATURE) }
    }
}

/// Splits a full `paymasterAndData` into the paymaster fields (data kept raw).
pub fn decode_paymaster_and_data(pmd: &[u8]) -> Result<PaymasterInit, PaymasterDataError> {
    if pmd.len() < PAYMASTER_DATA_OFFSET {
        return Err(PaymasterDataError::PrefixLength(pmd.len()));
    }
    let mut vgl = [0u8; 16];
    let mut pogl = [0u8; 16];
    vgl.copy_from_slice(&pmd[20..36]);
    pogl.copy_from_slice(&pmd[36..52]);
    Ok(PaymasterInit {
        paymaster: Address::from_slice(&pmd[..20]),
        verification_gas_limit: u128::from_be_bytes(vgl),
        post_op_gas_limit: u128::from_be_bytes(pogl),
        data: Bytes::copy_from_slice(&pmd[PAYMASTER_DATA_OFFSET..]),
    })
}

/// The hash the paymaster signer approves (`VerifyingPaymaster.getHash`): the op's fields except
/// its signature and `paymasterData`, the paymaster gas limits, the chain id, the paymaster
/// address (from `op.paymaster`) and the window.
pub fn sponsorship_hash(op: &UserOperation, chain_id: u64, window: ValidityWindow) -> Result<B256, PaymasterDataError> {
    let pm = op.paymaster.as_ref().ok_or(PaymasterDataError::NoPaymaster)?;
    let w = window.checked()?;
    let encoded = (
        op.sender,
        op.nonce,
        keccak256(op.init_code()),
        keccak256(&op.call_data),
        pack_u128_pair(op.verification_gas_limit, op.call_gas_limit),
        pack_u128_pair(pm.verification_gas_limit, pm.post_op_gas_limit),
        op.pre_verification_gas,
        pack_u128_pair(op.max_priority_fee_per_gas, op.max_fee_per_gas),
        U256::from(chain_id),
        pm.paymaster,
        U256::from(w.valid_until),
        U256::from(w.valid_after),
    )
        .abi_encode();
    Ok(keccak256(encoded))
}

/// The digest the signer's key signs: EIP-191 `personal_sign` of [`sponsorship_hash`].
pub fn sponsorship_signing_digest(
    op: &UserOperation,
    chain_id: u64,
    window: ValidityWindow,
) -> Result<B256, PaymasterDataError> {
    Ok(eip191_hash_message(sponsorship_hash(op, chain_id, window)?))
}

/// Paymaster fields for `paymaster` with the given gas limits and data.
pub fn paymaster_init(
    paymaster: Address,
    verification_gas_limit: u128,
    post_op_gas_limit: u128,
    data: &VerifyingPaymasterData,
) -> Result<PaymasterInit, PaymasterDataError> {
    Ok(PaymasterInit { paymaster, verification_gas_limit, post_op_gas_limit, data: data.encode()? })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op() -> UserOperation {
        UserOperation {
            sender: Address::with_last_byte(1),
            nonce: U256::from(7),
            call_gas_limit: 1,
            verification_gas_limit: 2,
            pre_verification_gas: U256::from(3),
            max_fee_per_gas: 4,
            max_priority_fee_per_gas: 5,
            paymaster: Some(PaymasterInit {
                paymaster: Address::with_last_byte(9),
                verification_gas_limit: 6,
                post_op_gas_limit: 7,
                data: Bytes::new(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn data_round_trips_through_paymaster_and_data() {
        let window = ValidityWindow { valid_until: MAX_U48, valid_after: 0x0102_0304_0506 };
        let data = VerifyingPaymasterData { window, signature: Bytes::from(vec![0xab; 65]) };
        let mut o = op();
        o.paymaster = Some(paymaster_init(Address::with_last_byte(9), 6, 7, &data).unwrap());
        let pmd = o.paymaster_and_data();
        assert_eq!(pmd.len(), PAYMASTER_DATA_OFFSET + PAYMASTER_DATA_LEN);
        assert_eq!(&pmd[52..58], &[0xff; 6]);
        assert_eq!(&pmd[58..64], &[1, 2, 3, 4, 5, 6]);
        let init = decode_paymaster_and_data(&pmd).unwrap();
        assert_eq!(Some(&init), o.paymaster.as_ref());
        assert_eq!(VerifyingPaymasterData::decode(&init.data).unwrap(), data);
    }

    #[test]
    fn malformed_data_is_refused_precisely() {
        assert_eq!(VerifyingPaymasterData::decode(&[0; 76]), Err(PaymasterDataError::DataLength(76)));
        assert_eq!(decode_paymaster_and_data(&[0; 51]), Err(PaymasterDataError::PrefixLength(51)));
        let too_late = ValidityWindow { valid_until: MAX_U48 + 1, valid_after: 0 };
        assert!(matches!(
            VerifyingPaymasterData::stub(too_late).encode(),
            Err(PaymasterDataError::TimestampTooLarge { field: "validUntil", .. })
        ));
        let mut no_pm = op();
        no_pm.paymaster = None;
        assert_eq!(sponsorship_hash(&no_pm, 1, ValidityWindow::default()), Err(PaymasterDataError::NoPaymaster));
    }

    #[test]
    fn hash_ignores_signatures_and_paymaster_data_but_binds_everything_else() {
        let w = ValidityWindow { valid_until: 100, valid_after: 10 };
        let base = sponsorship_hash(&op(), 31337, w).unwrap();
        let mut signed = op();
        signed.signature = Bytes::from(vec![1, 2, 3]);
        signed.paymaster.as_mut().unwrap().data = VerifyingPaymasterData::stub(w).encode().unwrap();
        assert_eq!(sponsorship_hash(&signed, 31337, w).unwrap(), base);
        let mut variants: Vec<B256> = vec![
            sponsorship_hash(&op(), 1, w).unwrap(),
            sponsorship_hash(&op(), 31337, ValidityWindow { valid_until: 101, valid_after: 10 }).unwrap(),
            sponsorship_hash(&op(), 31337, ValidityWindow { valid_until: 100, valid_after: 11 }).unwrap(),
        ];
        let edits: Vec<fn(&mut UserOperation)> = vec![
            |o| o.sender = Address::with_last_byte(2),
            |o| o.nonce += U256::from(1),
            |o| o.call_data = Bytes::from(vec![1]),
            |o| o.call_gas_limit += 1,
            |o| o.verification_gas_limit += 1,
            |o| o.pre_verification_gas += U256::from(1),
            |o| o.max_fee_per_gas += 1,
            |o| o.max_priority_fee_per_gas += 1,
            |o| o.paymaster.as_mut().unwrap().paymaster = Address::with_last_byte(8),
            |o| o.paymaster.as_mut().unwrap().verification_gas_limit += 1,
            |o| o.paymaster.as_mut().unwrap().post_op_gas_limit += 1,
            |o| {
                o.factory = Some(crate::FactoryInit { factory: Address::with_last_byte(3), factory_data: Bytes::new() })
            },
        ];
        for edit in edits {
            let mut o = op();
            edit(&mut o);
            variants.push(sponsorship_hash(&o, 31337, w).unwrap());
        }
        for (i, v) in variants.iter().enumerate() {
            assert_ne!(*v, base, "variant {i} did not change the hash");
        }
    }

    #[test]
    fn stub_signature_has_low_s_and_a_valid_v() {
        let s = U256::from_be_slice(&STUB_SIGNATURE[32..64]);
        let half_n =
            U256::from_str_radix("7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0", 16).unwrap();
        assert!(s <= half_n);
        assert!(STUB_SIGNATURE[64] == 27 || STUB_SIGNATURE[64] == 28);
    }
}
