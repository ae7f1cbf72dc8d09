//! The MAv2 AccountFactory call that deploys a Semi-Modular Account (§12.3), and where the factory
//! puts accounts: `CREATE2(factory, salt, keccak256(proxyInitCode))` with the minimal ERC-1967 proxy
//! MAv2's factory deploys (the layout of Solady LibClone's ERC-1967 proxy). Keyward's factory deploys
//! the same proxy with the same inputs, so one computation serves both.

use alloy::primitives::{Address, B256, Bytes, U256, address, b256, keccak256};
use alloy::sol_types::SolCall;

use super::abi::IAccountFactory::createSemiModularAccountCall;

/// MAv2 AccountFactory v2.0.0.
pub const MAV2_ACCOUNT_FACTORY: Address = address!("0x00000000000017c61b5bEe81050EC8eFc9c6fecd");

/// SemiModularAccountBytecode implementation behind MAv2 SMA proxies.
pub const MAV2_SMA_BYTECODE_IMPL: Address = address!("0x000000000000c5A9089039570Dd36455b5C07383");

/// The ERC-1967 implementation slot.
pub const ERC1967_IMPLEMENTATION_SLOT: B256 =
    b256!("0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc");

/// Length of the proxy's runtime code before its immutable args.
pub const PROXY_RUNTIME_LEN: usize = 61;

/// The proxy's runtime code (61 bytes): delegatecall everything to the implementation in the
/// ERC-1967 slot and bubble the result (`JUMPDEST` of the success path at `0x38`).
pub fn proxy_runtime() -> [u8; PROXY_RUNTIME_LEN] {
    let mut out = [0u8; PROXY_RUNTIME_LEN];
    // calldatacopy(0, 0, cds); push 0 0 cds 0; PUSH32 slot
    out[..9].copy_from_slice(&[0x36, 0x3d, 0x3d, 0x37, 0x3d, 0x3d, 0x36, 0x3d, 0x7f]);
    out[9..41].copy_from_slice(ERC1967_IMPLEMENTATION_SLOT.as_slice());
    // sload gas delegatecall; returndatacopy(0, 0, rds); jumpi(0x38); revert(0, rds); jumpdest return(0, rds)
    out[41..].copy_from_slice(&[
        0x54, 0x5a, 0xf4, 0x3d, 0x60, 0x00, 0x80, 0x3e, 0x60, 0x38, 0x57, 0x3d, 0x60, 0x00, 0xfd, 0x5b, 0x3d, 0x60,
        0x00, 0xf3,
    ]);
    out
}

/// Creation code of the proxy to `implementation` with `args` appended to its runtime code.
///
/// - No args (MAv2 `createAccount`): `PUSH1 0x3d RETURNDATASIZE DUP2 PUSH1 0x22 RETURNDATASIZE CODECOPY`
///   (34-byte creation prefix);
/// - with args (MAv2 `createSemiModularAccount`, the owner): `PUSH2 (0x3d + len) … PUSH1 0x23 …`
///   (35-byte prefix);
///
/// then `PUSH20 implementation; mload(9)` (the slot, from the copied runtime) `SSTORE RETURN`.
/// Returns `None` when `args` do not fit the PUSH2 length (more than `0xffff - 0x3d` bytes).
pub fn proxy_init_code(implementation: Address, args: &[u8]) -> Option<Bytes> {
    let run_len = PROXY_RUNTIME_LEN + args.len();
    let mut out = Vec::with_capacity(35 + run_len);
    if args.is_empty() {
        out.extend_from_slice(&[0x60, PROXY_RUNTIME_LEN as u8, 0x3d, 0x81, 0x60, 0x22, 0x3d, 0x39, 0x73]);
    } else {
        let len = u16::try_from(run_len).ok()?;
        out.push(0x61);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&[0x3d, 0x81, 0x60, 0x23, 0x3d, 0x39, 0x73]);
    }
    out.extend_from_slice(implementation.as_slice());
    out.extend_from_slice(&[0x60, 0x09, 0x51, 0x55, 0xf3]);
    out.extend_from_slice(&proxy_runtime());
    out.extend_from_slice(args);
    Some(out.into())
}

/// `keccak256(owner ‖ uint256 salt ‖ uint32 entityId)` (56-byte packed preimage): the factory's
/// `getSalt`. Semi-Modular Accounts use entity `0xffffffff`.
pub fn account_salt(owner: Address, salt: U256, entity_id: u32) -> B256 {
    let mut pre = Vec::with_capacity(56);
    pre.extend_from_slice(owner.as_slice());
    pre.extend_from_slice(&salt.to_be_bytes::<32>());
    pre.extend_from_slice(&entity_id.to_be_bytes());
    keccak256(pre)
}

/// Where `createAccount(owner, salt, entityId)` on `factory` puts the ModularAccount proxy to
/// `implementation` (no immutable args): the factory's `getAddress`.
pub fn modular_account_address(
    factory: Address,
    implementation: Address,
    owner: Address,
    salt: U256,
    entity_id: u32,
) -> Address {
    // Infallible: no args always fit.
    let code = proxy_init_code(implementation, &[]).unwrap_or_default();
    factory.create2(account_salt(owner, salt, entity_id), keccak256(code))
}

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
        account_salt(self.owner, self.salt, u32::MAX)
    }

    /// The proxy's creation code: the ERC-1967 proxy to `implementation` with the owner as its
    /// 20-byte immutable arg (35 + 61 + 20 bytes).
    pub fn proxy_init_code(&self, implementation: Address) -> Bytes {
        // Infallible: 20 bytes of args always fit.
        proxy_init_code(implementation, self.owner.as_slice()).unwrap_or_default()
    }

    /// Where `createSemiModularAccount(owner, salt)` puts the account when the factory's SMA
    /// implementation is `implementation`: `CREATE2(factory, create2_salt, keccak256(proxyInitCode))`,
    /// the factory's `getAddressSemiModular`.
    pub fn address(&self, implementation: Address) -> Address {
        self.factory.create2(self.create2_salt(), keccak256(self.proxy_init_code(implementation)))
    }
}
