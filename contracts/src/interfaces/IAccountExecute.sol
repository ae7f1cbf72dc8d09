// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {PackedUserOperation} from "./PackedUserOperation.sol";

/// @notice Optional account entry point for execution (selector 0x8dd7712f).
/// @dev When `userOp.callData` starts with this selector the EntryPoint calls
///      `executeUserOp(userOp, userOpHash)` instead of forwarding `callData` verbatim.
interface IAccountExecute {
    function executeUserOp(PackedUserOperation calldata userOp, bytes32 userOpHash) external;
}
