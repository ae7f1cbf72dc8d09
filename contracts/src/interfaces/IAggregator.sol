// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {PackedUserOperation} from "./PackedUserOperation.sol";

/// @notice Signature aggregator (ERC-4337 v0.7).
interface IAggregator {
    /// @dev 0x2dd81133 — must revert if the aggregated signature is invalid for `userOps`.
    function validateSignatures(PackedUserOperation[] calldata userOps, bytes calldata signature) external view;

    /// @dev 0x062a422b — used off-chain by bundlers.
    function validateUserOpSignature(PackedUserOperation calldata userOp)
        external
        view
        returns (bytes memory sigForUserOp);

    /// @dev 0xae574a43 — used off-chain by bundlers.
    function aggregateSignatures(PackedUserOperation[] calldata userOps)
        external
        view
        returns (bytes memory aggregatedSignature);
}
