// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IAccount} from "../interfaces/IAccount.sol";
import {IAccountExecute} from "../interfaces/IAccountExecute.sol";
import {IAggregator} from "../interfaces/IAggregator.sol";
import {IPaymaster} from "../interfaces/IPaymaster.sol";
import {
    IModule,
    IValidationModule,
    IValidationHookModule,
    IExecutionHookModule,
    IExecutionModule,
    IModularAccount,
    IModularAccountView,
    ExecutionManifest,
    ManifestExecutionFunction,
    ManifestExecutionHook
} from "../interfaces/erc6900/IERC6900.sol";
import {AccountStorage, AccountStorageLib, ExecutionStorage, Locators, Records} from "./AccountStorage.sol";

/// @notice installExecution / uninstallExecution of every Keyward account variant, run by
///         DELEGATECALL from the account (after the account's own validation and hooks) so the
///         account stays under the EIP-170 limit. Writes the account's ERC-7201 storage.
contract ExecutionInstallDelegate {
    error NullModule();
    error UnauthorizedCallContext();
    error InterfaceNotSupported(address module);
    error ModuleInstallCallbackFailed(address module, bytes revertReason);
    error ExecutionHookAlreadySet(bytes25 hookConfig);
    error ExecutionFunctionAlreadySet(bytes4 selector);
    error ExecutionFunctionNotAllowed(bytes4 selector); // R7
    error ExecutionFunctionNotInstalled(bytes4 selector);

    event ExecutionInstalled(address indexed module, ExecutionManifest manifest);
    event ExecutionUninstalled(address indexed module, bool onUninstallSucceeded, ExecutionManifest manifest);

    uint8 internal constant HOOK_HAS_POST = 0x02;
    uint8 internal constant HOOK_HAS_PRE = 0x04;

    address private immutable _self = address(this);

    /// Only meaningful in an account's context.
    modifier onlyDelegated() {
        if (address(this) == _self) revert UnauthorizedCallContext();
        _;
    }

    function installExecution(address module, ExecutionManifest calldata manifest, bytes calldata moduleInstallData)
        external
        onlyDelegated
    {
        if (module == address(0)) revert NullModule();
        AccountStorage storage s = AccountStorageLib.get();
        for (uint256 i = 0; i < manifest.executionFunctions.length; ++i) {
            ManifestExecutionFunction calldata f = manifest.executionFunctions[i];
            if (isReservedSelector(f.executionSelector)) revert ExecutionFunctionNotAllowed(f.executionSelector);
            ExecutionStorage storage e = s.executionStorage[f.executionSelector];
            if (e.module != address(0)) revert ExecutionFunctionAlreadySet(f.executionSelector);
            e.module = module;
            e.skipRuntimeValidation = f.skipRuntimeValidation;
            e.allowGlobalValidation = f.allowGlobalValidation;
        }
        for (uint256 i = 0; i < manifest.executionHooks.length; ++i) {
            ManifestExecutionHook calldata h = manifest.executionHooks[i];
            bytes25 hook = _hookConfig(module, h);
            ExecutionStorage storage e = s.executionStorage[h.executionSelector];
            if (e.hookSet[hook]) revert ExecutionHookAlreadySet(hook);
            e.hookSet[hook] = true;
            e.executionHooks.push(hook);
        }
        for (uint256 i = 0; i < manifest.interfaceIds.length; ++i) {
            s.supportedInterfaces[manifest.interfaceIds[i]] += 1;
        }
        Records.register(module);
        _onInstall(module, moduleInstallData);
        emit ExecutionInstalled(module, manifest);
    }

    function uninstallExecution(address module, ExecutionManifest calldata manifest, bytes calldata moduleUninstallData)
        external
        onlyDelegated
    {
        AccountStorage storage s = AccountStorageLib.get();
        for (uint256 i = 0; i < manifest.executionFunctions.length; ++i) {
            bytes4 sel = manifest.executionFunctions[i].executionSelector;
            ExecutionStorage storage e = s.executionStorage[sel];
            // Never clear another module's function because of a wrong manifest.
            if (e.module != module) revert ExecutionFunctionNotInstalled(sel);
            e.module = address(0);
            e.skipRuntimeValidation = false;
            e.allowGlobalValidation = false;
        }
        for (uint256 i = 0; i < manifest.executionHooks.length; ++i) {
            ManifestExecutionHook calldata h = manifest.executionHooks[i];
            _removeHook(s.executionStorage[h.executionSelector], _hookConfig(module, h));
        }
        for (uint256 i = 0; i < manifest.interfaceIds.length; ++i) {
            s.supportedInterfaces[manifest.interfaceIds[i]] -= 1;
        }
        bool ok = true;
        if (moduleUninstallData.length != 0) {
            (ok,) = module.call(abi.encodeCall(IModule.onUninstall, (moduleUninstallData)));
        }
        emit ExecutionUninstalled(module, ok, manifest);
    }

    /// Lesson R7 (QS-ALC-3): execution modules may never claim account-native functions (of any
    /// Keyward variant), ERC-4337 functions or ERC-6900 module functions.
    function isReservedSelector(bytes4 s) public pure returns (bool) {
        bytes4[36] memory reserved = [
            // account ABI (§2.1), all variants
            IModularAccount.execute.selector,
            IModularAccount.executeBatch.selector,
            IAccountExecute.executeUserOp.selector,
            IModularAccount.executeWithRuntimeValidation.selector,
            IModularAccount.installValidation.selector,
            IModularAccount.uninstallValidation.selector,
            IModularAccount.installExecution.selector,
            IModularAccount.uninstallExecution.selector,
            bytes4(0x5998db5c), // performCreate
            0x4f1ef286, // upgradeToAndCall
            0x52d1902d, // proxiableUUID
            IAccount.validateUserOp.selector,
            0x1626ba7e, // isValidSignature
            IModularAccountView.getValidationData.selector,
            IModularAccountView.getExecutionData.selector,
            IModularAccount.accountId.selector,
            0xb0d691fe, // entryPoint
            0x01ffc9a7, // supportsInterface
            0x150b7a02, // onERC721Received
            0xf23a6e61, // onERC1155Received
            0xbc197c81, // onERC1155BatchReceived
            0xe919a623, // initializeWithValidation
            0xc4d66de8, // initialize
            0x30009d52, // updateFallbackSignerData
            0xa8b04729, // getFallbackSignerData
            // ERC-4337 paymaster and aggregator functions
            IPaymaster.validatePaymasterUserOp.selector,
            IPaymaster.postOp.selector,
            IAggregator.validateSignatures.selector,
            IAggregator.validateUserOpSignature.selector,
            IAggregator.aggregateSignatures.selector,
            // ERC-6900 module functions
            IModule.onInstall.selector,
            IModule.onUninstall.selector,
            IModule.moduleId.selector,
            IExecutionModule.executionManifest.selector,
            IValidationModule.validateUserOp.selector,
            IValidationModule.validateRuntime.selector
        ];
        for (uint256 i = 0; i < reserved.length; ++i) {
            if (reserved[i] == s) return true;
        }
        return s == IValidationModule.validateSignature.selector
            || s == IValidationHookModule.preUserOpValidationHook.selector
            || s == IValidationHookModule.preRuntimeValidationHook.selector
            || s == IValidationHookModule.preSignatureValidationHook.selector
            || s == IExecutionHookModule.preExecutionHook.selector || s == IExecutionHookModule.postExecutionHook.selector;
    }

    function _hookConfig(address module, ManifestExecutionHook calldata h) internal pure returns (bytes25) {
        uint8 flags = (h.isPreHook ? HOOK_HAS_PRE : 0) | (h.isPostHook ? HOOK_HAS_POST : 0);
        return bytes25(Locators.pack(module, h.entityId)) | (bytes25(bytes1(flags)) >> 192);
    }

    /// Removes a hook keeping the installation order of the others (order is observable, §9).
    function _removeHook(ExecutionStorage storage e, bytes25 hook) internal {
        if (!e.hookSet[hook]) return;
        delete e.hookSet[hook];
        bytes25[] storage list = e.executionHooks;
        uint256 n = list.length;
        uint256 i = 0;
        while (list[i] != hook) ++i;
        for (; i + 1 < n; ++i) list[i] = list[i + 1];
        list.pop();
    }

    /// §2.4: ERC-165 check and onInstall only for non-empty install data.
    function _onInstall(address module, bytes calldata data) internal {
        if (data.length == 0) return;
        bool supported;
        if (module.code.length != 0) {
            (bool ok, bytes memory ret) =
                module.staticcall(abi.encodeWithSelector(0x01ffc9a7, type(IExecutionModule).interfaceId));
            supported = ok && ret.length >= 32 && abi.decode(ret, (uint256)) == 1;
        }
        if (!supported) revert InterfaceNotSupported(module);
        (bool success, bytes memory reason) = module.call(abi.encodeCall(IModule.onInstall, (data)));
        if (!success) revert ModuleInstallCallbackFailed(module, reason);
    }
}
