//! Module addresses (configuration) and the `onInstall` / `onUninstall` data of each MAv2 module
//! (§10), with the hook entries `installValidation` takes.

use alloy::primitives::{Address, Bytes, FixedBytes, U256, address, aliases::U48};
use alloy::sol_types::SolValue;

use super::abi::{AllowlistInput, CallInput, ConditionInput, SpendInput};
use super::ids::HookConfig;

/// Largest value of a `uint48` (time ranges, deadlines).
pub const MAX_UINT48: u64 = (1 << 48) - 1;

/// Where the modules live. Keyward deploys its own modules; [`ModuleAddresses::mav2`] gives the
/// MAv2 deployments (§15) that the test vectors use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ModuleAddresses {
    /// SingleSignerValidationModule.
    pub single_signer_validation: Address,
    /// TimeRangeModule.
    pub time_range: Address,
    /// NativeTokenLimitModule.
    pub native_token_limit: Address,
    /// AllowlistModule.
    pub allowlist: Address,
    /// PaymasterGuardModule.
    pub paymaster_guard: Address,
    /// WebAuthnValidationModule.
    pub webauthn_validation: Address,
    /// Keyward's SessionRulesModule (periodic spend and call limits, argument conditions); MAv2
    /// has none, so [`ModuleAddresses::mav2`] leaves it zero and a deployment sets Keyward's.
    pub session_rules: Address,
    /// Keyward's P256ValidationModule (passkey session keys); zero in [`ModuleAddresses::mav2`].
    pub p256_validation: Address,
}

impl ModuleAddresses {
    /// The MAv2 v2.0.x deployments (same on every chain), AllowlistModule v2.0.1.
    pub const fn mav2() -> Self {
        Self {
            single_signer_validation: address!("0x00000000000099DE0BF6fA90dEB851E2A2df7d83"),
            time_range: address!("0x00000000000082B8e2012be914dFA4f62A0573eA"),
            native_token_limit: address!("0x00000000000001e541f0D090868FBe24b59Fbe06"),
            allowlist: address!("0x00000000003e826473a313e600b5b9b791f5a59a"),
            paymaster_guard: address!("0x0000000000001aA7A7F7E29abe0be06c72FD42A1"),
            webauthn_validation: address!("0x0000000000001D9d34E07D9834274dF9ae575217"),
            session_rules: Address::ZERO,
            p256_validation: Address::ZERO,
        }
    }

    /// Every module address, for checks such as "never a call target of a session".
    pub fn all(&self) -> [Address; 8] {
        [
            self.single_signer_validation,
            self.time_range,
            self.native_token_limit,
            self.allowlist,
            self.paymaster_guard,
            self.webauthn_validation,
            self.session_rules,
            self.p256_validation,
        ]
    }
}

/// Errors of the module encoders.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ModuleError {
    /// A time bound does not fit `uint48`.
    #[error("time value {0} does not fit uint48")]
    TimeOverflow(u64),
    /// Time range `(0, 0)`: the module rejects it (`TimeRangeNotValid`).
    #[error("time range needs validUntil or validAfter (both are 0)")]
    EmptyTimeRange,
    /// `validUntil ≠ 0` but not after `validAfter`: the module rejects it.
    #[error("time range validUntil {valid_until} is not after validAfter {valid_after}")]
    TimeRangeNotAfter {
        /// End of the range.
        valid_until: u64,
        /// Start of the range.
        valid_after: u64,
    },
    /// A zero paymaster address: the paymaster guard rejects it (`InvalidPaymaster`).
    #[error("paymaster guard needs a non-zero paymaster")]
    ZeroPaymaster,
    /// An ERC-20 spend limit on token address 0: the allowlist rejects it (`ERC20NotAllowed`).
    #[error("allowlist ERC-20 spend limit on the zero address")]
    ZeroErc20Token,
    /// Periodic limits, call limits or argument conditions on a deployment without Keyward's
    /// SessionRulesModule.
    #[error("this deployment has no SessionRulesModule (periodic and call limits, argument conditions)")]
    NoSessionRulesModule,
}

/// A hook as `installValidation` takes it: `HookConfig (25) ‖ installData`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct HookInstall {
    /// Hook module, entity id and flags.
    pub config: HookConfig,
    /// The module's `onInstall` data (empty ⇒ no ERC-165 check, no `onInstall` call).
    pub install_data: Bytes,
}

impl HookInstall {
    /// The `bytes[]` element: `config ‖ installData`.
    pub fn encode(&self) -> Bytes {
        [self.config.encode().as_slice(), self.install_data.as_ref()].concat().into()
    }

    /// Splits a `bytes[]` element into config and install data (`None` if shorter than 25 bytes or
    /// the flags use undefined bits).
    pub fn decode(element: &[u8]) -> Option<Self> {
        if element.len() < 25 {
            return None;
        }
        let config = HookConfig::decode(FixedBytes::<25>::from_slice(&element[..25])).ok()?;
        Some(Self { config, install_data: Bytes::copy_from_slice(&element[25..]) })
    }
}

/// The rules a session installs on the SessionRulesModule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SessionRules {
    /// Spend limits (token 0 = native), each per period.
    pub spends: Vec<SpendInput>,
    /// The call limit (`maxCalls` 0 = none).
    pub calls: CallInput,
    /// Argument conditions.
    pub conditions: Vec<ConditionInput>,
}

impl SessionRules {
    /// Whether there is no rule at all (then no hook is installed).
    pub fn is_empty(&self) -> bool {
        self.spends.is_empty() && self.calls.maxCalls == 0 && self.conditions.is_empty()
    }
}

/// SessionRulesModule: `abi.encode(uint32 entityId, SpendInput[], CallInput, ConditionInput[])`;
/// the same data uninstalls (it names every rule to clear).
pub fn session_rules_install_data(entity_id: u32, rules: &SessionRules) -> Bytes {
    (entity_id, rules.spends.clone(), rules.calls.clone(), rules.conditions.clone()).abi_encode_params().into()
}

/// `abi.encode(uint32 entityId)`: the uninstall data of SingleSigner, NativeTokenLimit, TimeRange,
/// PaymasterGuard and WebAuthn.
pub fn entity_uninstall_data(entity_id: u32) -> Bytes {
    entity_id.abi_encode().into()
}

/// SingleSignerValidationModule: `abi.encode(uint32 entityId, address signer)` (§10.1).
pub fn single_signer_install_data(entity_id: u32, signer: Address) -> Bytes {
    (entity_id, signer).abi_encode_params().into()
}

/// WebAuthnValidationModule: `abi.encode(uint32 entityId, uint256 x, uint256 y)` (§10.6).
pub fn webauthn_install_data(entity_id: u32, x: U256, y: U256) -> Bytes {
    (entity_id, x, y).abi_encode_params().into()
}

fn uint48(v: u64) -> Result<U48, ModuleError> {
    if v > MAX_UINT48 {
        return Err(ModuleError::TimeOverflow(v));
    }
    Ok(U48::from(v))
}

/// TimeRangeModule: `abi.encode(uint32 entityId, uint48 validUntil, uint48 validAfter)` (§10.4),
/// rejecting the ranges the module rejects.
pub fn time_range_install_data(entity_id: u32, valid_until: u64, valid_after: u64) -> Result<Bytes, ModuleError> {
    let (until, after) = (uint48(valid_until)?, uint48(valid_after)?);
    if valid_until == 0 && valid_after == 0 {
        return Err(ModuleError::EmptyTimeRange);
    }
    if valid_until != 0 && valid_until <= valid_after {
        return Err(ModuleError::TimeRangeNotAfter { valid_until, valid_after });
    }
    Ok((entity_id, until, after).abi_encode_params().into())
}

/// NativeTokenLimitModule: `abi.encode(uint32 entityId, uint256 limit)` (§10.3). The same data
/// serves the execution hook (value budget) and the validation hook (gas budget in wei).
pub fn native_token_limit_install_data(entity_id: u32, limit: U256) -> Bytes {
    (entity_id, limit).abi_encode_params().into()
}

/// AllowlistModule: `abi.encode(uint32 entityId, AllowlistInput[] inputs)` (§10.2); also its
/// uninstall data.
pub fn allowlist_install_data(entity_id: u32, inputs: &[AllowlistInput]) -> Result<Bytes, ModuleError> {
    if inputs.iter().any(|i| i.hasERC20SpendLimit && i.target == Address::ZERO) {
        return Err(ModuleError::ZeroErc20Token);
    }
    Ok((entity_id, inputs.to_vec()).abi_encode_params().into())
}

/// PaymasterGuardModule: `abi.encode(uint32 entityId, address paymaster)` (§10.5).
pub fn paymaster_guard_install_data(entity_id: u32, paymaster: Address) -> Result<Bytes, ModuleError> {
    if paymaster == Address::ZERO {
        return Err(ModuleError::ZeroPaymaster);
    }
    Ok((entity_id, paymaster).abi_encode_params().into())
}

/// An allowlist entry: any call to `target` (`hasSelectorAllowlist = false`).
pub fn allow_target(target: Address) -> AllowlistInput {
    AllowlistInput {
        target,
        hasSelectorAllowlist: false,
        hasERC20SpendLimit: false,
        erc20SpendLimit: U256::ZERO,
        selectors: Vec::new(),
    }
}

/// An allowlist entry: only `selectors` on `target`; `target = 0` means those selectors on any target.
pub fn allow_selectors(target: Address, selectors: Vec<FixedBytes<4>>) -> AllowlistInput {
    AllowlistInput {
        target,
        hasSelectorAllowlist: target != Address::ZERO,
        hasERC20SpendLimit: false,
        erc20SpendLimit: U256::ZERO,
        selectors,
    }
}

/// An allowlist entry for the execution hook: a lifetime ERC-20 `transfer` + `approve` limit on `token`.
pub fn erc20_spend_limit(token: Address, limit: U256) -> AllowlistInput {
    AllowlistInput {
        target: token,
        hasSelectorAllowlist: false,
        hasERC20SpendLimit: true,
        erc20SpendLimit: limit,
        selectors: Vec::new(),
    }
}

/// Hook builders with the flags Alchemy's SDK uses.
impl HookInstall {
    /// TimeRange validation hook (`0x01`).
    pub fn time_range(
        modules: &ModuleAddresses,
        entity_id: u32,
        valid_until: u64,
        valid_after: u64,
    ) -> Result<Self, ModuleError> {
        Ok(Self {
            config: HookConfig::bare_validation_hook(modules.time_range, entity_id),
            install_data: time_range_install_data(entity_id, valid_until, valid_after)?,
        })
    }

    /// NativeTokenLimit as pre-execution hook (`0x04`): budget for native value sent.
    pub fn native_token_limit_execution(modules: &ModuleAddresses, entity_id: u32, limit: U256) -> Self {
        Self {
            config: HookConfig::execution_hook(modules.native_token_limit, entity_id, true, false),
            install_data: native_token_limit_install_data(entity_id, limit),
        }
    }

    /// NativeTokenLimit as validation hook (`0x05`): wei budget for user-op gas.
    pub fn native_token_limit_validation(modules: &ModuleAddresses, entity_id: u32, limit: U256) -> Self {
        Self {
            config: HookConfig::validation_hook(modules.native_token_limit, entity_id),
            install_data: native_token_limit_install_data(entity_id, limit),
        }
    }

    /// Allowlist as validation hook (`0x05`): target / selector allowlist.
    pub fn allowlist_validation(
        modules: &ModuleAddresses,
        entity_id: u32,
        inputs: &[AllowlistInput],
    ) -> Result<Self, ModuleError> {
        Ok(Self {
            config: HookConfig::validation_hook(modules.allowlist, entity_id),
            install_data: allowlist_install_data(entity_id, inputs)?,
        })
    }

    /// Allowlist as pre-execution hook (`0x04`): ERC-20 spend limits.
    pub fn allowlist_execution(
        modules: &ModuleAddresses,
        entity_id: u32,
        inputs: &[AllowlistInput],
    ) -> Result<Self, ModuleError> {
        Ok(Self {
            config: HookConfig::execution_hook(modules.allowlist, entity_id, true, false),
            install_data: allowlist_install_data(entity_id, inputs)?,
        })
    }

    /// SessionRulesModule as pre-execution hook (`0x04`): periodic spend and call limits,
    /// argument conditions.
    pub fn session_rules_execution(modules: &ModuleAddresses, entity_id: u32, rules: &SessionRules) -> Self {
        Self {
            config: HookConfig::execution_hook(modules.session_rules, entity_id, true, false),
            install_data: session_rules_install_data(entity_id, rules),
        }
    }

    /// PaymasterGuard validation hook (`0x05`).
    pub fn paymaster_guard(modules: &ModuleAddresses, entity_id: u32, paymaster: Address) -> Result<Self, ModuleError> {
        Ok(Self {
            config: HookConfig::validation_hook(modules.paymaster_guard, entity_id),
            install_data: paymaster_guard_install_data(entity_id, paymaster)?,
        })
    }
}
