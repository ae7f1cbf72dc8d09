// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {PackedUserOperation} from "../interfaces/PackedUserOperation.sol";
import {IPaymaster} from "../interfaces/IPaymaster.sol";
import {IEntryPoint} from "../interfaces/IEntryPoint.sol";

/// @title TestPaymaster
/// @notice v0.7 paymaster whose behaviour is chosen by the op itself. For tests and dev chains only:
///         it sponsors anything that asks.
/// @dev paymasterAndData = paymaster ‖ pmVerificationGasLimit (16) ‖ pmPostOpGasLimit (16) ‖ mode (1) ‖ args.
///      Empty paymasterData means mode 0.
///
///   | mode | validation                                               | EntryPoint result                   |
///   |------|----------------------------------------------------------|-------------------------------------|
///   | 0    | accept, empty context                                    | no postOp                           |
///   | 1    | accept, context = abi.encode(mode, sender, userOpHash)   | postOp records + emits PostOpCalled |
///   | 2    | revert "TestPaymaster: validation reverted"              | AA33                                |
///   | 3    | return authorizer 1 (signature failure)                  | AA34                                |
///   | 4    | return validUntil = 1 (long expired)                     | AA32                                |
///   | 5    | burn gas until gasleft() < leave (args: uint256, default 2000); uses GAS (breaks OP-012 on purpose) | AA36 |
///   | 6    | accept with context; postOp reverts "TestPaymaster: postOp reverted" | PostOpRevertReason path |
///   | 7    | accept, validationData window from args: validAfter uint48 (6 bytes) ‖ validUntil uint48 (6 bytes) | AA32 or OK |
contract TestPaymaster is IPaymaster {
    uint8 public constant MODE_ACCEPT = 0;
    uint8 public constant MODE_CONTEXT = 1;
    uint8 public constant MODE_REVERT = 2;
    uint8 public constant MODE_BAD_SIGNATURE = 3;
    uint8 public constant MODE_EXPIRED = 4;
    uint8 public constant MODE_BURN_GAS = 5;
    uint8 public constant MODE_POSTOP_REVERT = 6;
    uint8 public constant MODE_TIME_RANGE = 7;

    uint256 internal constant PAYMASTER_DATA_OFFSET = 52;
    uint256 internal constant DEFAULT_GAS_LEFT = 2000;

    address public immutable entryPoint;
    address public owner;

    /// @notice Bookkeeping of the last postOp, for assertions. Packed in one slot to keep postOp
    ///         cheap (~30k gas on first use, ~8k after): pmPostOpGasLimit 60000 is plenty.
    uint64 public postOpCount;
    PostOpMode public lastPostOpMode;
    uint128 public lastActualGasCost;

    event PostOpCalled(
        bytes32 indexed userOpHash, address indexed sender, PostOpMode mode, uint256 actualGasCost, uint256 actualUserOpFeePerGas
    );

    error NotFromEntryPoint();
    error NotOwner();

    constructor(address entryPoint_) {
        entryPoint = entryPoint_;
        owner = msg.sender;
    }

    modifier onlyEntryPoint() {
        if (msg.sender != entryPoint) revert NotFromEntryPoint();
        _;
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    /// @inheritdoc IPaymaster
    /// @dev View (no storage writes in validation, so ERC-7562 storage rules are trivially met).
    function validatePaymasterUserOp(PackedUserOperation calldata userOp, bytes32 userOpHash, uint256)
        external
        view
        onlyEntryPoint
        returns (bytes memory context, uint256 validationData)
    {
        bytes calldata data = userOp.paymasterAndData[PAYMASTER_DATA_OFFSET:];
        uint8 mode = data.length == 0 ? MODE_ACCEPT : uint8(data[0]);
        if (mode == MODE_CONTEXT || mode == MODE_POSTOP_REVERT) {
            return (abi.encode(mode, userOp.sender, userOpHash), 0);
        }
        if (mode == MODE_REVERT) revert("TestPaymaster: validation reverted");
        if (mode == MODE_BAD_SIGNATURE) return ("", 1);
        if (mode == MODE_EXPIRED) return ("", uint256(1) << 160);
        if (mode == MODE_BURN_GAS) {
            _burnGasUntil(data.length >= 33 ? uint256(bytes32(data[1:33])) : DEFAULT_GAS_LEFT);
            return ("", 0);
        }
        if (mode == MODE_TIME_RANGE) {
            uint256 validAfter = uint48(bytes6(data[1:7]));
            uint256 validUntil = uint48(bytes6(data[7:13]));
            return ("", (validUntil << 160) | (validAfter << 208));
        }
        return ("", 0);
    }

    /// @inheritdoc IPaymaster
    function postOp(PostOpMode mode, bytes calldata context, uint256 actualGasCost, uint256 actualUserOpFeePerGas)
        external
        onlyEntryPoint
    {
        (uint8 pmMode, address sender, bytes32 userOpHash) = abi.decode(context, (uint8, address, bytes32));
        if (pmMode == MODE_POSTOP_REVERT) revert("TestPaymaster: postOp reverted");
        postOpCount++;
        lastPostOpMode = mode;
        lastActualGasCost = uint128(actualGasCost);
        emit PostOpCalled(userOpHash, sender, mode, actualGasCost, actualUserOpFeePerGas);
    }

    /// @notice Adds msg.value to this paymaster's EntryPoint deposit.
    function deposit() external payable {
        IEntryPoint(entryPoint).depositTo{value: msg.value}(address(this));
    }

    /// @notice This paymaster's EntryPoint deposit.
    function getDeposit() external view returns (uint256) {
        return IEntryPoint(entryPoint).balanceOf(address(this));
    }

    function withdrawTo(address payable to, uint256 amount) external onlyOwner {
        IEntryPoint(entryPoint).withdrawTo(to, amount);
    }

    function addStake(uint32 unstakeDelaySec) external payable onlyOwner {
        IEntryPoint(entryPoint).addStake{value: msg.value}(unstakeDelaySec);
    }

    function unlockStake() external onlyOwner {
        IEntryPoint(entryPoint).unlockStake();
    }

    function withdrawStake(address payable to) external onlyOwner {
        IEntryPoint(entryPoint).withdrawStake(to);
    }

    function _burnGasUntil(uint256 leave) internal view {
        uint256 x;
        while (gasleft() >= leave) {
            x = uint256(keccak256(abi.encode(x)));
        }
    }
}
