// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @dev One installed validation (or the SMA fallback under lookup key 0).
struct ValidationStorage {
    address module; // 0 only for the SMA fallback validation
    uint8 flags; // ValidationConfig flags (§1.2): 0x01 user op, 0x02 signature, 0x04 global
    bytes25[] validationHooks; // installation order (segment indices address this order, §5.1)
    bytes25[] executionHooks; // installation order
    bytes4[] selectors; // insertion order (for getValidationData)
    mapping(bytes25 => bool) hookSet; // both kinds: the hook type bit keeps them apart
    mapping(bytes4 => bool) selectorSet;
}

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
    // key = ValidationLookupKey (uint168, §1.5)
    mapping(uint168 => ValidationStorage) validationStorage;
    // ERC-165 ids added by execution modules (reference counted)
    mapping(bytes4 => uint256) supportedInterfaces;
    // Number of installs referencing an address as module (validation, hook or execution module); used
    // by the R18 target check so scoped sessions cannot call module setters or the EntryPoint.
    mapping(address => uint256) moduleRefs;
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

    function hookEntity(bytes25 config) internal pure returns (bytes24) {
        return bytes24(config);
    }
}
