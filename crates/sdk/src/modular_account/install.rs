//! `installValidation` for a session key with any set of the account's hooks, and the matching
//! `uninstallValidation` (account-formats.md §2.1, §10, §11.3, §11.6). The owner sends the calldata
//! as an ordinary user operation (the account calls itself: no `execute` wrapping).
//!
//! The builder is a front for the primitives compiler: its convenience methods fill a
//! [`SessionValidation`] (hooks by kind), and [`SessionKeyValidation::compile`] returns the
//! compiler's [`CompiledSession`], so hook placement (entity ids, order, `execute`/`executeBatch`)
//! is the one rule the Wallet API's sessions use too. Hooks given explicitly with
//! [`SessionKeyValidation::hook`] (account-kit's low-level arguments) follow, as given.
//!
//! Custom permission modules (anyone's ERC-6900 module, not only Keyward's five): a
//! [`SessionHook::Custom`] installs any validation hook or execution hook with its own entity id,
//! flags, `onInstall` and `onUninstall` data, next to the placed hooks in the same
//! `installValidation`; [`SessionKeyValidation::validation_module`] puts any validation module in
//! place of SingleSigner ([`CustomValidation`], with its own install/uninstall data and signature
//! format, see [`super::ModularAccount::with_custom_validation_dummy`]).
//! [`SessionKeyValidation::uninstall`] gives the `uninstallValidation` that clears every hook's
//! state, each with its own module's uninstall data.

use alloy::primitives::{Address, Bytes, U256};
use keyward_primitives::mav2::abi::{AllowlistInput, IModularAccount};
use keyward_primitives::mav2::modules::{
    HookInstall, ModuleError, allowlist_install_data, entity_uninstall_data, erc20_spend_limit,
};
use keyward_primitives::mav2::permissions::{
    CompiledSession, PermissionError, SessionHooks, SessionValidation, TimeRange, offset_entity_id,
};
use keyward_primitives::mav2::{
    HookConfig, InstallValidation, ModuleAddresses, ModuleEntity, Selector, UninstallValidation,
};

use alloy::sol_types::SolCall;
use keyward_primitives::mav2::SessionKey;

/// Whether a module is installed as a validation hook or as a (pre-)execution hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HookKind {
    /// Runs before the validation (user op and runtime).
    Validation,
    /// Runs before the execution (requires `0x8dd7712f ‖ call` user-op calldata).
    Execution,
}

/// One hook given explicitly, with its own hook entity id (a namespace per hook module).
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
    /// Any ERC-6900 hook module (a third party's permission module), installed as given.
    Custom {
        /// The hook module's address.
        module: Address,
        /// Hook entity id (a namespace of this module; it should appear in the module's own data).
        entity_id: u32,
        /// Validation hook (`IValidationHookModule`) or execution hook (`IExecutionHookModule`).
        kind: HookKind,
        /// Execution hooks: the module has a pre-execution hook (flag `0x04`). Validation hooks:
        /// stored as given (Alchemy's SDK sets it on most validation hooks; `…05` ≠ `…01`).
        has_pre: bool,
        /// Execution hooks: the module has a post-execution hook (flag `0x02`).
        has_post: bool,
        /// The module's `onInstall` data; empty ⇒ no ERC-165 check and no `onInstall` call.
        install_data: Bytes,
        /// The module's `onUninstall` data when the session is uninstalled; empty ⇒ the hook is
        /// skipped (its state stays behind).
        uninstall_data: Bytes,
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
            Self::Custom { module, entity_id, kind, has_pre, has_post, install_data, .. } => HookInstall {
                config: HookConfig {
                    entity: ModuleEntity::new(*module, *entity_id),
                    is_validation_hook: *kind == HookKind::Validation,
                    has_post: *has_post,
                    has_pre: *has_pre,
                },
                install_data: install_data.clone(),
            },
        })
    }

    /// The hook's `onUninstall` data in an `uninstallValidation` that clears its state: the
    /// allowlist takes its inputs again, NTL / TimeRange / PaymasterGuard `abi.encode(uint32)`, a
    /// custom module its own `uninstall_data`.
    pub fn uninstall_data(&self) -> Bytes {
        match self {
            Self::Allowlist { entity_id, inputs, .. } => {
                allowlist_install_data(*entity_id, inputs).unwrap_or_else(|_| entity_uninstall_data(*entity_id))
            }
            Self::TimeRange { entity_id, .. }
            | Self::NativeTokenLimit { entity_id, .. }
            | Self::PaymasterGuard { entity_id, .. } => entity_uninstall_data(*entity_id),
            Self::Custom { uninstall_data, .. } => uninstall_data.clone(),
        }
    }

    /// A custom validation hook with flags `0x05` (pre), as Alchemy's SDK flags its own.
    pub fn custom_validation_hook(module: Address, entity_id: u32, install_data: Bytes, uninstall_data: Bytes) -> Self {
        Self::Custom {
            module,
            entity_id,
            kind: HookKind::Validation,
            has_pre: true,
            has_post: false,
            install_data,
            uninstall_data,
        }
    }

    /// A custom pre-execution hook (flags `0x04`).
    pub fn custom_execution_hook(module: Address, entity_id: u32, install_data: Bytes, uninstall_data: Bytes) -> Self {
        Self::Custom {
            module,
            entity_id,
            kind: HookKind::Execution,
            has_pre: true,
            has_post: false,
            install_data,
            uninstall_data,
        }
    }

    fn custom_module(&self) -> Option<Address> {
        match self {
            Self::Custom { module, .. } => Some(*module),
            _ => None,
        }
    }
}

/// A validation module used in place of SingleSigner (e.g. a third party's signer module): the
/// session's `ValidationConfig` names it, its `onInstall` / `onUninstall` data is its own, and its
/// user-op signatures are its own format (`0xFF ‖ validationData`, see
/// [`super::ModularAccount::user_op_signature_with`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CustomValidation {
    /// The validation module (`IValidationModule`).
    pub module: Address,
    /// Its `onInstall` data (empty ⇒ no ERC-165 check and no `onInstall` call).
    pub install_data: Bytes,
    /// Its `onUninstall` data when the session is uninstalled.
    pub uninstall_data: Bytes,
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
    /// A hook set with the convenience methods was rejected by its module's encoder.
    #[error("session hooks: {0}")]
    Hooks(ModuleError),
    /// A hook given explicitly was rejected by its module's encoder.
    #[error("hook {index}: {source}")]
    Hook {
        /// Position of the hook in the installed list.
        index: usize,
        /// The encoder's error.
        source: ModuleError,
    },
    /// A custom hook or validation module at the zero address.
    #[error("a custom module at the zero address (hook {0:?}; None = the validation module)")]
    ZeroModule(Option<usize>),
    /// Any other refusal of the compiler.
    #[error(transparent)]
    Compile(PermissionError),
}

impl From<PermissionError> for InstallError {
    fn from(e: PermissionError) -> Self {
        match e {
            PermissionError::InvalidEntityId(id) => Self::InvalidEntityId(id),
            PermissionError::ZeroSessionKey => Self::ZeroSessionKey,
            PermissionError::ValidationConfigUnset => Self::NoSelectors,
            PermissionError::Module(source) => Self::Hooks(source),
            other => Self::Compile(other),
        }
    }
}

/// A session key's SingleSigner validation and its hooks (account-kit's low-level
/// `installValidation` arguments).
///
/// The convenience methods ([`Self::time_range`], [`Self::native_token_limit`],
/// [`Self::gas_limit`], [`Self::allowlist`], [`Self::erc20_spend_limits`],
/// [`Self::paymaster_guard`]) ask for a hook by kind; the primitives compiler places it as
/// Alchemy's `PermissionBuilder` does (§11.3): the session id `E` for TimeRange, the value limit,
/// the allowlist validation hook and the paymaster guard, `E + 0x7fffffff` for the gas budget and
/// the ERC-20 limits, in the builder's fixed order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SessionKeyValidation {
    /// Entity, key, flags, selectors and the hooks by kind, as the compiler takes them.
    pub validation: SessionValidation,
    /// Hooks given with [`Self::hook`], installed after the placed ones, in the order added.
    pub extra_hooks: Vec<SessionHook>,
    /// A validation module in place of SingleSigner ([`Self::validation_module`]).
    pub custom_validation: Option<CustomValidation>,
}

impl SessionKeyValidation {
    /// A session validation with no hooks: user-op validation only, scoped unless made global.
    /// The key is a secp256k1 address (SingleSigner) or a P-256 public key (P256ValidationModule).
    pub fn new(entity_id: u32, session_key: impl Into<SessionKey>) -> Self {
        Self {
            validation: SessionValidation {
                entity_id,
                session_key: session_key.into(),
                is_global: false,
                is_signature_validation: false,
                selectors: Vec::new(),
                hooks: SessionHooks::default(),
            },
            extra_hooks: Vec::new(),
            custom_validation: None,
        }
    }

    /// A session whose validation is `validation` (any validation module) instead of a
    /// SingleSigner key: user-op validation only, scoped unless made global. Hooks, selectors and
    /// flags are added as for a key.
    pub fn with_validation_module(entity_id: u32, validation: CustomValidation) -> Self {
        Self::new(entity_id, validation.module).validation_module(validation)
    }

    /// Uses `validation` (any validation module, with its own install / uninstall data) in place
    /// of SingleSigner; the session key given to [`Self::new`] is then unused.
    pub fn validation_module(mut self, validation: CustomValidation) -> Self {
        self.custom_validation = Some(validation);
        self
    }

    /// The session's entity id (selects it in the nonce).
    pub fn entity_id(&self) -> u32 {
        self.validation.entity_id
    }

    /// The hook entity id on a module that already has a hook of this session: `E + 0x7fffffff`.
    pub fn offset_entity_id(&self) -> u32 {
        offset_entity_id(self.validation.entity_id)
    }

    /// Global validation (`isGlobal`): `execute`, `executeBatch`, installs, upgrades… (§3.1).
    pub fn global(mut self, is_global: bool) -> Self {
        self.validation.is_global = is_global;
        self
    }

    /// Also an ERC-1271 / deferred-action signer.
    pub fn signature_validation(mut self, enabled: bool) -> Self {
        self.validation.is_signature_validation = enabled;
        self
    }

    /// Adds account selectors.
    pub fn selectors(mut self, selectors: impl IntoIterator<Item = Selector>) -> Self {
        for s in selectors {
            if !self.validation.selectors.contains(&s) {
                self.validation.selectors.push(s);
            }
        }
        self
    }

    /// Adds `execute` and `executeBatch` to the selectors (an allowlist adds them by itself).
    pub fn allow_execute(self) -> Self {
        self.selectors([execute_selector(), execute_batch_selector()])
    }

    /// Adds a hook as given (its entity id, kind and data), after the placed ones.
    pub fn hook(mut self, hook: SessionHook) -> Self {
        self.extra_hooks.push(hook);
        self
    }

    /// TimeRange validation hook at `E`.
    pub fn time_range(mut self, valid_until: u64, valid_after: u64) -> Self {
        self.validation.hooks.time_range = Some(TimeRange { valid_until, valid_after });
        self
    }

    /// Native value budget: NativeTokenLimit execution hook at `E`.
    pub fn native_token_limit(mut self, limit: U256) -> Self {
        self.validation.hooks.native_value = Some(limit);
        self
    }

    /// Gas budget in wei: NativeTokenLimit validation hook at `E + 0x7fffffff`.
    pub fn gas_limit(mut self, limit: U256) -> Self {
        self.validation.hooks.gas_budget = Some(limit);
        self
    }

    /// Target / selector allowlist: Allowlist validation hook at `E`; grants `execute`/`executeBatch`.
    pub fn allowlist(mut self, inputs: Vec<AllowlistInput>) -> Self {
        self.validation.hooks.allowlist.extend(inputs);
        self
    }

    /// ERC-20 lifetime spend limits `(token, limit)`: Allowlist execution hook at `E + 0x7fffffff`.
    pub fn erc20_spend_limits(mut self, limits: impl IntoIterator<Item = (Address, U256)>) -> Self {
        let inputs = limits.into_iter().map(|(token, limit)| erc20_spend_limit(token, limit));
        self.validation.hooks.erc20_limits.extend(inputs);
        self
    }

    /// PaymasterGuard validation hook at `E`.
    pub fn paymaster_guard(mut self, paymaster: Address) -> Self {
        self.validation.hooks.paymaster_guard = Some(paymaster);
        self
    }

    /// The compiler's output for these modules: `installValidation` arguments (placed hooks, then
    /// the explicit ones), whether the validation is global, and its deadline (the TimeRange's end).
    pub fn compile(&self, modules: &ModuleAddresses) -> Result<CompiledSession, InstallError> {
        let mut validation = self.validation.clone();
        if let Some(custom) = &self.custom_validation {
            if custom.module == Address::ZERO {
                return Err(InstallError::ZeroModule(None));
            }
            // The compiler checks a SingleSigner key; with a custom module that key is unused.
            if validation.session_key == SessionKey::Secp256k1(Address::ZERO) {
                validation.session_key = SessionKey::Secp256k1(custom.module);
            }
        }
        if let Some(index) = self.extra_hooks.iter().position(|h| h.custom_module() == Some(Address::ZERO)) {
            return Err(InstallError::ZeroModule(Some(index)));
        }
        let mut compiled = validation.compile(modules)?;
        if let Some(custom) = &self.custom_validation {
            compiled.install.validation.entity.module = custom.module;
            compiled.install.install_data = custom.install_data.clone();
        }
        for hook in &self.extra_hooks {
            let index = compiled.install.hooks.len();
            let entry = hook.to_hook_install(modules).map_err(|source| InstallError::Hook { index, source })?;
            compiled.install.hooks.push(entry);
        }
        Ok(compiled)
    }

    /// The `installValidation` arguments for these modules.
    pub fn to_install(&self, modules: &ModuleAddresses) -> Result<InstallValidation, InstallError> {
        Ok(self.compile(modules)?.install)
    }

    /// The `uninstallValidation` arguments that remove this session and clear every hook's state,
    /// each hook with its own module's uninstall data (custom hooks: theirs), the validation with
    /// SingleSigner's `abi.encode(uint32 E)` or the custom module's data. Pairing (§11.6):
    /// validation hooks first, then execution hooks, each group in reverse installation order.
    pub fn uninstall(&self, modules: &ModuleAddresses) -> Result<UninstallValidation, InstallError> {
        let install = self.to_install(modules)?;
        let placed = install.hooks.len() - self.extra_hooks.len();
        let per_hook: Vec<(bool, Bytes)> = install
            .hooks
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let data = match i.checked_sub(placed).and_then(|j| self.extra_hooks.get(j)) {
                    Some(extra) => extra.uninstall_data(),
                    None if h.config.entity.module == modules.allowlist => h.install_data.clone(),
                    None => entity_uninstall_data(h.config.entity.entity_id),
                };
                (h.config.is_validation_hook, data)
            })
            .collect();
        let mut hook_uninstall_data: Vec<Bytes> =
            per_hook.iter().rev().filter(|(v, _)| *v).map(|(_, d)| d.clone()).collect();
        hook_uninstall_data.extend(per_hook.iter().rev().filter(|(v, _)| !*v).map(|(_, d)| d.clone()));
        let uninstall_data = match &self.custom_validation {
            Some(custom) => custom.uninstall_data.clone(),
            None => entity_uninstall_data(self.entity_id()),
        };
        Ok(UninstallValidation { validation: install.validation.entity, uninstall_data, hook_uninstall_data })
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

#[cfg(test)]
mod tests {
    use super::*;
    use keyward_primitives::mav2::Permission;
    use keyward_primitives::mav2::modules::allow_target;
    use keyward_primitives::mav2::permissions::{PermissionCompiler, SessionRequest};

    /// The builder's convenience methods and the Wallet-API compiler give the same bytes for the
    /// same session (one placement rule).
    #[test]
    fn builder_matches_the_permission_compiler() {
        let (key, target, token) =
            (Address::with_last_byte(0x11), Address::with_last_byte(0x22), Address::with_last_byte(0x33));
        let compiler = PermissionCompiler::mav2();
        let request = SessionRequest {
            account: Address::with_last_byte(0x44),
            session_key: key,
            entity_id: 9,
            permissions: vec![
                Permission::GasLimit { limit: U256::from(7) },
                Permission::ContractAccess { address: target },
                Permission::NativeTokenTransfer { allowance: U256::from(5) },
                Permission::Erc20TokenTransfer { address: token, allowance: U256::from(3) },
            ],
            expiry_sec: 1_900_000_000,
        };
        let from_permissions = compiler.compile(&request, 0).unwrap();
        let built = SessionKeyValidation::new(9, key)
            .allowlist(vec![allow_target(target)])
            .erc20_spend_limits([(token, U256::from(3))])
            .allowlist(vec![keyward_primitives::mav2::modules::allow_selectors(
                token,
                vec![
                    keyward_primitives::mav2::permissions::ERC20_APPROVE_SELECTOR,
                    keyward_primitives::mav2::permissions::ERC20_TRANSFER_SELECTOR,
                ],
            )])
            .gas_limit(U256::from(7))
            .native_token_limit(U256::from(5))
            .time_range(1_900_000_000, 0)
            .compile(&compiler.modules)
            .unwrap();
        assert_eq!(built, from_permissions);
        assert_eq!(built.deadline, 1_900_000_000);
    }

    /// Custom hooks: HookConfig flags as given, install data as given, placed after ours in one
    /// `installValidation`; uninstall pairs each hook with its own module's data (§11.6 order).
    #[test]
    fn custom_hooks_install_next_to_ours_and_uninstall_with_their_own_data() {
        let m = ModuleAddresses::mav2();
        let (key, target) = (Address::with_last_byte(0x11), Address::with_last_byte(0x22));
        let (vmod, xmod) = (Address::with_last_byte(0xa1), Address::with_last_byte(0xa2));
        let session = SessionKeyValidation::new(7, key)
            .time_range(1_900_000_000, 0)
            .allowlist(vec![allow_target(target)])
            .hook(SessionHook::custom_validation_hook(vmod, 70, Bytes::from_static(b"vi"), Bytes::from_static(b"vu")))
            .hook(SessionHook::Custom {
                module: xmod,
                entity_id: 71,
                kind: HookKind::Execution,
                has_pre: true,
                has_post: true,
                install_data: Bytes::from_static(b"xi"),
                uninstall_data: Bytes::from_static(b"xu"),
            });
        let install = session.to_install(&m).unwrap();
        assert_eq!(install.hooks.len(), 4);
        assert_eq!(install.hooks[2].encode(), Bytes::from([vmod.as_slice(), &[0, 0, 0, 70, 0x05], b"vi"].concat()));
        assert_eq!(install.hooks[3].encode(), Bytes::from([xmod.as_slice(), &[0, 0, 0, 71, 0x06], b"xi"].concat()));
        assert!(install.has_execution_hooks());
        let un = session.uninstall(&m).unwrap();
        assert_eq!(un.validation, install.validation.entity);
        assert_eq!(un.uninstall_data, entity_uninstall_data(7));
        // Validation hooks reversed (custom, allowlist, time range), then execution hooks (custom).
        assert_eq!(
            un.hook_uninstall_data,
            vec![
                Bytes::from_static(b"vu"),
                install.hooks[1].install_data.clone(),
                entity_uninstall_data(7),
                Bytes::from_static(b"xu"),
            ]
        );
        // Without custom hooks the pairing is the primitives' one.
        let ours = SessionKeyValidation::new(7, key)
            .time_range(1_900_000_000, 0)
            .native_token_limit(U256::from(5))
            .gas_limit(U256::from(9))
            .allowlist(vec![allow_target(target)]);
        let expected = UninstallValidation::clearing_hooks(&ours.to_install(&m).unwrap(), entity_uninstall_data(7), &m);
        assert_eq!(ours.uninstall(&m).unwrap(), expected);
    }

    /// A custom validation module replaces SingleSigner in the ValidationConfig, with its own
    /// install and uninstall data; flags and hooks are unchanged.
    #[test]
    fn custom_validation_module_replaces_single_signer() {
        let m = ModuleAddresses::mav2();
        let module = Address::with_last_byte(0xb0);
        let custom = CustomValidation {
            module,
            install_data: Bytes::from_static(b"install"),
            uninstall_data: Bytes::from_static(b"uninstall"),
        };
        let session = SessionKeyValidation::with_validation_module(3, custom.clone()).allow_execute();
        let install = session.to_install(&m).unwrap();
        assert_eq!(install.validation.entity, keyward_primitives::mav2::ModuleEntity::new(module, 3));
        assert_eq!(install.validation.flags(), 0x01);
        assert_eq!(install.install_data, custom.install_data);
        let un = session.uninstall(&m).unwrap();
        assert_eq!(un.uninstall_data, custom.uninstall_data);
        assert!(un.hook_uninstall_data.is_empty());
        let zero = CustomValidation { module: Address::ZERO, ..custom };
        assert_eq!(
            SessionKeyValidation::new(3, Address::with_last_byte(1))
                .validation_module(zero)
                .allow_execute()
                .compile(&m),
            Err(InstallError::ZeroModule(None))
        );
        let zero_hook = SessionKeyValidation::new(3, Address::with_last_byte(1))
            .global(true)
            .hook(SessionHook::custom_execution_hook(Address::ZERO, 3, Bytes::new(), Bytes::new()));
        assert_eq!(zero_hook.compile(&m), Err(InstallError::ZeroModule(Some(0))));
    }

    #[test]
    fn refusals_keep_their_names() {
        let m = ModuleAddresses::mav2();
        let key = Address::with_last_byte(1);
        assert_eq!(SessionKeyValidation::new(0, key).global(true).compile(&m), Err(InstallError::InvalidEntityId(0)));
        assert_eq!(
            SessionKeyValidation::new(1, Address::ZERO).global(true).compile(&m),
            Err(InstallError::ZeroSessionKey)
        );
        assert_eq!(SessionKeyValidation::new(1, key).compile(&m), Err(InstallError::NoSelectors));
        let with_allowlist =
            SessionKeyValidation::new(1, key).allowlist(vec![allow_target(Address::with_last_byte(2))]);
        assert_eq!(
            with_allowlist.to_install(&m).unwrap().selectors,
            vec![execute_selector(), execute_batch_selector()]
        );
        let explicit = SessionKeyValidation::new(1, key)
            .global(true)
            .native_token_limit(U256::from(1))
            .hook(SessionHook::TimeRange { entity_id: 1, valid_until: 1, valid_after: 2 });
        assert!(matches!(explicit.compile(&m), Err(InstallError::Hook { index: 1, .. })), "{:?}", explicit.compile(&m));
    }
}
