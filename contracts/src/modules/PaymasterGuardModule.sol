// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {PackedUserOperation} from "../interfaces/PackedUserOperation.sol";
import {IValidationHookModule} from "../interfaces/erc6900/IERC6900.sol";
import {ModuleBase} from "./ModuleBase.sol";

/// @notice Validation hook: the validation's user ops must use one given paymaster (§10.5).
contract PaymasterGuardModule is ModuleBase, IValidationHookModule {
    error InvalidPaymaster();
    error BadPaymasterSpecified();

    mapping(uint32 entityId => mapping(address account => address)) public paymasters;

    function moduleId() external pure returns (string memory) {
        return "keyward.paymaster-guard-module.1.0.0";
    }

    /// abi.encode(uint32 entityId, address paymaster). Lesson R6 (QS-ALC-2): paymaster 0 rejected.
    function onInstall(bytes calldata data) external {
        (uint32 entityId, address paymaster) = abi.decode(data, (uint32, address));
        if (paymaster == address(0)) revert InvalidPaymaster();
        paymasters[entityId][msg.sender] = paymaster;
    }

    /// abi.encode(uint32 entityId)
    function onUninstall(bytes calldata data) external {
        delete paymasters[abi.decode(data, (uint32))][msg.sender];
    }

    function preUserOpValidationHook(uint32 entityId, PackedUserOperation calldata userOp, bytes32)
        external
        view
        returns (uint256)
    {
        _requireEmptySignature(userOp);
        // Lesson R6: a zero (or missing) paymaster is rejected at check time too.
        if (userOp.paymasterAndData.length < 20) revert InvalidPaymaster();
        address payer = address(bytes20(userOp.paymasterAndData[:20]));
        if (payer == address(0)) revert InvalidPaymaster();
        if (payer != paymasters[entityId][msg.sender]) revert BadPaymasterSpecified();
        return 0;
    }

    function preRuntimeValidationHook(uint32, address, uint256, bytes calldata, bytes calldata) external pure {}

    function preSignatureValidationHook(uint32, address, bytes32, bytes calldata) external pure {}

    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        return interfaceId == type(IValidationHookModule).interfaceId || super.supportsInterface(interfaceId);
    }
}
