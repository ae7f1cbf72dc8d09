// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {PackedUserOperation} from "./PackedUserOperation.sol";
import {IEntryPoint} from "./IEntryPoint.sol";

/// @notice Simulation ABI of ERC-4337 v0.7 (code injected at the EntryPoint address via eth_call
///         state override; never deployed).
interface IEntryPointSimulations is IEntryPoint {
    struct ExecutionResult {
        uint256 preOpGas;
        uint256 paid;
        uint256 accountValidationData;
        uint256 paymasterValidationData;
        bool targetSuccess;
        bytes targetResult;
    }

    struct ValidationResult {
        ReturnInfo returnInfo;
        StakeInfo senderInfo;
        StakeInfo factoryInfo;
        StakeInfo paymasterInfo;
        AggregatorStakeInfo aggregatorInfo;
    }

    /// @dev 0xc3bce009
    function simulateValidation(PackedUserOperation calldata userOp) external returns (ValidationResult memory);

    /// @dev 0x97b2dcb9
    function simulateHandleOp(PackedUserOperation calldata op, address target, bytes calldata targetCallData)
        external
        returns (ExecutionResult memory);
}
