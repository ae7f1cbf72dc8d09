// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @dev The §8.2 deferred-action envelope that prefixes a user op's signature when its nonce sets the
///      deferred option: uint32 encLen ‖ enc ‖ uint32 sigLen ‖ deferredSig ‖ rest, where
///      enc = innerLocator (21) ‖ deadline (6) ‖ call. Pure calldata slicing.
library DeferredActions {
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

    /// The granting validation's packed locator.
    function innerLocator(bytes calldata enc) internal pure returns (uint168) {
        return uint168(bytes21(enc[:21]));
    }

    /// The action's deadline (0 = none).
    function deadline(bytes calldata enc) internal pure returns (uint48) {
        return uint48(bytes6(enc[21:27]));
    }

    /// The self-call the action performs.
    function call(bytes calldata enc) internal pure returns (bytes calldata) {
        return enc[27:];
    }

    /// ERC-4337 validation data carrying `deadline_` as validUntil (validAfter 0, authorizer 0).
    function validationData(uint48 deadline_) internal pure returns (uint256) {
        return uint256(deadline_) << 160;
    }
}
