// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {SemiModularAccountBase} from "./SemiModularAccountBase.sol";

/// @notice EIP-7702 delegate: the delegating EOA is the default owner. Lesson R28: the EOA key stays
///         all-powerful (its own transactions call the account as msg.sender == address(this) and skip
///         validation and validation hooks); session permissions bind only session keys.
contract SemiModularAccount7702 is SemiModularAccountBase {
    error UpgradeNotAllowed();

    constructor(address entryPoint_) SemiModularAccountBase(entryPoint_) {}

    function accountId() external pure override returns (string memory) {
        return "keyward.sma-7702.1.1.0";
    }

    function _defaultSigner() internal view override returns (address) {
        return address(this);
    }

    /// A 7702 account changes code by re-delegation, never through ERC-1967.
    function upgradeToAndCall(address, bytes calldata) external payable override {
        revert UpgradeNotAllowed();
    }
}
