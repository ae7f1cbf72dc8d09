// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {SemiModularAccountBase} from "./SemiModularAccountBase.sol";

/// @notice Factory default (§12.1): the owner is the last 20 bytes of the proxy's runtime code
///         (immutable arg), so creating an account writes only the ERC-1967 implementation slot.
contract SemiModularAccountBytecode is SemiModularAccountBase {
    constructor(address entryPoint_) SemiModularAccountBase(entryPoint_) {}

    function accountId() external pure override returns (string memory) {
        return "keyward.sma-bytecode.1.0.0";
    }

    /// Delegatecalled code sees the implementation with CODECOPY, so read the proxy's own code.
    function _defaultSigner() internal view override returns (address signer) {
        assembly ("memory-safe") {
            let size := extcodesize(address())
            if gt(size, 19) {
                extcodecopy(address(), 0x00, sub(size, 20), 20)
                signer := shr(96, mload(0x00))
            }
        }
    }
}
