// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @dev One selector: an execution-module function and/or selector-associated execution hooks.
struct ExecutionStorage {
    address module; // 0 for native functions (they may still carry hooks)
    bool skipRuntimeValidation;
    bool allowGlobalValidation;
    bytes25[] executionHooks; // installation order
    mapping(bytes25 => bool) hookSet;
}

/// @custom:storage-location erc7201:keyward.storage.ModularAccount
struct AccountStorage {
    uint64 initialized;
    mapping(bytes4 => ExecutionStorage) executionStorage;
    // ERC-165 ids added by execution modules (reference counted)
    mapping(bytes4 => uint256) supportedInterfaces;
}

library AccountStorageLib {
    /// keccak256(abi.encode(uint256(keccak256("keyward.storage.ModularAccount")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 internal constant SLOT = 0x755c5a5d493ac27d9c47a8eabbf310c0ab8b59652176c900ef670fe0665b3900;

    function get() internal pure returns (AccountStorage storage s) {
        assembly ("memory-safe") {
            s.slot := SLOT
        }
    }
}

/// @dev Account-wide bits read on the hot paths instead of colder per-validation / per-selector slots.
///      They live in the otherwise unused top 96 bits of the ERC-1967 implementation slot: behind the
///      account's proxy that slot is read (warm) by every call, so the hot paths pay 100 gas for them
///      instead of a cold read. The proxy's DELEGATECALL uses the low 160 bits only (the EVM takes an
///      address operand modulo 2^160); `upgradeToAndCall` keeps the bits. A 7702 account has no proxy:
///      the slot is ordinary storage there, read cold like any other.
library AccountFlags {
    /// keccak256("eip1967.proxy.implementation") - 1
    bytes32 internal constant SLOT = 0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc;
    /// The SMA fallback (lookup key 0) has a validation record (hooks, selectors or flags installed).
    uint256 internal constant FALLBACK_RECORD = 0x01;
    /// Some selector carries selector-associated execution hooks (execution modules).
    uint256 internal constant SELECTOR_HOOKS = 0x02;
    /// The SMA slot holds a signer or the disabled bit (else: the variant's default signer, enabled).
    uint256 internal constant SIGNER_STORED = 0x04;

    function get() internal view returns (uint256 f) {
        assembly ("memory-safe") {
            f := shr(160, sload(SLOT))
        }
    }

    /// Sets `flag` to `on`, keeping the implementation address and the other bits.
    function set(uint256 flag, bool on) internal {
        assembly ("memory-safe") {
            let w := sload(SLOT)
            let next := or(and(w, not(shl(160, flag))), mul(iszero(iszero(on)), shl(160, flag)))
            if iszero(eq(next, w)) { sstore(SLOT, next) }
        }
    }

    /// Replaces the implementation address, keeping the flags (ERC-1967 upgrade).
    function setImplementation(address impl) internal {
        assembly ("memory-safe") {
            sstore(SLOT, or(shl(160, shr(160, sload(SLOT))), shr(96, shl(96, impl))))
        }
    }
}

/// @dev Validation records and the account's module table, packed for gas (all account-own storage,
///      ERC-7562 safe). Layout:
///
///  - Module table: up to 256 module addresses packed 20 bytes each from slot MODULES, in the order
///    they were first installed (index i at bytes [20i, 20i + 20) of the region, big-endian; a zero
///    address ends the list). Every module ever installed (validation, hook or execution module) is
///    entered once and never removed: hooks and records refer to modules by their 1-byte index, and
///    the table is the set the R18 target check refuses. Packed, the modules one install enters
///    share slots: the four of a session's validation and hooks are three cold reads, not four.
///  - Record of a validation (lookup key k), from slot r = keccak256(k ‖ RECORDS):
///      r, bits   0..7   validation flags (§1.2)
///             8..15  module index (valid when bit 16 is set)
///            16      a module validation is installed (the SMA fallback has none)
///            24..31  number of validation hooks, 32..39 number of execution hooks
///            40..55  number of selectors
///            56..247 hook entries 0..3 (48 bits each)
///      r + 1 + j     hook entries 4 + 5j .. 8 + 5j (48 bits each, from bit 0)
///    A hook entry is flags (bits 0..7) ‖ entity id (8..39) ‖ module index (40..47); entries keep
///    installation order, both kinds mixed (the flag bit 0 tells them apart).
///  - Selectors of key k: 8 per slot from keccak256(k ‖ SELECTORS), insertion order.
library Records {
    bytes32 internal constant RECORDS = 0x239fa63ff96f528fe38009705705892ec99d3fd5e4ac44d46e3c0c7425774700;
    bytes32 internal constant SELECTORS = 0xfcb818256ff18e90b0440bf01e4c5b5f4b8604cd961d9abe6dfc09c051c7ef00;
    bytes32 internal constant MODULES = 0x33ced093045c074ea9f5e45a50d2c3d15b5e8de9429ad7ef880278d2afc0f300;

    uint256 internal constant PRESENT = 1 << 16;
    uint256 internal constant MASK48 = 0xffffffffffff;
    uint256 internal constant HEAD_ENTRIES = 4;
    uint256 internal constant HEAD_SHIFT = 56;

    error ModuleTableFull();

    function slotOf(uint168 key) internal pure returns (uint256 r) {
        assembly ("memory-safe") {
            mstore(0x00, key)
            mstore(0x20, RECORDS)
            r := keccak256(0x00, 0x40)
        }
    }

    function load(uint256 r) internal view returns (uint256 h) {
        assembly ("memory-safe") {
            h := sload(r)
        }
    }

    function store(uint256 r, uint256 v) internal {
        assembly ("memory-safe") {
            sstore(r, v)
        }
    }

    function flags(uint256 h) internal pure returns (uint8) {
        return uint8(h);
    }

    function numValidationHooks(uint256 h) internal pure returns (uint256) {
        return uint8(h >> 24);
    }

    function numExecutionHooks(uint256 h) internal pure returns (uint256) {
        return uint8(h >> 32);
    }

    function numSelectors(uint256 h) internal pure returns (uint256) {
        return uint16(h >> 40);
    }

    /// The validation module (0 for the SMA fallback or nothing installed).
    function moduleOf(uint256 h) internal view returns (address) {
        if (h & PRESENT == 0) return address(0);
        return moduleAt(uint8(h >> 8));
    }

    /// Validation and execution hooks together (each count < 2^8: no overflow).
    function numHooks(uint256 h) internal pure returns (uint256 n) {
        assembly ("memory-safe") {
            n := add(and(shr(24, h), 0xff), and(shr(32, h), 0xff))
        }
    }

    /// Hook entry `i` (installation order, i < numHooks) of the record at `r` with head word `h`.
    function entry(uint256 r, uint256 h, uint256 i) internal view returns (uint256 e) {
        assembly ("memory-safe") {
            switch lt(i, HEAD_ENTRIES)
            case 1 { e := and(shr(add(HEAD_SHIFT, mul(48, i)), h), MASK48) }
            default {
                i := sub(i, HEAD_ENTRIES)
                e := and(shr(mul(48, mod(i, 5)), sload(add(add(r, 1), div(i, 5)))), MASK48)
            }
        }
    }

    /// Writes hook entry `i`; returns the head word (changed when i < 4; stored by the caller).
    function setEntry(uint256 r, uint256 h, uint256 i, uint256 e) internal returns (uint256) {
        if (i < HEAD_ENTRIES) return h | (e << (HEAD_SHIFT + 48 * i));
        i -= HEAD_ENTRIES;
        assembly ("memory-safe") {
            let s := add(add(r, 1), div(i, 5))
            sstore(s, or(sload(s), shl(mul(48, mod(i, 5)), e)))
        }
        return h;
    }

    function isValidationHook(uint256 e) internal pure returns (bool) {
        return e & 1 != 0;
    }

    function entityOf(uint256 e) internal pure returns (uint32) {
        return uint32(e >> 8);
    }

    function hookModule(uint256 e) internal view returns (address) {
        return moduleAt(uint8(e >> 40));
    }

    /// The HookConfig (module ‖ entity id ‖ flags) of an entry.
    function hookConfig(uint256 e) internal view returns (bytes25) {
        return bytes25(bytes32((uint256(uint160(hookModule(e))) << 96) | (uint256(uint40(e)) << 56)));
    }

    function entryOf(uint256 moduleIndex, bytes25 hook) internal pure returns (uint256) {
        return (moduleIndex << 40) | uint40(uint200(hook));
    }

    // ------------------------------------------------------------ selectors

    function selectorsSlot(uint168 key) internal pure returns (uint256 s) {
        assembly ("memory-safe") {
            mstore(0x00, key)
            mstore(0x20, SELECTORS)
            s := keccak256(0x00, 0x40)
        }
    }

    function selectorAt(uint256 s, uint256 i) internal view returns (bytes4 sel) {
        assembly ("memory-safe") {
            sel := shl(224, shr(mul(32, mod(i, 8)), sload(add(s, div(i, 8)))))
        }
    }

    function hasSelector(uint168 key, uint256 h, bytes4 selector) internal view returns (bool found) {
        uint256 n = numSelectors(h);
        if (n == 0) return false;
        uint256 s = selectorsSlot(key);
        assembly ("memory-safe") {
            let want := shr(224, selector)
            let w := 0
            for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                if iszero(mod(i, 8)) { w := sload(add(s, div(i, 8))) }
                if eq(and(shr(mul(32, mod(i, 8)), w), 0xffffffff), want) {
                    found := 1
                    break
                }
            }
        }
    }

    function pushSelector(uint256 s, uint256 i, bytes4 selector) internal {
        assembly ("memory-safe") {
            let p := add(s, div(i, 8))
            sstore(p, or(sload(p), shl(mul(32, mod(i, 8)), shr(224, selector))))
        }
    }

    // ------------------------------------------------------------ module table

    function moduleAt(uint256 index) internal view returns (address m) {
        assembly ("memory-safe") {
            let off := mul(index, 20)
            let s := add(MODULES, shr(5, off))
            let o := and(off, 31)
            // bytes [o, o + 20) of slot s; past its end, the first o - 12 bytes of slot s + 1
            m := shr(96, shl(shl(3, o), sload(s)))
            if gt(o, 12) { m := or(m, shr(shl(3, sub(44, o)), sload(add(s, 1)))) }
        }
    }

    /// Index of `module` (≠ 0), entering it at the end of the table on first use.
    function register(address module) internal returns (uint256 index) {
        for (; index < 256; ++index) {
            address m = moduleAt(index);
            if (m == module) return index;
            if (m == address(0)) {
                _writeModule(index, module);
                return index;
            }
        }
        revert ModuleTableFull();
    }

    /// Writes `module` into the free entry `index` (its bytes are zero).
    function _writeModule(uint256 index, address module) private {
        assembly ("memory-safe") {
            module := shr(96, shl(96, module))
            let off := mul(index, 20)
            let s := add(MODULES, shr(5, off))
            let o := and(off, 31)
            switch gt(o, 12)
            case 0 { sstore(s, or(sload(s), shl(shl(3, sub(12, o)), module))) }
            default {
                sstore(s, or(sload(s), shr(shl(3, sub(o, 12)), module)))
                let t := add(s, 1)
                sstore(t, or(sload(t), shl(shl(3, sub(44, o)), module)))
            }
        }
    }

    /// Whether `target` was ever installed as a module on this account.
    function isModule(address target) internal view returns (bool) {
        if (target == address(0)) return false;
        for (uint256 index = 0; index < 256; ++index) {
            address m = moduleAt(index);
            if (m == target) return true;
            if (m == address(0)) return false;
        }
        return false;
    }
}

/// @dev Locator / lookup-key helpers (account-formats.md §1.5 and §4).
library Locators {
    uint32 internal constant DIRECT_CALL_ENTITY = type(uint32).max;
    uint8 internal constant OPT_GLOBAL = 0x01;
    uint8 internal constant OPT_DEFERRED = 0x02;
    uint8 internal constant OPT_DIRECT = 0x04;

    /// Lookup key = locator with every option bit but the union tag cleared, so the global and
    /// deferred bits never change which validation is meant.
    function keyOf(uint168 locator) internal pure returns (uint168) {
        return locator & ((type(uint168).max << 8) | OPT_DIRECT);
    }

    /// §4: the validation locator of a user-op nonce. A direct-call locator is the low 21 bytes of
    /// the 192-bit key; a regular one only its low 5 bytes (entity id ‖ options): the parallel key
    /// above them merely separates EntryPoint sequences.
    function fromNonce(uint256 nonce) internal pure returns (uint168) {
        uint168 locator = uint168(nonce >> 64);
        if (uint8(locator) & OPT_DIRECT == 0) locator = uint168(uint40(locator));
        return locator;
    }

    function directKey(address caller) internal pure returns (uint168) {
        return (uint168(uint160(caller)) << 8) | OPT_DIRECT;
    }

    function configKey(address module, uint32 entityId) internal pure returns (uint168) {
        if (entityId == DIRECT_CALL_ENTITY) return directKey(module);
        return uint168(entityId) << 8;
    }

    function isDirect(uint168 key) internal pure returns (bool) {
        return uint8(key) & OPT_DIRECT != 0;
    }

    function pack(address module, uint32 entityId) internal pure returns (bytes24) {
        return bytes24(bytes20(module)) | (bytes24(bytes4(entityId)) >> 160);
    }

    function unpack(bytes25 config) internal pure returns (address module, uint32 entityId) {
        module = address(bytes20(config));
        entityId = uint32(bytes4(config << 160));
    }

    function unpack24(bytes24 entity) internal pure returns (address module, uint32 entityId) {
        module = address(bytes20(entity));
        entityId = uint32(bytes4(entity << 160));
    }
}
