//! The funded development keys: derived from the well-known test mnemonic, as anvil and hardhat do.

use alloy::signers::local::{MnemonicBuilder, PrivateKeySigner, coins_bip39::English};

use crate::error::{ChainError, ChainResult};

/// The standard development mnemonic (anvil, hardhat, foundry).
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";

/// How many dev keys a dev chain funds.
pub const DEV_KEY_COUNT: u32 = 10;

/// Mnemonic index of `keyward dev`'s bundler key: after the keys printed for users, so user
/// transactions never race the bundler's nonces.
pub const BUNDLER_KEY_INDEX: u32 = 10;

/// Mnemonic index of the key that deploys the account stack and owns the factory and paymaster
/// (the stack's CREATE2 addresses depend on it).
pub const DEPLOYER_KEY_INDEX: u32 = 11;

/// Mnemonic index of `keyward dev`'s paymaster signer.
pub const PAYMASTER_KEY_INDEX: u32 = 12;

/// Derives key `index` of [`DEV_MNEMONIC`] on the path `m/44'/60'/0'/0/index`.
pub fn dev_signer(index: u32) -> ChainResult<PrivateKeySigner> {
    MnemonicBuilder::<English>::default()
        .phrase(DEV_MNEMONIC)
        .index(index)
        .and_then(|b| b.build())
        .map_err(|e| ChainError::Internal(format!("deriving dev key {index}: {e}")))
}

/// Derives the first `count` keys of [`DEV_MNEMONIC`] on the path `m/44'/60'/0'/0/i`.
pub fn dev_signers(count: u32) -> ChainResult<Vec<PrivateKeySigner>> {
    (0..count).map(dev_signer).collect()
}

#[cfg(test)]
mod tests {
    use alloy::primitives::address;

    #[test]
    fn first_dev_key_is_the_well_known_one() {
        let keys = super::dev_signers(2).unwrap();
        // The address every Ethereum tool prints for this mnemonic (anvil's account #0 and #1).
        assert_eq!(keys[0].address(), address!("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"));
        assert_eq!(keys[1].address(), address!("0x70997970C51812dc3A010C7d01b50e0d17dc79C8"));
    }
}
