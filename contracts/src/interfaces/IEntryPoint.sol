// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {PackedUserOperation} from "./PackedUserOperation.sol";
import {IStakeManager} from "./IStakeManager.sol";
import {INonceManager} from "./INonceManager.sol";
import {IAggregator} from "./IAggregator.sol";

/// @notice ERC-4337 v0.7 EntryPoint ABI. Interface id (own functions only) 0x915074d8.
/// @dev Events, errors and structs are ABI surface: names, field order and indexed flags must match
///      the canonical v0.7 EntryPoint so that topic0s and error selectors are identical.
interface IEntryPoint is IStakeManager, INonceManager {
    event UserOperationEvent(
        bytes32 indexed userOpHash,
        address indexed sender,
        address indexed paymaster,
        uint256 nonce,
        bool success,
        uint256 actualGasCost,
        uint256 actualGasUsed
    );
    event AccountDeployed(bytes32 indexed userOpHash, address indexed sender, address factory, address paymaster);
    event UserOperationRevertReason(
        bytes32 indexed userOpHash, address indexed sender, uint256 nonce, bytes revertReason
    );
    event PostOpRevertReason(bytes32 indexed userOpHash, address indexed sender, uint256 nonce, bytes revertReason);
    event UserOperationPrefundTooLow(bytes32 indexed userOpHash, address indexed sender, uint256 nonce);
    event BeforeExecution();
    event SignatureAggregatorChanged(address indexed aggregator);

    error FailedOp(uint256 opIndex, string reason);
    error FailedOpWithRevert(uint256 opIndex, string reason, bytes inner);
    error PostOpReverted(bytes returnData);
    error SignatureValidationFailed(address aggregator);
    error SenderAddressResult(address sender);
    error DelegateAndRevert(bool success, bytes ret);

    struct UserOpsPerAggregator {
        PackedUserOperation[] userOps;
        IAggregator aggregator;
        bytes signature;
    }

    /// @dev Returned by simulateValidation (EntryPointSimulations).
    struct ReturnInfo {
        uint256 preOpGas;
        uint256 prefund;
        uint256 accountValidationData;
        uint256 paymasterValidationData;
        bytes paymasterContext;
    }

    struct AggregatorStakeInfo {
        address aggregator;
        StakeInfo stakeInfo;
    }

    /// @dev 0x765e827f
    function handleOps(PackedUserOperation[] calldata ops, address payable beneficiary) external;

    /// @dev 0xdbed18e0
    function handleAggregatedOps(UserOpsPerAggregator[] calldata opsPerAggregator, address payable beneficiary)
        external;

    /// @dev 0x22cdde4c
    function getUserOpHash(PackedUserOperation calldata userOp) external view returns (bytes32);

    /// @dev 0x9b249f69 — always reverts SenderAddressResult(address).
    function getSenderAddress(bytes calldata initCode) external;

    /// @dev 0x850aaf62 — always reverts DelegateAndRevert(bool,bytes).
    function delegateAndRevert(address target, bytes calldata data) external;
}
