// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {
    IModule,
    IValidationModule,
    IValidationHookModule,
    IExecutionHookModule,
    IModularAccount
} from "../interfaces/erc6900/IERC6900.sol";
import {AccountStorage, AccountStorageLib, ValidationStorage, Locators} from "./AccountStorage.sol";

/// @dev Validation install/uninstall internals (§2.4, §11.6): validation storage, hook lists and their
///      sets, module reference counts, and the modules' onInstall/onUninstall callbacks. Execution
///      installs live in ExecutionInstallDelegate.
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

    uint8 internal constant HOOK_IS_VALIDATION = 0x01;
    uint256 internal constant MAX_HOOKS = 255;

    /// Lesson R25: re-installing on an existing entity adds hooks/selectors and overwrites flags.
    /// One body on purpose: split into helpers it cost ~100 gas more per install.
    function _installValidation(
        bytes25 config,
        bytes4[] calldata selectors,
        bytes calldata installData,
        bytes[] calldata hooks
    ) internal {
        (address module, uint32 entityId) = Locators.unpack(config);
        _checkValidationModule(module, entityId);
        AccountStorage storage s = AccountStorageLib.get();
        ValidationStorage storage v = s.validationStorage[Locators.configKey(module, entityId)];
        if (v.module != module) {
            // §1.4: the entity id alone selects the validation.
            if (v.module != address(0)) revert ValidationEntityIdInUse();
            v.module = module;
            s.moduleRefs[module] += 1;
        }
        v.flags = uint8(config[24]);
        for (uint256 i = 0; i < selectors.length; ++i) {
            if (v.selectorSet[selectors[i]]) revert ValidationAlreadySet(selectors[i], bytes24(config));
            v.selectorSet[selectors[i]] = true;
            v.selectors.push(selectors[i]);
        }
        for (uint256 i = 0; i < hooks.length; ++i) {
            _installValidationHook(s, v, bytes25(hooks[i][:25]), hooks[i][25:]);
        }
        if (module != address(0)) _onInstall(module, installData, type(IValidationModule).interfaceId);
        emit ValidationInstalled(module, entityId);
    }

    function _installValidationHook(
        AccountStorage storage s,
        ValidationStorage storage v,
        bytes25 hook,
        bytes calldata data
    ) internal {
        bool isValidationHook = uint8(hook[24]) & HOOK_IS_VALIDATION != 0;
        if (v.hookSet[hook]) {
            if (isValidationHook) revert PreValidationHookDuplicate();
            revert ExecutionHookAlreadySet(hook);
        }
        v.hookSet[hook] = true;
        bytes25[] storage list = isValidationHook ? v.validationHooks : v.executionHooks;
        list.push(hook);
        if (list.length > MAX_HOOKS) revert ValidationAssocHookLimitExceeded();
        address module = address(bytes20(hook));
        s.moduleRefs[module] += 1;
        _onInstall(
            module,
            data,
            isValidationHook ? type(IValidationHookModule).interfaceId : type(IExecutionHookModule).interfaceId
        );
    }

    /// §2.4: ERC-165 check and onInstall only for non-empty install data.
    function _onInstall(address module, bytes calldata data, bytes4 interfaceId) internal {
        if (data.length == 0) return;
        if (!_supports(module, interfaceId)) revert InterfaceNotSupported(module);
        (bool ok, bytes memory ret) = module.call(abi.encodeCall(IModule.onInstall, (data)));
        if (!ok) revert ModuleInstallCallbackFailed(module, ret);
    }

    function _supports(address module, bytes4 interfaceId) internal view returns (bool) {
        if (module.code.length == 0) return false;
        (bool ok, bytes memory ret) = module.staticcall(abi.encodeWithSelector(0x01ffc9a7, interfaceId));
        return ok && ret.length >= 32 && abi.decode(ret, (uint256)) == 1;
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
        AccountStorage storage s = AccountStorageLib.get();
        ValidationStorage storage v = s.validationStorage[Locators.configKey(module, entityId)];
        if (v.module != module) revert ValidationModuleMismatch();
        uint256 nv = v.validationHooks.length;
        if (hookData.length != 0 && hookData.length != nv + v.executionHooks.length) revert ArrayLengthMismatch();
        bool ok = _uninstallHooks(s, v, v.validationHooks, hookData, 0);
        ok = _uninstallHooks(s, v, v.executionHooks, hookData, nv) && ok;
        _clearValidation(s, v, module);
        ok = _onUninstall(module, uninstallData) && ok;
        emit ValidationUninstalled(module, entityId, ok);
    }

    /// Empties hook lists, selectors and flags, and releases the module's reference.
    function _clearValidation(AccountStorage storage s, ValidationStorage storage v, address module) internal {
        delete v.validationHooks;
        delete v.executionHooks;
        for (uint256 i = 0; i < v.selectors.length; ++i) {
            delete v.selectorSet[v.selectors[i]];
        }
        delete v.selectors;
        v.flags = 0;
        if (module != address(0)) {
            v.module = address(0);
            s.moduleRefs[module] -= 1;
        }
    }

    function _uninstallHooks(
        AccountStorage storage s,
        ValidationStorage storage v,
        bytes25[] storage list,
        bytes[] calldata hookData,
        uint256 offset
    ) internal returns (bool ok) {
        ok = true;
        uint256 n = list.length;
        for (uint256 i = 0; i < n; ++i) {
            bytes25 hook = list[n - 1 - i];
            address module = address(bytes20(hook));
            delete v.hookSet[hook];
            s.moduleRefs[module] -= 1;
            if (hookData.length != 0) ok = _onUninstall(module, hookData[offset + i]) && ok;
        }
    }

    /// Which (module, entity) pairs may be installed as validations.
    function _checkValidationModule(address module, uint32) internal view virtual {
        if (module == address(0)) revert NullModule();
    }
}
