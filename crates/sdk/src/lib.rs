//! Keyward's client SDK.
//!
//! ```text
//!  SmartWalletClient ─ api::wallet client ─▶ wallet_* (any Keyward URL) ; signs locally with a Signer
//!  ModularAccount ─ user op (owner / session key) ─▶ BundlerClient ─▶ eth_sendUserOperation (any bundler)
//! ```
//!
//! - [`modular_account`]: the low-level Modular Account V2 client (account-kit's
//!   `toModularAccountV2` counterpart): address prediction, `initCode`, calldata, nonces,
//!   signatures, session-key installation, and user operations built for the owner or a session key.
//! - [`bundler_client`]: an ERC-4337 bundler client (estimate, send, wait for the receipt) plus the
//!   few `eth_*` reads the account needs (EntryPoint nonce, code, fees).
//! - [`wallet`]: `SmartWalletClient`, the Wallet API client mirroring `@alchemy/wallet-apis`.

// The unit-test build also sees the dev-dependencies of the integration tests.
#![cfg_attr(test, allow(unused_crate_dependencies))]

pub mod bundler_client;
pub mod modular_account;
pub mod wallet;

pub use bundler_client::{BundlerClient, BundlerClientError};
pub use modular_account::{AccountContracts, AccountError, ModularAccount, SignerEntity};
pub use wallet::{PasskeySessionClient, SmartWalletClient, WalletClientError};
