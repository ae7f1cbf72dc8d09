// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {INonceManager} from "../interfaces/INonceManager.sol";

/// @title NonceManager
/// @notice 2D nonces: the top 192 bits select an independent sequence, the low 64 bits are the
///         sequence number that must be used exactly in order.
/// @dev STORAGE: `nonceSequenceNumber` must be the second state variable of the EntryPoint (slot 1),
///      matching the canonical layout (see StakeManager).
abstract contract NonceManager is INonceManager {
    /// @notice Slot 1. Public getter (0x1b2e01b8) is part of the canonical ABI.
    mapping(address => mapping(uint192 => uint256)) public nonceSequenceNumber;

    /// @inheritdoc INonceManager
    function getNonce(address sender, uint192 key) public view returns (uint256 nonce) {
        return nonceSequenceNumber[sender][key] | (uint256(key) << 64);
    }

    /// @inheritdoc INonceManager
    /// @dev Lets an account invalidate an already signed (not yet included) op of one of its keys.
    function incrementNonce(uint192 key) external {
        nonceSequenceNumber[msg.sender][key]++;
    }

    /// @dev Consumes `nonce` for `sender`; false if its sequence is not the next one for its key.
    ///      The increment happens even on mismatch — the caller reverts the whole transaction then.
    function _validateAndUpdateNonce(address sender, uint256 nonce) internal returns (bool) {
        uint192 key = uint192(nonce >> 64);
        uint64 seq = uint64(nonce);
        return nonceSequenceNumber[sender][key]++ == seq;
    }
}
