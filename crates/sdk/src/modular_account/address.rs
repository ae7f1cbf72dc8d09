//! Counterfactual addresses of Semi-Modular Accounts, computed locally the way
//! `AccountFactory.createSemiModularAccount` deploys them. Keyward's factory deploys MAv2's ERC-1967
//! proxy with MAv2's CREATE2 inputs, so this is also MAv2's `getAddressSemiModular`; the computation
//! itself lives in `keyward_primitives::mav2::factory`.

use alloy::primitives::Address;
use keyward_primitives::mav2::factory::SemiModularAccountInit;
pub use keyward_primitives::mav2::factory::{ERC1967_IMPLEMENTATION_SLOT, proxy_init_code, proxy_runtime};

/// `CREATE2(factory, keccak256(owner ‖ salt ‖ 0xffffffff), keccak256(proxyInitCode(smaImpl, owner)))`:
/// where `createSemiModularAccount(owner, salt)` puts the account.
pub fn semi_modular_account_address(init: &SemiModularAccountInit, semi_modular_impl: Address) -> Address {
    init.address(semi_modular_impl)
}
