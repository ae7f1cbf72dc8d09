// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IModule} from "../interfaces/erc6900/IERC6900.sol";
import {PackedUserOperation} from "../interfaces/PackedUserOperation.sol";
import {CalldataArgs} from "../libraries/CalldataArgs.sol";

/// @dev Shared by Keyward's singleton modules. Every module keeps its state in
///      `mapping(... => mapping(address account => V))` so the account is the LAST mapping key:
///      ERC-7562 associated storage of the account (lesson R22, entrypoint-v07.md §14.3).
abstract contract ModuleBase is IModule {
    error NotImplemented();
    error UnexpectedDataPassed();

    function supportsInterface(bytes4 interfaceId) public view virtual returns (bool) {
        return interfaceId == 0x01ffc9a7 || interfaceId == type(IModule).interfaceId;
    }

    /// Lesson R9 (PR #236): hooks that take no per-hook data refuse any, so nobody can inflate the
    /// signature (and the op's gas) with ignored bytes.
    function _requireEmpty(bytes calldata data) internal pure {
        if (data.length != 0) revert UnexpectedDataPassed();
    }

    /// Slot of `m[k1][k2]` for a nested mapping `m` at `base` (value-type keys, Solidity layout).
    function _slot2(uint256 base, uint256 k1, uint256 k2) internal pure returns (uint256 s) {
        assembly ("memory-safe") {
            mstore(0x00, k1)
            mstore(0x20, base)
            mstore(0x20, keccak256(0x00, 0x40))
            mstore(0x00, k2)
            s := keccak256(0x00, 0x40)
        }
    }

    /// Slot of `m[k1][k2][k3]` for a nested mapping `m` at `base` (value-type keys).
    function _slot3(uint256 base, uint256 k1, uint256 k2, uint256 k3) internal pure returns (uint256 s) {
        s = _slot2(base, k1, k2);
        assembly ("memory-safe") {
            mstore(0x00, k3)
            mstore(0x20, s)
            s := keccak256(0x00, 0x40)
        }
    }

    /// Lesson R9 for a user op's signature (`_requireEmpty(userOp.signature)` without the decoder's
    /// tail accessors): an out-of-bounds signature offset or length reverts with empty data.
    function _requireEmptySignature(PackedUserOperation calldata userOp) internal pure {
        assembly ("memory-safe") {
            let o := calldataload(add(userOp, 0x100))
            if gt(o, calldatasize()) { revert(0, 0) }
            let p := add(userOp, o)
            if gt(add(p, 0x20), calldatasize()) { revert(0, 0) }
            if calldataload(p) {
                mstore(0x00, 0xd218aafb) // UnexpectedDataPassed()
                revert(0x1c, 0x04)
            }
        }
    }

    /// Ends the call returning an empty `bytes` (a pre-execution hook's "no data for the post hook")
    /// without the encoder: head offset 0x20, length 0.
    function _returnEmptyBytes() internal pure {
        assembly ("memory-safe") {
            mstore(0x00, 0x20)
            mstore(0x20, 0)
            return(0x00, 0x40)
        }
    }

    /// `userOp.callData` read in place, unwrapped from `executeUserOp` when it starts with its
    /// selector (lesson R13), with the decoder's bounds checks (empty revert).
    function _opCallData(PackedUserOperation calldata userOp) internal pure returns (bytes calldata r) {
        r = CalldataArgs.opBytes(userOp, 0x60);
        assembly ("memory-safe") {
            if gt(r.length, 3) {
                if eq(shr(224, calldataload(r.offset)), 0x8dd7712f) {
                    r.offset := add(r.offset, 4)
                    r.length := sub(r.length, 4)
                }
            }
        }
    }

    /// ERC-6900 calldata unwrap: `executeUserOp(op, hash)` calldata → op.callData[4:] (§9), read in
    /// place. executeUserOp(PackedUserOperation, bytes32): head word 0 = offset of the op tuple;
    /// tuple word 3 = offset of callData relative to the tuple. Every offset and length must stay
    /// within `data` (else empty revert, as an out-of-bounds slice); a callData shorter than 4
    /// bytes gives an empty slice.
    function _unwrapExecuteUserOp(bytes calldata data) internal pure returns (bytes calldata r) {
        assembly ("memory-safe") {
            r.offset := data.offset
            r.length := data.length
            let n := data.length
            if gt(n, 3) {
                if eq(shr(224, calldataload(data.offset)), 0x8dd7712f) {
                    if lt(n, 36) { revert(0, 0) }
                    // all values below are checked ≤ n < 2^64 before they are added: no overflow
                    let w := calldataload(add(data.offset, 4))
                    if gt(w, n) { revert(0, 0) }
                    let opOffset := add(4, w)
                    if gt(add(opOffset, 128), n) { revert(0, 0) }
                    w := calldataload(add(add(data.offset, opOffset), 96))
                    if gt(w, n) { revert(0, 0) }
                    let cdOffset := add(opOffset, w)
                    if gt(add(cdOffset, 32), n) { revert(0, 0) }
                    let cdLen := calldataload(add(data.offset, cdOffset))
                    if gt(cdLen, n) { revert(0, 0) }
                    if gt(add(add(cdOffset, 32), cdLen), n) { revert(0, 0) }
                    r.offset := add(add(data.offset, cdOffset), 32)
                    r.length := 0
                    if gt(cdLen, 3) {
                        r.offset := add(r.offset, 4)
                        r.length := sub(cdLen, 4)
                    }
                }
            }
        }
    }
}
