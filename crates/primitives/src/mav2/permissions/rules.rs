//! The rules a permission set must pass (Alchemy's `PermissionBuilder` checks plus Keyward's
//! stricter ones, account-formats.md §11.4, §13 R16–R18), and the checked set sorted by the hooks
//! it installs.

use alloy::primitives::{Address, U256};
use alloy::sol_types::SolCall;

use super::compile::{CompiledSession, PermissionCompiler, SessionHooks, SessionValidation, TimeRange};
use super::kinds::{ERC20_APPROVE_SELECTOR, ERC20_TRANSFER_SELECTOR, Period, Permission};
use crate::entry_point::IEntryPoint;
use crate::mav2::abi::{
    AllowlistInput, CallInput, ConditionInput, EXECUTE_USER_OP_SELECTOR, IModularAccount, IModuleSetters,
    INSTALL_EXECUTION_SELECTOR, SpendInput, UNINSTALL_EXECUTION_SELECTOR,
};
use crate::mav2::install::Selector;
use crate::mav2::modules::{
    MAX_UINT48, ModuleAddresses, ModuleError, SessionRules, allow_selectors, allow_target, erc20_spend_limit,
};
use crate::mav2::session_key::SessionKey;

/// `installExecution` / `uninstallExecution` selectors as hard-coded in the SDK's PermissionBuilder
/// (they do not match the account ABI; blocked anyway for parity).
const SDK_STALE_EXECUTION_SELECTORS: [Selector; 2] =
    [Selector::new([0x1d, 0x37, 0xe7, 0xd6]), Selector::new([0x0b, 0x7c, 0xad, 0x71])];

/// Account selectors a non-root session may never get through `account-functions` (§11.4): the
/// SDK's list, the real `installExecution`/`uninstallExecution`, `execute`/`executeBatch` (only
/// granted together with an allowlist hook), `updateFallbackSignerData`, `executeUserOp` and the
/// initializers.
pub fn forbidden_account_selectors() -> Vec<Selector> {
    use IModularAccount as A;
    let mut v = vec![
        Selector::new(A::performCreateCall::SELECTOR),
        Selector::new(A::executeWithRuntimeValidationCall::SELECTOR),
        Selector::new(A::installValidationCall::SELECTOR),
        Selector::new(A::uninstallValidationCall::SELECTOR),
        Selector::new(INSTALL_EXECUTION_SELECTOR),
        Selector::new(UNINSTALL_EXECUTION_SELECTOR),
        Selector::new(A::upgradeToAndCallCall::SELECTOR),
        Selector::new(A::executeCall::SELECTOR),
        Selector::new(A::executeBatchCall::SELECTOR),
        Selector::new(A::updateFallbackSignerDataCall::SELECTOR),
        Selector::new(EXECUTE_USER_OP_SELECTOR),
        Selector::new(A::initializeWithValidationCall::SELECTOR),
        Selector::new(A::initializeCall::SELECTOR),
    ];
    v.extend(SDK_STALE_EXECUTION_SELECTORS);
    v
}

/// Selectors a wildcard (`functions-on-all-contracts`) may not contain: the account-keyed setters
/// of the modules and of the EntryPoint, which would let a session rewrite its own limits or move
/// the account's deposit (§13 R18).
pub fn forbidden_wildcard_selectors() -> Vec<Selector> {
    use IEntryPoint as E;
    use IModuleSetters as M;
    vec![
        Selector::new(M::onInstallCall::SELECTOR),
        Selector::new(M::onUninstallCall::SELECTOR),
        Selector::new(M::transferSignerCall::SELECTOR),
        Selector::new(M::updateLimits_0Call::SELECTOR),
        Selector::new(M::updateSpecialPaymasterCall::SELECTOR),
        Selector::new(M::setTimeRangeCall::SELECTOR),
        Selector::new(M::updateAllowlistCall::SELECTOR),
        Selector::new(M::deleteAllowlistCall::SELECTOR),
        Selector::new(M::setAddressAllowlistCall::SELECTOR),
        Selector::new(M::setSelectorAllowlistCall::SELECTOR),
        Selector::new(M::updateLimits_1Call::SELECTOR),
        Selector::new(E::withdrawToCall::SELECTOR),
        Selector::new(E::withdrawStakeCall::SELECTOR),
        Selector::new(E::unlockStakeCall::SELECTOR),
        Selector::new(E::addStakeCall::SELECTOR),
        Selector::new(E::incrementNonceCall::SELECTOR),
    ]
}

/// Why a permission set cannot be compiled. Variants named after an SDK error class reject the
/// same inputs; the others are Keyward's additional rules.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PermissionError {
    /// The permission list is empty (the Wallet API requires at least one).
    #[error("no permissions given (at least one is required)")]
    NoPermissions,
    /// Session entity ids must be in `1..=0x7ffffffe` (SDK `InvalidEntityIdError`).
    #[error("session entity id {0} outside 1..=2147483646 (0 is the owner, higher ids are hook offsets)")]
    InvalidEntityId(u32),
    /// The session key is the zero address.
    #[error("session key is the zero address")]
    ZeroSessionKey,
    /// A P-256 session key on a deployment without the P256ValidationModule.
    #[error(
        "this account stack has no P256ValidationModule, so it cannot hold a p256 session key (run `keyward deploy` \
         to add Keyward's modules, or use a secp256k1 key)"
    )]
    NoP256Module,
    /// `expirySec` is before `now` (SDK `ExpiredDeadlineError`).
    #[error("expiry {expiry} is in the past (now {now})")]
    ExpiredDeadline {
        /// Requested expiry.
        expiry: u64,
        /// The time the compiler was given.
        now: u64,
    },
    /// `expirySec` does not fit `uint48` (SDK `DeadlineOverLimitError`).
    #[error("expiry {0} does not fit uint48")]
    DeadlineOverLimit(u64),
    /// `root` combined with anything else, or given twice (SDK `RootPermissionOnlyError`).
    #[error("the root permission must be the only permission")]
    RootPermissionOnly,
    /// More than one `native-token-transfer` (SDK `MultipleNativeTokenTransferError`).
    #[error("permission {index}: only one native-token-transfer permission is allowed")]
    MultipleNativeTokenTransfer {
        /// Position of the second one.
        index: usize,
    },
    /// More than one `gas-limit` (SDK `MultipleGasLimitError`).
    #[error("permission {index}: only one gas-limit permission is allowed")]
    MultipleGasLimit {
        /// Position of the second one.
        index: usize,
    },
    /// A token or contract address is zero (SDK `ZeroAddressError`).
    #[error("permission {index} ({kind}): address must not be zero")]
    ZeroAddress {
        /// Position in the list.
        index: usize,
        /// Permission type.
        kind: &'static str,
    },
    /// A target is the account itself (SDK `AccountAddressAsTargetError`).
    #[error("permission {index} ({kind}): target {address} is the account itself")]
    AccountAddressAsTarget {
        /// Position in the list.
        index: usize,
        /// Permission type.
        kind: &'static str,
        /// The account.
        address: Address,
    },
    /// Two `contract-access` / `functions-on-contract` permissions for one address
    /// (SDK `DuplicateTargetAddressError`).
    #[error("permission {index} ({kind}): target {address} already has a contract permission")]
    DuplicateTargetAddress {
        /// Position of the second one.
        index: usize,
        /// Permission type.
        kind: &'static str,
        /// The repeated target.
        address: Address,
    },
    /// Two `erc20-token-transfer` permissions for one token (the second budget would overwrite the first).
    #[error("permission {index}: token {token} already has an erc20-token-transfer permission")]
    DuplicateErc20Token {
        /// Position of the second one.
        index: usize,
        /// The token.
        token: Address,
    },
    /// A target is a module or the EntryPoint: the session could rewrite its own limits or move
    /// the account's deposit (§13 R18).
    #[error("permission {index} ({kind}): target {address} is a module or the EntryPoint")]
    ForbiddenTarget {
        /// Position in the list.
        index: usize,
        /// Permission type.
        kind: &'static str,
        /// The target.
        address: Address,
    },
    /// An empty `functions` list (SDK `NoFunctionsProvidedError`).
    #[error("permission {index} ({kind}): functions must list at least one selector")]
    NoFunctionsProvided {
        /// Position in the list.
        index: usize,
        /// Permission type.
        kind: &'static str,
    },
    /// A selector listed twice (the account would revert `ValidationAlreadySet` for account functions).
    #[error("permission {index} ({kind}): selector {selector} listed twice")]
    DuplicateSelector {
        /// Position in the list.
        index: usize,
        /// Permission type.
        kind: &'static str,
        /// The selector.
        selector: Selector,
    },
    /// An `account-functions` selector a session may never get (SDK `SelectorNotAllowed`, §11.4).
    #[error("permission {index} (account-functions): selector {selector} may not be granted to a session")]
    SelectorNotAllowed {
        /// Position in the list.
        index: usize,
        /// The selector.
        selector: Selector,
    },
    /// A wildcard selector that matches a module or EntryPoint setter (§13 R18).
    #[error(
        "permission {index} (functions-on-all-contracts): selector {selector} matches a module or EntryPoint setter"
    )]
    ForbiddenWildcardSelector {
        /// Position in the list.
        index: usize,
        /// The selector.
        selector: Selector,
    },
    /// A non-root session ends with no callable selector (SDK `ValidationConfigUnsetError`), e.g.
    /// `native-token-transfer` or `gas-limit` alone.
    #[error("the permissions grant no callable function (add contract, function or account-function access, or root)")]
    ValidationConfigUnset,
    /// A Keyward rule permission (periodic or call limit, argument conditions) is malformed.
    #[error("permission {index} ({kind}): {reason}")]
    InvalidRule {
        /// Position in the list.
        index: usize,
        /// Permission type.
        kind: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A module encoder rejected a value.
    #[error(transparent)]
    Module(#[from] ModuleError),
}

/// A SessionRules spend limit from a periodic permission.
fn spend(
    index: usize,
    kind: &'static str,
    token: Address,
    allowance: U256,
    period: Period,
    now: u64,
) -> Result<SpendInput, PermissionError> {
    let (length, start) = window(index, kind, period, now)?;
    Ok(SpendInput { token, limit: allowance, period: uint48(length), start: uint48(start) })
}

/// A period's length and start (the session's creation time when it names none), both `uint48`.
fn window(index: usize, kind: &'static str, period: Period, now: u64) -> Result<(u64, u64), PermissionError> {
    let start = period.start.unwrap_or(now);
    if period.length == 0 || period.length > MAX_UINT48 || start > MAX_UINT48 {
        return Err(PermissionError::InvalidRule {
            index,
            kind,
            reason: format!("periodSec must be 1..={MAX_UINT48} and startSec at most {MAX_UINT48}"),
        });
    }
    Ok((period.length, start))
}

/// A value already checked to fit `uint48`.
fn uint48(v: u64) -> alloy::primitives::aliases::U48 {
    alloy::primitives::aliases::U48::saturating_from(v)
}

/// A permission set that passed the rules, sorted by what it installs. It does not depend on the
/// session's entity id, so one check serves whichever entity the session is given.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CheckedPermissions {
    /// The session key.
    pub session_key: SessionKey,
    /// `root`: the validation is global.
    pub is_root: bool,
    /// `account-functions` selectors, in request order.
    pub account_selectors: Vec<Selector>,
    /// The hooks by kind.
    pub hooks: SessionHooks,
    /// Module addresses the hooks use.
    pub modules: ModuleAddresses,
}

impl CheckedPermissions {
    /// The session validation at `entity_id`.
    pub fn validation(&self, entity_id: u32) -> SessionValidation {
        SessionValidation {
            entity_id,
            session_key: self.session_key,
            is_global: self.is_root,
            is_signature_validation: false,
            selectors: self.account_selectors.clone(),
            hooks: self.hooks.clone(),
        }
    }

    /// Compiles the session at `entity_id`.
    pub fn compile(&self, entity_id: u32) -> Result<CompiledSession, PermissionError> {
        self.validation(entity_id).compile(&self.modules)
    }
}

fn check_functions(index: usize, kind: &'static str, functions: &[Selector]) -> Result<(), PermissionError> {
    if functions.is_empty() {
        return Err(PermissionError::NoFunctionsProvided { index, kind });
    }
    for (i, s) in functions.iter().enumerate() {
        if functions[..i].contains(s) {
            return Err(PermissionError::DuplicateSelector { index, kind, selector: *s });
        }
    }
    Ok(())
}

impl PermissionCompiler {
    fn check_target(
        &self,
        index: usize,
        kind: &'static str,
        address: Address,
        account: Address,
    ) -> Result<(), PermissionError> {
        if address == Address::ZERO {
            return Err(PermissionError::ZeroAddress { index, kind });
        }
        if address == account {
            return Err(PermissionError::AccountAddressAsTarget { index, kind, address });
        }
        if address == self.entry_point || self.modules.all().contains(&address) {
            return Err(PermissionError::ForbiddenTarget { index, kind, address });
        }
        Ok(())
    }

    /// Checks a session of `account` for `session_key` holding `permissions` until `expiry_sec`
    /// (0 = never; `now` only rejects an expiry in the past) against every rule but the entity
    /// id's, and sorts the permissions into the hooks they install.
    pub fn check(
        &self,
        account: Address,
        session_key: impl Into<SessionKey>,
        permissions: &[Permission],
        expiry_sec: u64,
        now: u64,
    ) -> Result<CheckedPermissions, PermissionError> {
        let session_key = session_key.into();
        match session_key {
            SessionKey::Secp256k1(a) if a == Address::ZERO => return Err(PermissionError::ZeroSessionKey),
            SessionKey::P256(_) if self.modules.p256_validation == Address::ZERO => {
                return Err(PermissionError::NoP256Module);
            }
            _ => {}
        }
        let expiry = expiry_sec;
        if expiry != 0 {
            if expiry > MAX_UINT48 {
                return Err(PermissionError::DeadlineOverLimit(expiry));
            }
            if expiry < now {
                return Err(PermissionError::ExpiredDeadline { expiry, now });
            }
        }
        if permissions.is_empty() {
            return Err(PermissionError::NoPermissions);
        }
        let is_root = permissions.iter().any(|p| matches!(p, Permission::Root));
        if is_root && permissions.len() > 1 {
            return Err(PermissionError::RootPermissionOnly);
        }

        let forbidden_account = forbidden_account_selectors();
        let forbidden_wildcard = forbidden_wildcard_selectors();
        let mut native: Option<U256> = None;
        let mut gas: Option<U256> = None;
        let mut erc20_limits: Vec<AllowlistInput> = Vec::new();
        let mut allowlist: Vec<AllowlistInput> = Vec::new();
        let mut contract_targets: Vec<Address> = Vec::new();
        let mut selectors: Vec<Selector> = Vec::new();
        let mut rules = SessionRules::default();
        let mut erc20_tokens: Vec<Address> = Vec::new();

        for (index, p) in permissions.iter().enumerate() {
            let kind = p.type_name();
            match p {
                Permission::Root => {}
                Permission::NativeTokenTransfer { allowance } => {
                    if native.is_some() {
                        return Err(PermissionError::MultipleNativeTokenTransfer { index });
                    }
                    native = Some(*allowance);
                }
                Permission::Erc20TokenTransfer { address, allowance } => {
                    self.check_target(index, kind, *address, account)?;
                    if erc20_tokens.contains(address) {
                        return Err(PermissionError::DuplicateErc20Token { index, token: *address });
                    }
                    erc20_tokens.push(*address);
                    erc20_limits.push(erc20_spend_limit(*address, *allowance));
                    allowlist.push(allow_selectors(*address, vec![ERC20_APPROVE_SELECTOR, ERC20_TRANSFER_SELECTOR]));
                }
                Permission::GasLimit { limit } => {
                    if gas.is_some() {
                        return Err(PermissionError::MultipleGasLimit { index });
                    }
                    gas = Some(*limit);
                }
                Permission::ContractAccess { address } => {
                    self.check_target(index, kind, *address, account)?;
                    if contract_targets.contains(address) {
                        return Err(PermissionError::DuplicateTargetAddress { index, kind, address: *address });
                    }
                    contract_targets.push(*address);
                    allowlist.push(allow_target(*address));
                }
                Permission::FunctionsOnContract { address, functions } => {
                    self.check_target(index, kind, *address, account)?;
                    if contract_targets.contains(address) {
                        return Err(PermissionError::DuplicateTargetAddress { index, kind, address: *address });
                    }
                    check_functions(index, kind, functions)?;
                    contract_targets.push(*address);
                    allowlist.push(allow_selectors(*address, functions.clone()));
                }
                Permission::FunctionsOnAllContracts { functions } => {
                    check_functions(index, kind, functions)?;
                    if let Some(s) = functions.iter().find(|s| forbidden_wildcard.contains(s)) {
                        return Err(PermissionError::ForbiddenWildcardSelector { index, selector: *s });
                    }
                    allowlist.push(allow_selectors(Address::ZERO, functions.clone()));
                }
                Permission::NativeTokenPeriodic { allowance, period } => {
                    if rules.spends.iter().any(|s| s.token == Address::ZERO) {
                        return Err(PermissionError::MultipleNativeTokenTransfer { index });
                    }
                    rules.spends.push(spend(index, kind, Address::ZERO, *allowance, *period, now)?);
                }
                Permission::Erc20TokenPeriodic { address, allowance, period } => {
                    self.check_target(index, kind, *address, account)?;
                    if erc20_tokens.contains(address) {
                        return Err(PermissionError::DuplicateErc20Token { index, token: *address });
                    }
                    erc20_tokens.push(*address);
                    rules.spends.push(spend(index, kind, *address, *allowance, *period, now)?);
                    allowlist.push(allow_selectors(*address, vec![ERC20_APPROVE_SELECTOR, ERC20_TRANSFER_SELECTOR]));
                }
                Permission::CallLimit { count, period } => {
                    if rules.calls.maxCalls != 0 {
                        return Err(PermissionError::InvalidRule { index, kind, reason: "only one call-limit".into() });
                    }
                    if *count == 0 {
                        return Err(PermissionError::InvalidRule {
                            index,
                            kind,
                            reason: "count must be at least 1".into(),
                        });
                    }
                    let (length, start) = match period {
                        Some(p) => window(index, kind, *p, now)?,
                        None => (0, 0),
                    };
                    rules.calls = CallInput { maxCalls: *count, period: uint48(length), start: uint48(start) };
                }
                Permission::FunctionArguments { address, function, conditions } => {
                    self.check_target(index, kind, *address, account)?;
                    if conditions.is_empty() {
                        return Err(PermissionError::InvalidRule { index, kind, reason: "no conditions".into() });
                    }
                    for c in conditions {
                        let one = !matches!(c.op, super::kinds::ConditionOp::OneOf);
                        if c.values.is_empty() || (one && c.values.len() != 1) || c.values.len() > 32 {
                            return Err(PermissionError::InvalidRule {
                                index,
                                kind,
                                reason: format!(
                                    "operator {} takes {}, got {} values",
                                    c.op.name(),
                                    if one { "exactly one value" } else { "1 to 32 values" },
                                    c.values.len()
                                ),
                            });
                        }
                        rules.conditions.push(ConditionInput {
                            target: *address,
                            selector: function.0.into(),
                            argIndex: c.arg,
                            op: c.op.code(),
                            values: c.values.clone(),
                        });
                    }
                }
                Permission::AccountFunctions { functions } => {
                    check_functions(index, kind, functions)?;
                    for s in functions {
                        if forbidden_account.contains(s) {
                            return Err(PermissionError::SelectorNotAllowed { index, selector: *s });
                        }
                        if selectors.contains(s) {
                            return Err(PermissionError::DuplicateSelector { index, kind, selector: *s });
                        }
                        selectors.push(*s);
                    }
                }
            }
        }
        Ok(CheckedPermissions {
            session_key,
            is_root,
            account_selectors: selectors,
            hooks: SessionHooks {
                time_range: (expiry != 0).then_some(TimeRange { valid_until: expiry, valid_after: 0 }),
                native_value: native,
                erc20_limits,
                gas_budget: gas,
                allowlist,
                paymaster_guard: None,
                rules,
            },
            modules: self.modules,
        })
    }
}
