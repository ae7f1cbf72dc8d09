// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice ERC-4337 v0.7 user operation as it travels on-chain.
/// @dev Field order is part of the ABI (tuple type
///      `(address,uint256,bytes,bytes,bytes32,uint256,bytes32,bytes,bytes)`) and of every selector that
///      takes it, so it must never change.
///      - `accountGasLimits` = verificationGasLimit (high 128 bits) ‖ callGasLimit (low 128 bits).
///      - `gasFees`          = maxPriorityFeePerGas (high 128 bits) ‖ maxFeePerGas (low 128 bits).
///      - `initCode`         = factory (20 bytes) ‖ factoryData, or empty.
///      - `paymasterAndData` = paymaster (20) ‖ pmVerificationGasLimit (16) ‖ pmPostOpGasLimit (16) ‖ data,
///                             or empty.
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
