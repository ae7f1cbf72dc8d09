// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {TestAccount} from "./TestAccount.sol";

/// @title TestAccountFactory
/// @notice CREATE2 factory for TestAccount, plus broken variants to trigger the EntryPoint's
///         creation errors. For tests and dev chains only.
/// @dev initCode = factory ‖ abi.encodeCall(TestAccountFactory.<fn>, (owner, salt)); the op's
///      sender is getAddress(owner, salt) in every case.
///        createAccount                 → deploys (or returns the existing account)
///        createAccountReverting        → reverts            → "AA13 initCode failed or OOG"
///        createAccountWrongAddress     → returns another address, deploys nothing → "AA14 initCode must return sender"
///        createAccountWithoutDeploying → returns getAddress() but deploys nothing → "AA15 initCode must create sender"
contract TestAccountFactory {
    address public immutable entryPoint;

    event AccountCreated(address indexed account, address indexed owner, uint256 salt);

    constructor(address entryPoint_) {
        entryPoint = entryPoint_;
    }

    /// @notice Deploys TestAccount(entryPoint, owner) at getAddress(owner, salt); returns the
    ///         existing account if already deployed (getSenderAddress keeps working).
    function createAccount(address owner, uint256 salt) public returns (address account) {
        account = getAddress(owner, salt);
        if (account.code.length != 0) return account;
        new TestAccount{salt: bytes32(salt)}(entryPoint, owner);
        emit AccountCreated(account, owner, salt);
    }

    /// @notice Counterfactual address of the account for (owner, salt).
    function getAddress(address owner, uint256 salt) public view returns (address) {
        bytes32 initCodeHash = keccak256(abi.encodePacked(type(TestAccount).creationCode, abi.encode(entryPoint, owner)));
        return address(uint160(uint256(keccak256(abi.encodePacked(bytes1(0xff), address(this), salt, initCodeHash)))));
    }

    /// @notice Test hook for AA13.
    function createAccountReverting(address, uint256) external pure returns (address) {
        revert("TestAccountFactory: forced revert");
    }

    /// @notice Test hook for AA14.
    function createAccountWrongAddress(address owner, uint256 salt) external view returns (address) {
        return address(uint160(getAddress(owner, salt)) ^ 1);
    }

    /// @notice Test hook for AA15.
    function createAccountWithoutDeploying(address owner, uint256 salt) external view returns (address) {
        return getAddress(owner, salt);
    }
}
