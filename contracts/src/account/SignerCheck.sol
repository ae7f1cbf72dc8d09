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
        uint8 sigType = uint8(sigData[0]);
        if (sigType == 0) return isValidEcdsa(signer, digest, sigData[1:]);
        if (sigType == 1) return isValidContract(signer, digest, sigData[1:], account);
        // Keyward extension (not in MAv2): the EOA personal_signed the 32-byte digest (EIP-191), as
        // clients that sign a Wallet-API `rawPayload` with a message signer do.
        if (sigType == 2) return isValidEcdsa(signer, AccountHashes.toEthSignedMessageHash(digest), sigData[1:]);
        revert InvalidSignatureType();
    }

    /// Lesson R26: exactly 65 bytes r ‖ s ‖ v, low-s, v ∈ {27, 28}; no compact form.
    function isValidEcdsa(address signer, bytes32 digest, bytes calldata sig) internal pure returns (bool) {
        if (sig.length != 65 || signer == address(0)) return false;
        bytes32 r = bytes32(sig[0:32]);
        bytes32 s = bytes32(sig[32:64]);
        uint8 v = uint8(sig[64]);
        if (uint256(s) > HALF_N || (v != 27 && v != 28)) return false;
        return ecrecover(digest, v, r, s) == signer;
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
