// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IModule} from "../interfaces/erc6900/IERC6900.sol";

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

    /// ERC-6900 calldata unwrap: `executeUserOp(op, hash)` calldata → op.callData[4:] (§9).
    function _unwrapExecuteUserOp(bytes calldata data) internal pure returns (bytes calldata) {
        if (data.length >= 4 && bytes4(data[:4]) == 0x8dd7712f) {
            // executeUserOp(PackedUserOperation, bytes32): head word 0 = offset of the op tuple;
            // tuple word 3 = offset of callData relative to the tuple.
            uint256 opOffset = 4 + uint256(bytes32(data[4:36]));
            uint256 cdOffset = opOffset + uint256(bytes32(data[opOffset + 96:opOffset + 128]));
            uint256 cdLen = uint256(bytes32(data[cdOffset:cdOffset + 32]));
            bytes calldata callData = data[cdOffset + 32:cdOffset + 32 + cdLen];
            return callData.length >= 4 ? callData[4:] : callData[:0];
        }
        return data;
    }
}
