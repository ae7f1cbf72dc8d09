// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {
    IModule,
    IValidationModule,
    IValidationHookModule,
    IExecutionHookModule,
    IModularAccount
} from "../interfaces/erc6900/IERC6900.sol";
import {AccountFlags, Records, Locators} from "./AccountStorage.sol";

/// @dev Validation install/uninstall internals (§2.4, §11.6): packed validation records (see Records),
///      the module table, and the modules' onInstall/onUninstall callbacks. Execution installs live in
///      ExecutionInstallDelegate.
abstract contract ModuleManagerInternals is IModularAccount {
    error ValidationEntityIdInUse();
    error ValidationAlreadySet(bytes4 selector, bytes24 validationFunction);
    error PreValidationHookDuplicate();
    error ExecutionHookAlreadySet(bytes25 hookConfig);
    error ValidationAssocHookLimitExceeded();
    error ArrayLengthMismatch();
    error InterfaceNotSupported(address module);
    error ModuleInstallCallbackFailed(address module, bytes revertReason);
    // Keyward additions (no MAv2 equivalent in §2.3)
    error ValidationModuleMismatch(); // §11.6: uninstall names another module than the stored one
    error NullModule();

    uint256 internal constant MAX_HOOKS = 255;

    /// Lesson R25: re-installing on an existing entity adds hooks/selectors and overwrites flags.
    function _installValidation(
        bytes25 config,
        bytes4[] calldata selectors,
        bytes calldata installData,
        bytes[] calldata hooks
    ) internal {
        (uint256 r, uint256 h) = _installHead(config, selectors);
        for (uint256 i = 0; i < hooks.length; ++i) {
            h = _installValidationHook(r, h, bytes25(hooks[i][:25]), hooks[i][25:]);
        }
        (address module, uint32 entityId) = Locators.unpack(config);
        if (module != address(0)) _onInstall(module, installData, type(IValidationModule).interfaceId);
        emit ValidationInstalled(module, entityId);
    }

    /// Module, flags and selectors of the record; returns its slot and stored head word.
    function _installHead(bytes25 config, bytes4[] calldata selectors) internal returns (uint256 r, uint256 h) {
        (address module, uint32 entityId) = Locators.unpack(config);
        _checkValidationModule(module, entityId);
        uint168 key = Locators.configKey(module, entityId);
        r = Records.slotOf(key);
        h = Records.load(r);
        if (module != address(0)) {
            if (h & Records.PRESENT != 0) {
                // §1.4: the entity id alone selects the validation.
                if (Records.moduleOf(h) != module) revert ValidationEntityIdInUse();
            } else {
                h |= Records.PRESENT | (Records.register(module) << 8);
            }
        } else {
            AccountFlags.set(AccountFlags.FALLBACK_RECORD, true);
        }
        h = (h & ~uint256(0xff)) | uint8(config[24]);
        if (selectors.length != 0) h = _addSelectors(key, h, selectors, bytes24(config));
        Records.store(r, h);
    }

    function _addSelectors(uint168 key, uint256 h, bytes4[] calldata selectors, bytes24 validation)
        internal
        returns (uint256)
    {
        uint256 s = Records.selectorsSlot(key);
        uint256 n = Records.numSelectors(h);
        for (uint256 i = 0; i < selectors.length; ++i) {
            bytes4 sel = selectors[i];
            for (uint256 j = 0; j < n; ++j) {
                if (Records.selectorAt(s, j) == sel) revert ValidationAlreadySet(sel, validation);
            }
            Records.pushSelector(s, n, sel);
            ++n;
        }
        if (n > type(uint16).max) revert ValidationAssocHookLimitExceeded();
        return (h & ~(uint256(0xffff) << 40)) | (n << 40);
    }

    /// Appends one hook entry (duplicates refused), stores the record head, then runs onInstall.
    function _installValidationHook(uint256 r, uint256 h, bytes25 hook, bytes calldata data)
        internal
        returns (uint256)
    {
        address module = address(bytes20(hook));
        if (module == address(0)) revert NullModule();
        bool isValidationHook = uint8(hook[24]) & 1 != 0;
        uint256 e = Records.entryOf(Records.register(module), hook);
        uint256 nv = Records.numValidationHooks(h);
        uint256 ne = Records.numExecutionHooks(h);
        uint256 n = nv + ne;
        for (uint256 i = 0; i < n; ++i) {
            if (Records.entry(r, h, i) == e) {
                if (isValidationHook) revert PreValidationHookDuplicate();
                revert ExecutionHookAlreadySet(hook);
            }
        }
        if (isValidationHook) {
            if (nv == MAX_HOOKS) revert ValidationAssocHookLimitExceeded();
            h += 1 << 24;
        } else {
            if (ne == MAX_HOOKS) revert ValidationAssocHookLimitExceeded();
            h += 1 << 32;
        }
        h = Records.setEntry(r, h, n, e);
        Records.store(r, h);
        _onInstall(
            module,
            data,
            isValidationHook ? type(IValidationHookModule).interfaceId : type(IExecutionHookModule).interfaceId
        );
        return h;
    }

    /// §2.4: ERC-165 check and onInstall only for non-empty install data.
    function _onInstall(address module, bytes calldata data, bytes4 interfaceId) internal {
        if (data.length == 0) return;
        if (!_supports(module, interfaceId)) revert InterfaceNotSupported(module);
        bool ok;
        assembly ("memory-safe") {
            // onInstall(bytes data)
            let p := mload(0x40)
            mstore(p, 0x6d61fe70)
            mstore(add(p, 0x20), 0x20)
            mstore(add(p, 0x40), data.length)
            mstore(add(add(p, 0x60), and(data.length, not(31))), 0)
            calldatacopy(add(p, 0x60), data.offset, data.length)
            ok := call(gas(), module, 0, add(p, 28), add(0x44, and(add(data.length, 31), not(31))), 0, 0)
        }
        if (!ok) revert ModuleInstallCallbackFailed(module, _returnData());
    }

    function _supports(address module, bytes4 interfaceId) internal view returns (bool ok) {
        if (module.code.length == 0) return false;
        assembly ("memory-safe") {
            mstore(0x00, 0x01ffc9a7)
            mstore(0x20, and(interfaceId, shl(224, 0xffffffff)))
            ok := staticcall(gas(), module, 28, 0x24, 0x00, 0x20)
            ok := and(ok, and(gt(returndatasize(), 31), eq(mload(0x00), 1)))
        }
    }

    function _returnData() internal pure returns (bytes memory ret) {
        assembly ("memory-safe") {
            ret := mload(0x40)
            mstore(ret, returndatasize())
            returndatacopy(add(ret, 0x20), 0, returndatasize())
            mstore(0x40, add(add(ret, 0x20), and(add(returndatasize(), 31), not(31))))
        }
    }

    /// onUninstall failures never revert the uninstall (§2.4).
    function _onUninstall(address module, bytes calldata data) internal returns (bool ok) {
        if (data.length == 0 || module == address(0)) return true;
        (ok,) = module.call(abi.encodeCall(IModule.onUninstall, (data)));
    }

    /// §11.6 pairing: hookData item i goes to the i-th hook in reverse installation order, validation
    /// hooks first, then execution hooks.
    function _uninstallValidation(bytes24 validationFunction, bytes calldata uninstallData, bytes[] calldata hookData)
        internal
    {
        (address module, uint32 entityId) = Locators.unpack24(validationFunction);
        uint256[] memory order = _clearValidation(module, entityId, hookData.length);
        bool ok = true;
        if (hookData.length != 0) {
            for (uint256 i = 0; i < order.length; ++i) {
                ok = _onUninstall(Records.hookModule(order[i]), hookData[i]) && ok;
            }
        }
        ok = _onUninstall(module, uninstallData) && ok;
        emit ValidationUninstalled(module, entityId, ok);
    }

    /// Clears the record; returns its hook entries in §11.6 pairing order (validation hooks reversed,
    /// then execution hooks reversed).
    function _clearValidation(address module, uint32 entityId, uint256 hookDataLength)
        internal
        returns (uint256[] memory order)
    {
        uint168 key = Locators.configKey(module, entityId);
        uint256 r = Records.slotOf(key);
        uint256 h = Records.load(r);
        if (Records.moduleOf(h) != module) revert ValidationModuleMismatch();
        uint256 nv = Records.numValidationHooks(h);
        uint256 n = nv + Records.numExecutionHooks(h);
        if (hookDataLength != 0 && hookDataLength != n) revert ArrayLengthMismatch();
        order = new uint256[](n);
        uint256 vi = nv;
        uint256 ei = n;
        for (uint256 i = 0; i < n; ++i) {
            uint256 e = Records.entry(r, h, i);
            if (Records.isValidationHook(e)) order[--vi] = e;
            else order[--ei] = e;
        }
        _clearRecord(key, r, h, n);
        // Only the fallback validation's own record (module 0, entity 0) carries the flag; another
        // entity id under module 0 names an empty record and must not hide the owner's hooks.
        if (key == 0) AccountFlags.set(AccountFlags.FALLBACK_RECORD, false);
    }

    /// Empties hook entries, selectors and flags. The module table keeps its entries (indices of other
    /// records point there; the R18 check stays conservative).
    function _clearRecord(uint168 key, uint256 r, uint256 h, uint256 n) internal {
        if (n > Records.HEAD_ENTRIES) {
            uint256 extra = (n - Records.HEAD_ENTRIES + 4) / 5;
            for (uint256 j = 0; j < extra; ++j) Records.store(r + 1 + j, 0);
        }
        uint256 ns = Records.numSelectors(h);
        if (ns != 0) {
            uint256 s = Records.selectorsSlot(key);
            for (uint256 j = 0; j < (ns + 7) / 8; ++j) Records.store(s + j, 0);
        }
        Records.store(r, 0);
    }

    /// Which (module, entity) pairs may be installed as validations.
    function _checkValidationModule(address module, uint32) internal view virtual {
        if (module == address(0)) revert NullModule();
    }

}
