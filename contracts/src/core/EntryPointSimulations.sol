// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {PackedUserOperation} from "../interfaces/PackedUserOperation.sol";
import {IEntryPointSimulations} from "../interfaces/IEntryPointSimulations.sol";
import {IStakeManager} from "../interfaces/IStakeManager.sol";
import {EntryPoint} from "./EntryPoint.sol";
import {StakeManager} from "./StakeManager.sol";

/// @title EntryPointSimulations
/// @notice The EntryPoint plus the two v0.7 simulation functions. NEVER DEPLOYED: callers put its
///         deployedBytecode at the EntryPoint address with an eth_call / debug_traceCall state
///         override, so the real deposits, stakes and nonces apply.
/// @dev Adds no storage (the EP's layout must stay canonical) and relies on the same SenderCreator
///      constant as the EP, so it only works injected at the canonical EntryPoint address.
///      Both functions return their results and revert only on failure (FailedOp & co).
contract EntryPointSimulations is EntryPoint, IEntryPointSimulations {
    /// @dev Guard against a real deployment (canonical behaviour). Injection runs no constructor.
    constructor() {
        require(block.number < 100, "should not be deployed");
    }

    /// @inheritdoc IEntryPointSimulations
    /// @dev §7.1 steps 1–10 for op index 0; the time range and authorizer are returned, not checked.
    function simulateValidation(PackedUserOperation calldata userOp) external returns (ValidationResult memory) {
        UserOpInfo memory opInfo;
        _simulationOnlyValidations(userOp);
        (uint256 validationData, uint256 pmValidationData, bytes memory context) =
            _validatePrepayment(0, userOp, opInfo);
        return ValidationResult({
            returnInfo: ReturnInfo({
                preOpGas: opInfo.preOpGas,
                prefund: opInfo.prefund,
                accountValidationData: validationData,
                paymasterValidationData: pmValidationData,
                paymasterContext: context
            }),
            senderInfo: _getStakeInfo(opInfo.mUserOp.sender),
            factoryInfo: _getStakeInfo(_factoryOf(userOp.initCode)),
            paymasterInfo: _getStakeInfo(opInfo.mUserOp.paymaster),
            aggregatorInfo: _aggregatorStakeInfo(validationData)
        });
    }

    /// @inheritdoc IEntryPointSimulations
    /// @dev Validates (no time/signature checks), executes exactly like handleOps (postOp, penalty,
    ///      refund, events), then optionally calls `target` so callers can observe the resulting state.
    function simulateHandleOp(PackedUserOperation calldata op, address target, bytes calldata targetCallData)
        external
        nonReentrant
        returns (ExecutionResult memory result)
    {
        UserOpInfo memory opInfo;
        _simulationOnlyValidations(op);
        bytes memory context;
        (result.accountValidationData, result.paymasterValidationData, context) = _validatePrepayment(0, op, opInfo);
        result.paid = _executeUserOp(0, op, opInfo, context);
        result.preOpGas = opInfo.preOpGas;
        if (target != address(0)) {
            (result.targetSuccess, result.targetResult) = target.call(targetCallData);
        }
    }

    /// @notice Outcome of the execution phase of the last op this call simulated: whether an op was
    ///         executed, whether its call succeeded (the `success` of its UserOperationEvent) and the
    ///         call's revert data (empty on success, or when the call reverted without data).
    /// @dev Keyward extension, read back through simulateHandleOp's `target` (target = this
    ///      address, targetCallData = this selector), so estimation learns whether the op's own
    ///      execution reverted without replaying its callData on the changed state. Transient
    ///      storage: nothing outlives the call, and the EP's storage layout stays canonical.
    function executionOutcome() external view returns (bool executed, bool success, bytes memory revertReason) {
        uint256 flag;
        assembly ("memory-safe") {
            flag := tload(_EXECUTION_SLOT)
            let len := tload(add(_EXECUTION_SLOT, 1))
            revertReason := mload(0x40)
            mstore(revertReason, len)
            let words := shr(5, add(len, 31))
            for { let i := 0 } lt(i, words) { i := add(i, 1) } {
                mstore(add(add(revertReason, 0x20), shl(5, i)), tload(add(_EXECUTION_SLOT, add(2, i))))
            }
            mstore(0x40, add(add(revertReason, 0x20), shl(5, words)))
        }
        return (flag != 0, flag == 2, revertReason);
    }

    /// @dev keccak256("keyward.simulations.execution"): 0 = no op executed, 1 = call reverted,
    ///      2 = succeeded; +1 holds the revert data's length, +2… its words.
    uint256 private constant _EXECUTION_SLOT = 0x29b639cf1fb0968911e332b4986a8fbd2c764bf60f47cff8d93d99ae742a1aeb;

    /// @dev Records the outcome for executionOutcome(), then emits as the EntryPoint does.
    function _emitUserOperationEvent(UserOpInfo memory opInfo, bool success, uint256 actualGasCost, uint256 actualGas)
        internal
        override
    {
        assembly ("memory-safe") {
            tstore(_EXECUTION_SLOT, add(iszero(iszero(success)), 1))
        }
        super._emitUserOperationEvent(opInfo, success, actualGasCost, actualGas);
    }

    /// @dev Keeps the call's revert data for executionOutcome(), then emits as the EntryPoint does.
    function _onExecutionReverted(UserOpInfo memory opInfo, bytes memory reason) internal override {
        assembly ("memory-safe") {
            let len := mload(reason)
            tstore(add(_EXECUTION_SLOT, 1), len)
            let words := shr(5, add(len, 31))
            for { let i := 0 } lt(i, words) { i := add(i, 1) } {
                tstore(add(_EXECUTION_SLOT, add(2, i)), mload(add(add(reason, 0x20), shl(5, i))))
            }
        }
        super._onExecutionReverted(opInfo, reason);
    }

    /// @notice AA20 / AA30 prechecks, as an external view (canonical ABI, 0x957122ab).
    /// @dev Reverts Error("AA20 account not deployed") / Error("AA30 paymaster not deployed");
    ///      returns normally when both are fine.
    function _validateSenderAndPaymaster(bytes calldata initCode, address sender, bytes calldata paymasterAndData)
        external
        view
    {
        string memory reason = _senderAndPaymasterError(initCode, sender, paymasterAndData);
        if (bytes(reason).length != 0) revert(reason);
    }

    /// @dev Simulated deposits cost a little more gas than real ones, so a prefund payment measured
    ///      in simulation is never cheaper than on-chain. The loop is opaque to the optimizer
    ///      (keccak chain feeding a branch) and uses no opcode banned by ERC-7562 (no GAS).
    function depositTo(address account) public payable override(IStakeManager, StakeManager) {
        assembly ("memory-safe") {
            let x := account
            for { let i := 0 } lt(i, 16) { i := add(i, 1) } {
                mstore(0x00, x)
                x := keccak256(0x00, 0x20)
            }
            if iszero(x) { revert(0, 0) }
        }
        super.depositTo(account);
    }

    /// @dev Shared pre-checks of both simulations; failures are FailedOp(0, "AA20 …" / "AA30 …").
    function _simulationOnlyValidations(PackedUserOperation calldata userOp) internal view {
        string memory reason = _senderAndPaymasterError(userOp.initCode, userOp.sender, userOp.paymasterAndData);
        if (bytes(reason).length != 0) revert FailedOp(0, reason);
    }

    function _senderAndPaymasterError(bytes calldata initCode, address sender, bytes calldata paymasterAndData)
        internal
        view
        returns (string memory)
    {
        if (initCode.length == 0 && sender.code.length == 0) return "AA20 account not deployed";
        if (paymasterAndData.length >= 20 && address(bytes20(paymasterAndData[:20])).code.length == 0) {
            return "AA30 paymaster not deployed";
        }
        return "";
    }

    function _factoryOf(bytes calldata initCode) internal pure returns (address) {
        return initCode.length >= 20 ? address(bytes20(initCode[:20])) : address(0);
    }

    /// @dev Aggregator info only when the authorizer is a real aggregator (not 0 = ok, 1 = failed).
    function _aggregatorStakeInfo(uint256 validationData) internal view returns (AggregatorStakeInfo memory info) {
        address authorizer = address(uint160(validationData));
        if (uint160(authorizer) > 1) {
            info.aggregator = authorizer;
            info.stakeInfo = _getStakeInfo(authorizer);
        }
    }
}
