//! The EntryPoint v0.7 ABI and addresses, as `sol!` bindings shared by every crate.

use alloy::primitives::{Address, address};

/// Canonical address of EntryPoint v0.7 on every chain.
pub const ENTRY_POINT_V07: Address = address!("0x0000000071727De22E5E9d8BAf0edAc6f37da032");

/// Address of the v0.7 SenderCreator: `CREATE(ENTRY_POINT_V07, nonce 1)`.
pub const SENDER_CREATOR_V07: Address = address!("0xEFC2c1444eBCC4Db75e7613d20C6a62fF67A167C");

alloy::sol! {
    #![sol(all_derives)]

    /// The packed user operation the EntryPoint v0.7 receives onchain.
    struct PackedUserOperation {
        address sender;
        uint256 nonce;
        bytes initCode;
        bytes callData;
        bytes32 accountGasLimits;
        uint256 preVerificationGas;
        bytes32 gasFees;
        bytes paymasterAndData;
        bytes signature;
    }

    /// Deposit and stake of one address, as `getDepositInfo` returns it.
    struct DepositInfo {
        uint256 deposit;
        bool staked;
        uint112 stake;
        uint32 unstakeDelaySec;
        uint48 withdrawTime;
    }

    /// Return info of `simulateValidation`.
    struct ReturnInfo {
        uint256 preOpGas;
        uint256 prefund;
        uint256 accountValidationData;
        uint256 paymasterValidationData;
        bytes paymasterContext;
    }

    /// Stake of an entity, as simulations report it.
    struct StakeInfo {
        uint256 stake;
        uint256 unstakeDelaySec;
    }

    /// Aggregator and its stake, as simulations report it.
    struct AggregatorStakeInfo {
        address aggregator;
        StakeInfo stakeInfo;
    }

    /// Result of `simulateValidation`.
    struct ValidationResult {
        ReturnInfo returnInfo;
        StakeInfo senderInfo;
        StakeInfo factoryInfo;
        StakeInfo paymasterInfo;
        AggregatorStakeInfo aggregatorInfo;
    }

    /// Result of `simulateHandleOp`.
    struct ExecutionResult {
        uint256 preOpGas;
        uint256 paid;
        uint256 accountValidationData;
        uint256 paymasterValidationData;
        bool targetSuccess;
        bytes targetResult;
    }

    /// Operations that share one aggregator, for `handleAggregatedOps`.
    struct UserOpsPerAggregator {
        PackedUserOperation[] userOps;
        address aggregator;
        bytes signature;
    }

    /// The EntryPoint v0.7 interface (with the simulation entry points of EntryPointSimulations).
    interface IEntryPoint {
        event UserOperationEvent(bytes32 indexed userOpHash, address indexed sender, address indexed paymaster, uint256 nonce, bool success, uint256 actualGasCost, uint256 actualGasUsed);
        event AccountDeployed(bytes32 indexed userOpHash, address indexed sender, address factory, address paymaster);
        event UserOperationRevertReason(bytes32 indexed userOpHash, address indexed sender, uint256 nonce, bytes revertReason);
        event PostOpRevertReason(bytes32 indexed userOpHash, address indexed sender, uint256 nonce, bytes revertReason);
        event UserOperationPrefundTooLow(bytes32 indexed userOpHash, address indexed sender, uint256 nonce);
        event BeforeExecution();
        event SignatureAggregatorChanged(address indexed aggregator);
        event Deposited(address indexed account, uint256 totalDeposit);
        event Withdrawn(address indexed account, address withdrawAddress, uint256 amount);
        event StakeLocked(address indexed account, uint256 totalStaked, uint256 unstakeDelaySec);
        event StakeUnlocked(address indexed account, uint256 withdrawTime);
        event StakeWithdrawn(address indexed account, address withdrawAddress, uint256 amount);

        error FailedOp(uint256 opIndex, string reason);
        error FailedOpWithRevert(uint256 opIndex, string reason, bytes inner);
        error PostOpReverted(bytes returnData);
        error SignatureValidationFailed(address aggregator);
        error SenderAddressResult(address sender);
        error DelegateAndRevert(bool success, bytes ret);
        error ReentrancyGuardReentrantCall();

        function handleOps(PackedUserOperation[] calldata ops, address payable beneficiary) external;
        function handleAggregatedOps(UserOpsPerAggregator[] calldata opsPerAggregator, address payable beneficiary) external;
        function getUserOpHash(PackedUserOperation calldata userOp) external view returns (bytes32);
        function getSenderAddress(bytes memory initCode) external;
        function delegateAndRevert(address target, bytes calldata data) external;
        function getNonce(address sender, uint192 key) external view returns (uint256 nonce);
        function incrementNonce(uint192 key) external;
        function nonceSequenceNumber(address sender, uint192 key) external view returns (uint256);
        function depositTo(address account) external payable;
        function balanceOf(address account) external view returns (uint256);
        function getDepositInfo(address account) external view returns (DepositInfo memory info);
        function addStake(uint32 unstakeDelaySec) external payable;
        function unlockStake() external;
        function withdrawStake(address payable withdrawAddress) external;
        function withdrawTo(address payable withdrawAddress, uint256 withdrawAmount) external;
        function supportsInterface(bytes4 interfaceId) external view returns (bool);
        function simulateValidation(PackedUserOperation calldata userOp) external returns (ValidationResult memory);
        function simulateHandleOp(PackedUserOperation calldata op, address target, bytes calldata targetCallData) external returns (ExecutionResult memory);
    }
}
