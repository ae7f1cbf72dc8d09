// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {PackedUserOperation} from "../interfaces/PackedUserOperation.sol";
import {IModule, IValidationHookModule} from "../interfaces/erc6900/IERC6900.sol";

/// @title TestUnassociatedStorageHook
/// @notice A deliberately BAD validation hook, for the custom-module checks (`keyward check-module`)
///         and the bundler's ERC-7562 tests: it counts every user op in one global slot, storage that
///         is not associated with the account (ERC-7562 STO-021 forbids it to an unstaked entity's
///         validation). Installing and using it works onchain (handleOps does not check rules);
///         a rule-checking bundler must refuse every op of a validation that has it.
contract TestUnassociatedStorageHook is IValidationHookModule {
    /// Slot 0: shared by every account — exactly what ERC-7562 forbids in validation.
    uint256 public totalChecks;
    /// Associated with the account (fine): how the hook was configured.
    mapping(uint32 entityId => mapping(address account => bool)) public installed;

    function moduleId() external pure returns (string memory) {
        return "keyward.test-unassociated-storage-hook.1.0.0";
    }

    function onInstall(bytes calldata data) external {
        uint32 entityId = abi.decode(data, (uint32));
        installed[entityId][msg.sender] = true;
    }

    function onUninstall(bytes calldata data) external {
        uint32 entityId = abi.decode(data, (uint32));
        delete installed[entityId][msg.sender];
    }

    function preUserOpValidationHook(uint32, PackedUserOperation calldata, bytes32) external returns (uint256) {
        totalChecks += 1;
        return 0;
    }

    function preRuntimeValidationHook(uint32, address, uint256, bytes calldata, bytes calldata) external {
        totalChecks += 1;
    }

    function preSignatureValidationHook(uint32, address, bytes32, bytes calldata) external pure {}

    function supportsInterface(bytes4 interfaceId) external pure returns (bool) {
        return interfaceId == 0x01ffc9a7 || interfaceId == type(IModule).interfaceId
            || interfaceId == type(IValidationHookModule).interfaceId;
    }
}
