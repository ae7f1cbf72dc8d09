// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

// The ERC-6900 v0.8 module interfaces a Modular Account V2 (and Keyward's accounts) calls, in one
// file so the template has no dependencies. The interface ids in the comments are what the account
// checks with ERC-165 before it calls `onInstall` (only when the install data is non-empty).

/// @notice ERC-4337 v0.7 packed user operation (what validation hooks and modules receive).
struct PackedUserOperation {
    address sender;
    uint256 nonce;
    bytes initCode;
    bytes callData;
    bytes32 accountGasLimits;
    uint256 preVerificationGas;
    bytes32 gasFees;
    bytes paymasterAndData;
    bytes signature;
}

/// @notice ERC-165. Interface id 0x01ffc9a7.
interface IERC165 {
    function supportsInterface(bytes4 interfaceId) external view returns (bool);
}

/// @notice Base of every module. Interface id 0x46c0c1b4.
interface IModule is IERC165 {
    /// Called by the account (msg.sender) when a validation or hook using this module is installed.
    function onInstall(bytes calldata data) external;
    /// Called by the account on uninstall; a revert never blocks the uninstall.
    function onUninstall(bytes calldata data) external;
    /// `vendor.module.semver`.
    function moduleId() external view returns (string memory);
}

/// @notice Validation (signer) module. Interface id 0xab3e34c1.
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

/// @notice Runs before a validation. Interface id 0x28171ad0.
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

/// @notice Runs around an execution. Interface id 0xb02cc192.
interface IExecutionHookModule is IModule {
    function preExecutionHook(uint32 entityId, address sender, uint256 value, bytes calldata data)
        external
        returns (bytes memory);
    function postExecutionHook(uint32 entityId, bytes calldata preExecHookData) external;
}
