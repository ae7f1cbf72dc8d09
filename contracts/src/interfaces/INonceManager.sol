// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice 2D nonces: nonce = key (uint192) << 64 | sequence (uint64). Interface id 0x3e84f021.
interface INonceManager {
    /// @dev 0x35567e1a — the next full nonce for `key`.
    function getNonce(address sender, uint192 key) external view returns (uint256 nonce);

    /// @dev 0x0bd28e3b — burns one sequence number of the caller's `key`.
    function incrementNonce(uint192 key) external;
}
