// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {PackedUserOperation} from "./PackedUserOperation.sol";

/// @notice Account side of ERC-4337 v0.7 validation (selector 0x19822f7c).
interface IAccount {
    /// @dev Must pay `missingAccountFunds` to the EntryPoint (msg.sender) and return the packed
    ///      validationData: validAfter (48) ‖ validUntil (48) ‖ authorizer (160), where authorizer
    ///      0 = valid, 1 = signature failure, otherwise an aggregator address.
    function validateUserOp(PackedUserOperation calldata userOp, bytes32 userOpHash, uint256 missingAccountFunds)
        external
        returns (uint256 validationData);
}
