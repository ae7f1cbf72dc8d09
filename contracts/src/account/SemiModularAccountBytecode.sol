// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {SemiModularAccountBase} from "./SemiModularAccountBase.sol";

/// @notice Factory default (§12.1): the owner is the last 20 bytes of the proxy's runtime code
///         (immutable arg), so creating an account writes only the ERC-1967 implementation slot.
contract SemiModularAccountBytecode is SemiModularAccountBase {
    constructor(address entryPoint_) SemiModularAccountBase(entryPoint_) {}

    function accountId() external pure override returns (string memory) {
        return "keyward.sma-bytecode.1.1.0";
    }

    /// Delegatecalled code sees the implementation with CODECOPY, so read the proxy's own code: the
    /// owner is the immutable arg right after the factory's 61-byte proxy runtime (code beyond the
    /// end reads as zeros, and SignerCheck rejects signer 0).
    function _defaultSigner() internal view override returns (address signer) {
        assembly ("memory-safe") {
            mstore(0x00, 0)
            extcodecopy(address(), 0x0c, 0x3d, 20)
            signer := mload(0x00)
        }
    }
}
