// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Locators} from "../account/AccountStorage.sol";

/// @dev Parsing of the §5.1 / §6.1 signature layouts: packedLocator ‖ segment* ‖ 0xFF ‖ final, where a
///      segment is index (1) ‖ uint32 length ‖ data. Pure calldata slicing, no copies.
library SignatureSegments {
    /// A present hook segment is empty: absent segments must be omitted instead.
    error NonCanonicalEncoding();
    /// Hook segment indices are not strictly increasing.
    error SegmentOutOfOrder();
    /// The final 0xFF segment (the validation function's own signature) is missing.
    error ValidationSignatureSegmentMissing();

    uint8 internal constant FINAL_INDEX = 0xff;

    /// Splits `auth` into its packed locator (id ‖ options, or caller address ‖ options for direct
    /// calls) and the segments that follow.
    function splitLocator(bytes calldata auth) internal pure returns (uint168 locator, bytes calldata rest) {
        uint8 options = uint8(auth[0]);
        if (options & Locators.OPT_DIRECT != 0) {
            locator = (uint168(uint160(bytes20(auth[1:21]))) << 8) | options;
            rest = auth[21:];
        } else {
            locator = (uint168(uint32(bytes4(auth[1:5]))) << 8) | options;
            rest = auth[5:];
        }
    }

    /// Segment for hook `i`: consumed when the next index is `i`, else empty. Lesson R9 (PR #236):
    /// present segments are non-empty and indices strictly increasing.
    function next(bytes calldata sig, uint256 i) internal pure returns (bytes calldata seg, bytes calldata rest) {
        if (uint8(sig[0]) != i) return (sig[:0], sig);
        uint256 len = uint32(bytes4(sig[1:5]));
        if (len == 0) revert NonCanonicalEncoding();
        seg = sig[5:5 + len];
        rest = sig[5 + len:];
        if (uint8(rest[0]) <= i) revert SegmentOutOfOrder();
    }

    /// The validation function's own signature: everything after the 0xFF marker.
    function finalSegment(bytes calldata sig) internal pure returns (bytes calldata) {
        if (uint8(sig[0]) != FINAL_INDEX) revert ValidationSignatureSegmentMissing();
        return sig[1:];
    }
}
