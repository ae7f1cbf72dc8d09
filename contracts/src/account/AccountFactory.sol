// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IEntryPoint} from "../interfaces/IEntryPoint.sol";

/// @notice Deterministic (CREATE2) factory for Keyward accounts (§12.3). Every `create*` returns the
///         existing account when called again (so `getSenderAddress` and retried initCode work).
///         Must be staked in the EntryPoint for counterfactual first ops that touch module storage
///         (ERC-7562 STO-022, deferred session installs).
contract AccountFactory {
    error InvalidAction();
    error NotOwner();
    error TransferFailed();

    event SemiModularAccountDeployed(address indexed account, address indexed owner, uint256 salt);
    event ModularAccountDeployed(address indexed account, address indexed owner, uint256 salt);
    event OwnershipTransferStarted(address indexed previousOwner, address indexed newOwner);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    bytes32 internal constant ERC1967_SLOT = 0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc;

    /// Keyward's own ERC-1967 proxy runtime (58 bytes): delegatecall everything to the implementation
    /// stored in the ERC-1967 slot and bubble the result. Immutable args follow it; the code never
    /// reaches them, the implementation reads them with EXTCODECOPY.
    ///   calldatacopy(0,0,cds) delegatecall(gas, sload(slot), 0, cds, 0, 0) returndatacopy(0,0,rds)
    ///   success ? return(0,rds) : revert(0,rds)
    bytes internal constant PROXY_RUNTIME = abi.encodePacked(
        hex"365f5f37", hex"5f5f365f", hex"7f", ERC1967_SLOT, hex"545af4", hex"3d5f5f3e", hex"603657", hex"3d5ffd", hex"5b3d5ff3"
    );

    address public immutable ENTRY_POINT;
    address public immutable ACCOUNT_IMPL;
    address public immutable SEMI_MODULAR_ACCOUNT_IMPL;
    address public immutable SINGLE_SIGNER_VALIDATION_MODULE;

    address public owner;
    address public pendingOwner;

    constructor(
        address entryPoint,
        address accountImpl,
        address semiModularImpl,
        address singleSignerValidationModule,
        address owner_
    ) {
        ENTRY_POINT = entryPoint;
        ACCOUNT_IMPL = accountImpl;
        SEMI_MODULAR_ACCOUNT_IMPL = semiModularImpl;
        SINGLE_SIGNER_VALIDATION_MODULE = singleSignerValidationModule;
        owner = owner_;
        emit OwnershipTransferred(address(0), owner_);
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    // ---------------------------------------------------------------- accounts

    /// SMA with the owner as immutable proxy arg; stores nothing but the implementation slot.
    function createSemiModularAccount(address owner_, uint256 salt) external returns (address account) {
        bytes32 fullSalt = getSalt(owner_, salt, type(uint32).max);
        bytes memory initCode = _proxyInitCode(SEMI_MODULAR_ACCOUNT_IMPL, abi.encodePacked(owner_));
        bool created;
        (account, created) = _deploy(fullSalt, initCode);
        if (created) emit SemiModularAccountDeployed(account, owner_, salt);
    }

    /// ModularAccount owned by SingleSigner at `entityId` with flags 0x07 (global, 1271, user op),
    /// initialized in the same call as the deployment (no front-running window).
    function createAccount(address owner_, uint256 salt, uint32 entityId) external returns (address account) {
        bool created;
        (account, created) = _deploy(getSalt(owner_, salt, entityId), _proxyInitCode(ACCOUNT_IMPL, ""));
        if (created) {
            bytes25 config = bytes25(bytes20(SINGLE_SIGNER_VALIDATION_MODULE)) | (bytes25(bytes4(entityId)) >> 160)
                | (bytes25(bytes1(0x07)) >> 192);
            bytes memory init = abi.encodeWithSelector(
                0xe919a623, config, new bytes4[](0), abi.encode(entityId, owner_), new bytes[](0)
            );
            (bool ok, bytes memory ret) = account.call(init);
            if (!ok) {
                assembly ("memory-safe") {
                    revert(add(ret, 0x20), mload(ret))
                }
            }
            emit ModularAccountDeployed(account, owner_, salt);
        }
    }

    function getAddressSemiModular(address owner_, uint256 salt) external view returns (address) {
        return _predict(
            getSalt(owner_, salt, type(uint32).max),
            _proxyInitCode(SEMI_MODULAR_ACCOUNT_IMPL, abi.encodePacked(owner_))
        );
    }

    function getAddress(address owner_, uint256 salt, uint32 entityId) external view returns (address) {
        return _predict(getSalt(owner_, salt, entityId), _proxyInitCode(ACCOUNT_IMPL, ""));
    }

    /// keccak256(owner ‖ uint256 salt ‖ uint32 entityId), 56-byte packed preimage.
    function getSalt(address owner_, uint256 salt, uint32 entityId) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(owner_, salt, entityId));
    }

    function _proxyInitCode(address implementation, bytes memory args) internal pure returns (bytes memory) {
        uint256 runtimeLength = PROXY_RUNTIME.length + args.length;
        // sstore(slot, impl); codecopy(0, 0x40, len); return(0, len) — 64-byte creation prefix.
        return abi.encodePacked(
            hex"73",
            implementation,
            hex"7f",
            ERC1967_SLOT,
            hex"55",
            hex"60",
            uint8(runtimeLength),
            hex"8060405f395ff3",
            PROXY_RUNTIME,
            args
        );
    }

    function _deploy(bytes32 salt, bytes memory initCode) internal returns (address account, bool created) {
        account = _predict(salt, initCode);
        if (account.code.length != 0) return (account, false);
        assembly ("memory-safe") {
            account := create2(0, add(initCode, 0x20), mload(initCode), salt)
        }
        if (account == address(0)) revert InvalidAction();
        created = true;
    }

    function _predict(bytes32 salt, bytes memory initCode) internal view returns (address) {
        return address(uint160(uint256(keccak256(abi.encodePacked(hex"ff", address(this), salt, keccak256(initCode))))));
    }

    // ---------------------------------------------------------------- stake (owner only)

    function addStake(uint32 unstakeDelay) external payable onlyOwner {
        IEntryPoint(ENTRY_POINT).addStake{value: msg.value}(unstakeDelay);
    }

    function unlockStake() external onlyOwner {
        IEntryPoint(ENTRY_POINT).unlockStake();
    }

    function withdrawStake(address payable withdrawAddress) external onlyOwner {
        IEntryPoint(ENTRY_POINT).withdrawStake(withdrawAddress);
    }

    /// token 0 = native currency.
    function withdraw(address payable to, address token, uint256 amount) external onlyOwner {
        bool ok;
        if (token == address(0)) {
            (ok,) = to.call{value: amount}("");
        } else {
            bytes memory ret;
            (ok, ret) = token.call(abi.encodeWithSelector(0xa9059cbb, to, amount));
            ok = ok && (ret.length == 0 || abi.decode(ret, (bool)));
        }
        if (!ok) revert TransferFailed();
    }

    receive() external payable {}

    // ---------------------------------------------------------------- Ownable2Step

    function transferOwnership(address newOwner) external onlyOwner {
        pendingOwner = newOwner;
        emit OwnershipTransferStarted(owner, newOwner);
    }

    function acceptOwnership() external {
        if (msg.sender != pendingOwner) revert NotOwner();
        emit OwnershipTransferred(owner, msg.sender);
        owner = msg.sender;
        pendingOwner = address(0);
    }

    function renounceOwnership() external view onlyOwner {
        revert InvalidAction();
    }
}
