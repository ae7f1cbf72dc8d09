//! `shared/vectors/mav2-account-address.json` (account-kit `createModularAccountV2`): factory,
//! factoryData and initCode of a counterfactual Semi-Modular Account match byte for byte.
//!
//! Not checked: `accountAddress`. It is `CREATE2(factory, salt, keccak256(proxyInitCode))` where
//! `proxyInitCode` is the MAv2 factory's ERC-1967 proxy creation code (Solady LibClone, with the
//! implementation and the owner embedded). That bytecode is not part of the specs or vectors and
//! primitives does not carry third-party bytecode; `SemiModularAccountInit::address_with_init_code_hash`
//! takes its hash from the caller. The salt half of the derivation is checked below.

mod mav2_common;

use alloy::primitives::{Address, B256, U256};
use alloy::signers::local::PrivateKeySigner;
use keyward_primitives::mav2::factory::{MAV2_ACCOUNT_FACTORY, MAV2_SMA_BYTECODE_IMPL, SemiModularAccountInit};
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
        // accountAddress: not computable here (see the module doc); make sure it is present.
        assert_ne!(addr(e, "accountAddress"), Address::ZERO, "{name}: accountAddress present");
        checked += 1;
    }
    assert_eq!(checked, 12);
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
