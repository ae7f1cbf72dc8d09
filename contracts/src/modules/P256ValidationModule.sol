// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {PackedUserOperation} from "../interfaces/PackedUserOperation.sol";
import {IValidationModule} from "../interfaces/erc6900/IERC6900.sol";
import {ModuleBase} from "./ModuleBase.sol";
import {P256} from "../libraries/P256.sol";

/// @notice A P-256 (secp256r1) public key per (entityId, account): the validation of passkey session
///         keys — a WebCrypto non-extractable key in a browser, a secure enclave. The key signs the
///         user operation's hash the way WebCrypto's ECDSA with SHA-256 does: the signed digest is
///         `sha256(userOpHash)`, the signature `r ‖ s` (64 bytes, low s). Verified through the
///         RIP-7212 precompile where the chain has it, in Solidity otherwise. User operations only:
///         no runtime calls, no ERC-1271 signatures.
contract P256ValidationModule is ModuleBase, IValidationModule {
    error NotAuthorized();
    error InvalidPublicKey();

    /// A public key.
    struct PublicKey {
        uint256 x;
        uint256 y;
    }

    event PublicKeySet(address indexed account, uint32 indexed entityId, uint256 x, uint256 y);

    mapping(uint32 entityId => mapping(address account => PublicKey)) public keys;

    function moduleId() external pure returns (string memory) {
        return "keyward.p256-validation-module.1.0.0";
    }

    /// abi.encode(uint32 entityId, uint256 x, uint256 y): the key must be a point of the curve.
    function onInstall(bytes calldata data) external {
        (uint32 entityId, uint256 x, uint256 y) = abi.decode(data, (uint32, uint256, uint256));
        if (!P256.onCurve(x, y)) revert InvalidPublicKey();
        keys[entityId][msg.sender] = PublicKey(x, y);
        emit PublicKeySet(msg.sender, entityId, x, y);
    }

    /// abi.encode(uint32 entityId)
    function onUninstall(bytes calldata data) external {
        uint32 entityId = abi.decode(data, (uint32));
        delete keys[entityId][msg.sender];
        emit PublicKeySet(msg.sender, entityId, 0, 0);
    }

    /// `userOp.signature` = r ‖ s over sha256(userOpHash); a wrong signature returns 1 (R20).
    function validateUserOp(uint32 entityId, PackedUserOperation calldata userOp, bytes32 userOpHash)
        external
        view
        returns (uint256)
    {
        return _isValid(keys[entityId][msg.sender], userOpHash, userOp.signature) ? 0 : 1;
    }

    function validateRuntime(address, uint32, address, uint256, bytes calldata, bytes calldata) external pure {
        revert NotAuthorized();
    }

    function validateSignature(address, uint32, address, bytes32, bytes calldata) external pure returns (bytes4) {
        return 0xffffffff;
    }

    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        return interfaceId == type(IValidationModule).interfaceId || super.supportsInterface(interfaceId);
    }

    function _isValid(PublicKey storage key, bytes32 userOpHash, bytes calldata signature) internal view returns (bool) {
        if (signature.length != 64) return false;
        uint256 x = key.x;
        if (x == 0) return false;
        bytes32 digest = sha256(abi.encodePacked(userOpHash));
        return P256.verify(digest, uint256(bytes32(signature[:32])), uint256(bytes32(signature[32:64])), x, key.y);
    }
}
