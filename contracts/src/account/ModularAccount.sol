// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ModularAccountBase} from "./ModularAccountBase.sol";

/// @notice Fully modular account (§12.2): the owner is a module validation installed once by
///         `initializeWithValidation` (the factory calls it atomically after deployment).
contract ModularAccount is ModularAccountBase {
    constructor(address entryPoint_) ModularAccountBase(entryPoint_) {}

    function initializeWithValidation(
        bytes25 validationConfig,
        bytes4[] calldata selectors,
        bytes calldata installData,
        bytes[] calldata hooks
    ) external initializer {
        _installValidation(validationConfig, selectors, installData, hooks);
    }

    function accountId() external pure override returns (string memory) {
        return "keyward.modular-account.1.1.0";
    }

    function _isNativeSelector(bytes4 s) internal view override returns (bool) {
        return s == this.initializeWithValidation.selector || super._isNativeSelector(s);
    }
}
