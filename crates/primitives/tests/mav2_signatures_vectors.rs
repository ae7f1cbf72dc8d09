//! `shared/vectors/mav2-signatures.json` (account-kit MAv2 client): user-op signatures, the dummy
//! signature, and ERC-1271 ReplaySafeHash digests and signatures match byte for byte.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

mod mav2_common;

use alloy::primitives::{
    Address, B256, Signature,
    aliases::{U48, U160},
    eip191_hash_message,
};
use alloy::signers::{SignerSync, local::PrivateKeySigner};
use alloy::sol_types::{Eip712Domain, SolStruct};
use keyward_primitives::mav2::{
    ModuleAddresses, ReplaySafeDomain, SignerType, ValidationLocator,
    signature::{
        DUMMY_USER_OP_SIGNATURE, HookSegment, REPLAY_SAFE_HASH_TYPEHASH, ReplaySafeHash, decode_locator_prefixed,
        decode_segmented, decode_validation_data, eoa_user_op_signature, erc1271_eoa_signature,
        locator_prefixed_signature, user_op_signature, user_op_signing_hash,
    },
};
use mav2_common::*;
use serde_json::Value;

alloy::sol! {
    struct Person { string name; address wallet; }
    struct Mail { Person from; Person to; string contents; }
    struct PermitDetails { address token; uint160 amount; uint48 expiration; uint48 nonce; }
    struct PermitSingle { PermitDetails details; address spender; uint256 sigDeadline; }
}

fn signer(input: &Value) -> PrivateKeySigner {
    s(input, "privateKey").parse().unwrap()
}

fn domain_of(d: &Value) -> Eip712Domain {
    Eip712Domain {
        name: d.get("name").and_then(Value::as_str).map(|n| n.to_string().into()),
        version: d.get("version").and_then(Value::as_str).map(|n| n.to_string().into()),
        chain_id: d.get("chainId").map(|_| dec_u256(d, "chainId")),
        verifying_contract: d.get("verifyingContract").map(|_| addr(d, "verifyingContract")),
        salt: d.get("salt").map(|_| b256(d, "salt")),
    }
}

fn person(v: &Value) -> Person {
    Person { name: s(v, "name").into(), wallet: addr(v, "wallet") }
}

/// The test-side EIP-712 hash of the two application typed-data shapes the vectors use (input to
/// the ReplaySafeHash wrapping; not a Keyward encoder).
fn typed_data_hash(td: &Value) -> B256 {
    let domain = domain_of(&td["domain"]);
    let m = &td["message"];
    match s(td, "primaryType") {
        "Mail" => Mail { from: person(&m["from"]), to: person(&m["to"]), contents: s(m, "contents").into() }
            .eip712_signing_hash(&domain),
        "PermitSingle" => {
            let d = &m["details"];
            PermitSingle {
                details: PermitDetails {
                    token: addr(d, "token"),
                    amount: U160::from(dec_u256(d, "amount")),
                    expiration: U48::from(dec_u64(d, "expiration")),
                    nonce: U48::from(dec_u64(d, "nonce")),
                },
                spender: addr(m, "spender"),
                sigDeadline: dec_u256(m, "sigDeadline"),
            }
            .eip712_signing_hash(&domain)
        }
        other => panic!("unexpected primaryType {other}"),
    }
}

fn check_sig_parts(name: &str, sig: &Signature, e: &Value) {
    assert_eq!(hex(&sig.as_bytes()), s(e, "rawSignature"), "{name}: rawSignature");
    if e.get("r").is_some() {
        assert_eq!(hex(&sig.r().to_be_bytes::<32>()), s(e, "r"), "{name}: r");
        assert_eq!(hex(&sig.s().to_be_bytes::<32>()), s(e, "s"), "{name}: s");
        assert_eq!((27 + sig.v() as u8).to_string(), s(e, "v"), "{name}: v");
        assert_eq!((sig.v() as u8).to_string(), s(e, "yParity"), "{name}: yParity");
    }
}

#[test]
fn signatures_match_account_kit() {
    let cases = cases("mav2-signatures.json", 22);
    let modules = ModuleAddresses::mav2();
    let (mut userops, mut erc1271) = (0, 0);
    for case in &cases {
        let name = s(case, "name");
        let (i, e) = (&case["input"], &case["expected"]);
        let key = signer(i);
        assert_eq!(key.address(), addr(e, "signerAddress"), "{name}: signerAddress");
        let chain_id = dec_u64(i, "chainId");
        let account = addr(i, "account");
        let entity_id = dec_u32(i, "entityId");
        match s(i, "kind") {
            "userOpSignature" => {
                let digest = user_op_signing_hash(b256(i, "userOpHash"));
                assert_eq!(digest, b256(e, "eip191Hash"), "{name}: eip191Hash");
                let sig = key.sign_hash_sync(&digest).unwrap();
                check_sig_parts(name, &sig, e);
                let full = eoa_user_op_signature(&sig);
                assert_eq!(full, bytes(e, "userOpSignature"), "{name}: userOpSignature");
                assert_eq!(user_op_signature(&[], &full[1..]).unwrap(), full, "{name}: generic layout");
                assert_eq!(DUMMY_USER_OP_SIGNATURE, bytes(e, "dummySignature"), "{name}: dummySignature");
                // Decoding gives back the validation data.
                let (segs, data) = decode_segmented(&full).unwrap();
                assert!(segs.is_empty());
                assert_eq!(decode_validation_data(data).unwrap(), (SignerType::Eoa, &sig.as_bytes()[..]));
                userops += 1;
            }
            kind @ ("erc1271Message" | "erc1271TypedData") => {
                let original = if kind == "erc1271TypedData" {
                    typed_data_hash(&i["typedData"])
                } else if let Some(m) = i["message"].as_str() {
                    eip191_hash_message(m.as_bytes())
                } else {
                    eip191_hash_message(bytes(&i["message"], "raw"))
                };
                assert_eq!(original, b256(e, "originalHash"), "{name}: originalHash");

                let domain = if entity_id == 0 {
                    ReplaySafeDomain::Account { chain_id, account }
                } else {
                    ReplaySafeDomain::Module { chain_id, module: modules.single_signer_validation, account }
                };
                // The typed data account-kit asks the signer to sign.
                let td = &e["replaySafeTypedData"];
                assert_eq!(domain.domain(), domain_of(&td["domain"]), "{name}: replaySafe domain");
                assert_eq!(td["domain"].as_object().unwrap().len(), if entity_id == 0 { 2 } else { 3 });
                assert_eq!(s(td, "primaryType"), "ReplaySafeHash");
                assert_eq!(
                    td["types"]["ReplaySafeHash"],
                    serde_json::json!([{"name": "hash", "type": "bytes32"}]),
                    "{name}: types"
                );
                assert_eq!(b256(&td["message"], "hash"), original, "{name}: message.hash");
                assert_eq!(ReplaySafeHash { hash: original }.eip712_type_hash(), REPLAY_SAFE_HASH_TYPEHASH);

                let digest = domain.replay_safe_hash(original);
                assert_eq!(digest, b256(e, "replaySafeHash"), "{name}: replaySafeHash");
                let sig = key.sign_hash_sync(&digest).unwrap();
                check_sig_parts(name, &sig, e);
                let full = erc1271_eoa_signature(entity_id, &sig);
                assert_eq!(full, bytes(e, "signature"), "{name}: signature");
                // Same bytes through the generic layout, and decodable.
                let loc = ValidationLocator::regular(entity_id, false, false);
                let mut vd = vec![0u8];
                vd.extend_from_slice(&sig.as_bytes());
                assert_eq!(locator_prefixed_signature(&loc, &[], &vd).unwrap(), full);
                let (l, segs, data) = decode_locator_prefixed(&full).unwrap();
                assert_eq!((l, segs.len(), data), (loc, 0, &vd[..]));
                erc1271 += 1;
            }
            other => panic!("{name}: unknown kind {other}"),
        }
    }
    assert_eq!((userops, erc1271), (10, 12));
}

#[test]
fn spec_worked_example_erc1271() {
    // account-formats.md §14.5.
    let account: Address = "0x65b5DE0251f553B2208762a4724303E750294D96".parse().unwrap();
    let hash = eip191_hash_message(b"hello");
    assert_eq!(hash, "0x50b2c43fd39106bafbba0da34fc430e1f91e3c96ea2acee2bc34119f92b37750".parse::<B256>().unwrap());
    let owner = ReplaySafeDomain::Account { chain_id: 31337, account };
    assert_eq!(
        owner.replay_safe_hash(hash),
        "0x5fff9e93869b1817c3fe231a804934c5befa1d242a42dfcf0e4a7a90438c20f9".parse::<B256>().unwrap()
    );
    let module =
        ReplaySafeDomain::Module { chain_id: 31337, module: ModuleAddresses::mav2().single_signer_validation, account };
    assert_eq!(
        module.replay_safe_hash(hash),
        "0xdd680b2f72dd3be74131654f8796cd0576926511cf740ba0cfc7800957a425bf".parse::<B256>().unwrap()
    );
    let key: PrivateKeySigner = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80".parse().unwrap();
    let sig = key.sign_hash_sync(&owner.replay_safe_hash(hash)).unwrap();
    assert_eq!(
        hex(&erc1271_eoa_signature(0, &sig)),
        "0x0000000000ff00a8f7e5061247f6da9c2750cb81d61e49968381c4274b1b82bb93632d0dd346615a086eb6c4dbf41df7fb1115c6e0bcdee68459fc112c2f4191b0ebbe612542fb1c"
    );
}

#[test]
fn segment_rules() {
    use keyward_primitives::mav2::signature::SignatureError;
    let seg = |index: u8, d: &[u8]| HookSegment { index, data: d.to_vec().into() };
    let sig = user_op_signature(&[seg(0, &[0xaa]), seg(2, &[0xbb, 0xcc])], &[0x00, 0x01]).unwrap();
    assert_eq!(hex(&sig), "0x0000000001aa0200000002bbccff0001");
    let (segs, data) = decode_segmented(&sig).unwrap();
    assert_eq!(segs, vec![seg(0, &[0xaa]), seg(2, &[0xbb, 0xcc])]);
    assert_eq!(data, &[0x00, 0x01]);
    assert_eq!(
        user_op_signature(&[seg(1, &[1]), seg(1, &[2])], &[]),
        Err(SignatureError::SegmentOutOfOrder { previous: 1, index: 1 })
    );
    assert_eq!(user_op_signature(&[seg(0, &[])], &[]), Err(SignatureError::EmptySegment(0)));
    assert_eq!(user_op_signature(&[seg(0xff, &[1])], &[]), Err(SignatureError::SegmentIndexReserved));
    assert_eq!(decode_segmented(&[]), Err(SignatureError::MissingValidationData));
    assert_eq!(decode_segmented(&[0x00, 0, 0, 0, 0, 0xff]), Err(SignatureError::EmptySegment(0)));
    assert_eq!(
        decode_segmented(&[0x01, 0, 0, 0, 1, 0xaa, 0x00, 0, 0, 0, 1, 0xbb, 0xff]),
        Err(SignatureError::SegmentOutOfOrder { previous: 1, index: 0 })
    );
    assert_eq!(decode_validation_data(&[]), Err(SignatureError::InvalidSignatureType));
    assert_eq!(decode_validation_data(&[0x03]), Err(SignatureError::InvalidSignatureType));
    // 0x02 (Keyward's EIP-191 EOA form) carries a 65-byte signature like 0x00.
    assert_eq!(decode_validation_data(&[0x02]), Err(SignatureError::BadEcdsaLength(0)));
    assert_eq!(decode_validation_data(&[0x02; 66]).map(|(t, p)| (t, p.len())), Ok((SignerType::EoaPersonalSign, 65)));
    assert_eq!(decode_validation_data(&[0x00; 10]), Err(SignatureError::BadEcdsaLength(9)));
    // Runtime authorization of the SMA owner: 0x01 00000000 FF.
    assert_eq!(hex(&locator_prefixed_signature(&ValidationLocator::owner(), &[], &[]).unwrap()), "0x0100000000ff");
}
