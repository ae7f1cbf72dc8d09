//! The MAv2 AccountFactory call that deploys a Semi-Modular Account (§12.3).

use alloy::primitives::{Address, B256, Bytes, U256, address, keccak256};
use alloy::sol_types::SolCall;

use super::abi::IAccountFactory::createSemiModularAccountCall;

/// MAv2 AccountFactory v2.0.0.
pub const MAV2_ACCOUNT_FACTORY: Address = address!("0x00000000000017c61b5bEe81050EC8eFc9c6fecd");

/// SemiModularAccountBytecode implementation behind MAv2 SMA proxies.
pub const MAV2_SMA_BYTECODE_IMPL: Address = address!("0x000000000000c5A9089039570Dd36455b5C07383");

/// A counterfactual Semi-Modular Account: `createSemiModularAccount(owner, salt)` on `factory`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SemiModularAccountInit {
    /// The factory.
    pub factory: Address,
    /// The owner (fallback signer).
    pub owner: Address,
    /// The user salt.
    pub salt: U256,
}

impl SemiModularAccountInit {
    /// On the MAv2 factory.
    pub const fn mav2(owner: Address, salt: U256) -> Self {
        Self { factory: MAV2_ACCOUNT_FACTORY, owner, salt }
    }

    /// `factoryData = createSemiModularAccount(owner, salt)` (68 bytes).
    pub fn factory_data(&self) -> Bytes {
        createSemiModularAccountCall { owner: self.owner, salt: self.salt }.abi_encode().into()
    }

    /// `initCode = factory ‖ factoryData` (88 bytes).
    pub fn init_code(&self) -> Bytes {
        [self.factory.as_slice(), self.factory_data().as_ref()].concat().into()
    }

    /// The CREATE2 salt the factory uses: `keccak256(owner ‖ uint256 salt ‖ uint32 0xffffffff)`.
    pub fn create2_salt(&self) -> B256 {
        let mut pre = Vec::with_capacity(56);
        pre.extend_from_slice(self.owner.as_slice());
        pre.extend_from_slice(&self.salt.to_be_bytes::<32>());
        pre.extend_from_slice(&u32::MAX.to_be_bytes());
        keccak256(pre)
    }

    /// `CREATE2(factory, create2_salt, proxyInitCodeHash)`. The proxy's creation code (Solady
    /// ERC-1967 proxy with the owner appended) is not part of this crate; the caller supplies its hash.
    pub fn address_with_init_code_hash(&self, proxy_init_code_hash: B256) -> Address {
        self.factory.create2(self.create2_salt(), proxy_init_code_hash)
    }
}
