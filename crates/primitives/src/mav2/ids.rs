//! Packed identifiers of ERC-6900 v0.8 / MAv2: `ModuleEntity` (bytes24), `ValidationConfig` and
//! `HookConfig` (bytes25), and the `uint168` validation locator (account-formats.md §1).

use alloy::primitives::{Address, FixedBytes};

/// Entity id of a Semi-Modular Account's built-in owner ("fallback validation").
pub const OWNER_ENTITY_ID: u32 = 0;

/// Entity id that marks a direct-call validation: the module address is the allowed caller.
pub const DIRECT_CALL_ENTITY_ID: u32 = 0xffff_ffff;

/// `HALF_UINT32`: session entity ids must be below it, and the permission compiler adds it to a
/// session id to get a second, disjoint hook entity id on the same module (§11.3).
pub const HALF_UINT32: u32 = 0x7fff_ffff;

/// Largest entity id a session validation may use (`HALF_UINT32 - 1`).
pub const MAX_SESSION_ENTITY_ID: u32 = HALF_UINT32 - 1;

/// `ValidationConfig` flag: the validation may validate user operations.
pub const VALIDATION_FLAG_USER_OP: u8 = 0x01;
/// `ValidationConfig` flag: the validation may validate ERC-1271 signatures (and grant deferred actions).
pub const VALIDATION_FLAG_SIGNATURE: u8 = 0x02;
/// `ValidationConfig` flag: the validation may call every function of the global pool.
pub const VALIDATION_FLAG_GLOBAL: u8 = 0x04;

/// `HookConfig` flag: bit 0 set = validation hook, clear = execution hook.
pub const HOOK_FLAG_VALIDATION: u8 = 0x01;
/// `HookConfig` flag: the execution hook has a post hook.
pub const HOOK_FLAG_POST: u8 = 0x02;
/// `HookConfig` flag: the execution hook has a pre hook.
pub const HOOK_FLAG_PRE: u8 = 0x04;

/// Locator option: check the call against the global pool (else the validation's selectors).
pub const LOCATOR_OPTION_GLOBAL: u8 = 0x01;
/// Locator option: the user-operation signature carries a deferred action.
pub const LOCATOR_OPTION_DEFERRED_ACTION: u8 = 0x02;
/// Locator option (union tag): the locator names a direct-call validation by caller address.
pub const LOCATOR_OPTION_DIRECT_CALL: u8 = 0x04;

/// Errors decoding packed identifiers.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// A `ValidationConfig` flag byte uses bits 3..7, which MAv2 leaves unused.
    #[error("validation flags 0x{0:02x} set unused bits (only 0x01, 0x02, 0x04 are defined)")]
    UnusedValidationFlags(u8),
    /// A `HookConfig` flag byte uses bits 3..7, which are undefined.
    #[error("hook flags 0x{0:02x} set unused bits (only 0x01, 0x02, 0x04 are defined)")]
    UnusedHookFlags(u8),
    /// A locator option byte uses bits 3..7, which are undefined.
    #[error("locator options 0x{0:02x} set unused bits (only 0x01, 0x02, 0x04 are defined)")]
    UnusedLocatorOptions(u8),
    /// A regular `uint168` locator has non-zero bytes above its entity id.
    #[error("regular validation locator has non-zero bytes above the entity id")]
    NonCanonicalLocator,
    /// A packed locator is shorter than its form requires (5 bytes regular, 21 bytes direct call).
    #[error("packed validation locator needs {needed} bytes, got {got}")]
    ShortPackedLocator {
        /// Bytes the form requires.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
}

const fn bit(set: bool, flag: u8) -> u8 {
    if set { flag } else { 0 }
}

fn entity_bytes(module: Address, entity_id: u32) -> [u8; 24] {
    let mut out = [0u8; 24];
    out[..20].copy_from_slice(module.as_slice());
    out[20..].copy_from_slice(&entity_id.to_be_bytes());
    out
}

fn split_entity(bytes: &[u8]) -> (Address, u32) {
    let module = Address::from_slice(&bytes[..20]);
    let entity_id = u32::from_be_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]);
    (module, entity_id)
}

/// `module (20) ‖ entityId (4) ‖ flags (1)`: the packing shared by ValidationConfig and HookConfig.
fn pack_config(entity: ModuleEntity, flags: u8) -> FixedBytes<25> {
    let mut out = [0u8; 25];
    out[..24].copy_from_slice(&entity_bytes(entity.module, entity.entity_id));
    out[24] = flags;
    FixedBytes(out)
}

/// The entity and flag byte of a packed config; `Err(flags)` when flag bits above the low three are set.
fn unpack_config(bytes: FixedBytes<25>) -> Result<(ModuleEntity, u8), u8> {
    let flags = bytes[24];
    if flags & !0x07 != 0 {
        return Err(flags);
    }
    let (module, entity_id) = split_entity(&bytes[..24]);
    Ok((ModuleEntity::new(module, entity_id), flags))
}

/// `ModuleEntity = module (20) ‖ entityId uint32 (4)` (§1.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ModuleEntity {
    /// Module contract (for a direct-call validation: the allowed caller).
    pub module: Address,
    /// Entity id within the module.
    pub entity_id: u32,
}

impl ModuleEntity {
    /// A module entity.
    pub const fn new(module: Address, entity_id: u32) -> Self {
        Self { module, entity_id }
    }

    /// The SMA's built-in owner validation, `ModuleEntity(address(0), 0)`.
    pub const fn owner() -> Self {
        Self { module: Address::ZERO, entity_id: OWNER_ENTITY_ID }
    }

    /// The packed `bytes24`.
    pub fn encode(&self) -> FixedBytes<24> {
        FixedBytes(entity_bytes(self.module, self.entity_id))
    }

    /// Unpacks a `bytes24`.
    pub fn decode(bytes: FixedBytes<24>) -> Self {
        let (module, entity_id) = split_entity(bytes.as_slice());
        Self { module, entity_id }
    }
}

/// `ValidationConfig = module (20) ‖ entityId (4) ‖ validationFlags (1)` (§1.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ValidationConfig {
    /// Validation module and entity id.
    pub entity: ModuleEntity,
    /// `0x01`: may validate user operations.
    pub is_user_op_validation: bool,
    /// `0x02`: may validate ERC-1271 signatures and grant deferred actions.
    pub is_signature_validation: bool,
    /// `0x04`: may call the functions of the global pool.
    pub is_global: bool,
}

impl ValidationConfig {
    /// A validation config with explicit flags.
    pub const fn new(
        module: Address,
        entity_id: u32,
        is_global: bool,
        is_signature_validation: bool,
        is_user_op_validation: bool,
    ) -> Self {
        Self { entity: ModuleEntity::new(module, entity_id), is_user_op_validation, is_signature_validation, is_global }
    }

    /// The flags of a factory-installed owner: global, ERC-1271 and user op (`0x07`).
    pub const fn owner(module: Address, entity_id: u32) -> Self {
        Self::new(module, entity_id, true, true, true)
    }

    /// A session validation: user op only, global for a root session (`0x05`), else scoped (`0x01`).
    pub const fn session(module: Address, entity_id: u32, is_global: bool) -> Self {
        Self::new(module, entity_id, is_global, false, true)
    }

    /// The flag byte.
    pub const fn flags(&self) -> u8 {
        bit(self.is_user_op_validation, VALIDATION_FLAG_USER_OP)
            | bit(self.is_signature_validation, VALIDATION_FLAG_SIGNATURE)
            | bit(self.is_global, VALIDATION_FLAG_GLOBAL)
    }

    /// The packed `bytes25`.
    pub fn encode(&self) -> FixedBytes<25> {
        pack_config(self.entity, self.flags())
    }

    /// Unpacks a `bytes25`; unused flag bits are an error.
    pub fn decode(bytes: FixedBytes<25>) -> Result<Self, IdError> {
        let (entity, flags) = unpack_config(bytes).map_err(IdError::UnusedValidationFlags)?;
        Ok(Self::new(
            entity.module,
            entity.entity_id,
            flags & VALIDATION_FLAG_GLOBAL != 0,
            flags & VALIDATION_FLAG_SIGNATURE != 0,
            flags & VALIDATION_FLAG_USER_OP != 0,
        ))
    }

    /// The locator of this validation as the account stores it: `module ‖ 0x04` for entity id
    /// `0xffffffff`, else the entity id (§1.5).
    pub fn lookup_key(&self) -> ValidationLocator {
        if self.entity.entity_id == DIRECT_CALL_ENTITY_ID {
            ValidationLocator::direct_call(self.entity.module, false)
        } else {
            ValidationLocator::regular(self.entity.entity_id, false, false)
        }
    }
}

/// `HookConfig = module (20) ‖ entityId (4) ‖ hookFlags (1)` (§1.3).
///
/// The three flag bits are kept as given: the account stores the whole 25 bytes, so a validation
/// hook with `hasPre` (`…05`, what Alchemy's SDK emits for most hooks) differs from one without (`…01`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct HookConfig {
    /// Hook module and the hook's entity id (a namespace per hook module).
    pub entity: ModuleEntity,
    /// Bit 0: validation hook (else execution hook).
    pub is_validation_hook: bool,
    /// Bit 1: the execution hook has a post hook.
    pub has_post: bool,
    /// Bit 2: the execution hook has a pre hook.
    pub has_pre: bool,
}

impl HookConfig {
    /// A validation hook with flags `0x05`, as the SDK builds allowlist, gas-limit and
    /// paymaster-guard validation hooks.
    pub const fn validation_hook(module: Address, entity_id: u32) -> Self {
        Self { entity: ModuleEntity::new(module, entity_id), is_validation_hook: true, has_post: false, has_pre: true }
    }

    /// A validation hook with flags `0x01`, as the SDK builds time-range hooks.
    pub const fn bare_validation_hook(module: Address, entity_id: u32) -> Self {
        Self { entity: ModuleEntity::new(module, entity_id), is_validation_hook: true, has_post: false, has_pre: false }
    }

    /// An execution hook (`0x04` pre only, `0x02` post only, `0x06` both).
    pub const fn execution_hook(module: Address, entity_id: u32, has_pre: bool, has_post: bool) -> Self {
        Self { entity: ModuleEntity::new(module, entity_id), is_validation_hook: false, has_post, has_pre }
    }

    /// The flag byte.
    pub const fn flags(&self) -> u8 {
        bit(self.is_validation_hook, HOOK_FLAG_VALIDATION)
            | bit(self.has_post, HOOK_FLAG_POST)
            | bit(self.has_pre, HOOK_FLAG_PRE)
    }

    /// The packed `bytes25`.
    pub fn encode(&self) -> FixedBytes<25> {
        pack_config(self.entity, self.flags())
    }

    /// Unpacks a `bytes25`; unused flag bits are an error.
    pub fn decode(bytes: FixedBytes<25>) -> Result<Self, IdError> {
        let (entity, flags) = unpack_config(bytes).map_err(IdError::UnusedHookFlags)?;
        Ok(Self {
            entity,
            is_validation_hook: flags & HOOK_FLAG_VALIDATION != 0,
            has_post: flags & HOOK_FLAG_POST != 0,
            has_pre: flags & HOOK_FLAG_PRE != 0,
        })
    }
}

/// Which validation a user operation, runtime call, signature or deferred action uses, plus
/// per-use options: the `uint168` ValidationLocator of §1.5.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValidationLocator {
    /// A validation selected by entity id.
    Regular {
        /// Entity id of the validation.
        entity_id: u32,
        /// Check the call against the global pool.
        is_global: bool,
        /// The signature carries a deferred action (user ops only).
        has_deferred_action: bool,
    },
    /// A direct-call validation, selected by the caller's address.
    DirectCall {
        /// The caller allowed by the validation.
        caller: Address,
        /// Check the call against the global pool.
        is_global: bool,
    },
}

impl ValidationLocator {
    /// A regular locator.
    pub const fn regular(entity_id: u32, is_global: bool, has_deferred_action: bool) -> Self {
        Self::Regular { entity_id, is_global, has_deferred_action }
    }

    /// A direct-call locator.
    pub const fn direct_call(caller: Address, is_global: bool) -> Self {
        Self::DirectCall { caller, is_global }
    }

    /// The SMA owner as a global validation (`0x…0001`), the usual inner locator of a deferred action.
    pub const fn owner() -> Self {
        Self::regular(OWNER_ENTITY_ID, true, false)
    }

    /// The options byte.
    pub const fn options(&self) -> u8 {
        match *self {
            Self::Regular { is_global, has_deferred_action, .. } => {
                bit(is_global, LOCATOR_OPTION_GLOBAL) | bit(has_deferred_action, LOCATOR_OPTION_DEFERRED_ACTION)
            }
            Self::DirectCall { is_global, .. } => bit(is_global, LOCATOR_OPTION_GLOBAL) | LOCATOR_OPTION_DIRECT_CALL,
        }
    }

    /// The 21-byte right-aligned `uint168` form used in nonces and deferred actions:
    /// `0x00×16 ‖ entityId ‖ options` or `caller ‖ options`.
    pub fn encode(&self) -> FixedBytes<21> {
        let mut out = [0u8; 21];
        match *self {
            Self::Regular { entity_id, .. } => out[16..20].copy_from_slice(&entity_id.to_be_bytes()),
            Self::DirectCall { caller, .. } => out[..20].copy_from_slice(caller.as_slice()),
        }
        out[20] = self.options();
        FixedBytes(out)
    }

    /// Decodes the 21-byte `uint168` form; unused option bits and non-zero padding are errors.
    pub fn decode(bytes: FixedBytes<21>) -> Result<Self, IdError> {
        let options = bytes[20];
        Self::from_parts(options, &bytes[..20])
    }

    fn from_parts(options: u8, body: &[u8]) -> Result<Self, IdError> {
        if options & !0x07 != 0 {
            return Err(IdError::UnusedLocatorOptions(options));
        }
        let is_global = options & LOCATOR_OPTION_GLOBAL != 0;
        if options & LOCATOR_OPTION_DIRECT_CALL != 0 {
            // The deferred bit has no meaning for direct-call validations; keep decoding strict.
            if options & LOCATOR_OPTION_DEFERRED_ACTION != 0 {
                return Err(IdError::UnusedLocatorOptions(options));
            }
            return Ok(Self::direct_call(Address::from_slice(&body[body.len() - 20..]), is_global));
        }
        let n = body.len();
        if body[..n - 4].iter().any(|b| *b != 0) {
            return Err(IdError::NonCanonicalLocator);
        }
        let entity_id = u32::from_be_bytes([body[n - 4], body[n - 3], body[n - 2], body[n - 1]]);
        Ok(Self::regular(entity_id, is_global, options & LOCATOR_OPTION_DEFERRED_ACTION != 0))
    }

    /// The left-aligned packed form of runtime authorizations and ERC-1271 signatures (§6.1):
    /// `options ‖ entityId` (5 bytes) or `options ‖ caller` (21 bytes).
    pub fn encode_packed(&self) -> Vec<u8> {
        let mut out = vec![self.options()];
        match *self {
            Self::Regular { entity_id, .. } => out.extend_from_slice(&entity_id.to_be_bytes()),
            Self::DirectCall { caller, .. } => out.extend_from_slice(caller.as_slice()),
        }
        out
    }

    /// Splits a packed locator off the front of `data`; returns it and the rest.
    pub fn decode_packed(data: &[u8]) -> Result<(Self, &[u8]), IdError> {
        let Some(&options) = data.first() else {
            return Err(IdError::ShortPackedLocator { needed: 5, got: 0 });
        };
        let needed = if options & LOCATOR_OPTION_DIRECT_CALL != 0 { 21 } else { 5 };
        if data.len() < needed {
            return Err(IdError::ShortPackedLocator { needed, got: data.len() });
        }
        Ok((Self::from_parts(options, &data[1..needed])?, &data[needed..]))
    }

    /// The storage key the account derives: every option bit except the direct-call tag cleared.
    pub const fn lookup_key(&self) -> Self {
        match *self {
            Self::Regular { entity_id, .. } => Self::regular(entity_id, false, false),
            Self::DirectCall { caller, .. } => Self::direct_call(caller, false),
        }
    }
}
