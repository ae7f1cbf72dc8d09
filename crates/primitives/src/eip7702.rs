//! EIP-7702: the delegation designator an EOA's code becomes (`0xef0100 ‖ delegate`) and the
//! recovery of an authorization's signer.

use alloy::eips::eip7702::SignedAuthorization;
use alloy::eips::eip7702::constants::{EIP7702_DELEGATION_DESIGNATOR, SECP256K1N_HALF};
use alloy::primitives::{Address, Bytes};

/// The designator prefix `0xef0100`.
pub const DELEGATION_PREFIX: [u8; 3] = EIP7702_DELEGATION_DESIGNATOR;

/// Length of a designator: the prefix and a 20-byte address.
pub const DESIGNATOR_LEN: usize = 23;

/// The code of an EOA delegated to `delegate`: `0xef0100 ‖ delegate`.
pub fn designator(delegate: Address) -> Bytes {
    let mut code = Vec::with_capacity(DESIGNATOR_LEN);
    code.extend_from_slice(&DELEGATION_PREFIX);
    code.extend_from_slice(delegate.as_slice());
    code.into()
}

/// Whether `code` starts with the designator prefix (no deployed contract can: EIP-3541).
pub fn is_designator(code: &[u8]) -> bool {
    code.starts_with(&DELEGATION_PREFIX)
}

/// The delegate of a delegated EOA's code; `None` for empty code, a contract, or a malformed designator.
pub fn delegate_of(code: &[u8]) -> Option<Address> {
    (code.len() == DESIGNATOR_LEN && is_designator(code)).then(|| Address::from_slice(&code[DELEGATION_PREFIX.len()..]))
}

/// Why an authorization's signer is not the expected EOA.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthorityError {
    /// The signature is malformed, has a high `s`, or recovers to no address.
    #[error("authorization signature does not recover: {0}")]
    Recover(String),
    /// The signature recovers to another address.
    #[error("authorization signed by {authority}, not by {expected}")]
    WrongSigner {
        /// Who signed.
        authority: Address,
        /// Who had to sign.
        expected: Address,
    },
}

/// The EOA that signed `auth` (EIP-7702 rules: `y_parity` 0/1, low `s`).
pub fn recover_authority(auth: &SignedAuthorization) -> Result<Address, AuthorityError> {
    let signature = auth.signature().map_err(|e| AuthorityError::Recover(e.to_string()))?;
    if signature.s() > SECP256K1N_HALF {
        return Err(AuthorityError::Recover(format!("invalid signature `s` value: {}", signature.s())));
    }
    signature
        .recover_address_from_prehash(&auth.inner().signature_hash())
        .map_err(|e| AuthorityError::Recover(e.to_string()))
}

/// Checks that `auth` is signed by `expected`; returns the authority.
pub fn check_authority(auth: &SignedAuthorization, expected: Address) -> Result<Address, AuthorityError> {
    let authority = recover_authority(auth)?;
    if authority != expected {
        return Err(AuthorityError::WrongSigner { authority, expected });
    }
    Ok(authority)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::eips::eip7702::Authorization;
    use alloy::primitives::{U256, address};
    use alloy::signers::SignerSync;
    use alloy::signers::local::PrivateKeySigner;

    #[test]
    fn designator_round_trips() {
        let delegate = address!("0x69007702764179f14F51cdce752f4f775d74E139");
        let code = designator(delegate);
        assert_eq!(code.len(), DESIGNATOR_LEN);
        assert_eq!(&code[..3], &[0xef, 0x01, 0x00]);
        assert!(is_designator(&code));
        assert_eq!(delegate_of(&code), Some(delegate));
        assert_eq!(delegate_of(&designator(Address::ZERO)), Some(Address::ZERO));
    }

    #[test]
    fn other_code_has_no_delegate() {
        assert_eq!(delegate_of(&[]), None);
        assert!(!is_designator(&[]));
        assert_eq!(delegate_of(&[0x60, 0x80, 0x60, 0x40]), None);
        let mut long = designator(Address::with_last_byte(1)).to_vec();
        long.push(0);
        assert!(is_designator(&long));
        assert_eq!(delegate_of(&long), None, "wrong length");
        assert_eq!(delegate_of(&long[..22]), None, "truncated");
    }

    #[test]
    fn authority_is_recovered_and_checked() {
        let key = PrivateKeySigner::random();
        let auth = Authorization { chain_id: U256::from(31337), address: Address::with_last_byte(7), nonce: 3 };
        let sig = key.sign_hash_sync(&auth.signature_hash()).unwrap();
        let signed = auth.into_signed(sig);
        assert_eq!(recover_authority(&signed), Ok(key.address()));
        assert_eq!(check_authority(&signed, key.address()), Ok(key.address()));
        let other = Address::with_last_byte(9);
        assert_eq!(
            check_authority(&signed, other),
            Err(AuthorityError::WrongSigner { authority: key.address(), expected: other })
        );
        // The same signature with s mirrored to the high half recovers too, but EIP-7702 refuses it.
        let n = U256::from_str_radix("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", 16).unwrap();
        let (y, r, s) = (signed.y_parity(), signed.r(), signed.s());
        let high = SignedAuthorization::new_unchecked(signed.inner().clone(), 1 - y, r, n - s);
        assert!(matches!(recover_authority(&high), Err(AuthorityError::Recover(m)) if m.contains("`s`")));
        let bad = SignedAuthorization::new_unchecked(signed.strip_signature(), 0, U256::ZERO, U256::ZERO);
        assert!(matches!(recover_authority(&bad), Err(AuthorityError::Recover(_))));
    }
}
