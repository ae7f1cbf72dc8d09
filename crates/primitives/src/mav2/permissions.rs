//! Wallet-API session permissions (wallet-api.md §6.2) and their compilation to the
//! `installValidation` arguments of a session key (account-formats.md §11), byte-compatible with
//! Alchemy's `PermissionBuilder`, plus Keyward's stricter checks (§11.4, §13 R16–R18).

use alloy::primitives::{Address, Bytes, U256};
use alloy::sol_types::SolCall;
use serde::{Deserialize, Serialize};

use super::abi::{
    AllowlistInput, EXECUTE_USER_OP_SELECTOR, IModularAccount, IModuleSetters, INSTALL_EXECUTION_SELECTOR,
    UNINSTALL_EXECUTION_SELECTOR,
};
use super::deferred::{DeferredAction, DeferredError};
use super::ids::{HALF_UINT32, MAX_SESSION_ENTITY_ID, ValidationConfig};
use super::install::{InstallValidation, Selector, UninstallValidation};
use super::modules::{
    HookInstall, MAX_UINT48, ModuleAddresses, ModuleError, allow_selectors, allow_target, entity_uninstall_data,
    erc20_spend_limit, single_signer_install_data,
};
use super::nonce::{NonceError, NonceKey};
use crate::entry_point::IEntryPoint;

/// ERC-20 `approve(address,uint256)`.
pub const ERC20_APPROVE_SELECTOR: Selector = Selector::new([0x09, 0x5e, 0xa7, 0xb3]);
/// ERC-20 `transfer(address,uint256)`.
pub const ERC20_TRANSFER_SELECTOR: Selector = Selector::new([0xa9, 0x05, 0x9c, 0xbb]);

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

/// Wallet-API `HexBigInt`: `0x` + at least one hex digit on the wire, minimal lowercase when written.
mod hex_quantity {
    use alloy::primitives::U256;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(v: &U256, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v:#x}"))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<U256, D::Error> {
        let s = String::deserialize(d)?;
        let digits =
            s.strip_prefix("0x").ok_or_else(|| D::Error::custom("hex quantity must start with lowercase 0x"))?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(D::Error::custom("hex quantity needs at least one hex digit after 0x"));
        }
        U256::from_str_radix(digits, 16).map_err(|_| D::Error::custom("hex quantity exceeds 256 bits"))
    }
}

/// One Wallet-API permission object `{ type, data }` (wallet-api.md §6.2).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Permission {
    /// Full access: the validation is global. Has no `data`.
    Root,
    /// Cumulative native value the key may send.
    NativeTokenTransfer {
        /// Budget in wei.
        #[serde(with = "hex_quantity")]
        allowance: U256,
    },
    /// Cumulative `transfer` + `approve` amount of one ERC-20 token.
    #[serde(rename = "erc20-token-transfer")]
    Erc20TokenTransfer {
        /// The token.
        address: Address,
        /// Budget in token units.
        #[serde(with = "hex_quantity")]
        allowance: U256,
    },
    /// Wei budget for user-operation gas (`gas × maxFeePerGas`).
    GasLimit {
        /// Budget in wei.
        #[serde(with = "hex_quantity")]
        limit: U256,
    },
    /// Any function of one contract.
    ContractAccess {
        /// The contract.
        address: Address,
    },
    /// Listed selectors on the account itself.
    AccountFunctions {
        /// Selectors (at least one).
        functions: Vec<Selector>,
    },
    /// Listed selectors on any target.
    FunctionsOnAllContracts {
        /// Selectors (at least one).
        functions: Vec<Selector>,
    },
    /// Listed selectors on one contract.
    FunctionsOnContract {
        /// The contract.
        address: Address,
        /// Selectors (at least one).
        functions: Vec<Selector>,
    },
}

impl Permission {
    /// The wire `type` string.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Root => "root",
            Self::NativeTokenTransfer { .. } => "native-token-transfer",
            Self::Erc20TokenTransfer { .. } => "erc20-token-transfer",
            Self::GasLimit { .. } => "gas-limit",
            Self::ContractAccess { .. } => "contract-access",
            Self::AccountFunctions { .. } => "account-functions",
            Self::FunctionsOnAllContracts { .. } => "functions-on-all-contracts",
            Self::FunctionsOnContract { .. } => "functions-on-contract",
        }
    }
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
    /// A module encoder rejected a value.
    #[error(transparent)]
    Module(#[from] ModuleError),
}

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
    /// The MAv2 modules and EntryPoint v0.7 (what the test vectors use).
    pub const fn mav2() -> Self {
        Self { modules: ModuleAddresses::mav2(), entry_point: crate::entry_point::ENTRY_POINT_V07 }
    }

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

    /// Compiles `request` as Alchemy's `PermissionBuilder` does (§11.2–11.3); `now` (Unix seconds)
    /// is only used to reject an expiry in the past.
    ///
    /// Hook order: `[TimeRange E] [NTL exec E] [Allowlist exec E'] [NTL validation E'] [Allowlist validation E]`
    /// with `E' = E + 0x7fffffff`; selectors: account functions in order, then `execute`,
    /// `executeBatch` when an allowlist validation hook exists.
    pub fn compile(&self, request: &SessionRequest, now: u64) -> Result<CompiledSession, PermissionError> {
        let e = request.entity_id;
        if e == 0 || e > MAX_SESSION_ENTITY_ID {
            return Err(PermissionError::InvalidEntityId(e));
        }
        if request.session_key == Address::ZERO {
            return Err(PermissionError::ZeroSessionKey);
        }
        let expiry = request.expiry_sec;
        if expiry != 0 {
            if expiry > MAX_UINT48 {
                return Err(PermissionError::DeadlineOverLimit(expiry));
            }
            if expiry < now {
                return Err(PermissionError::ExpiredDeadline { expiry, now });
            }
        }
        let perms = &request.permissions;
        if perms.is_empty() {
            return Err(PermissionError::NoPermissions);
        }
        let is_root = perms.iter().any(|p| matches!(p, Permission::Root));
        if is_root && perms.len() > 1 {
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

        for (index, p) in perms.iter().enumerate() {
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
                    self.check_target(index, kind, *address, request.account)?;
                    if erc20_limits.iter().any(|i| i.target == *address) {
                        return Err(PermissionError::DuplicateErc20Token { index, token: *address });
                    }
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
                    self.check_target(index, kind, *address, request.account)?;
                    if contract_targets.contains(address) {
                        return Err(PermissionError::DuplicateTargetAddress { index, kind, address: *address });
                    }
                    contract_targets.push(*address);
                    allowlist.push(allow_target(*address));
                }
                Permission::FunctionsOnContract { address, functions } => {
                    self.check_target(index, kind, *address, request.account)?;
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

        let m = &self.modules;
        let offset = e + HALF_UINT32;
        let mut hooks = Vec::new();
        if expiry != 0 {
            hooks.push(HookInstall::time_range(m, e, expiry, 0)?);
        }
        if let Some(allowance) = native {
            hooks.push(HookInstall::native_token_limit_execution(m, e, allowance));
        }
        if !erc20_limits.is_empty() {
            hooks.push(HookInstall::allowlist_execution(m, offset, &erc20_limits)?);
        }
        if let Some(limit) = gas {
            hooks.push(HookInstall::native_token_limit_validation(m, offset, limit));
        }
        if !allowlist.is_empty() {
            hooks.push(HookInstall::allowlist_validation(m, e, &allowlist)?);
            selectors.push(Selector::new(IModularAccount::executeCall::SELECTOR));
            selectors.push(Selector::new(IModularAccount::executeBatchCall::SELECTOR));
        }
        if !is_root && selectors.is_empty() {
            return Err(PermissionError::ValidationConfigUnset);
        }
        Ok(CompiledSession {
            install: InstallValidation {
                validation: ValidationConfig::session(m.single_signer_validation, e, is_root),
                selectors,
                install_data: single_signer_install_data(e, request.session_key),
                hooks,
            },
            is_global: is_root,
            deadline: expiry,
        })
    }
}

/// `permissions.context` of the Wallet API (wallet-api.md §5.3).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PermissionsContext {
    /// `0x00 ‖ sessionId (16) ‖ ownerSignature`: remote mode, the server keeps the session.
    RemoteDeferred {
        /// Server-chosen session id.
        session_id: [u8; 16],
        /// The owner's raw signature over the DeferredAction (65 bytes for ECDSA).
        owner_signature: Bytes,
    },
    /// `0x01 ‖ encoded deferred action`: local mode.
    LocalDeferred(Bytes),
    /// `0x02 ‖ isGlobal (1) ‖ entityId (4)`: a key installed on-chain already.
    NonDeferred {
        /// Whether the validation is global.
        is_global: bool,
        /// The validation's entity id.
        entity_id: u32,
    },
}

/// Errors decoding `permissions.context`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    /// Empty context.
    #[error("permissions context is empty")]
    Empty,
    /// Unknown version byte.
    #[error("permissions context version 0x{0:02x} is unknown (0x00, 0x01, 0x02)")]
    UnknownVersion(u8),
    /// Wrong length for the version.
    #[error("permissions context version 0x{version:02x} has {got} bytes after the version, expected {expected}")]
    BadLength {
        /// Version byte.
        version: u8,
        /// Bytes found.
        got: usize,
        /// What the version requires.
        expected: &'static str,
    },
    /// The `isGlobal` byte of version 0x02 is neither 0 nor 1.
    #[error("permissions context isGlobal byte 0x{0:02x} is neither 0x00 nor 0x01")]
    BadGlobalFlag(u8),
}

impl PermissionsContext {
    /// The wire bytes.
    pub fn encode(&self) -> Bytes {
        let mut out = Vec::new();
        match self {
            Self::RemoteDeferred { session_id, owner_signature } => {
                out.push(0x00);
                out.extend_from_slice(session_id);
                out.extend_from_slice(owner_signature);
            }
            Self::LocalDeferred(data) => {
                out.push(0x01);
                out.extend_from_slice(data);
            }
            Self::NonDeferred { is_global, entity_id } => {
                out.push(0x02);
                out.push(*is_global as u8);
                out.extend_from_slice(&entity_id.to_be_bytes());
            }
        }
        out.into()
    }

    /// Reads the wire bytes.
    pub fn decode(data: &[u8]) -> Result<Self, ContextError> {
        let (&version, rest) = data.split_first().ok_or(ContextError::Empty)?;
        match version {
            0x00 => {
                if rest.len() <= 16 {
                    return Err(ContextError::BadLength { version, got: rest.len(), expected: "16 + signature" });
                }
                let mut session_id = [0u8; 16];
                session_id.copy_from_slice(&rest[..16]);
                Ok(Self::RemoteDeferred { session_id, owner_signature: Bytes::copy_from_slice(&rest[16..]) })
            }
            0x01 => {
                if rest.is_empty() {
                    return Err(ContextError::BadLength { version, got: 0, expected: "at least 1" });
                }
                Ok(Self::LocalDeferred(Bytes::copy_from_slice(rest)))
            }
            0x02 => {
                if rest.len() != 5 {
                    return Err(ContextError::BadLength { version, got: rest.len(), expected: "5" });
                }
                let is_global = match rest[0] {
                    0 => false,
                    1 => true,
                    b => return Err(ContextError::BadGlobalFlag(b)),
                };
                Ok(Self::NonDeferred { is_global, entity_id: u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) })
            }
            v => Err(ContextError::UnknownVersion(v)),
        }
    }
}
