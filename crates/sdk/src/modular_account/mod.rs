//! The low-level Modular Account V2 client (account-kit's `toModularAccountV2` counterpart).
//!
//! A [`ModularAccount`] is one signer acting on one account through one validation:
//! - [`ModularAccount::owner`]: the owner of a Semi-Modular Account; the address is predicted
//!   locally from the factory (CREATE2), and the factory arguments deploy it counterfactually.
//! - [`ModularAccount::session_key`]: a session key on an existing (or owner-deployable) account.
//!   It takes a [`SessionKeyConnection`] whose `account_address` is a required field: a session
//!   key can never derive an account of its own.
//!
//! The validation is selected in the nonce key by [`SignerEntity`]; user-op signatures are
//! `0xFF ‖ 0x00 ‖ r ‖ s ‖ v` over EIP-191(userOpHash) for owner and session keys alike. A session
//! on a custom validation module ([`CustomValidation`]) signs in its module's own format:
//! [`ModularAccount::with_custom_validation_dummy`] for estimation and
//! [`ModularAccount::user_op_signature_with`] for the real signature (hook segments too).

pub mod address;
mod contracts;
mod deferred;
mod error;
pub mod install;
mod user_op;

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::signers::{Signer, SignerSync};
use keyward_primitives::mav2::abi::{Call, encode_execute, encode_execute_batch, user_op_call_data};
use keyward_primitives::mav2::factory::SemiModularAccountInit;
use keyward_primitives::mav2::ids::{DIRECT_CALL_ENTITY_ID, OWNER_ENTITY_ID};
use keyward_primitives::mav2::signature::{
    DUMMY_USER_OP_SIGNATURE, eoa_user_op_signature, user_op_signature, user_op_signing_hash,
};
use keyward_primitives::mav2::{HookSegment, InstallValidation, NonceKey, ValidationLocator};
use keyward_primitives::{FactoryInit, UserOperation};

pub use contracts::AccountContracts;
pub use deferred::DeferredSessionGrant;
pub use error::AccountError;
pub use install::{CustomValidation, HookKind, InstallError, SessionHook, SessionKeyValidation};
pub use user_op::{Fees, GasOverrides};

/// The validation a signer uses: its entity id and whether it is used as a global validation
/// (nonce option `0x01`). account-kit's `signerEntity`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignerEntity {
    /// The validation's entity id (0 = the SMA owner).
    pub entity_id: u32,
    /// Validate the call against the global pool (else the validation's own selectors).
    pub is_global_validation: bool,
}

impl SignerEntity {
    /// The SMA owner: entity 0, global.
    pub const OWNER: Self = Self { entity_id: OWNER_ENTITY_ID, is_global_validation: true };

    /// A signer entity.
    pub const fn new(entity_id: u32, is_global_validation: bool) -> Self {
        Self { entity_id, is_global_validation }
    }
}

/// How a session key connects to an account. `account_address` is required: without it a client
/// would derive a different, counterfactual account from the session key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionKeyConnection {
    /// The account the session was installed on.
    pub account_address: Address,
    /// The session's validation.
    pub signer_entity: SignerEntity,
    /// The owner's factory arguments, when the account may not be deployed yet (they deploy it in
    /// the session's op); must deploy `account_address`.
    pub factory_args: Option<SemiModularAccountInit>,
}

/// One signer acting on one modular account through one validation.
#[derive(Clone, Debug)]
pub struct ModularAccount<S> {
    signer: S,
    address: Address,
    signer_entity: SignerEntity,
    chain_id: u64,
    contracts: AccountContracts,
    factory_args: Option<SemiModularAccountInit>,
    nonce_key: NonceKey,
    deferred: Option<DeferredSessionGrant>,
    custom_dummy: Option<Bytes>,
}

impl<S> ModularAccount<S> {
    /// The owner's Semi-Modular Account with `salt`: address predicted locally (CREATE2 of the
    /// factory's proxy), factory arguments `createSemiModularAccount(owner, salt)`.
    pub fn owner(signer: S, salt: U256, chain_id: u64, contracts: AccountContracts) -> Self
    where
        S: Signer,
    {
        let owner = signer.address();
        let init = SemiModularAccountInit { factory: contracts.factory, owner, salt };
        let address = address::semi_modular_account_address(&init, contracts.semi_modular_account_impl);
        Self {
            signer,
            address,
            signer_entity: SignerEntity::OWNER,
            chain_id,
            contracts,
            factory_args: Some(init),
            nonce_key: NonceKey::owner(),
            deferred: None,
            custom_dummy: None,
        }
    }

    /// The owner of an existing account at `account_address` (deployed by other means, an older
    /// factory, or an EIP-7702 EOA): no factory arguments.
    pub fn owner_of(signer: S, account_address: Address, chain_id: u64, contracts: AccountContracts) -> Self {
        Self {
            signer,
            address: account_address,
            signer_entity: SignerEntity::OWNER,
            chain_id,
            contracts,
            factory_args: None,
            nonce_key: NonceKey::owner(),
            deferred: None,
            custom_dummy: None,
        }
    }

    /// A session key on `connection.account_address` through `connection.signer_entity`.
    /// Errors: entity `0xffffffff` (a direct-call id, not a user-op validation), or factory
    /// arguments that deploy another address. Whether the key is really installed under that
    /// entity on that account is the account's business: a wrong entity id or account fails
    /// validation onchain (the bundler refuses the operation), never here.
    pub fn session_key(
        signer: S,
        connection: SessionKeyConnection,
        chain_id: u64,
        contracts: AccountContracts,
    ) -> Result<Self, AccountError> {
        let SessionKeyConnection { account_address, signer_entity, factory_args } = connection;
        if signer_entity.entity_id == DIRECT_CALL_ENTITY_ID {
            return Err(AccountError::DirectCallEntity);
        }
        if let Some(init) = &factory_args {
            let deploys = address::semi_modular_account_address(init, contracts.semi_modular_account_impl);
            if deploys != account_address {
                return Err(AccountError::FactoryArgsForOtherAccount { account: account_address, deploys });
            }
        }
        Ok(Self {
            signer,
            address: account_address,
            signer_entity,
            chain_id,
            contracts,
            factory_args,
            nonce_key: NonceKey {
                parallel_key: U256::ZERO,
                locator: ValidationLocator::regular(signer_entity.entity_id, signer_entity.is_global_validation, false),
            },
            deferred: None,
            custom_dummy: None,
        })
    }

    /// Carries the owner's deferred grant: the session's first op (while the EntryPoint's sequence
    /// of the grant's key is still the grant's) installs the validation, then runs the call. The
    /// grant must install this connection's entity id and global flag.
    pub fn with_deferred_action(mut self, grant: DeferredSessionGrant) -> Result<Self, AccountError> {
        let g = grant.signer_entity()?;
        if g != self.signer_entity {
            return Err(AccountError::GrantForOtherEntity {
                entity: self.signer_entity.entity_id,
                global: self.signer_entity.is_global_validation,
                grant_entity: g.entity_id,
                grant_global: g.is_global_validation,
            });
        }
        self.deferred = Some(grant);
        Ok(self)
    }

    /// This signer's validation is a custom validation module: gas is estimated with
    /// `0xFF ‖ dummy_validation_data` (make it follow the module's real code path, as SingleSigner's
    /// dummy does), and operations are signed with [`Self::user_op_signature_with`].
    pub fn with_custom_validation_dummy(mut self, dummy_validation_data: Bytes) -> Self {
        let mut dummy = Vec::with_capacity(dummy_validation_data.len() + 1);
        dummy.push(keyward_primitives::mav2::signature::VALIDATION_DATA_MARKER);
        dummy.extend_from_slice(&dummy_validation_data);
        self.custom_dummy = Some(dummy.into());
        self
    }

    /// The deferred grant this account carries, if any.
    pub fn deferred_action(&self) -> Option<&DeferredSessionGrant> {
        self.deferred.as_ref()
    }

    /// Uses another parallel nonce key (≤ 152 bits): an independent EntryPoint sequence.
    pub fn with_parallel_key(mut self, parallel_key: U256) -> Result<Self, AccountError> {
        self.nonce_key = NonceKey::new(parallel_key, self.nonce_key.locator)?;
        Ok(self)
    }

    /// The account address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// The validation this signer uses.
    pub fn signer_entity(&self) -> SignerEntity {
        self.signer_entity
    }

    /// The chain id the signatures are for.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The contract addresses.
    pub fn contracts(&self) -> &AccountContracts {
        &self.contracts
    }

    /// The signer.
    pub fn signer(&self) -> &S {
        &self.signer
    }

    /// The factory call that deploys the account (owner accounts always have one; a session key
    /// only when connected with the owner's factory arguments).
    pub fn factory_init(&self) -> Option<SemiModularAccountInit> {
        self.factory_args
    }

    /// `factory` / `factoryData` for a counterfactual first operation.
    pub fn factory_args(&self) -> Option<FactoryInit> {
        self.factory_args.map(|init| FactoryInit { factory: init.factory, factory_data: init.factory_data() })
    }

    /// `initCode = factory ‖ factoryData`, empty without factory arguments.
    pub fn init_code(&self) -> Bytes {
        self.factory_args.map(|init| init.init_code()).unwrap_or_default()
    }

    /// The MAv2 nonce key selecting this signer's validation (§4).
    pub fn nonce_key(&self) -> NonceKey {
        self.nonce_key
    }

    /// The full nonce for EntryPoint sequence `sequence` of [`Self::nonce_key`].
    pub fn nonce(&self, sequence: u64) -> U256 {
        self.nonce_key().nonce(sequence)
    }

    /// `execute(target, value, data)` as user-op callData; a call to the account itself is sent
    /// as is (account-kit's `encodeExecute`). `execution_hooks`: the validation has execution
    /// hooks, so the call is prefixed with `executeUserOp`'s selector (§5.6).
    pub fn encode_execute(&self, target: Address, value: U256, data: Bytes, execution_hooks: bool) -> Bytes {
        let inner = if target == self.address { data } else { encode_execute(target, value, data) };
        user_op_call_data(&inner, execution_hooks)
    }

    /// `executeBatch(calls)` as user-op callData (prefixed when the validation has execution hooks).
    pub fn encode_execute_batch(&self, calls: Vec<Call>, execution_hooks: bool) -> Bytes {
        user_op_call_data(&encode_execute_batch(calls), execution_hooks)
    }

    /// `installValidation(...)` callData for the owner's user op.
    pub fn encode_install_validation(&self, install: &InstallValidation) -> Bytes {
        install::encode_install_validation(install)
    }

    /// `installValidation(...)` callData for a session key with hooks on this account's modules.
    pub fn encode_install_session_key(&self, session: &SessionKeyValidation) -> Result<Bytes, InstallError> {
        Ok(install::encode_install_validation(&session.to_install(&self.contracts.modules)?))
    }

    /// `uninstallValidation(...)` callData removing `install` and clearing its hooks' state.
    pub fn encode_uninstall_validation(&self, install: &InstallValidation) -> Bytes {
        install::encode_uninstall_validation(install, &self.contracts.modules)
    }

    /// The dummy signature for gas estimation (same code path as a real one; fails recovery), or
    /// the custom validation's ([`Self::with_custom_validation_dummy`]).
    pub fn dummy_signature(&self) -> Bytes {
        self.custom_dummy.clone().unwrap_or(DUMMY_USER_OP_SIGNATURE)
    }

    /// A user-op signature in any validation's format: `segment* ‖ 0xFF ‖ validation_data` (§5.1;
    /// segments carry per-hook data for custom validation hooks that take some), behind the
    /// deferred grant's prefix when `nonce` is the grant's.
    pub fn user_op_signature_with(
        &self,
        nonce: U256,
        segments: &[HookSegment],
        validation_data: &[u8],
    ) -> Result<Bytes, AccountError> {
        let signature = user_op_signature(segments, validation_data)?;
        self.with_grant_prefix(nonce, &signature)
    }

    /// `uninstallValidation(...)` callData removing a session built with [`SessionKeyValidation`]
    /// and clearing every hook's state, custom modules with their own uninstall data.
    pub fn encode_uninstall_session_key(&self, session: &SessionKeyValidation) -> Result<Bytes, InstallError> {
        Ok(session.uninstall(&self.contracts.modules)?.calldata())
    }

    /// `signature` as the op at `nonce` carries it: behind the deferred grant's prefix when `nonce`
    /// is the grant's.
    pub fn with_grant_prefix(&self, nonce: U256, signature: &[u8]) -> Result<Bytes, AccountError> {
        match &self.deferred {
            Some(g) if g.nonce == nonce => Ok(g.user_op_signature(signature)?),
            _ => Ok(Bytes::copy_from_slice(signature)),
        }
    }

    /// The v0.7 userOpHash of `op` for this account's EntryPoint and chain.
    pub fn user_op_hash(&self, op: &UserOperation) -> B256 {
        op.hash(self.contracts.entry_point, self.chain_id)
    }
}

impl<S: Signer + Send + Sync> ModularAccount<S> {
    /// `0xFF ‖ 0x00 ‖ r ‖ s ‖ v` over EIP-191(userOpHash).
    pub async fn sign_user_operation_hash(&self, user_op_hash: B256) -> Result<Bytes, AccountError> {
        let signature = self.signer.sign_hash(&user_op_signing_hash(user_op_hash)).await?;
        Ok(eoa_user_op_signature(&signature))
    }

    /// Signs `op` in place; an op at the deferred grant's nonce gets the grant's prefix in front.
    pub async fn sign_user_operation(&self, op: &mut UserOperation) -> Result<(), AccountError> {
        let signature = self.sign_user_operation_hash(self.user_op_hash(op)).await?;
        op.signature = self.with_grant_prefix(op.nonce, &signature)?;
        Ok(())
    }
}

impl<S: SignerSync> ModularAccount<S> {
    /// [`ModularAccount::sign_user_operation_hash`] with a synchronous signer.
    pub fn sign_user_operation_hash_sync(&self, user_op_hash: B256) -> Result<Bytes, AccountError> {
        let signature = self.signer.sign_hash_sync(&user_op_signing_hash(user_op_hash))?;
        Ok(eoa_user_op_signature(&signature))
    }
}
