// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {IERC165, IModule, IExecutionHookModule, PackedUserOperation} from "./interfaces/IERC6900.sol";

/// @title DailyCallLimitModule — a template permission module (ERC-6900 execution hook)
/// @notice "This session may call TARGET at most N times per UTC day." Install it as a
///         validation-associated pre-execution hook of a session key's validation:
///         HookConfig = module ‖ entityId ‖ 0x04, onInstall data
///         abi.encode(uint32 entityId, address target, uint32 maxCallsPerDay).
/// @dev Why an execution hook: the rule needs the clock, and ERC-7562 bans TIMESTAMP/NUMBER in
///      the validation phase (OP-011). Execution hooks run in the execution phase, where they may
///      read the clock and revert the call; validation hooks must stay clock-free (a validation
///      hook can still bound time by returning validAfter/validUntil in its validationData).
///
///      ERC-7562 storage rule: the module is a singleton shared by every account, so all state is
///      kept in mappings whose LAST key is the account (`msg.sender`): "associated storage" of the
///      account, the only storage of a non-entity contract that an op's validation may touch.
///      onInstall runs inside validation when the session is installed by a deferred grant, so the
///      rule applies to it too.
contract DailyCallLimitModule is IExecutionHookModule {
    /// Unconfigured entity id: the hook fails closed.
    error NotConfigured(uint32 entityId);
    /// The call would exceed today's budget for `target`.
    error DailyCallLimitExceeded(address target, uint256 day, uint32 maxCallsPerDay);
    /// Install data with a zero target or a zero limit.
    error InvalidLimit();
    /// `data` is not a well-formed account call.
    error MalformedCall();
    /// Installed with a post hook; this module has none.
    error NotImplemented();

    event DailyCallLimitSet(address indexed account, uint32 indexed entityId, address target, uint32 maxCallsPerDay);

    struct Limit {
        address target;
        uint32 maxCallsPerDay;
    }

    struct Usage {
        uint64 day;
        uint32 calls;
    }

    // execute(address,uint256,bytes) and executeBatch((address,uint256,bytes)[]) of the account,
    // and executeUserOp(PackedUserOperation,bytes32), which wraps them on the user-op path.
    bytes4 internal constant EXECUTE = 0xb61d27f6;
    bytes4 internal constant EXECUTE_BATCH = 0x34fcd5be;
    bytes4 internal constant EXECUTE_USER_OP = 0x8dd7712f;

    struct Call {
        address target;
        uint256 value;
        bytes data;
    }

    /// limits[entityId][account]: the account is the last key (ERC-7562 associated storage).
    mapping(uint32 entityId => mapping(address account => Limit)) public limits;
    /// usage[entityId][account]: calls made on `day` (days since 1970-01-01 UTC).
    mapping(uint32 entityId => mapping(address account => Usage)) public usage;

    function moduleId() external pure returns (string memory) {
        return "example.daily-call-limit-module.1.0.0";
    }

    /// abi.encode(uint32 entityId, address target, uint32 maxCallsPerDay). Overwrites any earlier
    /// configuration of this entity id and resets today's count.
    function onInstall(bytes calldata data) external {
        (uint32 entityId, address target, uint32 maxCallsPerDay) = abi.decode(data, (uint32, address, uint32));
        if (target == address(0) || maxCallsPerDay == 0) revert InvalidLimit();
        limits[entityId][msg.sender] = Limit(target, maxCallsPerDay);
        delete usage[entityId][msg.sender];
        emit DailyCallLimitSet(msg.sender, entityId, target, maxCallsPerDay);
    }

    /// abi.encode(uint32 entityId): clears the configuration and the count.
    function onUninstall(bytes calldata data) external {
        uint32 entityId = abi.decode(data, (uint32));
        delete limits[entityId][msg.sender];
        delete usage[entityId][msg.sender];
        emit DailyCallLimitSet(msg.sender, entityId, address(0), 0);
    }

    /// Counts the calls to the limited target in `data` (execute, executeBatch, or either wrapped
    /// by executeUserOp) and reverts when today's total would exceed the limit.
    function preExecutionHook(uint32 entityId, address, uint256, bytes calldata data)
        external
        returns (bytes memory)
    {
        Limit memory limit = limits[entityId][msg.sender];
        if (limit.target == address(0)) revert NotConfigured(entityId);
        uint256 n = _callsTo(limit.target, _unwrap(data));
        if (n == 0) return "";
        uint64 today = uint64(block.timestamp / 1 days);
        Usage memory u = usage[entityId][msg.sender];
        uint256 used = u.day == today ? u.calls : 0;
        if (used + n > limit.maxCallsPerDay) revert DailyCallLimitExceeded(limit.target, today, limit.maxCallsPerDay);
        usage[entityId][msg.sender] = Usage(today, uint32(used + n));
        return "";
    }

    function postExecutionHook(uint32, bytes calldata) external pure {
        revert NotImplemented();
    }

    /// Calls `account` has left today under `entityId` (a view for apps).
    function callsLeftToday(uint32 entityId, address account) external view returns (uint256) {
        Limit memory limit = limits[entityId][account];
        Usage memory u = usage[entityId][account];
        uint256 used = u.day == uint64(block.timestamp / 1 days) ? u.calls : 0;
        return used >= limit.maxCallsPerDay ? 0 : limit.maxCallsPerDay - used;
    }

    function supportsInterface(bytes4 interfaceId) external pure returns (bool) {
        return interfaceId == type(IERC165).interfaceId || interfaceId == type(IModule).interfaceId
            || interfaceId == type(IExecutionHookModule).interfaceId;
    }

    /// The account call: on the user-op path `data` is the whole executeUserOp(op, hash) calldata
    /// and the call is op.callData without its 4-byte executeUserOp prefix; otherwise `data` is it.
    /// Read in place (calldata slices): no copies, so the hook stays cheap for large batches.
    function _unwrap(bytes calldata data) internal pure returns (bytes calldata) {
        if (data.length < 4 || bytes4(data[:4]) != EXECUTE_USER_OP) return data;
        bytes calldata args = data[4:];
        // The first head word of executeUserOp's arguments is the offset of the op tuple.
        uint256 opOffset = uint256(bytes32(args[:32]));
        if (opOffset > args.length) revert MalformedCall();
        PackedUserOperation calldata op;
        assembly ("memory-safe") {
            op := add(args.offset, opOffset)
        }
        bytes calldata callData = op.callData; // Solidity checks the member's offset and length
        return callData.length < 4 ? callData[:0] : callData[4:];
    }

    function _callsTo(address target, bytes calldata call) internal pure returns (uint256 n) {
        if (call.length < 4) return 0;
        bytes4 selector = bytes4(call[:4]);
        if (selector == EXECUTE) {
            address to = abi.decode(call[4:36], (address));
            return to == target ? 1 : 0;
        }
        if (selector == EXECUTE_BATCH) {
            Call[] memory calls = abi.decode(call[4:], (Call[]));
            for (uint256 i = 0; i < calls.length; ++i) {
                if (calls[i].target == target) ++n;
            }
        }
    }
}
