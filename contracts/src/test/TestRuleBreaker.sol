// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {PackedUserOperation} from "../interfaces/PackedUserOperation.sol";
import {IAccount} from "../interfaces/IAccount.sol";

/// @notice Storage for TestRuleBreaker: one value keyed by the account (ERC-7562 associated
///         storage) and one global value (not associated with anyone).
contract TestRuleStore {
    mapping(address account => uint256) public byAccount;
    uint256 public globalValue;

    function setByAccount(uint256 v) external {
        byAccount[msg.sender] = v;
    }

    function setGlobal(uint256 v) external {
        globalValue = v;
    }

    receive() external payable {}
}

/// @notice A throwaway contract TestRuleBreaker creates (CREATE during validation).
contract TestRuleDummy {}

/// @title TestRuleBreaker
/// @notice An ERC-4337 v0.7 account that breaks one ERC-7562 validation rule on request, for the
///         bundler's rule-checker tests. NO SIGNATURE CHECK: never use outside tests.
/// @dev `signature[0]` selects the behaviour of validateUserOp (every mode pays the prefund and
///      returns 0):
///      0 clean (own storage + storage associated with the account in TestRuleStore);
///      1 TIMESTAMP; 2 NUMBER; 3 read TestRuleStore.globalValue; 4 write it; 5 GAS not followed by a
///      call; 6 call EntryPoint.getNonce; 7 BALANCE of another address; 8 CALL with value to a
///      non-EntryPoint; 9 CREATE; 10 ORIGIN; 11 call an address without code.
contract TestRuleBreaker is IAccount {
    address public immutable entryPoint;
    TestRuleStore public immutable store;
    uint256 public counter;

    constructor(address entryPoint_, TestRuleStore store_) {
        entryPoint = entryPoint_;
        store = store_;
    }

    receive() external payable {}

    function validateUserOp(PackedUserOperation calldata userOp, bytes32, uint256 missingAccountFunds)
        external
        returns (uint256)
    {
        require(msg.sender == entryPoint, "not from EntryPoint");
        uint8 mode = userOp.signature.length > 0 ? uint8(userOp.signature[0]) : 0;
        uint256 sink;
        if (mode == 0) {
            counter += 1;
            sink = store.byAccount(address(this));
        } else if (mode == 1) {
            sink = block.timestamp;
        } else if (mode == 2) {
            sink = block.number;
        } else if (mode == 3) {
            sink = store.globalValue();
        } else if (mode == 4) {
            store.setGlobal(7);
        } else if (mode == 5) {
            sink = gasleft();
        } else if (mode == 6) {
            (bool ok, bytes memory ret) =
                entryPoint.call(abi.encodeWithSignature("getNonce(address,uint192)", address(this), uint192(0)));
            sink = ok ? ret.length : 0;
        } else if (mode == 7) {
            sink = address(store).balance;
        } else if (mode == 8) {
            (bool ok,) = payable(address(store)).call{value: 1}("");
            sink = ok ? 1 : 0;
        } else if (mode == 9) {
            sink = uint160(address(new TestRuleDummy()));
        } else if (mode == 10) {
            sink = uint160(tx.origin);
        } else if (mode == 11) {
            (bool ok,) = address(0x00000000000000000000000000000000DeaDBeef).call("");
            sink = ok ? 1 : 0;
        }
        if (missingAccountFunds != 0) {
            (bool ok,) = payable(msg.sender).call{value: missingAccountFunds}("");
            (ok);
        }
        // Keep `sink` alive without returning it (validationData must stay 0).
        if (sink == type(uint256).max) counter = 0;
        return 0;
    }

    function execute(address target, uint256 value, bytes calldata data) external {
        require(msg.sender == entryPoint, "not from EntryPoint");
        (bool ok, bytes memory ret) = target.call{value: value}(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 0x20), mload(ret))
            }
        }
    }
}
