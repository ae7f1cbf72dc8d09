//! `installValidation` for a session key with any set of the account's hooks, and the matching
//! `uninstallValidation` (account-formats.md §2.1, §10, §11.3, §11.6). The owner sends the calldata
//! as an ordinary user operation (the account calls itself: no `execute` wrapping).

use alloy::primitives::{Address, Bytes, U256};
use keyward_primitives::mav2::abi::{AllowlistInput, IModularAccount};
use keyward_primitives::mav2::ids::{HALF_UINT32, MAX_SESSION_ENTITY_ID};
use keyward_primitives::mav2::modules::{HookInstall, ModuleError, entity_uninstall_data, single_signer_install_data};
use keyward_primitives::mav2::{InstallValidation, ModuleAddresses, Selector, UninstallValidation, ValidationConfig};

use alloy::sol_types::SolCall;

/// Whether a module is installed as a validation hook or as a (pre-)execution hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HookKind {
    /// Runs before the validation (user op and runtime).
    Validation,
    /// Runs before the execution (requires `0x8dd7712f ‖ call` user-op calldata).
    Execution,
}

/// One hook of a session's validation, with its own hook entity id (a namespace per hook module).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SessionHook {
    /// TimeRange validation hook: valid in `[valid_after, valid_until]` (Unix seconds, 0 = open end).
    TimeRange {
        /// Hook entity id.
        entity_id: u32,
        /// End of validity (0 = none).
        valid_until: u64,
        /// Start of validity.
        valid_after: u64,
    },
    /// NativeTokenLimit: as execution hook a budget of native value sent; as validation hook a wei
    /// budget for user-op gas.
    NativeTokenLimit {
        /// Hook entity id.
        entity_id: u32,
        /// Validation (gas) or execution (value).
        kind: HookKind,
        /// Budget in wei.
        limit: U256,
    },
    /// Allowlist: as validation hook targets/selectors; as execution hook ERC-20 spend limits.
    Allowlist {
        /// Hook entity id.
        entity_id: u32,
        /// Validation (allowlist) or execution (ERC-20 limits).
        kind: HookKind,
        /// The entries.
        inputs: Vec<AllowlistInput>,
    },
    /// PaymasterGuard validation hook: every op must use this paymaster.
    PaymasterGuard {
        /// Hook entity id.
        entity_id: u32,
        /// The only paymaster allowed.
        paymaster: Address,
    },
}

impl SessionHook {
    /// The `installValidation` hook entry, with the flags Alchemy's SDK uses.
    pub fn to_hook_install(&self, modules: &ModuleAddresses) -> Result<HookInstall, ModuleError> {
        Ok(match self {
            Self::TimeRange { entity_id, valid_until, valid_after } => {
                HookInstall::time_range(modules, *entity_id, *valid_until, *valid_after)?
            }
            Self::NativeTokenLimit { entity_id, kind: HookKind::Execution, limit } => {
                HookInstall::native_token_limit_execution(modules, *entity_id, *limit)
            }
            Self::NativeTokenLimit { entity_id, kind: HookKind::Validation, limit } => {
                HookInstall::native_token_limit_validation(modules, *entity_id, *limit)
            }
            Self::Allowlist { entity_id, kind: HookKind::Validation, inputs } => {
                HookInstall::allowlist_validation(modules, *entity_id, inputs)?
            }
            Self::Allowlist { entity_id, kind: HookKind::Execution, inputs } => {
                HookInstall::allowlist_execution(modules, *entity_id, inputs)?
            }
            Self::PaymasterGuard { entity_id, paymaster } => {
                HookInstall::paymaster_guard(modules, *entity_id, *paymaster)?
            }
        })
    }
}

/// Why a session validation cannot be encoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InstallError {
    /// Session entity ids are `1..=0x7ffffffe` (0 is the owner; larger ids are hook offsets).
    #[error("session entity id {0} is outside 1..=0x7ffffffe")]
    InvalidEntityId(u32),
    /// The session key is the zero address.
    #[error("the session key is the zero address")]
    ZeroSessionKey,
    /// A scoped (non-global) session without selectors can call nothing.
    #[error("a non-global session needs at least one selector (or an allowlist, which adds execute/executeBatch)")]
    NoSelectors,
    /// A hook's module data was rejected.
    #[error("hook {index}: {source}")]
    Hook {
        /// Position of the hook.
        index: usize,
        /// The encoder's error.
        source: ModuleError,
    },
}

/// A session key's SingleSigner validation and its hooks (account-kit's low-level
/// `installValidation` arguments). Hooks are installed in the order they are added.
///
/// The convenience methods pick hook entity ids like Alchemy's `PermissionBuilder` (§11.3): the
/// session id `E` for TimeRange, the value limit, the allowlist validation hook and the paymaster
/// guard, and `E + 0x7fffffff` for the gas budget and the ERC-20 limits, so two hooks on one
/// module never share state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SessionKeyValidation {
    /// The session's entity id (selects it in the nonce).
    pub entity_id: u32,
    /// The session key (SingleSigner signer).
    pub session_key: Address,
    /// Global validation: may call every function of the global pool (§3.1).
    pub is_global: bool,
    /// May validate ERC-1271 signatures and grant deferred actions (never set by the Wallet API).
    pub is_signature_validation: bool,
    /// Account selectors the session may call besides the global pool.
    pub selectors: Vec<Selector>,
    /// Hooks in installation order.
    pub hooks: Vec<SessionHook>,
}

impl SessionKeyValidation {
    /// A session validation with no hooks: user-op validation only, scoped unless made global.
    pub fn new(entity_id: u32, session_key: Address) -> Self {
        Self {
            entity_id,
            session_key,
            is_global: false,
            is_signature_validation: false,
            selectors: Vec::new(),
            hooks: Vec::new(),
        }
    }

    /// The hook entity id on a module that already has a hook of this session: `E + 0x7fffffff`.
    pub fn offset_entity_id(&self) -> u32 {
        self.entity_id.wrapping_add(HALF_UINT32)
    }

    /// Global validation (`isGlobal`): `execute`, `executeBatch`, installs, upgrades… (§3.1).
    pub fn global(mut self, is_global: bool) -> Self {
        self.is_global = is_global;
        self
    }

    /// Also an ERC-1271 / deferred-action signer.
    pub fn signature_validation(mut self, enabled: bool) -> Self {
        self.is_signature_validation = enabled;
        self
    }

    /// Adds account selectors.
    pub fn selectors(mut self, selectors: impl IntoIterator<Item = Selector>) -> Self {
        for s in selectors {
            if !self.selectors.contains(&s) {
                self.selectors.push(s);
            }
        }
        self
    }

    /// Adds `execute` and `executeBatch` to the selectors (scoped sessions calling other contracts).
    pub fn allow_execute(self) -> Self {
        self.selectors([execute_selector(), execute_batch_selector()])
    }

    /// Adds any hook as given.
    pub fn hook(mut self, hook: SessionHook) -> Self {
        self.hooks.push(hook);
        self
    }

    /// TimeRange validation hook at `E`.
    pub fn time_range(self, valid_until: u64, valid_after: u64) -> Self {
        let entity_id = self.entity_id;
        self.hook(SessionHook::TimeRange { entity_id, valid_until, valid_after })
    }

    /// Native value budget: NativeTokenLimit execution hook at `E`.
    pub fn native_token_limit(self, limit: U256) -> Self {
        let entity_id = self.entity_id;
        self.hook(SessionHook::NativeTokenLimit { entity_id, kind: HookKind::Execution, limit })
    }

    /// Gas budget in wei: NativeTokenLimit validation hook at `E + 0x7fffffff`.
    pub fn gas_limit(self, limit: U256) -> Self {
        let entity_id = self.offset_entity_id();
        self.hook(SessionHook::NativeTokenLimit { entity_id, kind: HookKind::Validation, limit })
    }

    /// Target / selector allowlist: Allowlist validation hook at `E`; adds `execute`/`executeBatch`.
    pub fn allowlist(self, inputs: Vec<AllowlistInput>) -> Self {
        let entity_id = self.entity_id;
        self.allow_execute().hook(SessionHook::Allowlist { entity_id, kind: HookKind::Validation, inputs })
    }

    /// ERC-20 lifetime spend limits `(token, limit)`: Allowlist execution hook at `E + 0x7fffffff`.
    pub fn erc20_spend_limits(self, limits: impl IntoIterator<Item = (Address, U256)>) -> Self {
        let entity_id = self.offset_entity_id();
        let inputs = limits
            .into_iter()
            .map(|(token, limit)| keyward_primitives::mav2::modules::erc20_spend_limit(token, limit))
            .collect();
        self.hook(SessionHook::Allowlist { entity_id, kind: HookKind::Execution, inputs })
    }

    /// PaymasterGuard validation hook at `E`.
    pub fn paymaster_guard(self, paymaster: Address) -> Self {
        let entity_id = self.entity_id;
        self.hook(SessionHook::PaymasterGuard { entity_id, paymaster })
    }

    /// The `installValidation` arguments for these modules.
    pub fn to_install(&self, modules: &ModuleAddresses) -> Result<InstallValidation, InstallError> {
        if self.entity_id == 0 || self.entity_id > MAX_SESSION_ENTITY_ID {
            return Err(InstallError::InvalidEntityId(self.entity_id));
        }
        if self.session_key == Address::ZERO {
            return Err(InstallError::ZeroSessionKey);
        }
        if !self.is_global && self.selectors.is_empty() {
            return Err(InstallError::NoSelectors);
        }
        let hooks = self
            .hooks
            .iter()
            .enumerate()
            .map(|(index, h)| h.to_hook_install(modules).map_err(|source| InstallError::Hook { index, source }))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(InstallValidation {
            validation: ValidationConfig::new(
                modules.single_signer_validation,
                self.entity_id,
                self.is_global,
                self.is_signature_validation,
                true,
            ),
            selectors: self.selectors.clone(),
            install_data: single_signer_install_data(self.entity_id, self.session_key),
            hooks,
        })
    }
}

/// `execute` selector.
pub fn execute_selector() -> Selector {
    IModularAccount::executeCall::SELECTOR.into()
}

/// `executeBatch` selector.
pub fn execute_batch_selector() -> Selector {
    IModularAccount::executeBatchCall::SELECTOR.into()
}

/// `installValidation(...)` calldata: the user operation's callData (the account calls itself).
pub fn encode_install_validation(install: &InstallValidation) -> Bytes {
    install.calldata()
}

/// `uninstallValidation(...)` calldata that removes the validation and clears every hook's state
/// (SingleSigner uninstall data `abi.encode(uint32 entityId)`; §11.6 pairing).
pub fn encode_uninstall_validation(install: &InstallValidation, modules: &ModuleAddresses) -> Bytes {
    let entity_id = install.validation.entity.entity_id;
    UninstallValidation::clearing_hooks(install, entity_uninstall_data(entity_id), modules).calldata()
}
