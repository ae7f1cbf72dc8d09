// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {PackedUserOperation} from "../interfaces/PackedUserOperation.sol";

/// @dev In-place (calldata, no copy) readers of account call arguments, with the bounds and
///      cleanliness checks of the ABI decoder: malformed input reverts with empty data, as
///      `abi.decode` would.
library CalldataArgs {
    /// `(address target, uint256 value, bytes data)` of `execute`, from its arguments (the calldata
    /// after the selector).
    function executeArgs(bytes calldata args)
        internal
        pure
        returns (address target, uint256 value, bytes calldata data)
    {
        assembly ("memory-safe") {
            if lt(args.length, 0x60) { revert(0, 0) }
            target := calldataload(args.offset)
            if shr(160, target) { revert(0, 0) }
            value := calldataload(add(args.offset, 0x20))
            let off := calldataload(add(args.offset, 0x40))
            if gt(off, sub(args.length, 0x20)) { revert(0, 0) }
            let len := calldataload(add(args.offset, off))
            if gt(len, sub(sub(args.length, off), 0x20)) { revert(0, 0) }
            data.offset := add(add(args.offset, off), 0x20)
            data.length := len
        }
    }

    /// A dynamic `bytes` field of `op` read in place: `headWord` = its offset word's position in the
    /// tuple (initCode 0x40, callData 0x60, paymasterAndData 0xe0, signature 0x100). Bounds as the
    /// decoder's tail access (empty revert), and offsets above 2^64 are refused too.
    function opBytes(PackedUserOperation calldata op, uint256 headWord) internal pure returns (bytes calldata r) {
        assembly ("memory-safe") {
            let o := calldataload(add(op, headWord))
            if gt(o, 0xffffffffffffffff) { revert(0, 0) }
            let p := add(op, o)
            if gt(add(p, 0x20), calldatasize()) { revert(0, 0) }
            let len := calldataload(p)
            if gt(len, 0xffffffffffffffff) { revert(0, 0) }
            p := add(p, 0x20)
            if gt(add(p, len), calldatasize()) { revert(0, 0) }
            r.offset := p
            r.length := len
        }
    }

    /// data[4:] (the caller checked data.length >= 4).
    function tail4(bytes calldata data) internal pure returns (bytes calldata r) {
        assembly ("memory-safe") {
            r.offset := add(data.offset, 4)
            r.length := sub(data.length, 4)
        }
    }

    /// The first 4 bytes of `data`, zero-padded when shorter (as `bytes4(data)`).
    function selectorOf(bytes calldata data) internal pure returns (bytes4 sel) {
        assembly ("memory-safe") {
            sel := calldataload(data.offset)
            if lt(data.length, 4) { sel := and(sel, shl(sub(256, mul(8, data.length)), not(0))) }
            sel := and(sel, shl(224, 0xffffffff))
        }
    }
}
