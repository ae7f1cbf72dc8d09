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

    /// Runtime of the minimal ERC-1967 proxy MAv2's factory deploys (the layout of Solady LibClone's
    /// ERC-1967 proxy, written out here), 61 bytes: delegatecall everything to the implementation in
    /// the ERC-1967 slot and bubble the result. Using the same proxy and CREATE2 inputs as MAv2 lets
    /// any MAv2 client predict our accounts from the factory and implementation alone. Immutable args
    /// follow the runtime; the code never reaches them, the implementation reads them with EXTCODECOPY.
    ///   calldatacopy(0,0,cds) delegatecall(gas, sload(slot), 0, cds, 0, 0) returndatacopy(0,0,rds)
    ///   success ? return(0,rds) : revert(0,rds)   (the jump target 0x38 is the JUMPDEST below)
    bytes internal constant PROXY_RUNTIME = abi.encodePacked(
        hex"363d3d37", hex"3d3d363d", hex"7f", ERC1967_SLOT, hex"545af4", hex"3d6000803e", hex"603857", hex"3d6000fd", hex"5b3d6000f3"
    );

    /// Tail of both creation codes: the runtime is in memory at 0 by then, so `mload(9)` is the slot
    /// (its PUSH32 operand); `sstore(slot, impl)` and return the copied code.
    bytes internal constant PROXY_CREATION_TAIL = hex"60095155f3";

    address public immutable ENTRY_POINT;
    /// Where the EntryPoint v0.7 constructor creates its SenderCreator: CREATE(entryPoint, nonce 1).
    address internal immutable SENDER_CREATOR;
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
        SENDER_CREATOR = address(uint160(uint256(keccak256(abi.encodePacked(hex"d694", entryPoint, hex"01")))));
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

    /// SMA with the owner as immutable proxy arg; stores nothing but the implementation slot. The
    /// creation code is built once in memory. Called by the EntryPoint's SenderCreator, the
    /// CREATE2 runs without predicting the address first: the EntryPoint calls it only for a sender
    /// without code (AA10) and checks the address it gets (AA14). The canonical SenderCreator
    /// serves anyone, though: a direct `createSender` for an existing account makes the CREATE2
    /// collide, which costs that caller the gas it forwarded (63/64) before the account is returned.
    /// Any other caller gets the existing account without a CREATE2. Either way a failed CREATE2
    /// returns the account when it exists and reverts otherwise.
    function createSemiModularAccount(address owner_, uint256 salt) external returns (address account) {
        (uint256 code, bytes32 fullSalt) = _smaInitCode(owner_, salt);
        if (msg.sender != SENDER_CREATOR) {
            account = _predictSma(code, fullSalt);
            if (account.code.length != 0) return account;
        }
        assembly ("memory-safe") {
            account := create2(0, code, 116, fullSalt)
        }
        if (account == address(0)) {
            account = _predictSma(code, fullSalt);
            if (account.code.length == 0) revert InvalidAction();
            return account;
        }
        emit SemiModularAccountDeployed(account, owner_, salt);
    }

    /// ModularAccount owned by SingleSigner at `entityId` with flags 0x07 (global, 1271, user op),
    /// initialized in the same call as the deployment (no front-running window).
    function createAccount(address owner_, uint256 salt, uint32 entityId) external returns (address account) {
        bool created;
        (account, created) = _deploy(getSalt(owner_, salt, entityId), _proxyInitCode(ACCOUNT_IMPL));
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

    /// Where `createSemiModularAccount(owner_, salt)` deploys (as MAv2's factory computes it).
    function getAddressSemiModular(address owner_, uint256 salt) external view returns (address) {
        (uint256 code, bytes32 fullSalt) = _smaInitCode(owner_, salt);
        return _predictSma(code, fullSalt);
    }

    /// Where `createAccount(owner_, salt, entityId)` deploys (as MAv2's factory computes it).
    function getAddress(address owner_, uint256 salt, uint32 entityId) external view returns (address) {
        return _predict(getSalt(owner_, salt, entityId), _proxyInitCode(ACCOUNT_IMPL));
    }

    /// keccak256(owner ‖ uint256 salt ‖ uint32 entityId), 56-byte packed preimage.
    function getSalt(address owner_, uint256 salt, uint32 entityId) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(owner_, salt, entityId));
    }

    /// Creation code of a proxy without immutable args (ModularAccount), 34 + 61 bytes:
    ///   codecopy(0, 0x22, 0x3d) sstore(mload(9), impl) return(0, 0x3d)
    function _proxyInitCode(address implementation) internal pure returns (bytes memory) {
        return abi.encodePacked(hex"603d3d8160223d3973", implementation, PROXY_CREATION_TAIL, PROXY_RUNTIME);
    }

    /// Creation code of a proxy with the owner as its 20-byte immutable arg (SMA), 35 + 61 + 20 = 116
    /// bytes: the runtime length is a PUSH2 (0x3d + 20 = 0x51) and the runtime starts at 0x23.
    ///   codecopy(0, 0x23, 0x51) sstore(mload(9), impl) return(0, 0x51)
    /// Allocated at the free memory pointer, with the full salt getSalt(owner_, salt,
    /// type(uint32).max).
    function _smaInitCode(address owner_, uint256 salt) internal view returns (uint256 code, bytes32 fullSalt) {
        address impl = SEMI_MODULAR_ACCOUNT_IMPL;
        assembly ("memory-safe") {
            code := mload(0x40)
            // salt preimage owner (20) ‖ salt (32) ‖ uint32 max (4), in the memory after the code
            let s := add(code, 0x80)
            mstore(s, shl(96, owner_))
            mstore(add(s, 20), salt)
            mstore(add(s, 52), shl(224, 0xffffffff))
            fullSalt := keccak256(s, 56)
            // each store overwrites the zero tail of the previous one
            mstore(code, shl(176, 0x6100513d8160233d3973)) // [0, 10) creation head
            mstore(add(code, 10), shl(96, impl)) // [10, 30)
            mstore(add(code, 30), shl(144, 0x60095155f3363d3d373d3d363d7f)) // [30, 44) tail ‖ runtime head
            mstore(add(code, 44), ERC1967_SLOT) // [44, 76) the PUSH32 operand
            mstore(add(code, 76), shl(96, 0x545af43d6000803e6038573d6000fd5b3d6000f3)) // [76, 96)
            mstore(add(code, 96), shl(96, owner_)) // [96, 116) immutable arg
            mstore(0x40, add(code, 0xc0))
        }
    }

    /// CREATE2 address of the 116-byte SMA creation code at memory `code`.
    function _predictSma(uint256 code, bytes32 fullSalt) internal view returns (address) {
        bytes32 codeHash;
        assembly ("memory-safe") {
            codeHash := keccak256(code, 116)
        }
        return _predictHash(fullSalt, codeHash);
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
        return _predictHash(salt, keccak256(initCode));
    }

    /// CREATE2 address: keccak256(0xff ‖ this ‖ salt ‖ codeHash), from scratch memory.
    function _predictHash(bytes32 salt, bytes32 codeHash) internal view returns (address account) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(0x00, address())
            mstore8(0x0b, 0xff)
            mstore(0x20, salt)
            mstore(0x40, codeHash)
            account := and(keccak256(0x0b, 85), 0xffffffffffffffffffffffffffffffffffffffff)
            mstore(0x40, m)
        }
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
