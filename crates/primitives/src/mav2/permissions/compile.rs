//! Compilation of a session to the `installValidation` arguments of its validation — SingleSigner
//! for a secp256k1 key, Keyward's P256ValidationModule for a passkey (P-256), with the same hooks —
//! (account-formats.md §11.2–11.3), byte-compatible with Alchemy's `PermissionBuilder` for
//! secp256k1 keys. The
//! hook-placement rule (which hook, at which entity id, in which order) lives here only: the
//! compiler and the SDK's session builder both go through [`SessionValidation::compile`].

use alloy::primitives::{Address, Bytes, U256};
use alloy::sol_types::SolCall;

use super::kinds::Permission;
use super::rules::PermissionError;
use crate::mav2::abi::{AllowlistInput, IModularAccount};
use crate::mav2::deferred::{DeferredAction, DeferredError};
use crate::mav2::ids::{HALF_UINT32, MAX_SESSION_ENTITY_ID, ValidationConfig};
use crate::mav2::install::{InstallValidation, Selector, UninstallValidation};
use crate::mav2::modules::{
    HookInstall, ModuleAddresses, ModuleError, SessionRules, entity_uninstall_data, single_signer_install_data,
};
use crate::mav2::nonce::{NonceError, NonceKey};
use crate::mav2::session_key::{SessionKey, p256_install_data};

/// What to compile: a session key, its entity id and the Wallet-API request fields.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SessionRequest {
    /// The smart account.
    pub account: Address,
    /// The session key's address (SingleSigner signer).
    pub session_key: Address,
    /// The session's entity id, chosen by the server (`1..=0x7ffffffe`, never reused).
    pub entity_id: u32,
    /// The Wallet-API permissions, in request order.
    pub permissions: Vec<Permission>,
    /// `expirySec`: Unix seconds, 0 = never.
    pub expiry_sec: u64,
}

/// Compiles permissions against a set of module addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PermissionCompiler {
    /// Module addresses used in the hooks (and refused as targets).
    pub modules: ModuleAddresses,
    /// The EntryPoint (refused as a target).
    pub entry_point: Address,
}

/// The compiled session: `installValidation` arguments and what the first op needs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CompiledSession {
    /// `installValidation` arguments, hooks in the SDK's order.
    pub install: InstallValidation,
    /// Root session: the validation is global (nonce option `0x01`).
    pub is_global: bool,
    /// `expirySec`, also the deferred action's deadline (0 = none).
    pub deadline: u64,
}

impl CompiledSession {
    /// The session's entity id.
    pub fn entity_id(&self) -> u32 {
        self.install.validation.entity.entity_id
    }

    /// `installValidation` calldata (the deferred action's `call`).
    pub fn calldata(&self) -> Bytes {
        self.install.calldata()
    }

    /// Whether user ops of the session need `callData = 0x8dd7712f ‖ innerCall`.
    pub fn has_execution_hooks(&self) -> bool {
        self.install.has_execution_hooks()
    }

    /// The nonce key of the session's user ops; `deferred` for the op that installs it.
    pub fn nonce_key(&self, parallel_key: U256, deferred: bool) -> Result<NonceKey, NonceError> {
        NonceKey::regular(parallel_key, self.entity_id(), self.is_global, deferred)
    }

    /// The `DeferredAction` the owner signs, for the installing op's key sequence `sequence`.
    pub fn deferred_action(
        &self,
        parallel_key: U256,
        sequence: u64,
    ) -> Result<DeferredAction, PermissionDeferredError> {
        let nonce = self.nonce_key(parallel_key, true)?.nonce(sequence);
        Ok(DeferredAction::build(nonce, self.deadline, self.calldata())?)
    }

    /// `uninstallValidation` arguments that also clear every hook's state (§11.6).
    pub fn uninstall(&self, modules: &ModuleAddresses) -> UninstallValidation {
        UninstallValidation::clearing_hooks(&self.install, entity_uninstall_data(self.entity_id()), modules)
    }
}

/// Errors building a session's deferred action.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PermissionDeferredError {
    /// Bad nonce key.
    #[error(transparent)]
    Nonce(#[from] NonceError),
    /// Bad deferred action.
    #[error(transparent)]
    Deferred(#[from] DeferredError),
}

/// A TimeRange validation hook's window (Unix seconds, 0 = open end).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TimeRange {
    /// End of validity (0 = none).
    pub valid_until: u64,
    /// Start of validity.
    pub valid_after: u64,
}

/// A session's hooks by kind, before placement: what its permissions (or the SDK's builder) ask for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SessionHooks {
    /// TimeRange validation hook (the Wallet API's `expirySec` is its `valid_until`).
    pub time_range: Option<TimeRange>,
    /// Native value budget in wei: NativeTokenLimit execution hook.
    pub native_value: Option<U256>,
    /// ERC-20 lifetime spend limits: Allowlist execution hook.
    pub erc20_limits: Vec<AllowlistInput>,
    /// Gas budget in wei: NativeTokenLimit validation hook.
    pub gas_budget: Option<U256>,
    /// Targets and selectors: Allowlist validation hook (also grants `execute` / `executeBatch`).
    pub allowlist: Vec<AllowlistInput>,
    /// The only paymaster allowed: PaymasterGuard validation hook.
    pub paymaster_guard: Option<Address>,
    /// Keyward's periodic spend and call limits and argument conditions: SessionRules execution
    /// hook (none when empty).
    pub rules: SessionRules,
}

/// The entity id of a session's second hook on one module: `E + 0x7fffffff` (gas budget, ERC-20
/// limits), so it never shares state with the hook at `E`.
pub const fn offset_entity_id(entity_id: u32) -> u32 {
    entity_id.wrapping_add(HALF_UINT32)
}

impl SessionHooks {
    /// The hook entries of a session at entity `E`, in the `PermissionBuilder`'s order:
    /// `[TimeRange E] [NTL exec E] [Allowlist exec E'] [NTL validation E'] [Allowlist validation E]`,
    /// then `[PaymasterGuard E]`, with `E' = E + 0x7fffffff` so two hooks on one module never
    /// share state.
    pub fn place(&self, modules: &ModuleAddresses, entity_id: u32) -> Result<Vec<HookInstall>, ModuleError> {
        let e = entity_id;
        let offset = offset_entity_id(e);
        let mut hooks = Vec::new();
        if let Some(t) = self.time_range {
            hooks.push(HookInstall::time_range(modules, e, t.valid_until, t.valid_after)?);
        }
        if let Some(allowance) = self.native_value {
            hooks.push(HookInstall::native_token_limit_execution(modules, e, allowance));
        }
        if !self.erc20_limits.is_empty() {
            hooks.push(HookInstall::allowlist_execution(modules, offset, &self.erc20_limits)?);
        }
        if let Some(limit) = self.gas_budget {
            hooks.push(HookInstall::native_token_limit_validation(modules, offset, limit));
        }
        if !self.allowlist.is_empty() {
            hooks.push(HookInstall::allowlist_validation(modules, e, &self.allowlist)?);
        }
        if let Some(paymaster) = self.paymaster_guard {
            hooks.push(HookInstall::paymaster_guard(modules, e, paymaster)?);
        }
        if !self.rules.is_empty() {
            if modules.session_rules == Address::ZERO {
                return Err(ModuleError::NoSessionRulesModule);
            }
            hooks.push(HookInstall::session_rules_execution(modules, e, &self.rules));
        }
        Ok(hooks)
    }

    /// Whether the hooks grant `execute` and `executeBatch` (an allowlist exists).
    pub fn grants_execute(&self) -> bool {
        !self.allowlist.is_empty()
    }

    /// The session's deadline: the TimeRange's end (0 = none).
    pub fn deadline(&self) -> u64 {
        self.time_range.map(|t| t.valid_until).unwrap_or(0)
    }
}

/// A session key's validation (SingleSigner, or P256 for a passkey) before encoding: the one input of [`CompiledSession`],
/// whether it comes from Wallet-API permissions ([`super::CheckedPermissions::validation`]) or
/// from the SDK's builder.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SessionValidation {
    /// The session's entity id (`1..=0x7ffffffe`).
    pub entity_id: u32,
    /// The session key: a SingleSigner signer, or a P256ValidationModule key.
    pub session_key: SessionKey,
    /// Global validation (a root session).
    pub is_global: bool,
    /// Also an ERC-1271 / deferred-action signer (never set by the Wallet API).
    pub is_signature_validation: bool,
    /// Account selectors besides `execute` / `executeBatch`, which an allowlist adds.
    pub selectors: Vec<Selector>,
    /// The hooks by kind.
    pub hooks: SessionHooks,
}

impl SessionValidation {
    /// The `installValidation` arguments for `modules`: hooks placed by [`SessionHooks::place`],
    /// selectors in order followed by `execute`, `executeBatch` when an allowlist exists.
    pub fn compile(&self, modules: &ModuleAddresses) -> Result<CompiledSession, PermissionError> {
        let e = self.entity_id;
        if e == 0 || e > MAX_SESSION_ENTITY_ID {
            return Err(PermissionError::InvalidEntityId(e));
        }
        let (module, install_data) = match &self.session_key {
            SessionKey::Secp256k1(a) if *a == Address::ZERO => return Err(PermissionError::ZeroSessionKey),
            SessionKey::Secp256k1(a) => (modules.single_signer_validation, single_signer_install_data(e, *a)),
            SessionKey::P256(_) if modules.p256_validation == Address::ZERO => {
                return Err(PermissionError::NoP256Module);
            }
            SessionKey::P256(k) => (modules.p256_validation, p256_install_data(e, k)),
        };
        let hooks = self.hooks.place(modules, e)?;
        let mut selectors = self.selectors.clone();
        if self.hooks.grants_execute() {
            for s in [IModularAccount::executeCall::SELECTOR, IModularAccount::executeBatchCall::SELECTOR] {
                let s = Selector::new(s);
                if !selectors.contains(&s) {
                    selectors.push(s);
                }
            }
        }
        if !self.is_global && selectors.is_empty() {
            return Err(PermissionError::ValidationConfigUnset);
        }
        Ok(CompiledSession {
            install: InstallValidation {
                validation: ValidationConfig::new(module, e, self.is_global, self.is_signature_validation, true),
                selectors,
                install_data,
                hooks,
            },
            is_global: self.is_global,
            deadline: self.hooks.deadline(),
        })
    }
}

impl PermissionCompiler {
    /// The MAv2 modules and EntryPoint v0.7 (what the test vectors use).
    pub const fn mav2() -> Self {
        Self { modules: ModuleAddresses::mav2(), entry_point: crate::entry_point::ENTRY_POINT_V07 }
    }

    /// Compiles `request` as Alchemy's `PermissionBuilder` does (§11.2–11.3); `now` (Unix seconds)
    /// is only used to reject an expiry in the past.
    pub fn compile(&self, request: &SessionRequest, now: u64) -> Result<CompiledSession, PermissionError> {
        let e = request.entity_id;
        if e == 0 || e > MAX_SESSION_ENTITY_ID {
            return Err(PermissionError::InvalidEntityId(e));
        }
        self.check(request.account, request.session_key, &request.permissions, request.expiry_sec, now)?.compile(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mav2::modules::allow_target;

    #[test]
    fn one_check_compiles_at_any_entity_as_compile_does() {
        let compiler = PermissionCompiler::mav2();
        let mut request = SessionRequest {
            account: Address::with_last_byte(1),
            session_key: Address::with_last_byte(2),
            entity_id: 1,
            permissions: vec![
                Permission::GasLimit { limit: U256::from(9) },
                Permission::ContractAccess { address: Address::with_last_byte(3) },
            ],
            expiry_sec: 2_000_000_000,
        };
        let checked = compiler.check(request.account, request.session_key, &request.permissions, 2_000_000_000, 0);
        let checked = checked.unwrap();
        for e in [1, 77, MAX_SESSION_ENTITY_ID] {
            request.entity_id = e;
            assert_eq!(checked.compile(e), compiler.compile(&request, 0), "entity {e}");
        }
        assert_eq!(checked.compile(0), Err(PermissionError::InvalidEntityId(0)));
    }

    #[test]
    fn hooks_are_placed_in_the_builder_order_at_e_and_its_offset() {
        let m = ModuleAddresses::mav2();
        let hooks = SessionHooks {
            time_range: Some(TimeRange { valid_until: 10, valid_after: 0 }),
            native_value: Some(U256::from(1)),
            erc20_limits: vec![crate::mav2::modules::erc20_spend_limit(Address::with_last_byte(4), U256::from(2))],
            gas_budget: Some(U256::from(3)),
            allowlist: vec![allow_target(Address::with_last_byte(5))],
            paymaster_guard: Some(Address::with_last_byte(6)),
            rules: Default::default(),
        };
        let placed = hooks.place(&m, 7).unwrap();
        let got: Vec<(Address, u32, bool)> = placed
            .iter()
            .map(|h| (h.config.entity.module, h.config.entity.entity_id, h.config.is_validation_hook))
            .collect();
        let off = offset_entity_id(7);
        assert_eq!(off, 7 + HALF_UINT32);
        assert_eq!(
            got,
            vec![
                (m.time_range, 7, true),
                (m.native_token_limit, 7, false),
                (m.allowlist, off, false),
                (m.native_token_limit, off, true),
                (m.allowlist, 7, true),
                (m.paymaster_guard, 7, true),
            ]
        );
        assert_eq!(hooks.deadline(), 10);
        assert!(hooks.grants_execute());
        assert_eq!(SessionHooks::default().place(&m, 7).unwrap(), vec![]);
    }
}
