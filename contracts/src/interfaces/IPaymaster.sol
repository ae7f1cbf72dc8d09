// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {PackedUserOperation} from "./PackedUserOperation.sol";

/// @notice Paymaster side of ERC-4337 v0.7.
interface IPaymaster {
    /// @dev `postOpReverted` exists for ABI compatibility; a v0.7 EntryPoint never passes it to postOp.
    enum PostOpMode {
        opSucceeded,
        opReverted,
        postOpReverted
    }

    /// @dev Selector 0x52b7512c. A non-empty `context` asks the EntryPoint to call `postOp` later.
    function validatePaymasterUserOp(PackedUserOperation calldata userOp, bytes32 userOpHash, uint256 maxCost)
        external
        returns (bytes memory context, uint256 validationData);

    /// @dev Selector 0x7c627b21. `actualGasCost` excludes postOp's own gas and the unused-gas penalty.
    function postOp(PostOpMode mode, bytes calldata context, uint256 actualGasCost, uint256 actualUserOpFeePerGas)
        external;
}
