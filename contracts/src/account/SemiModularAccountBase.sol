// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ModularAccountBase} from "./ModularAccountBase.sol";
import {PackedUserOperation} from "../interfaces/PackedUserOperation.sol";
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
    ///      Read only when AccountFlags.SIGNER_STORED is set: an account that never changed its owner
    ///      runs on the variant's default signer without touching this (cold) slot.
    struct SmaStorage {
        address fallbackSigner;
        bool fallbackSignerDisabled;
    }

    bytes32 internal constant SMA_SLOT = 0x5b9dc9aa943f8fa2653ceceda5e3798f0686455280432166ba472eca0bc17a32;

    constructor(address entryPoint_) ModularAccountBase(entryPoint_) {}

    /// Global pool member (§3.1): changes the owner.
    function updateFallbackSignerData(address fallbackSigner, bool isDisabled) external wrapNative {
        _storeSigner(fallbackSigner, isDisabled);
        emit FallbackSignerUpdated(fallbackSigner, isDisabled);
    }

    /// (effective signer, isDisabled); a stored 0 means "the variant default".
    function getFallbackSignerData() external view returns (address, bool) {
        return _signerData();
    }

    function _sma() internal pure returns (SmaStorage storage s) {
        assembly ("memory-safe") {
            s.slot := SMA_SLOT
        }
    }

    /// Writes the SMA slot and keeps AccountFlags.SIGNER_STORED equal to "the slot is not empty".
    function _storeSigner(address fallbackSigner, bool isDisabled) internal {
        SmaStorage storage s = _sma();
        s.fallbackSigner = fallbackSigner;
        s.fallbackSignerDisabled = isDisabled;
        AccountFlags.set(AccountFlags.SIGNER_STORED, fallbackSigner != address(0) || isDisabled);
    }

    /// (effective signer, disabled): the SMA slot only when something was stored there.
    function _signerData() internal view returns (address signer, bool disabled) {
        if (AccountFlags.get() & AccountFlags.SIGNER_STORED != 0) {
            SmaStorage storage s = _sma();
            (signer, disabled) = (s.fallbackSigner, s.fallbackSignerDisabled);
        }
        if (signer == address(0)) signer = _defaultSigner();
    }

    function _defaultSigner() internal view virtual returns (address);

    /// Every fallback path reverts while disabled.
    function _activeSigner() internal view returns (address signer) {
        bool disabled;
        (signer, disabled) = _signerData();
        if (disabled) revert FallbackSignerDisabled();
    }

    function _isFallback(uint168 key) internal pure override returns (bool) {
        return key == 0;
    }

    /// Fallback (key 0) is global; so is the effective signer calling directly while enabled.
    function _isGlobalValidation(uint168 key, uint256 h) internal view override returns (bool) {
        if (key == 0) return true;
        if (Locators.isDirect(key)) {
            (address signer, bool disabled) = _signerData();
            if (!disabled && address(uint160(key >> 8)) == signer) return true;
        }
        return super._isGlobalValidation(key, h);
    }

    /// The fallback's record is read only when something was installed on it.
    function _recordHead(uint168 key) internal view override returns (uint256 r, uint256 h) {
        if (key == 0 && AccountFlags.get() & AccountFlags.FALLBACK_RECORD == 0) return (Records.slotOf(0), 0);
        return super._recordHead(key);
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

    /// The owner's commonest op in one block: nonce locator = owner, global, no deferred action;
    /// owner enabled with no record (no hooks); callData = `execute` to another target; signature =
    /// 0xFF ‖ sigType 0 ‖ 65 bytes. Everything else (and any malformed encoding) takes the full path,
    /// which decides exactly as this does on these ops (R26 low-s / v rule, R20 bad = 1).
    function _ownerFastPath(PackedUserOperation calldata userOp, bytes32 userOpHash, uint256 missingAccountFunds)
        internal
        override
    {
        (uint256 w, uint256 sigPtr) = _ownerFastPathSig(userOp);
        if (sigPtr == 0) return;
        address signer = address(uint160(w)); // the stored signer, or 0 for the variant default
        if (signer == address(0)) signer = _defaultSigner();
        uint256 halfN = SignerCheck.HALF_N;
        // Not "memory-safe": it uses 0x00-0x7f as scratch and never returns to Solidity code.
        assembly {
            signer := and(signer, 0xffffffffffffffffffffffffffffffffffffffff)
            let s := calldataload(add(sigPtr, 0x20))
            let v := byte(0, calldataload(add(sigPtr, 0x40)))
            let ok := 0
            if and(iszero(iszero(signer)), and(iszero(gt(s, halfN)), or(eq(v, 27), eq(v, 28)))) {
                // EIP-191 digest of userOpHash, then ecrecover(digest, v, r, s) in scratch memory
                mstore(0x20, userOpHash)
                mstore(0x00, "\x00\x00\x00\x00\x19Ethereum Signed Message:\n32")
                mstore(0x00, keccak256(0x04, 0x3c))
                mstore(0x20, v)
                mstore(0x40, calldataload(sigPtr))
                mstore(0x60, s)
                ok := staticcall(gas(), 1, 0x00, 0x80, 0x00, 0x20)
                ok := and(ok, and(eq(returndatasize(), 0x20), eq(mload(0x00), signer)))
            }
            // The call ends here (free memory pointer and zero slot need no restoring). GAS precedes
            // CALL (ERC-7562 OP-012); a failed prefund is the EntryPoint's concern (AA21).
            if missingAccountFunds { pop(call(gas(), caller(), missingAccountFunds, 0, 0, 0, 0)) }
            mstore(0x00, iszero(ok))
            return(0x00, 0x20)
        }
    }

    /// The SMA word (0 when nothing is stored) and the offset of r ‖ s ‖ v when `userOp` qualifies for
    /// _ownerFastPath, else sigPtr = 0.
    function _ownerFastPathSig(PackedUserOperation calldata userOp) internal view returns (uint256 w, uint256 sigPtr) {
        uint256 fallbackRecord = AccountFlags.FALLBACK_RECORD;
        uint256 signerStored = AccountFlags.SIGNER_STORED;
        bytes32 flagsSlot = AccountFlags.SLOT;
        assembly ("memory-safe") {
            // locator (low 5 bytes of the nonce key) = entity 0 ‖ OPT_GLOBAL; owner enabled, no record
            let go := eq(and(shr(64, calldataload(add(userOp, 0x20))), 0xffffffffff), 1)
            if go {
                // no fallback record; the SMA slot (signer, disabled byte) only when something is stored
                let f := shr(160, sload(flagsSlot))
                go := iszero(and(f, fallbackRecord))
                if and(go, iszero(iszero(and(f, signerStored)))) {
                    w := sload(SMA_SLOT)
                    go := iszero(and(shr(160, w), 0xff))
                }
            }
            if go {
                // callData (head word 3) and signature (head word 8), offsets and lengths in bounds
                let cd := calldataload(add(userOp, 0x60))
                let sg := calldataload(add(userOp, 0x100))
                if iszero(or(gt(cd, 0xffffffff), gt(sg, 0xffffffff))) {
                    cd := add(userOp, cd)
                    sg := add(userOp, sg)
                    // cdLen below 2^64 (as the decoder requires) so that cd + 0x20 + cdLen cannot wrap
                    let cdLen := calldataload(cd)
                    if and(
                        and(
                            and(gt(cdLen, 35), lt(cdLen, 0x10000000000000000)),
                            iszero(gt(add(add(cd, 0x20), cdLen), calldatasize()))
                        ),
                        and(eq(calldataload(sg), 67), iszero(gt(add(sg, 99), calldatasize())))
                    ) {
                        // execute(target, ...) with target ≠ this; signature 0xFF ‖ 0x00 ‖ r ‖ s ‖ v
                        if and(
                            and(
                                eq(shr(224, calldataload(add(cd, 0x20))), 0xb61d27f6),
                                iszero(eq(calldataload(add(cd, 0x24)), address()))
                            ),
                            eq(shr(240, calldataload(add(sg, 0x20))), 0xff00)
                        ) { sigPtr := add(sg, 0x22) }
                    }
                }
            }
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
