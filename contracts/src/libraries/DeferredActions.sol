// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @dev The §8.2 deferred-action envelope that prefixes a user op's signature when its nonce sets the
///      deferred option: uint32 encLen ‖ enc ‖ uint32 sigLen ‖ deferredSig ‖ rest, where
///      enc = innerLocator (21) ‖ deadline (6) ‖ call. Pure calldata slicing.
library DeferredActions {
    /// enc[:LOCATOR_END] is the granting validation's packed locator.
    uint256 internal constant LOCATOR_END = 21;
    /// enc[LOCATOR_END:DEADLINE_END] is the uint48 deadline (0 = none); enc[DEADLINE_END:] the self-call.
    uint256 internal constant DEADLINE_END = 27;

    /// Splits `sig` into the encoded action, the granter's signature over it and the outer signature.
    function split(bytes calldata sig)
        internal
        pure
        returns (bytes calldata enc, bytes calldata deferredSig, bytes calldata rest)
    {
        uint256 encLen = uint32(bytes4(sig[:4]));
        enc = sig[4:4 + encLen];
        uint256 p = 4 + encLen;
        uint256 sigLen = uint32(bytes4(sig[p:p + 4]));
        deferredSig = sig[p + 4:p + 4 + sigLen];
        rest = sig[p + 4 + sigLen:];
    }
}
