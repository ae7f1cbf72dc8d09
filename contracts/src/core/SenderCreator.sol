// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ISenderCreator} from "../interfaces/ISenderCreator.sol";

/// @title SenderCreator
/// @notice Runs account factories on behalf of the EntryPoint, so a factory sees this contract as
///         msg.sender and never the EntryPoint itself (a factory must not be able to act as the EP).
/// @dev PLACEMENT: the EntryPoint hard-codes this contract's address as
///      0xEFC2c1444eBCC4Db75e7613d20C6a62fF67A167C = CREATE(EntryPoint v0.7, nonce 1). Chains place this
///      contract's *deployed* bytecode there by state injection; it has no constructor and no storage.
///      Unlike the canonical one it only serves the canonical EntryPoint address (allowed by the spec),
///      so nobody else can use it as a trampoline.
contract SenderCreator is ISenderCreator {
    /// @dev ERC-4337 v0.7 EntryPoint address (Keyward's EP is injected there).
    address internal constant ENTRY_POINT = 0x0000000071727De22E5E9d8BAf0edAc6f37da032;

    /// @dev Caller is not the EntryPoint.
    error NotFromEntryPoint();

    /// @inheritdoc ISenderCreator
    /// @dev Returns 0 (→ "AA13") instead of reverting when the factory call fails or `initCode` is too
    ///      short to hold a factory address, so the EntryPoint always gets a clean answer.
    function createSender(bytes calldata initCode) external returns (address sender) {
        if (msg.sender != ENTRY_POINT) revert NotFromEntryPoint();
        if (initCode.length < 20) return address(0);
        address factory = address(bytes20(initCode[:20]));
        assembly ("memory-safe") {
            let len := sub(initCode.length, 20)
            let m := mload(0x40)
            calldatacopy(m, add(initCode.offset, 20), len)
            // Zero the return slot so short or empty return data reads as address 0.
            mstore(0x00, 0)
            // `gas()` is the leftmost argument so GAS is immediately followed by CALL (ERC-7562 OP-012).
            let ok := call(gas(), factory, 0, m, len, 0x00, 0x20)
            sender := mul(ok, shr(96, shl(96, mload(0x00))))
        }
    }
}
