//! `shared/vectors/mav2-account-address.json` (account-kit `createModularAccountV2`): factory,
//! factoryData and initCode of a counterfactual Semi-Modular Account match byte for byte, and the
//! account address computed from (factory, implementation, owner, salt) alone equals account-kit's,
//! default and custom factories alike (the proxy Keyward's factory deploys is MAv2's).

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

mod mav2_common;

use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use keyward_primitives::mav2::factory::{
    ERC1967_IMPLEMENTATION_SLOT, MAV2_ACCOUNT_FACTORY, MAV2_SMA_BYTECODE_IMPL, PROXY_RUNTIME_LEN,
    SemiModularAccountInit, account_salt, modular_account_address, proxy_init_code, proxy_runtime,
};
use mav2_common::*;

#[test]
fn factory_data_and_init_code_match_account_kit() {
    let cases = cases("mav2-account-address.json", 12);
    let mut checked = 0;
    for case in &cases {
        let name = s(case, "name");
        let (i, e) = (&case["input"], &case["expected"]);
        let key: PrivateKeySigner = s(i, "ownerPrivateKey").parse().unwrap();
        assert_eq!(key.address(), addr(i, "owner"), "{name}: owner");
        let init = SemiModularAccountInit {
            factory: addr(i, "factoryAddress"),
            owner: addr(i, "owner"),
            salt: dec_u256(i, "salt"),
        };
        if !name.contains("custom") {
            assert_eq!(init.factory, MAV2_ACCOUNT_FACTORY, "{name}: default factory");
            assert_eq!(addr(i, "implementationAddress"), MAV2_SMA_BYTECODE_IMPL, "{name}: default implementation");
            assert_eq!(init, SemiModularAccountInit::mav2(init.owner, init.salt));
        }
        assert_eq!(init.factory, addr(e, "factory"), "{name}: factory");
        assert_eq!(init.factory_data(), bytes(e, "factoryData"), "{name}: factoryData");
        assert_eq!(init.factory_data().len(), 68);
        assert_eq!(init.init_code(), bytes(e, "initCode"), "{name}: initCode");
        assert_eq!(init.init_code().len(), 88);
        checked += 1;
    }
    assert_eq!(checked, 12);
}

#[test]
fn account_address_from_factory_and_implementation_alone() {
    let cases = cases("mav2-account-address.json", 12);
    let mut custom = 0;
    for case in &cases {
        let name = s(case, "name");
        let (i, e) = (&case["input"], &case["expected"]);
        let init = SemiModularAccountInit {
            factory: addr(i, "factoryAddress"),
            owner: addr(i, "owner"),
            salt: dec_u256(i, "salt"),
        };
        let implementation = addr(i, "implementationAddress");
        assert_eq!(init.address(implementation), addr(e, "accountAddress"), "{name}: accountAddress");
        if init.factory != MAV2_ACCOUNT_FACTORY || implementation != MAV2_SMA_BYTECODE_IMPL {
            custom += 1;
        }
    }
    assert!(custom > 0, "the vectors have custom factory/implementation cases");
}

#[test]
fn proxy_init_code_layout() {
    let implementation = Address::repeat_byte(0x11);
    let owner = Address::repeat_byte(0x22);
    let runtime = proxy_runtime();
    assert_eq!(runtime.len(), PROXY_RUNTIME_LEN);
    assert_eq!(&runtime[9..41], ERC1967_IMPLEMENTATION_SLOT.as_slice());
    assert_eq!(runtime[0x38], 0x5b, "the success jump lands on a JUMPDEST");

    let sma = SemiModularAccountInit { factory: MAV2_ACCOUNT_FACTORY, owner, salt: U256::ZERO };
    let code = sma.proxy_init_code(implementation);
    assert_eq!(code.len(), 35 + 61 + 20);
    assert_eq!(&code[..3], &[0x61, 0x00, 0x51], "PUSH2 runtime length 61 + 20");
    assert_eq!(code[6], 0x23, "the runtime starts after the 35-byte creation code");
    assert_eq!(&code[10..30], implementation.as_slice());
    assert_eq!(&code[35..96], runtime.as_slice());
    assert_eq!(&code[96..], owner.as_slice(), "the owner is the last 20 bytes of the runtime code");

    let plain = proxy_init_code(implementation, &[]).unwrap();
    assert_eq!(plain.len(), 34 + 61);
    assert_eq!(&plain[..2], &[0x60, 0x3d]);
    assert_eq!(plain[5], 0x22);
    assert_eq!(&plain[9..29], implementation.as_slice());
    assert_eq!(&plain[34..], runtime.as_slice());
    assert!(proxy_init_code(implementation, &vec![0; 0xffff]).is_none());
    assert_eq!(
        modular_account_address(MAV2_ACCOUNT_FACTORY, implementation, owner, U256::from(7), 3),
        MAV2_ACCOUNT_FACTORY.create2(account_salt(owner, U256::from(7), 3), alloy::primitives::keccak256(&plain))
    );
}

#[test]
fn spec_worked_example_salt_and_factory_data() {
    // account-formats.md §14 (owner = anvil key #0, salt 0).
    let owner: Address = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266".parse().unwrap();
    let init = SemiModularAccountInit::mav2(owner, U256::ZERO);
    assert_eq!(
        init.create2_salt(),
        "0xa639c46210efd596d527f1208bd911f682f2dacb2a46d1cf81b0e63870dbced1".parse::<B256>().unwrap()
    );
    assert_eq!(
        hex(&init.factory_data()),
        "0x8b4e464e000000000000000000000000f39fd6e51aad88f6f4ce6ab8827279cfffb922660000000000000000000000000000000000000000000000000000000000000000"
    );
}
