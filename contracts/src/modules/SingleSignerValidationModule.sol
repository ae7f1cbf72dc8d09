// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {PackedUserOperation} from "../interfaces/PackedUserOperation.sol";
import {IValidationModule} from "../interfaces/erc6900/IERC6900.sol";
import {ModuleBase} from "./ModuleBase.sol";
import {AccountHashes} from "../account/AccountHashes.sol";
import {SignerCheck} from "../account/SignerCheck.sol";

/// @notice One signer (EOA or ERC-1271 contract) per (entityId, account) (§10.1). Owner validation
///         of ModularAccount and the session-key validation of every Keyward session.
contract SingleSignerValidationModule is ModuleBase, IValidationModule {
    error NotAuthorized();

    /// Anonymous, as in §10.1 (topics = the three indexed values).
    event SignerTransferred(
        address indexed account, uint32 indexed entityId, address indexed newSigner, address previousSigner
    ) anonymous;

    mapping(uint32 entityId => mapping(address account => address)) public signers;

    function moduleId() external pure returns (string memory) {
        return "keyward.single-signer-validation-module.1.0.0";
    }

    /// abi.encode(uint32 entityId, address signer)
    function onInstall(bytes calldata data) external {
        (uint32 entityId, address signer) = abi.decode(data, (uint32, address));
        _transferSigner(entityId, signer);
    }

    /// abi.encode(uint32 entityId)
    function onUninstall(bytes calldata data) external {
        _transferSigner(abi.decode(data, (uint32)), address(0));
    }

    function transferSigner(uint32 entityId, address newSigner) external {
        _transferSigner(entityId, newSigner);
    }

    /// §5.2 over EIP-191(userOpHash); wrong signatures return 1 (R20), unknown sigType reverts.
    function validateUserOp(uint32 entityId, PackedUserOperation calldata userOp, bytes32 userOpHash)
        external
        view
        returns (uint256)
    {
        bytes32 digest = AccountHashes.toEthSignedMessageHash(userOpHash);
        return SignerCheck.isValid(signers[entityId][msg.sender], digest, userOp.signature, msg.sender) ? 0 : 1;
    }

    function validateRuntime(address account, uint32 entityId, address sender, uint256, bytes calldata, bytes calldata)
        external
        view
    {
        if (sender != signers[entityId][account] || sender == address(0)) revert NotAuthorized();
    }

    /// Lesson R11: verifies the module-domain ReplaySafeHash bound to (chain, module, account).
    function validateSignature(address account, uint32 entityId, address, bytes32 hash, bytes calldata signature)
        external
        view
        returns (bytes4)
    {
        bytes32 digest = replaySafeHash(account, hash);
        return SignerCheck.isValid(signers[entityId][account], digest, signature, account) ? bytes4(0x1626ba7e) : bytes4(0xffffffff);
    }

    function replaySafeHash(address account, bytes32 hash) public view returns (bytes32) {
        return AccountHashes.typedDigest(
            AccountHashes.moduleDomain(address(this), account), AccountHashes.replaySafeStruct(hash)
        );
    }

    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        return interfaceId == type(IValidationModule).interfaceId || super.supportsInterface(interfaceId);
    }

    function _transferSigner(uint32 entityId, address newSigner) internal {
        address previous = signers[entityId][msg.sender];
        signers[entityId][msg.sender] = newSigner;
        emit SignerTransferred(msg.sender, entityId, newSigner, previous);
    }
}
