// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice Helper through which the EntryPoint runs account factories (selector 0x570e1a36).
interface ISenderCreator {
    /// @dev Calls `initCode[0:20]` with `initCode[20:]`; returns the address the factory returned,
    ///      or 0 if the call failed.
    function createSender(bytes calldata initCode) external returns (address sender);
}
