// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {PackedUserOperation} from "../PackedUserOperation.sol";

// ERC-6900 v0.8 interfaces, written from shared/spec/account-formats.md §2.4 (Keyward's own text).
// Interface ids (own functions only, Solidity `type(I).interfaceId`) are pinned in the comments and
// checked by the account's install path.

// Packed identifiers are plain fixed bytes (same ABI as MAv2's user-defined value types):
//   ModuleEntity     bytes24 = module (20) ‖ entityId (4)                  (account-formats.md §1.1)
//   ValidationConfig bytes25 = module (20) ‖ entityId (4) ‖ flags (1)      (§1.2)
//   HookConfig       bytes25 = module (20) ‖ entityId (4) ‖ hookFlags (1)  (§1.3)

/// @notice Base of every module. Interface id 0x46c0c1b4.
interface IModule {
    function onInstall(bytes calldata data) external;
    function onUninstall(bytes calldata data) external;
    function moduleId() external view returns (string memory);
}

/// @notice Interface id 0xab3e34c1.
interface IValidationModule is IModule {
    function validateUserOp(uint32 entityId, PackedUserOperation calldata userOp, bytes32 userOpHash)
        external
        returns (uint256);
    function validateRuntime(
        address account,
        uint32 entityId,
        address sender,
        uint256 value,
        bytes calldata data,
        bytes calldata authorization
    ) external;
    function validateSignature(address account, uint32 entityId, address sender, bytes32 hash, bytes calldata signature)
        external
        view
        returns (bytes4);
}

/// @notice Interface id 0x28171ad0.
interface IValidationHookModule is IModule {
    function preUserOpValidationHook(uint32 entityId, PackedUserOperation calldata userOp, bytes32 userOpHash)
        external
        returns (uint256);
    function preRuntimeValidationHook(
        uint32 entityId,
        address sender,
        uint256 value,
        bytes calldata data,
        bytes calldata authorization
    ) external;
    function preSignatureValidationHook(uint32 entityId, address sender, bytes32 hash, bytes calldata signature)
        external
        view;
}

/// @notice Interface id 0xb02cc192.
interface IExecutionHookModule is IModule {
    function preExecutionHook(uint32 entityId, address sender, uint256 value, bytes calldata data)
        external
        returns (bytes memory);
    function postExecutionHook(uint32 entityId, bytes calldata preExecHookData) external;
}

struct ManifestExecutionFunction {
    bytes4 executionSelector;
    bool skipRuntimeValidation;
    bool allowGlobalValidation;
}

struct ManifestExecutionHook {
    bytes4 executionSelector;
    uint32 entityId;
    bool isPreHook;
    bool isPostHook;
}

struct ExecutionManifest {
    ManifestExecutionFunction[] executionFunctions;
    ManifestExecutionHook[] executionHooks;
    bytes4[] interfaceIds;
}

/// @notice Execution module (ERC-6900 v0.8): its manifest is passed to installExecution by the caller.
interface IExecutionModule is IModule {
    function executionManifest() external pure returns (ExecutionManifest memory);
}

struct Call {
    address target;
    uint256 value;
    bytes data;
}

struct ValidationDataView {
    uint8 validationFlags;
    bytes25[] validationHooks;
    bytes25[] executionHooks;
    bytes4[] selectors;
}

struct ExecutionDataView {
    address module;
    bool skipRuntimeValidation;
    bool allowGlobalValidation;
    bytes25[] executionHooks;
}

/// @notice The account ABI of account-formats.md §2.1 (common to every Keyward account variant).
interface IModularAccount {
    event ValidationInstalled(address indexed module, uint32 indexed entityId);
    event ValidationUninstalled(address indexed module, uint32 indexed entityId, bool onUninstallSucceeded);
    event ExecutionInstalled(address indexed module, ExecutionManifest manifest);
    event ExecutionUninstalled(address indexed module, bool onUninstallSucceeded, ExecutionManifest manifest);

    function execute(address target, uint256 value, bytes calldata data) external payable returns (bytes memory);
    function executeBatch(Call[] calldata calls) external payable returns (bytes[] memory);
    function executeWithRuntimeValidation(bytes calldata data, bytes calldata authorization)
        external
        payable
        returns (bytes memory);
    function installExecution(address module, ExecutionManifest calldata manifest, bytes calldata moduleInstallData)
        external;
    function uninstallExecution(address module, ExecutionManifest calldata manifest, bytes calldata moduleUninstallData)
        external;
    function installValidation(
        bytes25 validationConfig,
        bytes4[] calldata selectors,
        bytes calldata installData,
        bytes[] calldata hooks
    ) external;
    function uninstallValidation(
        bytes24 validationFunction,
        bytes calldata uninstallData,
        bytes[] calldata hookUninstallData
    ) external;
    function accountId() external view returns (string memory);
}

/// @notice View functions of account-formats.md §2.5.
interface IModularAccountView {
    function getExecutionData(bytes4 selector) external view returns (ExecutionDataView memory);
    function getValidationData(bytes24 validationFunction) external view returns (ValidationDataView memory);
}
