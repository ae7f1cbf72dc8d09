// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {PackedUserOperation} from "../interfaces/PackedUserOperation.sol";
import {IValidationHookModule, IExecutionHookModule, Call} from "../interfaces/erc6900/IERC6900.sol";
import {ModuleBase} from "./ModuleBase.sol";
import {CalldataArgs} from "../libraries/CalldataArgs.sol";

/// @notice Target / selector allowlist and ERC-20 lifetime spend limits per (entityId, account)
///         (account-formats.md §10.2, v2.0.1 semantics; written from the spec).
///         - validation hook: the calls of `execute` / `executeBatch` must hit allowlisted targets and
///           selectors (any other account selector passes; the account's selector scope stops it);
///         - validation-associated pre-execution hook: `transfer` / `approve` amounts of spend-limited
///           tokens are charged in the execution phase (lesson R10).
///         Install the two roles under distinct entity ids (§11.3, lesson R15). Every mapping ends in
///         `=> mapping(address account => …)`: ERC-7562 associated storage (lesson R22).
contract AllowlistModule is ModuleBase, IValidationHookModule, IExecutionHookModule {
    struct AllowlistInput {
        address target;
        bool hasSelectorAllowlist;
        bool hasERC20SpendLimit;
        uint256 erc20SpendLimit;
        bytes4[] selectors;
    }

    struct AddressAllowlistEntry {
        bool allowed;
        bool hasSelectorAllowlist;
        bool hasERC20SpendLimit;
    }

    error AddressNotAllowed();
    error NoSelectorSpecified();
    error SelectorNotAllowed();
    error SpendingRequestNotAllowed(bytes4 selector);
    error InvalidCalldataLength();
    error ExceededTokenLimit();
    error ERC20NotAllowed(address token);

    event AddressAllowlistUpdated(
        uint32 indexed entityId, address indexed account, address indexed target, AddressAllowlistEntry entry
    );
    event ERC20SpendLimitUpdated(uint32 indexed entityId, address indexed account, address indexed token, uint256 limit);
    event SelectorAllowlistUpdated(
        uint32 indexed entityId, address indexed account, bytes24 indexed targetAndSelector, bool allowed
    );

    bytes4 internal constant EXECUTE = 0xb61d27f6;
    bytes4 internal constant EXECUTE_BATCH = 0x34fcd5be;
    bytes4 internal constant EXECUTE_USER_OP = 0x8dd7712f;
    bytes4 internal constant ERC20_TRANSFER = 0xa9059cbb;
    bytes4 internal constant ERC20_APPROVE = 0x095ea7b3;

    /// Bits of an AddressAllowlistEntry's storage word (one byte per bool, declaration order).
    uint256 internal constant ALLOWED = 0xff;
    uint256 internal constant HAS_SELECTOR_ALLOWLIST = 0xff00;
    uint256 internal constant HAS_ERC20_SPEND_LIMIT = 0xff0000;

    mapping(uint32 entityId => mapping(address target => mapping(address account => AddressAllowlistEntry)))
        public addressAllowlist;
    /// target 0 = any target (wildcard selector).
    mapping(
        uint32 entityId => mapping(bytes4 selector => mapping(address target => mapping(address account => bool)))
    ) public selectorAllowlist;
    /// Remaining lifetime budget (no refill).
    mapping(uint32 entityId => mapping(address token => mapping(address account => uint256))) public erc20SpendLimits;

    function moduleId() external pure returns (string memory) {
        return "keyward.allowlist-module.1.0.0";
    }

    // ---------------------------------------------------------------- configuration (account only)

    /// abi.encode(uint32 entityId, AllowlistInput[] inputs)
    function onInstall(bytes calldata data) external {
        (uint32 entityId, AllowlistInput[] memory inputs) = abi.decode(data, (uint32, AllowlistInput[]));
        updateAllowlist(entityId, inputs);
    }

    /// abi.encode(uint32 entityId, AllowlistInput[] inputs): clears exactly the listed entries.
    function onUninstall(bytes calldata data) external {
        (uint32 entityId, AllowlistInput[] memory inputs) = abi.decode(data, (uint32, AllowlistInput[]));
        deleteAllowlist(entityId, inputs);
    }

    /// Entries are set or overwritten, never removed; a later input for a target overwrites its flags
    /// and limit, selector entries accumulate.
    function updateAllowlist(uint32 entityId, AllowlistInput[] memory inputs) public {
        for (uint256 i = 0; i < inputs.length; ++i) {
            AllowlistInput memory input = inputs[i];
            if (input.target == address(0)) {
                for (uint256 j = 0; j < input.selectors.length; ++j) {
                    setSelectorAllowlist(entityId, address(0), input.selectors[j], true);
                }
                continue;
            }
            setAddressAllowlist(entityId, input.target, true, input.hasSelectorAllowlist, input.hasERC20SpendLimit);
            _setLimit(entityId, input.target, input.erc20SpendLimit);
            if (input.hasSelectorAllowlist) {
                for (uint256 j = 0; j < input.selectors.length; ++j) {
                    setSelectorAllowlist(entityId, input.target, input.selectors[j], true);
                }
            }
        }
    }

    function deleteAllowlist(uint32 entityId, AllowlistInput[] memory inputs) public {
        for (uint256 i = 0; i < inputs.length; ++i) {
            AllowlistInput memory input = inputs[i];
            if (input.target != address(0)) {
                setAddressAllowlist(entityId, input.target, false, false, false);
                if (erc20SpendLimits[entityId][input.target][msg.sender] != 0) _setLimit(entityId, input.target, 0);
            }
            for (uint256 j = 0; j < input.selectors.length; ++j) {
                setSelectorAllowlist(entityId, input.target, input.selectors[j], false);
            }
        }
    }

    function setAddressAllowlist(
        uint32 entityId,
        address target,
        bool allowed,
        bool hasSelectorAllowlist,
        bool hasERC20SpendLimit
    ) public {
        AddressAllowlistEntry memory entry = AddressAllowlistEntry(allowed, hasSelectorAllowlist, hasERC20SpendLimit);
        addressAllowlist[entityId][target][msg.sender] = entry;
        emit AddressAllowlistUpdated(entityId, msg.sender, target, entry);
    }

    function setSelectorAllowlist(uint32 entityId, address target, bytes4 selector, bool allowed) public {
        selectorAllowlist[entityId][selector][target][msg.sender] = allowed;
        emit SelectorAllowlistUpdated(entityId, msg.sender, bytes24(bytes20(target)) | (bytes24(selector) >> 160), allowed);
    }

    /// Sets the token's spend-limit flag (keeping its other flags) and its remaining budget.
    function updateLimits(uint32 entityId, address token, bool hasERC20SpendLimit, uint256 newLimit) external {
        AddressAllowlistEntry memory entry = addressAllowlist[entityId][token][msg.sender];
        setAddressAllowlist(entityId, token, entry.allowed, entry.hasSelectorAllowlist, hasERC20SpendLimit);
        _setLimit(entityId, token, newLimit);
    }

    function _setLimit(uint32 entityId, address token, uint256 limit) internal {
        if (token == address(0)) revert ERC20NotAllowed(token);
        erc20SpendLimits[entityId][token][msg.sender] = limit;
        emit ERC20SpendLimitUpdated(entityId, msg.sender, token, limit);
    }

    // ---------------------------------------------------------------- validation hook

    /// Lesson R13: `userOp.callData = 0x8dd7712f ‖ innerCall` is unwrapped before the check, so a
    /// wrapped `execute` is inspected like a plain one. Reads only the op and associated storage.
    function preUserOpValidationHook(uint32 entityId, PackedUserOperation calldata userOp, bytes32)
        external
        view
        returns (uint256)
    {
        _requireEmptySignature(userOp);
        _checkAccountCall(entityId, msg.sender, _opCallData(userOp));
        return 0;
    }

    /// Runtime and direct-call path (lesson R19); takes no per-hook data (lesson R9).
    function preRuntimeValidationHook(uint32 entityId, address, uint256, bytes calldata data, bytes calldata auth)
        external
        view
    {
        _requireEmpty(auth);
        if (data.length >= 4 && bytes4(data[:4]) == EXECUTE_USER_OP) data = data[4:];
        _checkAccountCall(entityId, msg.sender, data);
    }

    function preSignatureValidationHook(uint32, address, bytes32, bytes calldata) external pure {}

    /// Whether `callData` (an account call, e.g. `execute(...)`) passes the allowlist of
    /// (entityId, msg.sender); reverts with the reason otherwise.
    function checkAllowlistCalldata(uint32 entityId, bytes calldata callData) external view {
        _checkAccountCall(entityId, msg.sender, callData);
    }

    /// Only `execute` and `executeBatch` are inspected; every other selector passes.
    function _checkAccountCall(uint32 entityId, address account, bytes calldata callData) internal view {
        if (callData.length < 4) return;
        bytes4 selector = CalldataArgs.selectorOf(callData);
        if (selector == EXECUTE) {
            (address target,, bytes calldata data) = CalldataArgs.executeArgs(CalldataArgs.tail4(callData));
            _checkCall(entityId, account, target, CalldataArgs.selectorOf(data), data.length);
        } else if (selector == EXECUTE_BATCH) {
            Call[] memory calls = abi.decode(callData[4:], (Call[]));
            for (uint256 i = 0; i < calls.length; ++i) {
                _checkCall(entityId, account, calls[i].target, bytes4(calls[i].data), calls[i].data.length);
            }
        }
    }

    /// `selector` = the call data's first 4 bytes, zero-padded when shorter.
    function _checkCall(uint32 entityId, address account, address target, bytes4 selector, uint256 dataLength)
        internal
        view
    {
        uint256 entry = _entryWord(entityId, target, account);
        if (entry & ALLOWED == 0) {
            if (!selectorAllowlist[entityId][selector][address(0)][account]) revert AddressNotAllowed();
            return;
        }
        if (entry & HAS_SELECTOR_ALLOWLIST != 0) {
            if (dataLength < 4) revert NoSelectorSpecified();
            if (!selectorAllowlist[entityId][selector][target][account]) revert SelectorNotAllowed();
        }
    }

    // ---------------------------------------------------------------- execution hook (ERC-20 limits)

    /// `data` is the account's calldata: `executeUserOp(op, hash)` on the user-op path (unwrapped to
    /// `op.callData[4:]`), the inner call on the runtime path, `msg.data` on the direct-call path.
    function preExecutionHook(uint32 entityId, address, uint256, bytes calldata data) external returns (bytes memory) {
        bytes calldata callData = _unwrapExecuteUserOp(data);
        bytes4 selector = CalldataArgs.selectorOf(callData);
        if (callData.length >= 4 && selector == EXECUTE) {
            (address target,, bytes calldata inner) = CalldataArgs.executeArgs(CalldataArgs.tail4(callData));
            uint256 amount;
            assembly ("memory-safe") {
                if gt(inner.length, 67) { amount := calldataload(add(inner.offset, 36)) } // inner[36:68]
            }
            _spend(entityId, target, CalldataArgs.selectorOf(inner), inner.length, amount);
        } else if (callData.length >= 4 && selector == EXECUTE_BATCH) {
            Call[] memory calls = abi.decode(callData[4:], (Call[]));
            for (uint256 i = 0; i < calls.length; ++i) {
                bytes memory d = calls[i].data;
                uint256 amount;
                if (d.length >= 68) {
                    assembly ("memory-safe") {
                        amount := mload(add(d, 68)) // d[36:68]: length word (32) + selector (4) + recipient (32)
                    }
                }
                _spend(entityId, calls[i].target, bytes4(d), d.length, amount);
            }
        } else {
            revert SpendingRequestNotAllowed(selector);
        }
        _returnEmptyBytes();
    }

    function postExecutionHook(uint32, bytes calldata) external pure {
        revert NotImplemented();
    }

    /// Lesson R10: spend-limited tokens allow only transfer / approve; both amounts count.
    /// `amount` = the word at data[36:68] (read by the caller when data is that long).
    function _spend(uint32 entityId, address token, bytes4 selector, uint256 dataLength, uint256 amount) internal {
        if (_entryWord(entityId, token, msg.sender) & HAS_ERC20_SPEND_LIMIT == 0) return;
        if (dataLength < 68) revert InvalidCalldataLength();
        if (selector != ERC20_TRANSFER && selector != ERC20_APPROVE) revert SelectorNotAllowed();
        uint256 s;
        assembly ("memory-safe") {
            s := erc20SpendLimits.slot
        }
        s = _slot3(s, entityId, uint160(token), uint160(msg.sender));
        uint256 remaining;
        assembly ("memory-safe") {
            remaining := sload(s)
        }
        if (amount > remaining) revert ExceededTokenLimit();
        assembly ("memory-safe") {
            sstore(s, sub(remaining, amount))
        }
    }

    /// The packed AddressAllowlistEntry of addressAllowlist[entityId][target][account] as a word
    /// (bools at bytes 0, 1, 2: ALLOWED, HAS_SELECTOR_ALLOWLIST, HAS_ERC20_SPEND_LIMIT).
    function _entryWord(uint32 entityId, address target, address account) internal view returns (uint256 w) {
        uint256 s;
        assembly ("memory-safe") {
            s := addressAllowlist.slot
        }
        s = _slot3(s, entityId, uint160(target), uint160(account));
        assembly ("memory-safe") {
            w := sload(s)
        }
    }

    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        return interfaceId == type(IValidationHookModule).interfaceId
            || interfaceId == type(IExecutionHookModule).interfaceId || super.supportsInterface(interfaceId);
    }
}
