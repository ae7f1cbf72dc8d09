//! Errors of the ModularAccount client.

use alloy::primitives::Address;

use crate::bundler_client::BundlerClientError;

/// Why a ModularAccount could not be built, or a user operation prepared, signed or sent.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// `0xffffffff` names a direct-call validation, which has no user-op nonce form here.
    #[error("entity id 0xffffffff is the direct-call validation id, not a signer entity")]
    DirectCallEntity,
    /// The factory arguments given to a session-key account deploy another address.
    #[error("the factory arguments deploy {deploys}, not the session key's account {account}")]
    FactoryArgsForOtherAccount {
        /// The account the session key was connected to.
        account: Address,
        /// Where the factory arguments deploy.
        deploys: Address,
    },
    /// The account has no code and no factory arguments to deploy it.
    #[error("account {0} is not deployed and no factory arguments were given to deploy it")]
    NotDeployed(Address),
    /// A parallel nonce key wider than 152 bits.
    #[error(transparent)]
    Nonce(#[from] keyward_primitives::mav2::nonce::NonceError),
    /// The chain id of the bundler differs from the account's.
    #[error("the bundler serves chain {bundler}, the account was built for chain {account}")]
    ChainMismatch {
        /// The account's chain id.
        account: u64,
        /// The bundler's chain id.
        bundler: u64,
    },
    /// A deferred action could not be encoded (deadline over 48 bits, oversized call).
    #[error("deferred action: {0}")]
    Deferred(#[from] keyward_primitives::mav2::deferred::DeferredError),
    /// The deferred grant installs another validation than the one the session key connects with.
    #[error(
        "the deferred grant installs entity {grant_entity} (global {grant_global}), the connection names entity {entity} (global {global})"
    )]
    GrantForOtherEntity {
        /// Entity id of the connection.
        entity: u32,
        /// Global flag of the connection.
        global: bool,
        /// Entity id the grant installs.
        grant_entity: u32,
        /// Global flag of the grant's nonce.
        grant_global: bool,
    },
    /// A user-op signature could not be assembled (bad hook segments).
    #[error("user-op signature: {0}")]
    Signature(#[from] keyward_primitives::mav2::signature::SignatureError),
    /// The signer failed.
    #[error("signing failed: {0}")]
    Signer(#[from] alloy::signers::Error),
    /// The bundler or node answered with an error.
    #[error(transparent)]
    Bundler(#[from] BundlerClientError),
}
