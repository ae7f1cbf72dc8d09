// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/*
 * Keyward EntryPoint — an ERC-4337 v0.7 EntryPoint written from Keyward's behavioural spec
 * (shared/spec/entrypoint-v07.md). ABI, events, errors, revert strings, charging rules and storage
 * layout are those of the canonical v0.7 EntryPoint; gas use differs.
 *
 * PLACEMENT (read before deploying anything):
 *  - This contract is not deployed with its constructor. Its *deployedBytecode* is injected as is at
 *    the canonical address 0x0000000071727De22E5E9d8BAf0edAc6f37da032 (genesis alloc, anvil_setCode,
 *    revm state). It therefore has no constructor logic and no immutables.
 *  - The SenderCreator is not created by this contract either: its address is the constant
 *    SENDER_CREATOR = 0xEFC2c1444eBCC4Db75e7613d20C6a62fF67A167C = CREATE(EntryPoint, nonce 1), which is
 *    also where the canonical EntryPointSimulations looks for it. The chain MUST place
 *    SenderCreator's deployedBytecode at that address (and should set the EP account nonce >= 2 so a
 *    CREATE from the EP could never collide with it).
 *  - Storage: slot 0 = deposits, slot 1 = nonceSequenceNumber, exactly as the canonical EP; nothing
 *    else is persistent (the reentrancy guard lives in transient storage). Third-party bundlers
 *    inject the canonical simulation code at this address and read that storage directly.
 *
 * Deliberate differences from the canonical v0.7 EP (all allowed by the spec):
 *  - handleOps reverts FailedOp(i, "AA20 account not deployed") / FailedOp(i, "AA30 paymaster not
 *    deployed") for a sender / paymaster without code, instead of an empty revert.
 *  - SenderCreator answers 0 ("AA13") for an initCode shorter than 20 bytes instead of reverting.
 */

import {PackedUserOperation} from "../interfaces/PackedUserOperation.sol";
import {IEntryPoint} from "../interfaces/IEntryPoint.sol";
import {IStakeManager} from "../interfaces/IStakeManager.sol";
import {INonceManager} from "../interfaces/INonceManager.sol";
import {IAccount} from "../interfaces/IAccount.sol";
import {IAccountExecute} from "../interfaces/IAccountExecute.sol";
import {IPaymaster} from "../interfaces/IPaymaster.sol";
import {IAggregator} from "../interfaces/IAggregator.sol";
import {ISenderCreator} from "../interfaces/ISenderCreator.sol";
import {StakeManager} from "./StakeManager.sol";
import {NonceManager} from "./NonceManager.sol";

contract EntryPoint is IEntryPoint, StakeManager, NonceManager {
    /*«««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««*/
    /*                                       CONSTANTS                                          */
    /*»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»*/

    /// @dev CREATE(0x0000000071727De22E5E9d8BAf0edAc6f37da032, 1); code placed there by the chain.
    address internal constant SENDER_CREATOR = 0xEFC2c1444eBCC4Db75e7613d20C6a62fF67A167C;

    /// @dev Revert data copied into FailedOpWithRevert / *RevertReason events is cut to this length,
    ///      so a malicious callee cannot make the EP pay for unbounded memory.
    uint256 internal constant REVERT_REASON_MAX_LEN = 2048;

    /// @dev innerHandleOp needs this much beyond callGasLimit + postOpGasLimit for its own work.
    uint256 internal constant INNER_GAS_OVERHEAD = 10000;

    /// @dev 32-byte revert markers from innerHandleOp to _executeUserOp (left-aligned, canonical).
    bytes32 internal constant INNER_OUT_OF_GAS = hex"deaddead";
    bytes32 internal constant INNER_REVERT_LOW_PREFUND = hex"deadaa51";

    /// @dev v0.7: 10% of the unused execution gas (callGasLimit + postOpGasLimit) is charged,
    ///      with no threshold, so bundlers are not griefed by oversized limits.
    uint256 internal constant UNUSED_GAS_PENALTY_PERCENT = 10;

    /// @dev Gas and fee fields above this are rejected ("AA94") so all arithmetic fits in 256 bits.
    uint256 internal constant MAX_GAS_VALUE = type(uint120).max;

    /// @dev Same selector (0x3ee5aeb5) as OpenZeppelin's guard used by the canonical EP.
    error ReentrancyGuardReentrantCall();

    /*«««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««*/
    /*                                   INTERNAL STRUCTS                                       */
    /*»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»*/

    /// @dev Unpacked static fields of an op. Shape is part of the innerHandleOp ABI (0x0042dc53).
    struct MemoryUserOp {
        address sender;
        uint256 nonce;
        uint256 verificationGasLimit;
        uint256 callGasLimit;
        uint256 paymasterVerificationGasLimit;
        uint256 paymasterPostOpGasLimit;
        uint256 preVerificationGas;
        address paymaster;
        uint256 maxFeePerGas;
        uint256 maxPriorityFeePerGas;
    }

    /// @dev Per-op state carried from validation to execution. `contextOffset` only exists for ABI
    ///      compatibility of innerHandleOp; this implementation passes the context separately and
    ///      leaves it 0.
    struct UserOpInfo {
        MemoryUserOp mUserOp;
        bytes32 userOpHash;
        uint256 prefund;
        uint256 contextOffset;
        uint256 preOpGas;
    }

    /*«««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««*/
    /*                                  REENTRANCY GUARD                                        */
    /*»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»*/

    /// @dev Reentrancy flag in *transient* storage: it is cleared on exit and by the end of the
    ///      transaction anyway, so no persistent slot is ever written (every slot >= 2 stays zero,
    ///      see the storage rule at the top). Not a persistent state variable: slot numbering of
    ///      transient variables is separate from storage.
    bool private transient _entered;

    modifier nonReentrant() {
        if (_entered) revert ReentrancyGuardReentrantCall();
        _entered = true;
        _;
        _entered = false;
    }

    /*«««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««*/
    /*                                    PUBLIC ENTRY                                          */
    /*»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»*/

    /// @notice Plain ETH transfers are deposits of the sender (accounts pay their prefund this way).
    receive() external payable {
        depositTo(msg.sender);
    }

    /// @notice ERC-165: the three ABI interfaces, their XOR (0x60fc6b6e) and ERC-165 itself.
    function supportsInterface(bytes4 interfaceId) public view virtual returns (bool) {
        return interfaceId == 0x01ffc9a7 // ERC-165
            || interfaceId
                == (type(IEntryPoint).interfaceId ^ type(IStakeManager).interfaceId ^ type(INonceManager).interfaceId)
            || interfaceId == type(IEntryPoint).interfaceId || interfaceId == type(IStakeManager).interfaceId
            || interfaceId == type(INonceManager).interfaceId;
    }

    /// @inheritdoc IEntryPoint
    /// @dev All ops are validated before any is executed: a validation failure reverts the whole
    ///      bundle (bundlers simulate first and drop bad ops).
    function handleOps(PackedUserOperation[] calldata ops, address payable beneficiary) external nonReentrant {
        uint256 n = ops.length;
        UserOpInfo[] memory opInfos = new UserOpInfo[](n);
        bytes[] memory contexts = new bytes[](n);
        for (uint256 i; i < n; ++i) {
            (uint256 validationData, uint256 pmValidationData, bytes memory context) =
                _validatePrepayment(i, ops[i], opInfos[i]);
            contexts[i] = context;
            _validateAccountAndPaymasterValidationData(i, validationData, pmValidationData, address(0));
        }
        emit BeforeExecution();
        uint256 collected;
        for (uint256 i; i < n; ++i) {
            collected += _executeUserOp(i, ops[i], opInfos[i], contexts[i]);
        }
        _compensate(beneficiary, collected);
    }

    /// @inheritdoc IEntryPoint
    /// @dev Same two phases as handleOps; each group's signature is checked once by its aggregator
    ///      and each op must name that aggregator as its authorizer. Note the v0.7 quirk kept here:
    ///      FailedOp indices of the authorizer/time-range checks are per group, the others global.
    function handleAggregatedOps(UserOpsPerAggregator[] calldata opsPerAggregator, address payable beneficiary)
        external
        nonReentrant
    {
        uint256 total = _validateAggregatorSignatures(opsPerAggregator);
        UserOpInfo[] memory opInfos = new UserOpInfo[](total);
        bytes[] memory contexts = new bytes[](total);
        _validateAggregatedOps(opsPerAggregator, opInfos, contexts);
        emit BeforeExecution();
        uint256 collected = _executeAggregatedOps(opsPerAggregator, opInfos, contexts);
        emit SignatureAggregatorChanged(address(0));
        _compensate(beneficiary, collected);
    }

    /// @inheritdoc IEntryPoint
    function getUserOpHash(PackedUserOperation calldata userOp) public view returns (bytes32) {
        return keccak256(abi.encode(_hashPackedOp(userOp), address(this), block.chainid));
    }

    /// @inheritdoc IEntryPoint
    /// @dev Runs the factory for real, then reverts so the deployment is rolled back (eth_call use).
    function getSenderAddress(bytes calldata initCode) external {
        address sender = ISenderCreator(SENDER_CREATOR).createSender(initCode);
        revert SenderAddressResult(sender);
    }

    /// @inheritdoc IEntryPoint
    /// @dev Lets off-chain code run arbitrary code in the EP's context on nodes without state
    ///      overrides; always reverts so nothing persists.
    function delegateAndRevert(address target, bytes calldata data) external {
        (bool success, bytes memory ret) = target.delegatecall(data);
        revert DelegateAndRevert(success, ret);
    }

    /// @notice Execution phase of one op. Only callable by the EP itself (a self-call, so that
    ///         the op's execution and postOp can be rolled back while the op is still charged).
    /// @dev Selector 0x0042dc53; never call directly.
    function innerHandleOp(bytes memory callData, UserOpInfo memory opInfo, bytes memory context)
        external
        returns (uint256 actualGasCost)
    {
        uint256 preGas = gasleft();
        require(msg.sender == address(this), "AA92 internal call only");
        MemoryUserOp memory mUserOp = opInfo.mUserOp;
        unchecked {
            // The bundler must leave enough gas for the op's own limits after the 63/64 rule;
            // otherwise the whole bundle reverts (AA95) rather than charging the op for it.
            uint256 needed = mUserOp.callGasLimit + mUserOp.paymasterPostOpGasLimit + INNER_GAS_OVERHEAD;
            if ((gasleft() * 63) / 64 < needed) _revertMarker(INNER_OUT_OF_GAS);
        }
        IPaymaster.PostOpMode mode = IPaymaster.PostOpMode.opSucceeded;
        if (callData.length != 0 && !_callSender(mUserOp.sender, callData, mUserOp.callGasLimit)) {
            _onExecutionReverted(opInfo, _returnData(REVERT_REASON_MAX_LEN));
            mode = IPaymaster.PostOpMode.opReverted;
        }
        unchecked {
            return _postExecution(mode, opInfo, context, preGas - gasleft() + opInfo.preOpGas);
        }
    }

    /*«««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««*/
    /*                                      VALIDATION                                          */
    /*»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»*/

    /// @dev Validation phase of one op (spec §7.1 steps 1–10): creation, account validation and
    ///      prefund, nonce, paymaster validation. Fills `outOpInfo`. Time range and authorizer are
    ///      returned, not checked (the simulations return them raw).
    function _validatePrepayment(uint256 opIndex, PackedUserOperation calldata userOp, UserOpInfo memory outOpInfo)
        internal
        returns (uint256 validationData, uint256 paymasterValidationData, bytes memory context)
    {
        uint256 preGas = gasleft();
        MemoryUserOp memory mUserOp = outOpInfo.mUserOp;
        _copyUserOpToMemory(userOp, mUserOp);
        outOpInfo.userOpHash = getUserOpHash(userOp);
        _checkGasValues(mUserOp);
        uint256 requiredPrefund = _requiredPrefund(mUserOp);

        validationData = _validateAccountPrepayment(opIndex, userOp, outOpInfo, requiredPrefund);
        if (!_validateAndUpdateNonce(mUserOp.sender, mUserOp.nonce)) {
            revert FailedOp(opIndex, "AA25 invalid account nonce");
        }
        unchecked {
            // Creation + account validation + bookkeeping are all charged to verificationGasLimit.
            if (preGas - gasleft() > mUserOp.verificationGasLimit) {
                revert FailedOp(opIndex, "AA26 over verificationGasLimit");
            }
        }
        if (mUserOp.paymaster != address(0)) {
            (context, paymasterValidationData) =
                _validatePaymasterPrepayment(opIndex, userOp, outOpInfo, requiredPrefund);
        }
        unchecked {
            outOpInfo.prefund = requiredPrefund;
            outOpInfo.preOpGas = preGas - gasleft() + mUserOp.preVerificationGas;
        }
    }

    /// @dev Creates the sender if needed, calls validateUserOp and, without a paymaster, takes the
    ///      prefund from the sender's deposit.
    function _validateAccountPrepayment(
        uint256 opIndex,
        PackedUserOperation calldata userOp,
        UserOpInfo memory opInfo,
        uint256 requiredPrefund
    ) internal returns (uint256 validationData) {
        MemoryUserOp memory mUserOp = opInfo.mUserOp;
        address sender = mUserOp.sender;
        _createSenderIfNeeded(opIndex, opInfo, userOp.initCode);
        // Keyward addition (v0.8 behaviour): a clean error instead of a failed return decoding.
        if (sender.code.length == 0) revert FailedOp(opIndex, "AA20 account not deployed");
        bool noPaymaster = mUserOp.paymaster == address(0);
        uint256 missingAccountFunds = noPaymaster ? _missingFunds(sender, requiredPrefund) : 0;
        validationData = _callValidateUserOp(opIndex, userOp, opInfo.userOpHash, missingAccountFunds, mUserOp);
        if (noPaymaster) _takePrefund(opIndex, sender, requiredPrefund);
    }

    function _missingFunds(address sender, uint256 requiredPrefund) internal view returns (uint256) {
        uint256 balance = deposits[sender].deposit;
        unchecked {
            return requiredPrefund > balance ? requiredPrefund - balance : 0;
        }
    }

    function _callValidateUserOp(
        uint256 opIndex,
        PackedUserOperation calldata userOp,
        bytes32 userOpHash,
        uint256 missingAccountFunds,
        MemoryUserOp memory mUserOp
    ) internal returns (uint256 validationData) {
        try IAccount(mUserOp.sender).validateUserOp{gas: mUserOp.verificationGasLimit}(
            userOp, userOpHash, missingAccountFunds
        ) returns (uint256 data) {
            validationData = data;
        } catch {
            revert FailedOpWithRevert(opIndex, "AA23 reverted", _returnData(REVERT_REASON_MAX_LEN));
        }
    }

    /// @dev The account had its chance to top up its deposit in validateUserOp.
    function _takePrefund(uint256 opIndex, address sender, uint256 requiredPrefund) internal {
        DepositInfo storage info = deposits[sender];
        uint256 deposit = info.deposit;
        if (deposit < requiredPrefund) revert FailedOp(opIndex, "AA21 didn't pay prefund");
        unchecked {
            info.deposit = deposit - requiredPrefund;
        }
    }

    /// @dev Runs the factory through SenderCreator (capped at verificationGasLimit) and checks it
    ///      really deployed the declared sender.
    function _createSenderIfNeeded(uint256 opIndex, UserOpInfo memory opInfo, bytes calldata initCode) internal {
        if (initCode.length == 0) return;
        MemoryUserOp memory mUserOp = opInfo.mUserOp;
        address sender = mUserOp.sender;
        if (sender.code.length != 0) revert FailedOp(opIndex, "AA10 sender already constructed");
        address created =
            ISenderCreator(SENDER_CREATOR).createSender{gas: mUserOp.verificationGasLimit}(initCode);
        if (created == address(0)) revert FailedOp(opIndex, "AA13 initCode failed or OOG");
        if (created != sender) revert FailedOp(opIndex, "AA14 initCode must return sender");
        if (sender.code.length == 0) revert FailedOp(opIndex, "AA15 initCode must create sender");
        emit AccountDeployed(opInfo.userOpHash, sender, address(bytes20(initCode[:20])), mUserOp.paymaster);
    }

    /// @dev The paymaster's deposit is debited *before* its validation runs, so it cannot spend the
    ///      same deposit twice within a bundle.
    function _validatePaymasterPrepayment(
        uint256 opIndex,
        PackedUserOperation calldata userOp,
        UserOpInfo memory opInfo,
        uint256 requiredPrefund
    ) internal returns (bytes memory context, uint256 validationData) {
        uint256 preGas = gasleft();
        MemoryUserOp memory mUserOp = opInfo.mUserOp;
        address paymaster = mUserOp.paymaster;
        // Keyward addition (v0.8 behaviour), see _validateAccountPrepayment.
        if (paymaster.code.length == 0) revert FailedOp(opIndex, "AA30 paymaster not deployed");
        DepositInfo storage info = deposits[paymaster];
        uint256 deposit = info.deposit;
        if (deposit < requiredPrefund) revert FailedOp(opIndex, "AA31 paymaster deposit too low");
        unchecked {
            info.deposit = deposit - requiredPrefund;
        }
        uint256 pmGasLimit = mUserOp.paymasterVerificationGasLimit;
        try IPaymaster(paymaster).validatePaymasterUserOp{gas: pmGasLimit}(
            userOp, opInfo.userOpHash, requiredPrefund
        ) returns (bytes memory ctx, uint256 data) {
            context = ctx;
            validationData = data;
        } catch {
            revert FailedOpWithRevert(opIndex, "AA33 reverted", _returnData(REVERT_REASON_MAX_LEN));
        }
        unchecked {
            if (preGas - gasleft() > pmGasLimit) {
                revert FailedOp(opIndex, "AA36 over paymasterVerificationGasLimit");
            }
        }
    }

    /// @dev Spec §5 checks, run right after each op's validation in handleOps/handleAggregatedOps.
    function _validateAccountAndPaymasterValidationData(
        uint256 opIndex,
        uint256 validationData,
        uint256 paymasterValidationData,
        address expectedAggregator
    ) internal view {
        (address authorizer, bool outOfTimeRange) = _parseValidationData(validationData);
        if (authorizer != expectedAggregator) revert FailedOp(opIndex, "AA24 signature error");
        if (outOfTimeRange) revert FailedOp(opIndex, "AA22 expired or not due");
        (authorizer, outOfTimeRange) = _parseValidationData(paymasterValidationData);
        if (authorizer != address(0)) revert FailedOp(opIndex, "AA34 signature error");
        if (outOfTimeRange) revert FailedOp(opIndex, "AA32 paymaster expired or not due");
    }

    /// @dev validationData = validAfter (48) ‖ validUntil (48, 0 = forever) ‖ authorizer (160).
    ///      Valid iff validAfter <= block.timestamp <= validUntil.
    function _parseValidationData(uint256 validationData)
        internal
        view
        returns (address authorizer, bool outOfTimeRange)
    {
        if (validationData == 0) return (address(0), false);
        authorizer = address(uint160(validationData));
        uint256 validUntil = uint48(validationData >> 160);
        if (validUntil == 0) validUntil = type(uint48).max;
        uint256 validAfter = uint48(validationData >> 208);
        outOfTimeRange = block.timestamp > validUntil || block.timestamp < validAfter;
    }

    /*«««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««*/
    /*                                      EXECUTION                                           */
    /*»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»*/

    /// @dev Executes one op through the innerHandleOp self-call and returns what it must pay.
    function _executeUserOp(
        uint256 opIndex,
        PackedUserOperation calldata userOp,
        UserOpInfo memory opInfo,
        bytes memory context
    ) internal returns (uint256 collected) {
        uint256 preGas = gasleft();
        bool success;
        (success, collected) = _callInnerHandleOp(userOp, opInfo, context);
        if (!success) collected = _handleInnerRevert(opIndex, opInfo, context, preGas);
    }

    /// @dev Encodes and performs the self-call. Memory used for the encoding is released afterwards
    ///      so a long bundle does not pay quadratic memory costs.
    function _callInnerHandleOp(PackedUserOperation calldata userOp, UserOpInfo memory opInfo, bytes memory context)
        internal
        returns (bool success, uint256 actualGasCost)
    {
        uint256 freePtr;
        assembly ("memory-safe") {
            freePtr := mload(0x40)
        }
        bytes memory innerCall;
        if (_isExecuteUserOp(userOp.callData)) {
            // IAccountExecute: the account receives the whole op (and its hash) instead of callData.
            bytes memory executeCall = abi.encodeCall(IAccountExecute.executeUserOp, (userOp, opInfo.userOpHash));
            innerCall = abi.encodeCall(this.innerHandleOp, (executeCall, opInfo, context));
        } else {
            innerCall = abi.encodeCall(this.innerHandleOp, (userOp.callData, opInfo, context));
        }
        assembly ("memory-safe") {
            success := call(gas(), address(), 0, add(innerCall, 0x20), mload(innerCall), 0x00, 0x20)
            actualGasCost := mload(0x00)
            mstore(0x40, freePtr)
        }
    }

    function _isExecuteUserOp(bytes calldata callData) internal pure returns (bool) {
        return callData.length >= 4 && bytes4(callData[:4]) == IAccountExecute.executeUserOp.selector;
    }

    /// @dev innerHandleOp reverted: either one of the two markers, or postOp reverted (anything else,
    ///      e.g. PostOpReverted(bytes)). In the latter case execution and postOp are rolled back and
    ///      the op is charged here, outside the self-call.
    function _handleInnerRevert(uint256 opIndex, UserOpInfo memory opInfo, bytes memory context, uint256 preGas)
        internal
        returns (uint256 collected)
    {
        bytes32 marker;
        assembly ("memory-safe") {
            if eq(returndatasize(), 0x20) {
                returndatacopy(0x00, 0x00, 0x20)
                marker := mload(0x00)
            }
        }
        if (marker == INNER_OUT_OF_GAS) revert FailedOp(opIndex, "AA95 out of gas");
        MemoryUserOp memory mUserOp = opInfo.mUserOp;
        if (marker == INNER_REVERT_LOW_PREFUND) {
            // The op cost more than its prefund: it pays the whole prefund, nothing is refunded.
            unchecked {
                uint256 actualGas = preGas - gasleft() + opInfo.preOpGas;
                emit UserOperationPrefundTooLow(opInfo.userOpHash, mUserOp.sender, mUserOp.nonce);
                _emitUserOperationEvent(opInfo, false, opInfo.prefund, actualGas);
            }
            return opInfo.prefund;
        }
        emit PostOpRevertReason(
            opInfo.userOpHash, mUserOp.sender, mUserOp.nonce, _returnData(REVERT_REASON_MAX_LEN)
        );
        unchecked {
            uint256 actualGas = preGas - gasleft() + opInfo.preOpGas;
            return _postExecution(IPaymaster.PostOpMode.postOpReverted, opInfo, context, actualGas);
        }
    }

    /// @dev Calls postOp if due, applies the unused-gas penalty, then refunds the unused prefund to
    ///      the payer's deposit and emits UserOperationEvent. If the prefund does not cover the cost,
    ///      reverts with INNER_REVERT_LOW_PREFUND (inside innerHandleOp, rolling execution back) or,
    ///      when already outside (postOpReverted), charges the whole prefund.
    function _postExecution(
        IPaymaster.PostOpMode mode,
        UserOpInfo memory opInfo,
        bytes memory context,
        uint256 actualGas
    ) internal returns (uint256 actualGasCost) {
        uint256 preGas = gasleft();
        MemoryUserOp memory mUserOp = opInfo.mUserOp;
        uint256 gasPrice = _userOpGasPrice(mUserOp);
        unchecked {
            if (
                mUserOp.paymaster != address(0) && context.length != 0
                    && mode != IPaymaster.PostOpMode.postOpReverted
            ) {
                _callPostOp(mUserOp, mode, context, actualGas * gasPrice, gasPrice);
            }
            actualGas += preGas - gasleft();
            actualGas += _unusedGasPenalty(actualGas, opInfo.preOpGas, mUserOp);
            actualGasCost = actualGas * gasPrice;
        }
        uint256 prefund = opInfo.prefund;
        if (prefund < actualGasCost) {
            if (mode != IPaymaster.PostOpMode.postOpReverted) _revertMarker(INNER_REVERT_LOW_PREFUND);
            actualGasCost = prefund;
            emit UserOperationPrefundTooLow(opInfo.userOpHash, mUserOp.sender, mUserOp.nonce);
            _emitUserOperationEvent(opInfo, false, actualGasCost, actualGas);
        } else {
            address refundAddress = mUserOp.paymaster == address(0) ? mUserOp.sender : mUserOp.paymaster;
            unchecked {
                _incrementDeposit(refundAddress, prefund - actualGasCost);
            }
            _emitUserOperationEvent(opInfo, mode == IPaymaster.PostOpMode.opSucceeded, actualGasCost, actualGas);
        }
    }

    function _callPostOp(
        MemoryUserOp memory mUserOp,
        IPaymaster.PostOpMode mode,
        bytes memory context,
        uint256 actualGasCost,
        uint256 gasPrice
    ) internal {
        try IPaymaster(mUserOp.paymaster).postOp{gas: mUserOp.paymasterPostOpGasLimit}(
            mode, context, actualGasCost, gasPrice
        ) {} catch {
            revert PostOpReverted(_returnData(REVERT_REASON_MAX_LEN));
        }
    }

    /// @dev 10% of (callGasLimit + paymasterPostOpGasLimit − execution gas used), if positive.
    function _unusedGasPenalty(uint256 actualGas, uint256 preOpGas, MemoryUserOp memory mUserOp)
        internal
        pure
        returns (uint256)
    {
        unchecked {
            uint256 executionGasLimit = mUserOp.callGasLimit + mUserOp.paymasterPostOpGasLimit;
            uint256 executionGasUsed = actualGas - preOpGas;
            if (executionGasLimit <= executionGasUsed) return 0;
            return ((executionGasLimit - executionGasUsed) * UNUSED_GAS_PENALTY_PERCENT) / 100;
        }
    }

    /// @dev The op's call reverted: emits UserOperationRevertReason when the call returned data.
    function _onExecutionReverted(UserOpInfo memory opInfo, bytes memory reason) internal virtual {
        if (reason.length != 0) {
            MemoryUserOp memory mUserOp = opInfo.mUserOp;
            emit UserOperationRevertReason(opInfo.userOpHash, mUserOp.sender, mUserOp.nonce, reason);
        }
    }

    function _emitUserOperationEvent(UserOpInfo memory opInfo, bool success, uint256 actualGasCost, uint256 actualGas)
        internal
        virtual
    {
        MemoryUserOp memory mUserOp = opInfo.mUserOp;
        emit UserOperationEvent(
            opInfo.userOpHash, mUserOp.sender, mUserOp.paymaster, mUserOp.nonce, success, actualGasCost, actualGas
        );
    }

    /// @dev Pays the bundle's collected fees once, after all ops.
    function _compensate(address payable beneficiary, uint256 amount) internal {
        require(beneficiary != address(0), "AA90 invalid beneficiary");
        (bool success,) = beneficiary.call{value: amount}("");
        require(success, "AA91 failed send to beneficiary");
    }

    /*«««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««*/
    /*                                   AGGREGATED OPS                                         */
    /*»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»*/

    /// @dev Checks each group's aggregated signature; returns the total number of ops.
    function _validateAggregatorSignatures(UserOpsPerAggregator[] calldata opsPerAggregator)
        internal
        view
        returns (uint256 total)
    {
        for (uint256 a; a < opsPerAggregator.length; ++a) {
            UserOpsPerAggregator calldata group = opsPerAggregator[a];
            IAggregator aggregator = group.aggregator;
            // address(1) is SIG_VALIDATION_FAILED; it can never be a real aggregator.
            require(address(aggregator) != address(1), "AA96 invalid aggregator");
            if (address(aggregator) != address(0)) {
                try aggregator.validateSignatures(group.userOps, group.signature) {}
                catch {
                    revert SignatureValidationFailed(address(aggregator));
                }
            }
            total += group.userOps.length;
        }
    }

    function _validateAggregatedOps(
        UserOpsPerAggregator[] calldata opsPerAggregator,
        UserOpInfo[] memory opInfos,
        bytes[] memory contexts
    ) internal {
        uint256 opIndex;
        for (uint256 a; a < opsPerAggregator.length; ++a) {
            PackedUserOperation[] calldata ops = opsPerAggregator[a].userOps;
            address aggregator = address(opsPerAggregator[a].aggregator);
            for (uint256 i; i < ops.length; ++i) {
                (uint256 validationData, uint256 pmValidationData, bytes memory context) =
                    _validatePrepayment(opIndex, ops[i], opInfos[opIndex]);
                contexts[opIndex] = context;
                _validateAccountAndPaymasterValidationData(i, validationData, pmValidationData, aggregator);
                ++opIndex;
            }
        }
    }

    function _executeAggregatedOps(
        UserOpsPerAggregator[] calldata opsPerAggregator,
        UserOpInfo[] memory opInfos,
        bytes[] memory contexts
    ) internal returns (uint256 collected) {
        uint256 opIndex;
        for (uint256 a; a < opsPerAggregator.length; ++a) {
            PackedUserOperation[] calldata ops = opsPerAggregator[a].userOps;
            emit SignatureAggregatorChanged(address(opsPerAggregator[a].aggregator));
            for (uint256 i; i < ops.length; ++i) {
                collected += _executeUserOp(opIndex, ops[i], opInfos[opIndex], contexts[opIndex]);
                ++opIndex;
            }
        }
    }

    /*«««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««««*/
    /*                                       HELPERS                                            */
    /*»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»»*/

    /// @dev Inner hash of getUserOpHash: every field but the signature, dynamic fields hashed.
    function _hashPackedOp(PackedUserOperation calldata userOp) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                userOp.sender,
                userOp.nonce,
                _calldataKeccak(userOp.initCode),
                _calldataKeccak(userOp.callData),
                userOp.accountGasLimits,
                userOp.preVerificationGas,
                userOp.gasFees,
                _calldataKeccak(userOp.paymasterAndData)
            )
        );
    }

    /// @dev keccak256 of calldata bytes using scratch memory past the free pointer (no allocation).
    function _calldataKeccak(bytes calldata data) internal pure returns (bytes32 hash) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            calldatacopy(m, data.offset, data.length)
            hash := keccak256(m, data.length)
        }
    }

    /// @dev Unpacks the static fields. Non-empty paymasterAndData must hold paymaster and both gas
    ///      limits (52 bytes); that is a malformed op, hence a plain require ("AA93").
    function _copyUserOpToMemory(PackedUserOperation calldata userOp, MemoryUserOp memory mUserOp) internal pure {
        mUserOp.sender = userOp.sender;
        mUserOp.nonce = userOp.nonce;
        (mUserOp.verificationGasLimit, mUserOp.callGasLimit) = _unpackUints(userOp.accountGasLimits);
        mUserOp.preVerificationGas = userOp.preVerificationGas;
        (mUserOp.maxPriorityFeePerGas, mUserOp.maxFeePerGas) = _unpackUints(userOp.gasFees);
        bytes calldata pmData = userOp.paymasterAndData;
        if (pmData.length != 0) {
            require(pmData.length >= 52, "AA93 invalid paymasterAndData");
            mUserOp.paymaster = address(bytes20(pmData[:20]));
            mUserOp.paymasterVerificationGasLimit = uint128(bytes16(pmData[20:36]));
            mUserOp.paymasterPostOpGasLimit = uint128(bytes16(pmData[36:52]));
        } else {
            mUserOp.paymaster = address(0);
            mUserOp.paymasterVerificationGasLimit = 0;
            mUserOp.paymasterPostOpGasLimit = 0;
        }
    }

    /// @dev (high 128 bits, low 128 bits).
    function _unpackUints(bytes32 packed) internal pure returns (uint256 high, uint256 low) {
        return (uint256(packed) >> 128, uint128(uint256(packed)));
    }

    /// @dev "AA94": every gas/fee field must fit in 120 bits (checked once with an OR).
    function _checkGasValues(MemoryUserOp memory mUserOp) internal pure {
        uint256 maxGasValues = mUserOp.preVerificationGas | mUserOp.verificationGasLimit | mUserOp.callGasLimit
            | mUserOp.paymasterVerificationGasLimit | mUserOp.paymasterPostOpGasLimit | mUserOp.maxFeePerGas
            | mUserOp.maxPriorityFeePerGas;
        require(maxGasValues <= MAX_GAS_VALUE, "AA94 gas values overflow");
    }

    /// @dev Worst-case cost of the op: all gas limits at maxFeePerGas.
    function _requiredPrefund(MemoryUserOp memory mUserOp) internal pure returns (uint256) {
        unchecked {
            uint256 gasLimits = mUserOp.verificationGasLimit + mUserOp.callGasLimit
                + mUserOp.paymasterVerificationGasLimit + mUserOp.paymasterPostOpGasLimit + mUserOp.preVerificationGas;
            return gasLimits * mUserOp.maxFeePerGas;
        }
    }

    /// @dev maxFeePerGas when both fees are equal ("legacy" mode, no BASEFEE read), otherwise
    ///      min(maxFeePerGas, maxPriorityFeePerGas + basefee).
    function _userOpGasPrice(MemoryUserOp memory mUserOp) internal view returns (uint256) {
        uint256 maxFeePerGas = mUserOp.maxFeePerGas;
        uint256 maxPriorityFeePerGas = mUserOp.maxPriorityFeePerGas;
        if (maxFeePerGas == maxPriorityFeePerGas) return maxFeePerGas;
        unchecked {
            uint256 price = maxPriorityFeePerGas + block.basefee;
            return price < maxFeePerGas ? price : maxFeePerGas;
        }
    }

    /// @dev Call without copying return data (it may be huge); callers read it bounded.
    function _callSender(address sender, bytes memory data, uint256 gasLimit) internal returns (bool success) {
        assembly ("memory-safe") {
            success := call(gasLimit, sender, 0, add(data, 0x20), mload(data), 0x00, 0x00)
        }
    }

    /// @dev Copies at most `maxLen` bytes of the last call's return data.
    function _returnData(uint256 maxLen) internal pure returns (bytes memory data) {
        assembly ("memory-safe") {
            let len := returndatasize()
            if gt(len, maxLen) { len := maxLen }
            data := mload(0x40)
            mstore(data, len)
            returndatacopy(add(data, 0x20), 0, len)
            mstore(0x40, add(data, and(add(len, 0x3f), not(0x1f))))
        }
    }

    /// @dev Reverts with exactly 32 bytes: the marker recognised by _handleInnerRevert.
    function _revertMarker(bytes32 marker) internal pure {
        assembly ("memory-safe") {
            mstore(0x00, marker)
            revert(0x00, 0x20)
        }
    }
}
