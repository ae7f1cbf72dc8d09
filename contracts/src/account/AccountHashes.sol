// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @dev EIP-712 digests of account-formats.md §7 and §8.1. Only CHAINID and ADDRESS are read, both
///      allowed in the ERC-7562 validation phase.
library AccountHashes {
    bytes32 internal constant REPLAY_SAFE_HASH_TYPEHASH =
        0x294a8735843d4afb4f017c76faf3b7731def145ed0025fc9b1d5ce30adf113ff; // ReplaySafeHash(bytes32 hash)
    bytes32 internal constant DOMAIN_TYPEHASH = 0x47e79534a245952e8b16893a336b85a3d9ea9fa8c573f3d803afb92a79469218; // EIP712Domain(uint256 chainId,address verifyingContract)
    bytes32 internal constant DOMAIN_SALT_TYPEHASH =
        0x71062c282d40422f744945d587dbf4ecfd4f9cfad1d35d62c944373009d96162; // ... ,bytes32 salt)
    bytes32 internal constant DEFERRED_ACTION_TYPEHASH =
        0x9b23e06584efc6b65fc854cee55011d89f86485487b6db36aed7d23884711ea3; // DeferredAction(uint256 nonce,uint48 deadline,bytes call)

    function accountDomain(address account) internal view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, block.chainid, account));
    }

    function moduleDomain(address module, address account) internal view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_SALT_TYPEHASH, block.chainid, module, bytes32(uint256(uint160(account)))));
    }

    function typedDigest(bytes32 domain, bytes32 structHash) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(hex"1901", domain, structHash));
    }

    /// Lesson R11: 1271 always verifies an account- and chain-bound wrapper of the caller's hash.
    function replaySafeStruct(bytes32 hash) internal pure returns (bytes32) {
        return keccak256(abi.encode(REPLAY_SAFE_HASH_TYPEHASH, hash));
    }

    /// Lesson R8 (QS-ALC-4): the deadline is masked to 48 bits before hashing.
    function deferredActionDigest(address account, uint256 nonce, uint48 deadline, bytes calldata call)
        internal
        view
        returns (bytes32)
    {
        bytes32 structHash =
            keccak256(abi.encode(DEFERRED_ACTION_TYPEHASH, nonce, uint256(deadline) & type(uint48).max, keccak256(call)));
        return typedDigest(accountDomain(account), structHash);
    }

    function toEthSignedMessageHash(bytes32 hash) internal pure returns (bytes32 digest) {
        assembly ("memory-safe") {
            mstore(0x20, hash)
            mstore(0x00, "\x00\x00\x00\x00\x19Ethereum Signed Message:\n32")
            digest := keccak256(0x04, 0x3c)
        }
    }
}
