//! `shared/vectors/mav2-nonce.json` (account-kit `buildFullNonceKey`, permissionless `encodeNonce`):
//! MAv2 nonce keys and full nonces match byte for byte, and decode back.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

mod mav2_common;

use alloy::primitives::{U256, aliases::U192};
use keyward_primitives::mav2::{NonceKey, ValidationLocator};
use mav2_common::*;

#[test]
fn nonce_keys_match_account_kit() {
    let cases = cases("mav2-nonce.json", 20);
    let mut checked = 0;
    for case in &cases {
        let name = s(case, "name");
        let (i, e) = (&case["input"], &case["expected"]);
        let key = NonceKey::regular(
            dec_u256(i, "nonceKey"),
            dec_u32(i, "entityId"),
            boolean(i, "isGlobalValidation"),
            boolean(i, "isDeferredAction"),
        )
        .unwrap_or_else(|err| panic!("{name}: {err}"));
        let seq = dec_u64(i, "sequence");

        let full_key = key.full_key();
        assert_eq!(U256::from(full_key), dec_u256(e, "fullNonceKey"), "{name}: fullNonceKey");
        assert_eq!(
            hex(&U256::from(full_key).to_be_bytes::<32>()[8..]),
            s(e, "fullNonceKeyHex"),
            "{name}: fullNonceKeyHex"
        );
        assert_eq!(key.nonce(0), dec_u256(e, "nonceSeq0"), "{name}: nonceSeq0");
        assert_eq!(hex(&key.nonce(0).to_be_bytes::<32>()), s(e, "nonceSeq0Hex"), "{name}: nonceSeq0Hex");
        assert_eq!(key.nonce(seq), dec_u256(e, "nonce"), "{name}: nonce");
        assert_eq!(hex(&key.nonce(seq).to_be_bytes::<32>()), s(e, "nonceHex"), "{name}: nonceHex");
        if e.get("accountGetNonceKey").is_some() {
            assert_eq!(U256::from(full_key), dec_u256(e, "accountGetNonceKey"), "{name}: accountGetNonceKey");
        }

        // Round trip.
        let (back, back_seq) = NonceKey::from_nonce(key.nonce(seq)).unwrap();
        assert_eq!((back, back_seq), (key, seq), "{name}: decode");
        assert_eq!(NonceKey::from_full_key(full_key).unwrap(), key, "{name}: decode key");
        checked += 1;
    }
    assert_eq!(checked, 20);
}

#[test]
fn spec_worked_example_nonces() {
    // account-formats.md §4 and §14.2.
    let owner = NonceKey::owner();
    assert_eq!(owner.nonce(0), U256::from(1u128 << 64));
    let first = NonceKey::regular(U256::ZERO, 7, false, true).unwrap();
    assert_eq!(first.full_key(), U192::from(0x702u64));
    let later = first.with_deferred_action(false);
    assert_eq!(later.nonce(1), U256::from_str_radix("7000000000000000001", 16).unwrap());
    let parallel = NonceKey::regular(U256::from(5), 7, false, false).unwrap();
    assert_eq!(parallel.full_key(), U192::from(0x50000000700u64));
    let root = NonceKey::regular(U256::ZERO, 1, true, true).unwrap();
    assert_eq!(root.nonce(0), U256::from_str_radix("1030000000000000000", 16).unwrap());
}

#[test]
fn parallel_key_range_and_direct_call() {
    let max = (U256::from(1) << 152) - U256::from(1);
    assert!(NonceKey::regular(max, 1, false, false).is_ok());
    assert!(NonceKey::regular(max + U256::from(1), 1, false, false).is_err());
    let caller = alloy::primitives::address!("0x1111111111111111111111111111111111111111");
    let direct = NonceKey::direct_call(U256::from(0xabcdef), caller, true).unwrap();
    let full = U256::from(direct.full_key());
    assert_eq!(hex(&full.to_be_bytes::<32>()[8..]), "0xabcdef111111111111111111111111111111111111111105");
    assert_eq!(NonceKey::from_full_key(direct.full_key()).unwrap(), direct);
    assert!(NonceKey::direct_call(U256::from(1u64 << 24), caller, false).is_err());
    assert_eq!(direct.locator, ValidationLocator::direct_call(caller, true));
    // Undefined option bits are rejected.
    assert!(NonceKey::from_full_key(U192::from(0x0108u64)).is_err());
}
