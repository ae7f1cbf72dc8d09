// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {PackedUserOperation} from "../interfaces/PackedUserOperation.sol";
import {IValidationHookModule, IExecutionHookModule, Call} from "../interfaces/erc6900/IERC6900.sol";
import {ModuleBase} from "./ModuleBase.sol";

/// @notice Lifetime native-token budget per (entityId, account) (§10.3): as an execution hook it
///         charges the value sent (enforced in the execution phase, lesson R10); as a validation hook
///         it charges the op's worst-case gas cost. Use distinct entity ids for the two roles (R15).
contract NativeTokenLimitModule is ModuleBase, IExecutionHookModule, IValidationHookModule {
    error ExceededNativeTokenLimit();
    error InvalidPaymaster();

    event NativeTokenSpendLimitUpdated(uint32 indexed entityId, address indexed account, uint256 newLimit);
    event SpecialPaymasterUpdated(address indexed account, address indexed paymaster, bool allowed);

    mapping(uint256 entityId => mapping(address account => uint256)) public limits;
    /// Paymasters whose ops still count gas against the budget (e.g. ERC-20 paymasters).
    mapping(address paymaster => mapping(address account => bool)) public specialPaymasters;

    function moduleId() external pure returns (string memory) {
        return "keyward.native-token-limit-module.1.0.0";
    }

    /// abi.encode(uint32 entityId, uint256 limit) — overwrites the remaining budget (R25).
    function onInstall(bytes calldata data) external {
        (uint32 entityId, uint256 limit) = abi.decode(data, (uint32, uint256));
        updateLimits(entityId, limit);
    }

    /// abi.encode(uint32 entityId)
    function onUninstall(bytes calldata data) external {
        uint32 entityId = abi.decode(data, (uint32));
        delete limits[entityId][msg.sender];
        emit NativeTokenSpendLimitUpdated(entityId, msg.sender, 0);
    }

    function updateLimits(uint32 entityId, uint256 newLimit) public {
        limits[entityId][msg.sender] = newLimit;
        emit NativeTokenSpendLimitUpdated(entityId, msg.sender, newLimit);
    }

    function updateSpecialPaymaster(address paymaster, bool allowed) external {
        specialPaymasters[paymaster][msg.sender] = allowed;
        emit SpecialPaymasterUpdated(msg.sender, paymaster, allowed);
    }

    /// Value of execute / executeBatch (sum) / performCreate, after unwrapping executeUserOp.
    function preExecutionHook(uint32 entityId, address, uint256, bytes calldata data) external returns (bytes memory) {
        _charge(entityId, _valueOf(_unwrapExecuteUserOp(data)));
        _returnEmptyBytes();
    }

    function postExecutionHook(uint32, bytes calldata) external pure {
        revert NotImplemented();
    }

    /// Worst-case gas cost when the account pays (no paymaster) or the paymaster is "special".
    /// Reads only the op and associated storage (ERC-7562).
    function preUserOpValidationHook(uint32 entityId, PackedUserOperation calldata userOp, bytes32)
        external
        returns (uint256)
    {
        _requireEmptySignature(userOp);
        bytes calldata pmd = userOp.paymasterAndData;
        uint256 gasUnits = userOp.preVerificationGas + uint128(bytes16(userOp.accountGasLimits))
            + uint128(uint256(userOp.accountGasLimits));
        if (pmd.length != 0) {
            if (pmd.length < 52) revert InvalidPaymaster();
            address paymaster = address(bytes20(pmd[:20]));
            if (paymaster == address(0)) revert InvalidPaymaster();
            if (!specialPaymasters[paymaster][msg.sender]) return 0;
            gasUnits += uint128(bytes16(pmd[20:36])) + uint128(bytes16(pmd[36:52]));
        }
        _charge(entityId, gasUnits * uint128(uint256(userOp.gasFees)));
        return 0;
    }

    function preRuntimeValidationHook(uint32, address, uint256, bytes calldata, bytes calldata) external pure {}

    function preSignatureValidationHook(uint32, address, bytes32, bytes calldata) external pure {}

    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        return interfaceId == type(IExecutionHookModule).interfaceId
            || interfaceId == type(IValidationHookModule).interfaceId || super.supportsInterface(interfaceId);
    }

    /// limits[entityId][msg.sender] -= amount (reverts when it would go below zero); the slot is
    /// hashed once for the read and the write.
    function _charge(uint32 entityId, uint256 amount) internal {
        if (amount == 0) return;
        uint256 s;
        assembly ("memory-safe") {
            s := limits.slot
        }
        s = _slot2(s, entityId, uint160(msg.sender));
        uint256 remaining;
        assembly ("memory-safe") {
            remaining := sload(s)
        }
        if (amount > remaining) revert ExceededNativeTokenLimit();
        assembly ("memory-safe") {
            sstore(s, sub(remaining, amount))
        }
    }

    function _valueOf(bytes calldata call) internal pure returns (uint256 total) {
        if (call.length < 4) return 0;
        bytes4 sel = bytes4(call[:4]);
        if (sel == 0xb61d27f6) return uint256(bytes32(call[36:68])); // execute(target, value, data)
        if (sel == 0x5998db5c) return uint256(bytes32(call[4:36])); // performCreate(value, ...)
        if (sel == 0x34fcd5be) {
            Call[] memory calls = abi.decode(call[4:], (Call[]));
            for (uint256 i = 0; i < calls.length; ++i) total += calls[i].value;
        }
    }
}
