//! `installValidation` / `uninstallValidation` calldata (§2.1, §11.6).

use alloy::primitives::{Bytes, FixedBytes};
use alloy::sol_types::SolCall;

use super::abi::IModularAccount::{installValidationCall, uninstallValidationCall};
use super::ids::{ModuleEntity, ValidationConfig};
use super::modules::HookInstall;

/// A 4-byte function selector.
pub type Selector = FixedBytes<4>;

/// The arguments of `installValidation(bytes25, bytes4[], bytes, bytes[])`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct InstallValidation {
    /// Validation module, entity id and flags.
    pub validation: ValidationConfig,
    /// Selectors the validation may call (besides the global pool when global).
    pub selectors: Vec<Selector>,
    /// The validation module's `onInstall` data (empty for hooks on the SMA owner).
    pub install_data: Bytes,
    /// Hooks in installation order.
    pub hooks: Vec<HookInstall>,
}

/// Errors decoding `installValidation` calldata.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InstallDecodeError {
    /// Not ABI-valid `installValidation` calldata.
    #[error("not installValidation calldata: {0}")]
    Abi(String),
    /// The validation config uses undefined flag bits.
    #[error("invalid validation config: {0}")]
    Config(#[from] super::ids::IdError),
    /// Hook element `index` is shorter than 25 bytes or has undefined flag bits.
    #[error("hook element {0} is not HookConfig (25 bytes) followed by install data")]
    Hook(usize),
}

impl InstallValidation {
    /// The ABI call value.
    pub fn to_call(&self) -> installValidationCall {
        installValidationCall {
            validationConfig: self.validation.encode(),
            selectors: self.selectors.clone(),
            installData: self.install_data.clone(),
            hooks: self.hooks.iter().map(HookInstall::encode).collect(),
        }
    }

    /// The calldata `0x1bbf564c ‖ abi.encode(...)`.
    pub fn calldata(&self) -> Bytes {
        self.to_call().abi_encode().into()
    }

    /// Decodes `installValidation` calldata (strict ABI decoding).
    pub fn decode_calldata(data: &[u8]) -> Result<Self, InstallDecodeError> {
        let call =
            installValidationCall::abi_decode_validate(data).map_err(|e| InstallDecodeError::Abi(e.to_string()))?;
        let validation = ValidationConfig::decode(call.validationConfig)?;
        let hooks = call
            .hooks
            .iter()
            .enumerate()
            .map(|(i, h)| HookInstall::decode(h).ok_or(InstallDecodeError::Hook(i)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { validation, selectors: call.selectors, install_data: call.installData, hooks })
    }

    /// Validation hooks in installation order (their position is the signature segment index).
    pub fn validation_hooks(&self) -> impl DoubleEndedIterator<Item = &HookInstall> {
        self.hooks.iter().filter(|h| h.config.is_validation_hook)
    }

    /// Execution hooks in installation order.
    pub fn execution_hooks(&self) -> impl DoubleEndedIterator<Item = &HookInstall> {
        self.hooks.iter().filter(|h| !h.config.is_validation_hook)
    }

    /// Whether the validation has execution hooks, so its user ops must use
    /// `callData = 0x8dd7712f ‖ innerCall` (§3.3).
    pub fn has_execution_hooks(&self) -> bool {
        self.execution_hooks().next().is_some()
    }
}

/// The arguments of `uninstallValidation(bytes24, bytes, bytes[])`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct UninstallValidation {
    /// The validation to remove.
    pub validation: ModuleEntity,
    /// The validation module's `onUninstall` data.
    pub uninstall_data: Bytes,
    /// Empty, or one item per hook (§11.6 pairing order).
    pub hook_uninstall_data: Vec<Bytes>,
}

impl UninstallValidation {
    /// The ABI call value.
    pub fn to_call(&self) -> uninstallValidationCall {
        uninstallValidationCall {
            validationFunction: self.validation.encode(),
            uninstallData: self.uninstall_data.clone(),
            hookUninstallData: self.hook_uninstall_data.clone(),
        }
    }

    /// The calldata `0xb6b1ccfe ‖ abi.encode(...)`.
    pub fn calldata(&self) -> Bytes {
        self.to_call().abi_encode().into()
    }

    /// Uninstall for a validation installed by `install`, clearing every hook's state too:
    /// validation module data `uninstall_data`, and one item per hook with that hook's install
    /// data as uninstall data (the shipped modules' uninstall encoding of the same state: the
    /// allowlist takes the same inputs; NTL, TimeRange and PaymasterGuard take `abi.encode(uint32)`).
    ///
    /// Pairing order (§11.6, from the MAv2 source, to be confirmed against deployed bytecode):
    /// validation hooks first, then execution hooks, each group in **reverse** installation order.
    pub fn clearing_hooks(
        install: &InstallValidation,
        uninstall_data: Bytes,
        modules: &super::ModuleAddresses,
    ) -> Self {
        let item = |h: &HookInstall| -> Bytes {
            if h.config.entity.module == modules.allowlist || h.config.entity.module == modules.session_rules {
                h.install_data.clone()
            } else {
                super::modules::entity_uninstall_data(h.config.entity.entity_id)
            }
        };
        let mut hook_uninstall_data: Vec<Bytes> = install.validation_hooks().rev().map(item).collect();
        hook_uninstall_data.extend(install.execution_hooks().rev().map(item));
        Self { validation: install.validation.entity, uninstall_data, hook_uninstall_data }
    }
}
