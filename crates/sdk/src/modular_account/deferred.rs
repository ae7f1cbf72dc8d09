//! Deferred session installs (account-formats.md §8): the owner signs a `DeferredAction` that
//! installs a session key's validation inside the session's first user operation — on an account
//! that may not even be deployed yet (the owner's factory arguments deploy it in the same op).

use alloy::primitives::{B256, Bytes, U256};
use alloy::signers::Signer;
use keyward_primitives::mav2::deferred::{DeferredActionPrefix, DeferredError};
use keyward_primitives::mav2::permissions::PermissionDeferredError;
use keyward_primitives::mav2::signature::eoa_validation_data;
use keyward_primitives::mav2::{CompiledSession, InstallValidation, NonceKey, ValidationLocator};

use super::{AccountError, ModularAccount, SignerEntity};

/// An owner-signed grant that installs a validation in the first op of that validation's
/// deferred nonce key (account-kit's `deferredAction` blob).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeferredSessionGrant {
    /// The full nonce of the op that carries the grant (deferred option set).
    pub nonce: U256,
    /// Whether the installed validation has execution hooks (the op's callData then starts with
    /// `executeUserOp`'s selector).
    pub has_execution_hooks: bool,
    /// The signature prefix: the install call, its deadline and the owner's signature.
    pub prefix: DeferredActionPrefix,
}

impl DeferredSessionGrant {
    /// The validation the grant installs, read from its nonce.
    pub fn signer_entity(&self) -> Result<SignerEntity, AccountError> {
        let (key, _) = NonceKey::from_nonce(self.nonce).map_err(AccountError::Nonce)?;
        match key.locator {
            ValidationLocator::Regular { entity_id, is_global, .. } => Ok(SignerEntity::new(entity_id, is_global)),
            ValidationLocator::DirectCall { .. } => Err(AccountError::DirectCallEntity),
        }
    }

    /// The EntryPoint sequence key the grant's op uses (`nonce >> 64`).
    pub fn nonce_key(&self) -> Result<NonceKey, AccountError> {
        Ok(NonceKey::from_nonce(self.nonce).map_err(AccountError::Nonce)?.0)
    }

    /// account-kit's blob: `flag ‖ uint256 nonce ‖ uint32 len ‖ encodedData ‖ uint32 len ‖ ownerSig`.
    pub fn to_sdk_blob(&self) -> Result<Bytes, DeferredError> {
        self.prefix.sdk_blob(self.has_execution_hooks, self.nonce)
    }

    /// Reads account-kit's blob (nothing may follow the owner's signature).
    pub fn from_sdk_blob(blob: &[u8]) -> Result<Self, DeferredError> {
        let (has_execution_hooks, nonce, prefix, rest) = DeferredActionPrefix::decode_sdk_blob(blob)?;
        if !rest.is_empty() {
            return Err(DeferredError::Truncated { part: "end of blob", needed: 0, available: rest.len() });
        }
        Ok(Self { nonce, has_execution_hooks, prefix })
    }

    /// The carrying op's signature: the prefix, then the session key's `0xFF ‖ 0x00 ‖ r s v`.
    pub fn user_op_signature(&self, outer: &[u8]) -> Result<Bytes, DeferredError> {
        self.prefix.user_op_signature(outer)
    }
}

impl<S: Signer + Send + Sync> ModularAccount<S> {
    /// The owner signs a grant installing `install` (global or not) in the first op of its
    /// deferred key, at EntryPoint sequence `sequence` of parallel key `parallel_key` (read it with
    /// `BundlerClient::entry_point_nonce`; 0 for a fresh key). `deadline`: Unix seconds, 0 = none.
    /// The owner (SMA fallback) signs the `DeferredAction` digest itself (§8.2, no ReplaySafeHash).
    pub async fn grant_deferred_install(
        &self,
        install: &InstallValidation,
        is_global: bool,
        deadline: u64,
        parallel_key: U256,
        sequence: u64,
    ) -> Result<DeferredSessionGrant, AccountError> {
        let compiled = CompiledSession { install: install.clone(), is_global, deadline };
        self.grant_deferred_session(&compiled, parallel_key, sequence).await
    }

    /// The owner signs a grant installing a compiled session (from
    /// [`super::SessionKeyValidation::compile`] or the permission compiler) in the first op of its
    /// deferred key: the compiler's `DeferredAction` (nonce, deadline, install call) and its digest.
    pub async fn grant_deferred_session(
        &self,
        compiled: &CompiledSession,
        parallel_key: U256,
        sequence: u64,
    ) -> Result<DeferredSessionGrant, AccountError> {
        let action = compiled.deferred_action(parallel_key, sequence).map_err(|e| match e {
            PermissionDeferredError::Nonce(e) => AccountError::Nonce(e),
            PermissionDeferredError::Deferred(e) => deferred_err(e),
        })?;
        let digest: B256 = action.digest(self.chain_id, self.address);
        let signature = self.signer.sign_hash(&digest).await?;
        let prefix = DeferredActionPrefix {
            inner_locator: ValidationLocator::regular(
                self.signer_entity.entity_id,
                self.signer_entity.is_global_validation,
                false,
            ),
            deadline: action.deadline_secs(),
            call: action.call,
            deferred_signature: eoa_validation_data(&signature),
        };
        Ok(DeferredSessionGrant { nonce: action.nonce, has_execution_hooks: compiled.has_execution_hooks(), prefix })
    }
}

pub(super) fn deferred_err(e: DeferredError) -> AccountError {
    AccountError::Deferred(e)
}
