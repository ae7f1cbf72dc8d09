// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title TestCounter
/// @notice Call target for user-op executions in tests.
contract TestCounter {
    uint256 public counter;
    mapping(address => uint256) public countOf;

    event Counted(address indexed caller, uint256 counter, uint256 value);
    event Received(address indexed from, uint256 amount);

    /// @notice Increments the global and per-caller counters; accepts value.
    function count() external payable {
        uint256 c = ++counter;
        ++countOf[msg.sender];
        emit Counted(msg.sender, c, msg.value);
    }

    /// @notice Always reverts with Error("TestCounter: failed").
    function fail() external pure {
        revert("TestCounter: failed");
    }

    /// @notice Reverts with `len` raw bytes (0xab…), to exercise revert-data truncation (2048).
    function failWithLength(uint256 len) external pure {
        assembly ("memory-safe") {
            let m := mload(0x40)
            for { let i := 0 } lt(i, len) { i := add(i, 0x20) } {
                mstore(add(m, i), 0xabababababababababababababababababababababababababababababababab)
            }
            revert(m, len)
        }
    }

    /// @notice Burns at least `amount` gas (call-gas-limit and penalty tests).
    function burnGas(uint256 amount) external view {
        uint256 start = gasleft();
        uint256 x;
        while (start - gasleft() < amount) {
            x = uint256(keccak256(abi.encode(x)));
        }
    }

    receive() external payable {
        emit Received(msg.sender, msg.value);
    }
}
