//! Counterfactual addresses of Keyward's Semi-Modular Accounts, computed locally the way
//! `AccountFactory.createSemiModularAccount` deploys them (contracts/src/account/AccountFactory.sol).

use alloy::primitives::{Address, B256, Bytes, b256, keccak256};
use keyward_primitives::mav2::factory::SemiModularAccountInit;

/// The ERC-1967 implementation slot.
pub const ERC1967_IMPLEMENTATION_SLOT: B256 =
    b256!("0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc");

/// Keyward's 58-byte proxy runtime: delegatecall to the implementation in the ERC-1967 slot,
/// bubble the result. The factory appends the immutable args (the SMA owner) after it.
pub fn proxy_runtime() -> Vec<u8> {
    let mut out = Vec::with_capacity(58);
    out.extend_from_slice(&[0x36, 0x5f, 0x5f, 0x37, 0x5f, 0x5f, 0x36, 0x5f, 0x7f]);
    out.extend_from_slice(ERC1967_IMPLEMENTATION_SLOT.as_slice());
    out.extend_from_slice(&[
        0x54, 0x5a, 0xf4, 0x3d, 0x5f, 0x5f, 0x3e, 0x60, 0x36, 0x57, 0x3d, 0x5f, 0xfd, 0x5b, 0x3d, 0x5f, 0xf3,
    ]);
    out
}

/// The factory's proxy creation code: `sstore(slot, implementation)`, then return
/// `runtime ‖ args` (64-byte prefix).
pub fn proxy_init_code(implementation: Address, args: &[u8]) -> Bytes {
    let runtime = proxy_runtime();
    let runtime_len = runtime.len() + args.len();
    let mut out = Vec::with_capacity(64 + runtime_len);
    out.push(0x73);
    out.extend_from_slice(implementation.as_slice());
    out.push(0x7f);
    out.extend_from_slice(ERC1967_IMPLEMENTATION_SLOT.as_slice());
    out.extend_from_slice(&[0x55, 0x60]);
    // The factory writes the length as uint8; an SMA's runtime is 78 bytes.
    out.push(runtime_len as u8);
    out.extend_from_slice(&[0x80, 0x60, 0x40, 0x5f, 0x39, 0x5f, 0xf3]);
    out.extend_from_slice(&runtime);
    out.extend_from_slice(args);
    out.into()
}

/// `CREATE2(factory, keccak256(owner ‖ salt ‖ 0xffffffff), keccak256(proxyInitCode(smaImpl, owner)))`:
/// where `createSemiModularAccount(owner, salt)` puts the account.
pub fn semi_modular_account_address(init: &SemiModularAccountInit, semi_modular_impl: Address) -> Address {
    let code_hash = keccak256(proxy_init_code(semi_modular_impl, init.owner.as_slice()));
    init.address_with_init_code_hash(code_hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_layout_lengths() {
        assert_eq!(proxy_runtime().len(), 58);
        let code = proxy_init_code(Address::repeat_byte(0x11), &[0x22; 20]);
        assert_eq!(code.len(), 64 + 58 + 20);
        assert_eq!(code[56], 78, "runtime length byte after PUSH1");
        assert_eq!(&code[1..21], Address::repeat_byte(0x11).as_slice());
    }
}
