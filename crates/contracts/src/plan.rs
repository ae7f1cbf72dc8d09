//! Where Keyward's contracts live on a development chain, and the code placed there.

use alloy::primitives::{Address, Bytes};
use keyward_primitives::{ENTRY_POINT_V07, SENDER_CREATOR_V07};

use crate::artifacts;

/// One account written into a dev chain's state: code and nonce at a fixed address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// Human name, printed by `keyward dev`.
    pub name: &'static str,
    /// Where the code goes.
    pub address: Address,
    /// Runtime code.
    pub code: Bytes,
    /// Account nonce (contracts start at 1; the EntryPoint has created its SenderCreator, so 2).
    pub nonce: u64,
}

/// The contracts every dev chain starts with: the EntryPoint at its canonical v0.7 address and its
/// SenderCreator at `CREATE(EntryPoint, 1)`, whose address the EntryPoint has as a constant, and the
/// deterministic deployer through which the account stack is created (`deployment`).
pub fn dev_placements() -> Vec<Placement> {
    vec![
        Placement {
            name: "EntryPoint v0.7",
            address: ENTRY_POINT_V07,
            code: artifacts::entry_point().deployed_bytecode.clone(),
            nonce: 2,
        },
        Placement {
            name: "SenderCreator",
            address: SENDER_CREATOR_V07,
            code: artifacts::sender_creator().deployed_bytecode.clone(),
            nonce: 1,
        },
        Placement {
            name: "Deterministic deployer",
            address: crate::deployment::DETERMINISTIC_DEPLOYER,
            code: crate::deployment::DETERMINISTIC_DEPLOYER_CODE,
            nonce: 1,
        },
    ]
}

#[cfg(test)]
mod tests {
    use alloy::primitives::Address;
    use keyward_primitives::{ENTRY_POINT_V07, SENDER_CREATOR_V07};

    #[test]
    fn sender_creator_is_create_of_entry_point_nonce_one() {
        assert_eq!(ENTRY_POINT_V07.create(1), SENDER_CREATOR_V07);
        assert_ne!(SENDER_CREATOR_V07, Address::ZERO);
    }
}
