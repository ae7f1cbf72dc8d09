// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {SemiModularAccountBase} from "./SemiModularAccountBase.sol";

/// @notice SMA whose owner lives only in storage; for upgrades from other accounts with
///         `upgradeToAndCall(impl, initialize(owner))`.
contract SemiModularAccountStorageOnly is SemiModularAccountBase {
    constructor(address entryPoint_) SemiModularAccountBase(entryPoint_) {}

    /// Lesson R27: no access control — front-runnable unless run atomically inside upgradeToAndCall
    /// (or a factory's deployment). Runs once per account.
    function initialize(address initialSigner) external initializer {
        (, bool disabled) = _signerData(); // a disabled owner stays disabled (as before the flag)
        _storeSigner(initialSigner, disabled);
        emit FallbackSignerUpdated(initialSigner, false);
    }

    function accountId() external pure override returns (string memory) {
        return "keyward.sma-storage.1.1.0";
    }

    /// No default: an uninitialized account has no owner (SignerCheck rejects signer 0).
    function _defaultSigner() internal pure override returns (address) {
        return address(0);
    }

    function _isNativeSelector(bytes4 s) internal view override returns (bool) {
        return s == this.initialize.selector || super._isNativeSelector(s);
    }
}
