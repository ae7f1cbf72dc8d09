//! Where the account contracts live: configuration, never hard-coded in the client.

use alloy::primitives::Address;
use keyward_primitives::mav2::ModuleAddresses;

/// The addresses a [`super::ModularAccount`] needs: the EntryPoint, the factory and the SMA
/// implementation behind its proxies (address prediction), and the modules (session installs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AccountContracts {
    /// EntryPoint v0.7.
    pub entry_point: Address,
    /// Keyward's `AccountFactory`.
    pub factory: Address,
    /// `SemiModularAccountBytecode` implementation (what the factory's proxies point to).
    pub semi_modular_account_impl: Address,
    /// Validation and hook modules.
    pub modules: ModuleAddresses,
}
