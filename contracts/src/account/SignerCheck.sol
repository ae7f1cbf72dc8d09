// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AccountHashes} from "./AccountHashes.sol";

/// Empty validation data or a sigType other than 0 (EOA) / 1 (contract owner) / 2 (EOA, EIP-191).
error InvalidSignatureType();

/// @dev The §5.2 `sigType ‖ payload` signature check shared by the SMA fallback and SingleSigner.
///      Bad signatures return false, never revert (lesson R20), so estimation with a dummy signature
///      follows the same path as a real one.
library SignerCheck {
    uint256 internal constant HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    function isValid(address signer, bytes32 digest, bytes calldata sigData, address account)
        internal
        view
        returns (bool)
    {
        if (sigData.length == 0) revert InvalidSignatureType();
        uint256 sigType;
        bytes calldata payload;
        assembly ("memory-safe") {
            sigType := shr(248, calldataload(sigData.offset))
            payload.offset := add(sigData.offset, 1)
            payload.length := sub(sigData.length, 1)
        }
        if (sigType == 0) return isValidEcdsa(signer, digest, payload);
        if (sigType == 1) return isValidContract(signer, digest, payload, account);
        // Keyward extension (not in MAv2): the EOA personal_signed the 32-byte digest (EIP-191), as
        // clients that sign a Wallet-API `rawPayload` with a message signer do.
        if (sigType == 2) return isValidEcdsa(signer, AccountHashes.toEthSignedMessageHash(digest), payload);
        revert InvalidSignatureType();
    }

    /// Lesson R26: exactly 65 bytes r ‖ s ‖ v, low-s, v ∈ {27, 28}; no compact form.
    function isValidEcdsa(address signer, bytes32 digest, bytes calldata sig) internal view returns (bool ok) {
        if (sig.length != 65 || signer == address(0)) return false;
        assembly ("memory-safe") {
            let s := calldataload(add(sig.offset, 0x20))
            let v := byte(0, calldataload(add(sig.offset, 0x40)))
            if and(iszero(gt(s, HALF_N)), or(eq(v, 27), eq(v, 28))) {
                let m := mload(0x40)
                mstore(0x00, digest)
                mstore(0x20, v)
                mstore(0x40, calldataload(sig.offset))
                mstore(0x60, s)
                let success := staticcall(gas(), 1, 0x00, 0x80, 0x00, 0x20)
                ok := and(success, and(eq(returndatasize(), 0x20), eq(mload(0x00), and(signer, 0xffffffffffffffffffffffffffffffffffffffff))))
                mstore(0x40, m)
                mstore(0x60, 0)
            }
        }
    }

    /// Lesson R12: a contract owner equal to the account itself always fails (else a signature-only
    /// validation could pass as the owner through the account's own isValidSignature). A signer
    /// without code fails without a call (ERC-7562 OP-041: no calls to code-less addresses).
    function isValidContract(address signer, bytes32 digest, bytes calldata sig, address account)
        internal
        view
        returns (bool)
    {
        if (signer == account || signer.code.length == 0) return false;
        (bool ok, bytes memory ret) = signer.staticcall(abi.encodeWithSelector(0x1626ba7e, digest, sig));
        return ok && ret.length >= 32 && bytes4(abi.decode(ret, (bytes32))) == bytes4(0x1626ba7e);
    }
}
