// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ModularAccountBase} from "./ModularAccountBase.sol";
import {AccountFlags, Locators, Records} from "./AccountStorage.sol";
import {AccountHashes} from "./AccountHashes.sol";
import {SignerCheck} from "./SignerCheck.sol";

/// @dev Semi-Modular Account (§12.1): a built-in owner ("fallback signer") at entity 0 / lookup key 0,
///      always global, user-op and 1271 capable. Variants differ only in the default signer.
abstract contract SemiModularAccountBase is ModularAccountBase {
    error FallbackValidationInstallationNotAllowed();
    error FallbackSignerDisabled();
    error FallbackSignerMismatch();

    event FallbackSignerUpdated(address indexed newFallbackSigner, bool isDisabled);

    /// @custom:storage-location erc7201-like slot keccak256("ERC6900.SemiModularAccount.Storage") (§12.1)
    struct SmaStorage {
        address fallbackSigner;
        bool fallbackSignerDisabled;
        uint8 accountFlags; // Keyward's AccountFlags: this slot is read by every owner op anyway
    }

    bytes32 internal constant SMA_SLOT = 0x5b9dc9aa943f8fa2653ceceda5e3798f0686455280432166ba472eca0bc17a32;

    constructor(address entryPoint_) ModularAccountBase(entryPoint_) {}

    /// Global pool member (§3.1): changes the owner.
    function updateFallbackSignerData(address fallbackSigner, bool isDisabled) external wrapNative {
        SmaStorage storage s = _sma();
        s.fallbackSigner = fallbackSigner;
        s.fallbackSignerDisabled = isDisabled;
        emit FallbackSignerUpdated(fallbackSigner, isDisabled);
    }

    /// (effective signer, isDisabled); a stored 0 means "the variant default".
    function getFallbackSignerData() external view returns (address, bool) {
        return (_effectiveSigner(), _sma().fallbackSignerDisabled);
    }

    function _sma() internal pure returns (SmaStorage storage s) {
        assembly ("memory-safe") {
            s.slot := SMA_SLOT
        }
    }

    function _effectiveSigner() internal view returns (address signer) {
        signer = _sma().fallbackSigner;
        if (signer == address(0)) signer = _defaultSigner();
    }

    function _defaultSigner() internal view virtual returns (address);

    /// Every fallback path reverts while disabled.
    function _activeSigner() internal view returns (address) {
        if (_sma().fallbackSignerDisabled) revert FallbackSignerDisabled();
        return _effectiveSigner();
    }

    function _isFallback(uint168 key) internal pure override returns (bool) {
        return key == 0;
    }

    /// Fallback (key 0) is global; so is the effective signer calling directly while enabled.
    function _isGlobalValidation(uint168 key, uint256 h) internal view override returns (bool) {
        if (key == 0) return true;
        if (Locators.isDirect(key) && !_sma().fallbackSignerDisabled) {
            if (address(uint160(key >> 8)) == _effectiveSigner()) return true;
        }
        return super._isGlobalValidation(key, h);
    }

    /// The fallback's record is read only when something was installed on it.
    function _recordHead(uint168 key) internal view override returns (uint256 r, uint256 h) {
        if (key == 0 && _sma().accountFlags & AccountFlags.FALLBACK_RECORD == 0) return (Records.slotOf(0), 0);
        return super._recordHead(key);
    }

    function _accountFlags() internal view override returns (uint256) {
        return _sma().accountFlags;
    }

    function _writeAccountFlags(uint256 flags) internal override {
        _sma().accountFlags = uint8(flags);
    }

    function _isGlobalSelector(bytes4 s) internal view override returns (bool) {
        return s == this.updateFallbackSignerData.selector || super._isGlobalSelector(s);
    }

    function _isNativeSelector(bytes4 s) internal view virtual override returns (bool) {
        return s == this.getFallbackSignerData.selector || super._isNativeSelector(s);
    }

    /// Hooks may be attached to the fallback (module 0, entity 0); no module may take entity 0.
    function _checkValidationModule(address module, uint32 entityId) internal pure override {
        if (entityId == 0) {
            if (module != address(0)) revert FallbackValidationInstallationNotAllowed();
        } else if (module == address(0)) {
            revert NullModule();
        }
    }

    /// §5.2 over EIP-191(userOpHash); bad signatures return 1 (lesson R20).
    function _fallbackValidateUserOp(bytes32 userOpHash, bytes calldata sig) internal view override returns (uint256) {
        bool ok = SignerCheck.isValid(_activeSigner(), AccountHashes.toEthSignedMessageHash(userOpHash), sig, address(this));
        return ok ? 0 : 1;
    }

    function _fallbackValidateRuntime() internal view override {
        if (msg.sender != _activeSigner()) revert FallbackSignerMismatch();
    }

    function _fallbackValidateSignature(bytes32 digest, bytes calldata sig) internal view override returns (bool) {
        return SignerCheck.isValid(_activeSigner(), digest, sig, address(this));
    }
}
