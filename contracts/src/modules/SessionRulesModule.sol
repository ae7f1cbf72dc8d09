// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IExecutionHookModule, Call} from "../interfaces/erc6900/IERC6900.sol";
import {ModuleBase} from "./ModuleBase.sol";

/// @notice Keyward's session rules beyond MAv2's modules, as one execution hook per session entity:
///         spend limits that refill every period (native value and ERC-20 `transfer` / `approve`
///         amounts), a call count per period (or in total), and conditions on the static
///         ABI-encoded arguments of a target's functions. Enforced in the execution phase, so a
///         reverted execution consumes nothing (the hook's writes revert with it).
///
///         Periods come from block time: window `w = (block.timestamp - start) / period` (0 before
///         `start`); the amount spent or the calls made reset when `w` changes. A period of 0 means
///         a lifetime budget. Every mapping ends in `=> mapping(address account => …)` and no state
///         is an array: a session's first call installs it in the validation phase (deferred
///         action), where ERC-7562 allows only the account's associated storage and no TIMESTAMP.
contract SessionRulesModule is ModuleBase, IExecutionHookModule {
    error SpendLimitExceeded(address token, uint256 limit, uint256 spent);
    error CallLimitExceeded(uint256 maxCalls);
    error ArgumentConditionFailed(address target, bytes4 selector, uint256 argIndex);
    error InvalidRule();

    /// A spend limit to install: `token` 0 is the native token.
    struct SpendInput {
        address token;
        uint256 limit;
        uint48 period;
        uint48 start;
    }

    /// A call limit to install (`maxCalls` 0: none).
    struct CallInput {
        uint32 maxCalls;
        uint48 period;
        uint48 start;
    }

    /// A condition on argument `argIndex` (a static 32-byte word) of `target.selector` calls.
    struct ConditionInput {
        address target;
        bytes4 selector;
        uint8 argIndex;
        uint8 op;
        bytes32[] values;
    }

    /// A spend limit's state: what was spent in window `window`.
    struct SpendState {
        uint256 limit;
        uint256 spent;
        uint48 period;
        uint48 start;
        uint64 window;
        bool set;
    }

    /// A call limit's state: calls made in window `window`.
    struct CallState {
        uint32 maxCalls;
        uint32 used;
        uint48 period;
        uint48 start;
        uint64 window;
        bool set;
    }

    /// A stored argument condition's head (its values are stored one per slot).
    struct Condition {
        uint8 argIndex;
        uint8 op;
        uint8 values;
    }

    /// The argument equals `values[0]`.
    uint8 public constant OP_EQ = 0;
    /// The argument is one of `values`.
    uint8 public constant OP_ONE_OF = 1;
    /// The argument, as a uint256, is at most `values[0]`.
    uint8 public constant OP_LTE = 2;
    /// The argument, as a uint256, is at least `values[0]`.
    uint8 public constant OP_GTE = 3;

    bytes4 internal constant _EXECUTE = 0xb61d27f6;
    bytes4 internal constant _EXECUTE_BATCH = 0x34fcd5be;
    bytes4 internal constant _PERFORM_CREATE = 0x5998db5c;
    bytes4 internal constant _TRANSFER = 0xa9059cbb;
    bytes4 internal constant _APPROVE = 0x095ea7b3;

    mapping(uint32 entityId => mapping(address token => mapping(address account => SpendState))) public spends;
    mapping(uint32 entityId => mapping(address account => CallState)) public calls;
    mapping(
        uint32 entityId => mapping(address target => mapping(bytes4 selector => mapping(address account => uint256)))
    ) internal _conditionCount;
    mapping(
        uint32 entityId
            => mapping(
                address target => mapping(bytes4 selector => mapping(uint256 i => mapping(address account => Condition)))
            )
    ) internal _conditionAt;
    mapping(
        uint32 entityId
            => mapping(
                address target
                    => mapping(
                        bytes4 selector
                            => mapping(uint256 i => mapping(uint256 j => mapping(address account => bytes32)))
                    )
            )
    ) internal _conditionValue;

    function moduleId() external pure returns (string memory) {
        return "keyward.session-rules-module.1.0.0";
    }

    /// abi.encode(uint32 entityId, SpendInput[] spends, CallInput calls, ConditionInput[] conditions):
    /// overwrites the rules it names (nothing spent yet).
    function onInstall(bytes calldata data) external {
        (uint32 entityId, SpendInput[] memory s, CallInput memory c, ConditionInput[] memory k) =
            abi.decode(data, (uint32, SpendInput[], CallInput, ConditionInput[]));
        for (uint256 i = 0; i < s.length; ++i) {
            if (s[i].limit == 0 && s[i].period == 0) revert InvalidRule();
            // Window 0 with nothing spent: the first charge in any window starts from zero.
            spends[entityId][s[i].token][msg.sender] = SpendState(s[i].limit, 0, s[i].period, s[i].start, 0, true);
        }
        if (c.maxCalls != 0) {
            calls[entityId][msg.sender] = CallState(c.maxCalls, 0, c.period, c.start, 0, true);
        }
        for (uint256 i = 0; i < k.length; ++i) {
            _addCondition(entityId, k[i]);
        }
    }

    /// The install data again: clears every rule it names.
    function onUninstall(bytes calldata data) external {
        (uint32 entityId, SpendInput[] memory s,, ConditionInput[] memory k) =
            abi.decode(data, (uint32, SpendInput[], CallInput, ConditionInput[]));
        for (uint256 i = 0; i < s.length; ++i) {
            delete spends[entityId][s[i].token][msg.sender];
        }
        delete calls[entityId][msg.sender];
        for (uint256 i = 0; i < k.length; ++i) {
            _clearConditions(entityId, k[i].target, k[i].selector);
        }
    }

    /// Charges the calls of execute / executeBatch (after unwrapping executeUserOp) against the
    /// session's rules; any other account function counts as one call of the account to itself
    /// (`performCreate` spends its value).
    function preExecutionHook(uint32 entityId, address, uint256, bytes calldata data) external returns (bytes memory) {
        bytes calldata inner = _unwrapExecuteUserOp(data);
        bytes4 sel = inner.length < 4 ? bytes4(0) : bytes4(inner[:4]);
        uint256 native;
        uint256 n;
        if (sel == _EXECUTE) {
            (address target, uint256 value, bytes memory cd) = abi.decode(inner[4:], (address, uint256, bytes));
            native = value;
            n = 1;
            _checkCall(entityId, target, cd);
        } else if (sel == _EXECUTE_BATCH) {
            Call[] memory batch = abi.decode(inner[4:], (Call[]));
            n = batch.length;
            for (uint256 i = 0; i < n; ++i) {
                native += batch[i].value;
                _checkCall(entityId, batch[i].target, batch[i].data);
            }
        } else {
            n = 1;
            // performCreate(value, initCode, isCreate2, salt) sends value too.
            if (sel == _PERFORM_CREATE && inner.length >= 36) native = uint256(bytes32(inner[4:36]));
        }
        if (native != 0) _spend(entityId, address(0), native);
        _count(entityId, n);
        return "";
    }

    function postExecutionHook(uint32, bytes calldata) external pure {
        revert NotImplemented();
    }

    /// What is left of a spend limit in the current window (0 when there is none).
    function remaining(uint32 entityId, address token, address account) external view returns (uint256) {
        SpendState storage r = spends[entityId][token][account];
        if (!r.set) return 0;
        uint256 spent = r.window == _window(r.period, r.start) ? r.spent : 0;
        return spent >= r.limit ? 0 : r.limit - spent;
    }

    /// Calls left in the current window (0 when there is no call limit).
    function callsRemaining(uint32 entityId, address account) external view returns (uint256) {
        CallState storage r = calls[entityId][account];
        if (!r.set) return 0;
        uint256 used = r.window == _window(r.period, r.start) ? r.used : 0;
        return used >= r.maxCalls ? 0 : r.maxCalls - used;
    }

    /// How many conditions `target.selector` calls must meet.
    function conditionCount(uint32 entityId, address target, bytes4 selector, address account)
        external
        view
        returns (uint256)
    {
        return _conditionCount[entityId][target][selector][account];
    }

    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        return interfaceId == type(IExecutionHookModule).interfaceId || super.supportsInterface(interfaceId);
    }

    /// ERC-20 amounts and argument conditions of one call.
    function _checkCall(uint32 entityId, address target, bytes memory cd) internal {
        if (cd.length < 4) return;
        bytes4 sel = bytes4(cd);
        if ((sel == _TRANSFER || sel == _APPROVE) && cd.length >= 68 && spends[entityId][target][msg.sender].set) {
            _spend(entityId, target, uint256(_word(cd, 1)));
        }
        uint256 n = _conditionCount[entityId][target][sel][msg.sender];
        for (uint256 i = 0; i < n; ++i) {
            Condition memory c = _conditionAt[entityId][target][sel][i][msg.sender];
            if (!_holds(entityId, target, sel, i, c, cd)) revert ArgumentConditionFailed(target, sel, c.argIndex);
        }
    }

    function _holds(uint32 entityId, address target, bytes4 sel, uint256 i, Condition memory c, bytes memory cd)
        internal
        view
        returns (bool)
    {
        if (cd.length < 4 + 32 * (uint256(c.argIndex) + 1)) return false;
        bytes32 arg = _word(cd, c.argIndex);
        mapping(uint256 => mapping(address => bytes32)) storage vs = _conditionValue[entityId][target][sel][i];
        bytes32 first = vs[0][msg.sender];
        if (c.op == OP_EQ) return arg == first;
        if (c.op == OP_LTE) return uint256(arg) <= uint256(first);
        if (c.op == OP_GTE) return uint256(arg) >= uint256(first);
        for (uint256 j = 0; j < c.values; ++j) {
            if (vs[j][msg.sender] == arg) return true;
        }
        return false;
    }

    function _addCondition(uint32 entityId, ConditionInput memory x) internal {
        uint256 n = x.values.length;
        if (x.op > OP_GTE || n == 0 || n > 32 || (x.op != OP_ONE_OF && n != 1)) revert InvalidRule();
        uint256 i = _conditionCount[entityId][x.target][x.selector][msg.sender]++;
        _conditionAt[entityId][x.target][x.selector][i][msg.sender] = Condition(x.argIndex, x.op, uint8(n));
        for (uint256 j = 0; j < n; ++j) {
            _conditionValue[entityId][x.target][x.selector][i][j][msg.sender] = x.values[j];
        }
    }

    function _clearConditions(uint32 entityId, address target, bytes4 sel) internal {
        uint256 n = _conditionCount[entityId][target][sel][msg.sender];
        for (uint256 i = 0; i < n; ++i) {
            Condition memory c = _conditionAt[entityId][target][sel][i][msg.sender];
            for (uint256 j = 0; j < c.values; ++j) {
                delete _conditionValue[entityId][target][sel][i][j][msg.sender];
            }
            delete _conditionAt[entityId][target][sel][i][msg.sender];
        }
        delete _conditionCount[entityId][target][sel][msg.sender];
    }

    /// Word `i` of the arguments of calldata `cd` (the caller checks the length).
    function _word(bytes memory cd, uint256 i) internal pure returns (bytes32 w) {
        assembly ("memory-safe") {
            w := mload(add(add(cd, 36), mul(i, 32)))
        }
    }

    function _spend(uint32 entityId, address token, uint256 amount) internal {
        SpendState storage r = spends[entityId][token][msg.sender];
        if (!r.set) return;
        uint64 w = _window(r.period, r.start);
        uint256 spent = (r.window == w ? r.spent : 0) + amount;
        if (spent > r.limit) revert SpendLimitExceeded(token, r.limit, spent);
        r.spent = spent;
        r.window = w;
    }

    function _count(uint32 entityId, uint256 n) internal {
        CallState storage r = calls[entityId][msg.sender];
        if (!r.set) return;
        uint64 w = _window(r.period, r.start);
        uint256 used = (r.window == w ? r.used : 0) + n;
        if (used > r.maxCalls) revert CallLimitExceeded(r.maxCalls);
        r.used = uint32(used);
        r.window = w;
    }

    /// The period window block time is in: 0 for a lifetime rule or before `start`.
    function _window(uint48 period, uint48 start) internal view returns (uint64) {
        if (period == 0 || block.timestamp < start) return 0;
        return uint64((block.timestamp - start) / period);
    }
}
