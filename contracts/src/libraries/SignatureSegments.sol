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
        uint256 len;
        bool flag;
        // Read in place with the checks of the indexed accesses and slices this replaces: an empty
        // `sig` or `rest` is Panic(0x32) (index out of bounds), a short one reverts with empty data.
        assembly ("memory-safe") {
            if iszero(sig.length) {
                mstore(0x00, 0x4e487b71)
                mstore(0x20, 0x32)
                revert(0x1c, 0x24)
            }
            let w := calldataload(sig.offset)
            seg.offset := sig.offset
            seg.length := 0
            rest.offset := sig.offset
            rest.length := sig.length
            if eq(shr(248, w), i) {
                if lt(sig.length, 5) { revert(0, 0) }
                len := and(shr(216, w), 0xffffffff)
                flag := 1
            }
        }
        if (!flag) return (seg, rest);
        if (len == 0) revert NonCanonicalEncoding();
        assembly ("memory-safe") {
            let end := add(5, len)
            if gt(end, sig.length) { revert(0, 0) }
            seg.offset := add(sig.offset, 5)
            seg.length := len
            rest.offset := add(sig.offset, end)
            rest.length := sub(sig.length, end)
            if iszero(rest.length) {
                mstore(0x00, 0x4e487b71)
                mstore(0x20, 0x32)
                revert(0x1c, 0x24)
            }
            flag := iszero(gt(shr(248, calldataload(rest.offset)), i))
        }
        if (flag) revert SegmentOutOfOrder();
    }

    /// The validation function's own signature: everything after the 0xFF marker.
    function finalSegment(bytes calldata sig) internal pure returns (bytes calldata rest) {
        uint256 first;
        // sig[0] with the index access's Panic(0x32) on an empty `sig`; then sig[1:] in place.
        assembly ("memory-safe") {
            if iszero(sig.length) {
                mstore(0x00, 0x4e487b71)
                mstore(0x20, 0x32)
                revert(0x1c, 0x24)
            }
            first := shr(248, calldataload(sig.offset))
            rest.offset := add(sig.offset, 1)
            rest.length := sub(sig.length, 1)
        }
        if (first != FINAL_INDEX) revert ValidationSignatureSegmentMissing();
    }
}
