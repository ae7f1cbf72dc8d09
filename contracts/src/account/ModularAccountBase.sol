// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/*
 * Keyward modular account core: ERC-6900 v0.8 semantics in the Modular Account V2 formats of
 * shared/spec/account-formats.md (written from that spec; no third-party code).
 *
 * Paths and where their rules live:
 *  - user op:   validateUserOp (§4 nonce locator, §8 deferred action, §5 segments) → executeUserOp (§5.6)
 *  - runtime:   executeWithRuntimeValidation (§6.1)
 *  - direct:    any wrapped native / module function called by someone other than EP or self (§6.2)
 *  - 1271:      isValidSignature (§7)
 * Everything reachable from validateUserOp follows ERC-7562 (entrypoint-v07.md §14): no block env
 * reads, GAS only right before a *CALL (Solidity's low-level calls), only the account's own storage.
 *
 * Split as MAv2 splits its account: validation install/uninstall and hook storage in
 * ModuleManagerInternals, execution installs in ExecutionInstallDelegate, token callbacks in
 * TokenReceiver, the §5.1 segment and §8.2 deferred-action layouts in libraries/SignatureSegments and
 * libraries/DeferredActions. This file keeps the call paths, applicability, hooks and upgrades.
 */

import {PackedUserOperation} from "../interfaces/PackedUserOperation.sol";
import {IAccount} from "../interfaces/IAccount.sol";
import {IAccountExecute} from "../interfaces/IAccountExecute.sol";
import {
    IValidationModule,
    IValidationHookModule,
    IExecutionHookModule,
    IExecutionModule,
    IModularAccount,
    IModularAccountView,
    ExecutionManifest,
    ManifestExecutionFunction,
    ManifestExecutionHook,
    Call,
    ValidationDataView,
    ExecutionDataView
} from "../interfaces/erc6900/IERC6900.sol";
import {AccountStorage, AccountStorageLib, ValidationStorage, ExecutionStorage, Locators} from "./AccountStorage.sol";
import {AccountHashes} from "./AccountHashes.sol";
import {ExecutionInstallDelegate} from "./ExecutionInstallDelegate.sol";
import {ModuleManagerInternals} from "./ModuleManagerInternals.sol";
import {TokenReceiver} from "./TokenReceiver.sol";
import {SignatureSegments} from "../libraries/SignatureSegments.sol";
import {DeferredActions} from "../libraries/DeferredActions.sol";

abstract contract ModularAccountBase is
    IAccount,
    IAccountExecute,
    ModuleManagerInternals,
    IModularAccountView,
    TokenReceiver
{
    using Locators for uint168;

    // ---------------------------------------------------------------- errors (§2.3)
    error NotEntryPoint();
    error UnrecognizedFunction(bytes4 selector);
    error ValidationFunctionMissing(bytes4 selector);
    error SelfCallRecursionDepthExceeded();
    error RequireUserOperationContext();
    error UserOpValidationInvalid(bytes24 validationFunction);
    error SignatureValidationInvalid(bytes24 validationFunction);
    error UnexpectedAggregator(bytes24 validationFunction, address aggregator);
    error DeferredActionSignatureInvalid();
    error DeferredValidationHasValidationHooks();
    error CreateFailed();
    error UnauthorizedCallContext();
    error UpgradeFailed();
    error InvalidInitialization();
    error PreUserOpValidationHookReverted(bytes24 module, bytes revertReason);
    error UserOpValidationFunctionReverted(bytes24 module, bytes revertReason);
    error PreRuntimeValidationHookReverted(bytes24 module, bytes revertReason);
    error RuntimeValidationFunctionReverted(bytes24 module, bytes revertReason);
    error PreSignatureValidationHookReverted(bytes24 module, bytes revertReason);
    error SignatureValidationFunctionReverted(bytes24 module, bytes revertReason);
    error PreExecHookReverted(bytes24 module, bytes revertReason);
    error PostExecHookReverted(bytes24 module, bytes revertReason);
    // Keyward additions (no MAv2 equivalent in §2.3)
    error TargetNotAllowed(address target); // R18

    event Upgraded(address indexed implementation);
    event Initialized(uint64 version);

    // ---------------------------------------------------------------- constants
    uint8 internal constant FLAG_USER_OP = 0x01;
    uint8 internal constant FLAG_SIGNATURE = 0x02;
    uint8 internal constant FLAG_GLOBAL = 0x04;
    uint8 internal constant HOOK_HAS_POST = 0x02;
    uint8 internal constant HOOK_HAS_PRE = 0x04;
    bytes4 internal constant MAGIC_1271 = 0x1626ba7e;
    bytes4 internal constant INVALID_1271 = 0xffffffff;
    bytes32 internal constant ERC1967_SLOT = 0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc;

    enum Mode {
        GLOBAL,
        SELECTOR,
        EITHER
    }

    struct PostHook {
        bytes25 hook;
        bytes data;
    }

    address public immutable entryPoint;
    address private immutable _self = address(this);
    address internal immutable executionInstallDelegate;

    constructor(address entryPoint_) {
        entryPoint = entryPoint_;
        // Deployed with the implementation: its creation code is not part of the runtime code.
        executionInstallDelegate = address(new ExecutionInstallDelegate());
        // The implementation itself can never be initialized (proxies start from zero storage).
        AccountStorageLib.get().initialized = type(uint64).max;
    }

    modifier onlyEntryPoint() {
        if (msg.sender != entryPoint) revert NotEntryPoint();
        _;
    }

    /// Native functions: direct callers are validated (§6.2), then validation- and
    /// selector-associated execution hooks wrap the body.
    modifier wrapNative() {
        PostHook[] memory post = _preCall(false);
        _;
        _runPostHooks(post);
    }

    modifier initializer() {
        AccountStorage storage s = AccountStorageLib.get();
        if (s.initialized != 0) revert InvalidInitialization();
        s.initialized = 1;
        _;
        emit Initialized(1);
    }

    receive() external payable {}

    // ================================================================ execution

    function execute(address target, uint256 value, bytes calldata data)
        external
        payable
        override
        wrapNative
        returns (bytes memory result)
    {
        result = _call(target, value, data);
        if (msg.sender == entryPoint) result = ""; // §2.1: nothing to return to the EntryPoint
    }

    function executeBatch(Call[] calldata calls) external payable override wrapNative returns (bytes[] memory results) {
        bool toEntryPoint = msg.sender == entryPoint;
        results = new bytes[](toEntryPoint ? 0 : calls.length);
        for (uint256 i = 0; i < calls.length; ++i) {
            bytes memory r = _call(calls[i].target, calls[i].value, calls[i].data);
            if (!toEntryPoint) results[i] = r;
        }
    }

    /// §5.6. Lesson R2 (CL ALCHEMY-002): the execution hooks are those of the validation named by
    /// this op's nonce — never taken from caller-controlled bytes.
    function executeUserOp(PackedUserOperation calldata userOp, bytes32) external override onlyEntryPoint {
        ValidationStorage storage v = _validation(Locators.keyOf(Locators.fromNonce(userOp.nonce)));
        PostHook[] memory post = _runPreExecHooks(v.executionHooks, msg.sender, 0, msg.data);
        _call(address(this), 0, userOp.callData[4:]);
        _runPostHooks(post);
    }

    /// §6.1: authorization = packedLocator ‖ segment* ‖ 0xFF ‖ authData.
    function executeWithRuntimeValidation(bytes calldata data, bytes calldata authorization)
        external
        payable
        override
        returns (bytes memory result)
    {
        (uint168 locator, bytes calldata rest) = SignatureSegments.splitLocator(authorization);
        uint168 key = Locators.keyOf(locator);
        _checkApplies(data, key, uint8(locator) & Locators.OPT_GLOBAL != 0 ? Mode.GLOBAL : Mode.SELECTOR);
        ValidationStorage storage v = _validation(key);
        rest = _runRuntimeHooks(v, data, rest);
        _runtimeValidate(key, v, data, SignatureSegments.finalSegment(rest));
        PostHook[] memory post = _runPreExecHooks(v.executionHooks, msg.sender, msg.value, data);
        result = _call(address(this), msg.value, data);
        _runPostHooks(post);
    }

    function performCreate(uint256 value, bytes calldata initCode, bool isCreate2, bytes32 salt)
        external
        payable
        wrapNative
        returns (address created)
    {
        bytes memory code = initCode;
        assembly ("memory-safe") {
            switch isCreate2
            case 0 { created := create(value, add(code, 0x20), mload(code)) }
            default { created := create2(value, add(code, 0x20), mload(code), salt) }
        }
        if (created == address(0)) revert CreateFailed();
    }

    /// Execution-module functions (§6.2): validated like native functions unless the manifest set
    /// skipRuntimeValidation. msg.value stays in the account (not forwarded to the module).
    fallback(bytes calldata) external payable returns (bytes memory result) {
        ExecutionStorage storage e = AccountStorageLib.get().executionStorage[msg.sig];
        address module = e.module;
        if (module == address(0)) revert UnrecognizedFunction(msg.sig);
        PostHook[] memory post = _preCall(e.skipRuntimeValidation);
        result = _call(module, 0, msg.data);
        _runPostHooks(post);
    }

    // ================================================================ ERC-4337 validation

    function validateUserOp(PackedUserOperation calldata userOp, bytes32 userOpHash, uint256 missingAccountFunds)
        external
        override
        onlyEntryPoint
        returns (uint256 validationData)
    {
        uint168 locator = Locators.fromNonce(userOp.nonce);
        bytes calldata sig = userOp.signature;
        uint256 deferredData;
        bool hasDeadline;
        if (uint8(locator) & Locators.OPT_DEFERRED != 0) {
            (sig, deferredData) = _runDeferredAction(userOp.nonce, sig);
            hasDeadline = deferredData != 0;
        }
        validationData = _validateUserOp(locator, userOp, userOpHash, sig);
        if (hasDeadline) validationData = _intersect(deferredData, validationData); // §8.3 step 9
        if (missingAccountFunds != 0) {
            // Failure is the EntryPoint's concern (AA21); GAS precedes CALL here (ERC-7562 OP-012).
            (bool ok,) = payable(msg.sender).call{value: missingAccountFunds}("");
            (ok);
        }
    }

    function _validateUserOp(uint168 locator, PackedUserOperation calldata userOp, bytes32 userOpHash, bytes calldata sig)
        internal
        returns (uint256)
    {
        uint168 key = Locators.keyOf(locator);
        _checkApplies(userOp.callData, key, uint8(locator) & Locators.OPT_GLOBAL != 0 ? Mode.GLOBAL : Mode.SELECTOR);
        ValidationStorage storage v = _validation(key);
        // §3.3: only executeUserOp tells the account, at execution time, which validation ran.
        if (v.executionHooks.length != 0) {
            if (userOp.callData.length < 4 || bytes4(userOp.callData[:4]) != IAccountExecute.executeUserOp.selector) {
                revert RequireUserOperationContext();
            }
        }
        bool isFallback = _isFallback(key);
        if (!isFallback && v.flags & FLAG_USER_OP == 0) revert UserOpValidationInvalid(_entityOf(key));
        PackedUserOperation memory op = _copyWithoutSignature(userOp);
        uint256 n = v.validationHooks.length;
        uint256 hooksResult;
        for (uint256 i = 0; i < n; ++i) {
            (op.signature, sig) = SignatureSegments.next(sig, i);
            hooksResult = _intersect(hooksResult, _preUserOpHook(v.validationHooks[i], op, userOpHash));
        }
        sig = SignatureSegments.finalSegment(sig);
        uint256 result;
        if (isFallback) {
            result = _fallbackValidateUserOp(userOpHash, sig);
        } else {
            op.signature = sig;
            result = _callValidateUserOp(v.module, key, op, userOpHash);
        }
        return n == 0 ? result : _intersect(hooksResult, result);
    }

    function _preUserOpHook(bytes25 hook, PackedUserOperation memory op, bytes32 userOpHash)
        internal
        returns (uint256 result)
    {
        (address module, uint32 entityId) = Locators.unpack(hook);
        (bool ok, bytes memory ret) =
            module.call(abi.encodeCall(IValidationHookModule.preUserOpValidationHook, (entityId, op, userOpHash)));
        if (!ok || ret.length < 32) revert PreUserOpValidationHookReverted(bytes24(hook), ret);
        result = abi.decode(ret, (uint256));
        // §5.3: hooks may only say valid (0) or invalid (1), never name an aggregator.
        if (uint160(result) > 1) revert UnexpectedAggregator(bytes24(hook), address(uint160(result)));
    }

    function _callValidateUserOp(address module, uint168 key, PackedUserOperation memory op, bytes32 userOpHash)
        internal
        returns (uint256)
    {
        (bool ok, bytes memory ret) = module.call(
            abi.encodeCall(IValidationModule.validateUserOp, (uint32(key >> 8), op, userOpHash))
        );
        if (!ok || ret.length < 32) revert UserOpValidationFunctionReverted(_entityOf(key), ret);
        return abi.decode(ret, (uint256));
    }

    /// §5.3 coalescing: validUntil (0 = ∞) min, validAfter max; authorizer 1 from `a` (hooks) wins,
    /// otherwise `b`'s authorizer (0, 1 or an aggregator from the validation function).
    function _intersect(uint256 a, uint256 b) internal pure returns (uint256) {
        uint256 untilA = uint48(a >> 160);
        uint256 untilB = uint48(b >> 160);
        if (untilA == 0) untilA = type(uint48).max;
        if (untilB == 0) untilB = type(uint48).max;
        uint256 validUntil = untilA < untilB ? untilA : untilB;
        uint256 afterA = uint48(a >> 208);
        uint256 afterB = uint48(b >> 208);
        uint256 validAfter = afterA > afterB ? afterA : afterB;
        uint256 authorizer = uint160(a) == 1 ? 1 : uint160(b);
        return (validAfter << 208) | (validUntil << 160) | authorizer;
    }

    function _copyWithoutSignature(PackedUserOperation calldata u) internal pure returns (PackedUserOperation memory op) {
        op.sender = u.sender;
        op.nonce = u.nonce;
        op.initCode = u.initCode;
        op.callData = u.callData;
        op.accountGasLimits = u.accountGasLimits;
        op.preVerificationGas = u.preVerificationGas;
        op.gasFees = u.gasFees;
        op.paymasterAndData = u.paymasterAndData;
    }

    // ================================================================ deferred actions (§8)

    /// §8.2 envelope (layout in DeferredActions) at the head of the signature: grants it, returns the rest.
    /// Replay protection is the EntryPoint nonce inside the signed digest: per account (domain),
    /// chain (domain) and full 256-bit nonce (struct).
    function _runDeferredAction(uint256 nonce, bytes calldata sig)
        internal
        returns (bytes calldata rest, uint256 validationData)
    {
        bytes calldata enc;
        bytes calldata deferredSig;
        (enc, deferredSig, rest) = DeferredActions.split(sig);
        // Field slices written out here (not library getters): each getter call cost ~80 gas.
        uint48 deadline = uint48(bytes6(enc[DeferredActions.LOCATOR_END:DeferredActions.DEADLINE_END]));
        _grantDeferred(
            uint168(bytes21(enc[:DeferredActions.LOCATOR_END])),
            AccountHashes.deferredActionDigest(address(this), nonce, deadline, enc[DeferredActions.DEADLINE_END:]),
            enc[DeferredActions.DEADLINE_END:],
            deferredSig
        );
        validationData = uint256(deadline) << 160; // validUntil = deadline
    }

    function _grantDeferred(uint168 innerLocator, bytes32 digest, bytes calldata call, bytes calldata deferredSig)
        internal
    {
        uint168 innerKey = Locators.keyOf(innerLocator);
        ValidationStorage storage v = _validation(innerKey);
        // Lesson R3 (QS-01): granting validations have no validation hooks (none would run here).
        if (v.validationHooks.length != 0) revert DeferredValidationHasValidationHooks();
        // Lesson R1 (CL ALCHEMY-001): the granter must be applicable to the whole call, batch
        // self-calls included.
        _checkApplies(call, innerKey, uint8(innerLocator) & Locators.OPT_GLOBAL != 0 ? Mode.GLOBAL : Mode.SELECTOR);
        // Fallback signs the digest itself (no ReplaySafeHash wrap); modules wrap on their own.
        if (_validateSignature(innerKey, address(this), digest, deferredSig, false) != MAGIC_1271) {
            revert DeferredActionSignatureInvalid();
        }
        // Lesson R3: the granter's validation-associated execution hooks run around the self-call.
        PostHook[] memory post = _runPreExecHooks(v.executionHooks, msg.sender, 0, call);
        _call(address(this), 0, call);
        _runPostHooks(post);
    }

    // ================================================================ runtime validation (§6)

    function _runRuntimeHooks(ValidationStorage storage v, bytes calldata data, bytes calldata sig)
        internal
        returns (bytes calldata)
    {
        uint256 n = v.validationHooks.length;
        for (uint256 i = 0; i < n; ++i) {
            bytes calldata seg;
            (seg, sig) = SignatureSegments.next(sig, i);
            _preRuntimeHook(v.validationHooks[i], data, seg);
        }
        return sig;
    }

    function _preRuntimeHook(bytes25 hook, bytes calldata data, bytes calldata authorization) internal {
        (address module, uint32 entityId) = Locators.unpack(hook);
        // A code-less "hook" would silently approve: refuse it (same reasoning as R21).
        if (module.code.length == 0) revert PreRuntimeValidationHookReverted(bytes24(hook), "");
        (bool ok, bytes memory ret) = module.call(
            abi.encodeCall(
                IValidationHookModule.preRuntimeValidationHook, (entityId, msg.sender, msg.value, data, authorization)
            )
        );
        if (!ok) revert PreRuntimeValidationHookReverted(bytes24(hook), ret);
    }

    function _runtimeValidate(uint168 key, ValidationStorage storage v, bytes calldata data, bytes calldata authData)
        internal
    {
        if (_isFallback(key)) return _fallbackValidateRuntime();
        address module = v.module;
        // Lesson R21: a module without code would approve everything.
        if (module.code.length == 0) revert RuntimeValidationFunctionReverted(_entityOf(key), "");
        (bool ok, bytes memory ret) = module.call(
            abi.encodeCall(
                IValidationModule.validateRuntime,
                (address(this), uint32(key >> 8), msg.sender, msg.value, data, authData)
            )
        );
        if (!ok) revert RuntimeValidationFunctionReverted(_entityOf(key), ret);
    }

    /// Direct calls (§6.2): callers other than the EntryPoint and the account itself are checked
    /// against their direct-call validation; then all execution hooks' pre parts run.
    function _preCall(bool skipValidation) internal returns (PostHook[] memory) {
        bytes25[] memory hooks = AccountStorageLib.get().executionStorage[msg.sig].executionHooks;
        if (!skipValidation && msg.sender != entryPoint && msg.sender != address(this)) {
            uint168 key = Locators.directKey(msg.sender);
            _checkApplies(msg.data, key, Mode.EITHER);
            ValidationStorage storage v = _validation(key);
            uint256 n = v.validationHooks.length;
            for (uint256 i = 0; i < n; ++i) {
                _preRuntimeHook(v.validationHooks[i], msg.data, msg.data[:0]);
            }
            hooks = _concat(v.executionHooks, hooks);
        }
        return _runPreExecHooks(hooks, msg.sender, msg.value, msg.data);
    }

    // ================================================================ applicability (§3.2)

    /// Returns nothing; reverts unless `data` may be called under validation `key` in `mode`.
    function _checkApplies(bytes calldata data, uint168 key, Mode mode) internal view {
        if (data.length < 4) revert UnrecognizedFunction(bytes4(0));
        bytes4 selector = bytes4(data[:4]);
        if (selector == IAccountExecute.executeUserOp.selector) {
            data = data[4:];
            if (data.length < 4) revert UnrecognizedFunction(selector);
            selector = bytes4(data[:4]);
        }
        bool viaGlobal = _selectorAllowed(selector, key, mode);
        if (selector == IModularAccount.execute.selector) {
            uint256 target = uint256(bytes32(data[4:36]));
            if (target == uint160(address(this))) revert SelfCallRecursionDepthExceeded();
            if (!viaGlobal) _checkTarget(address(uint160(target)));
        } else if (selector == IModularAccount.executeBatch.selector) {
            // abi.decode bounds-checks offsets and lengths exactly like the ABI decoder (empty revert).
            Call[] memory calls = abi.decode(data[4:], (Call[]));
            for (uint256 i = 0; i < calls.length; ++i) {
                if (calls[i].target == address(this)) {
                    bytes memory inner = calls[i].data;
                    if (inner.length < 4) revert UnrecognizedFunction(bytes4(0));
                    bytes4 innerSel = bytes4(inner);
                    if (innerSel == IModularAccount.execute.selector || innerSel == IModularAccount.executeBatch.selector)
                    {
                        revert SelfCallRecursionDepthExceeded();
                    }
                    _selectorAllowed(innerSel, key, mode);
                } else if (!viaGlobal) {
                    _checkTarget(calls[i].target);
                }
            }
        }
    }

    /// §3.2 step 3. Returns whether the global pool (rather than the selector set) allowed it.
    function _selectorAllowed(bytes4 selector, uint168 key, Mode mode) internal view returns (bool viaGlobal) {
        if (mode != Mode.SELECTOR && _isGlobalSelector(selector) && _isGlobalValidation(key)) return true;
        if (mode != Mode.GLOBAL && _validation(key).selectorSet[selector]) return false;
        revert ValidationFunctionMissing(selector);
    }

    /// Lesson R18 (Keyward): calls authorised through a selector set (scoped sessions) may not target
    /// the EntryPoint (deposit, incrementNonce) or any installed module (setters keyed by the account
    /// would let a session rewrite its own limits). Global validations can reinstall everything
    /// anyway, so they keep these targets for the owner's administration.
    function _checkTarget(address target) internal view {
        if (target == entryPoint || AccountStorageLib.get().moduleRefs[target] != 0) revert TargetNotAllowed(target);
    }

    /// Global pool of §3.1. Lesson R4 (CL-007, QS-13): every state-changing native function that a
    /// validation may authorise is listed here; adding one means updating this list.
    function _isGlobalSelector(bytes4 s) internal view virtual returns (bool) {
        return s == IModularAccount.execute.selector || s == IModularAccount.executeBatch.selector
            || s == IAccountExecute.executeUserOp.selector || s == IModularAccount.executeWithRuntimeValidation.selector
            || s == IModularAccount.installValidation.selector || s == IModularAccount.uninstallValidation.selector
            || s == IModularAccount.installExecution.selector || s == IModularAccount.uninstallExecution.selector
            || s == this.performCreate.selector || s == this.upgradeToAndCall.selector
            || AccountStorageLib.get().executionStorage[s].allowGlobalValidation;
    }

    function _isGlobalValidation(uint168 key) internal view virtual returns (bool) {
        return _validation(key).flags & FLAG_GLOBAL != 0;
    }

    /// Native (account ABI) functions, for getExecutionData. The R7 list that execution modules may
    /// never claim is a superset kept in ExecutionInstallDelegate.
    function _isNativeSelector(bytes4 s) internal view virtual returns (bool) {
        return _isGlobalSelector(s) || s == IAccount.validateUserOp.selector || s == this.isValidSignature.selector
            || s == this.getValidationData.selector || s == this.getExecutionData.selector
            || s == IModularAccount.accountId.selector || s == this.entryPoint.selector
            || s == this.supportsInterface.selector || s == this.proxiableUUID.selector
            || s == this.onERC721Received.selector || s == this.onERC1155Received.selector
            || s == this.onERC1155BatchReceived.selector;
    }

    // ================================================================ execution hooks (§9)

    function _runPreExecHooks(bytes25[] memory hooks, address sender, uint256 value, bytes calldata data)
        internal
        returns (PostHook[] memory post)
    {
        post = new PostHook[](hooks.length);
        uint256 count;
        for (uint256 i = 0; i < hooks.length; ++i) {
            uint8 flags = uint8(hooks[i][24]);
            bytes memory preData;
            if (flags & HOOK_HAS_PRE != 0) preData = _preExecHook(hooks[i], sender, value, data);
            if (flags & HOOK_HAS_POST != 0) post[count++] = PostHook(hooks[i], preData);
        }
        assembly ("memory-safe") {
            mstore(post, count)
        }
    }

    function _preExecHook(bytes25 hook, address sender, uint256 value, bytes calldata data)
        internal
        returns (bytes memory)
    {
        (address module, uint32 entityId) = Locators.unpack(hook);
        (bool ok, bytes memory ret) =
            module.call(abi.encodeCall(IExecutionHookModule.preExecutionHook, (entityId, sender, value, data)));
        // §9: strictly ABI-encoded `bytes` (offset 0x20, length within the data), else a failure.
        if (!ok || ret.length < 64) revert PreExecHookReverted(bytes24(hook), ret);
        (uint256 offset, uint256 len) = abi.decode(ret, (uint256, uint256));
        if (offset != 0x20 || len > ret.length - 64) revert PreExecHookReverted(bytes24(hook), ret);
        return abi.decode(ret, (bytes));
    }

    /// Post hooks run in exactly the reverse order of their pre hooks.
    function _runPostHooks(PostHook[] memory post) internal {
        for (uint256 i = post.length; i > 0; --i) {
            (address module, uint32 entityId) = Locators.unpack(post[i - 1].hook);
            (bool ok, bytes memory ret) =
                module.call(abi.encodeCall(IExecutionHookModule.postExecutionHook, (entityId, post[i - 1].data)));
            if (!ok) revert PostExecHookReverted(bytes24(post[i - 1].hook), ret);
        }
    }

    function _concat(bytes25[] memory a, bytes25[] memory b) internal pure returns (bytes25[] memory c) {
        if (a.length == 0) return b;
        c = new bytes25[](a.length + b.length);
        for (uint256 i = 0; i < a.length; ++i) c[i] = a[i];
        for (uint256 i = 0; i < b.length; ++i) c[a.length + i] = b[i];
    }

    // ================================================================ ERC-1271 (§7)

    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        (uint168 locator, bytes calldata rest) = SignatureSegments.splitLocator(signature);
        uint168 key = Locators.keyOf(locator);
        ValidationStorage storage v = _validation(key);
        uint256 n = v.validationHooks.length;
        for (uint256 i = 0; i < n; ++i) {
            bytes calldata seg;
            (seg, rest) = SignatureSegments.next(rest, i);
            _preSignatureHook(v.validationHooks[i], hash, seg);
        }
        return _validateSignature(key, msg.sender, hash, SignatureSegments.finalSegment(rest), true) == MAGIC_1271
            ? MAGIC_1271
            : INVALID_1271;
    }

    function _preSignatureHook(bytes25 hook, bytes32 hash, bytes calldata seg) internal view {
        (address module, uint32 entityId) = Locators.unpack(hook);
        if (module.code.length == 0) revert PreSignatureValidationHookReverted(bytes24(hook), "");
        (bool ok, bytes memory ret) = module.staticcall(
            abi.encodeCall(IValidationHookModule.preSignatureValidationHook, (entityId, msg.sender, hash, seg))
        );
        if (!ok) revert PreSignatureValidationHookReverted(bytes24(hook), ret);
    }

    /// Signature validation of `key` (1271 and deferred grants). `wrap` = apply the account-domain
    /// ReplaySafeHash for the fallback (lesson R11); modules always wrap in their own domain.
    function _validateSignature(uint168 key, address sender, bytes32 hash, bytes calldata sig, bool wrap)
        internal
        view
        returns (bytes4)
    {
        if (_isFallback(key)) {
            bytes32 digest = wrap
                ? AccountHashes.typedDigest(
                    AccountHashes.accountDomain(address(this)), AccountHashes.replaySafeStruct(hash)
                )
                : hash;
            return _fallbackValidateSignature(digest, sig) ? MAGIC_1271 : INVALID_1271;
        }
        ValidationStorage storage v = _validation(key);
        if (v.flags & FLAG_SIGNATURE == 0) revert SignatureValidationInvalid(_entityOf(key));
        (bool ok, bytes memory ret) = v.module.staticcall(
            abi.encodeCall(IValidationModule.validateSignature, (address(this), uint32(key >> 8), sender, hash, sig))
        );
        if (!ok || ret.length < 32) revert SignatureValidationFunctionReverted(_entityOf(key), ret);
        return bytes4(abi.decode(ret, (bytes32)));
    }

    // ================================================================ installation

    function installValidation(
        bytes25 validationConfig,
        bytes4[] calldata selectors,
        bytes calldata installData,
        bytes[] calldata hooks
    ) external override wrapNative {
        _installValidation(validationConfig, selectors, installData, hooks);
    }

    function uninstallValidation(bytes24 validationFunction, bytes calldata uninstallData, bytes[] calldata hookData)
        external
        override
        wrapNative
    {
        _uninstallValidation(validationFunction, uninstallData, hookData);
    }

    /// Execution-module installs live in ExecutionInstallDelegate (EIP-170 size budget); the account
    /// delegatecalls it with its own calldata after the usual validation and hooks.
    function installExecution(address, ExecutionManifest calldata, bytes calldata) external override wrapNative {
        _delegateToInstaller();
    }

    function uninstallExecution(address, ExecutionManifest calldata, bytes calldata) external override wrapNative {
        _delegateToInstaller();
    }

    function _delegateToInstaller() internal {
        (bool ok, bytes memory ret) = executionInstallDelegate.delegatecall(msg.data);
        if (!ok) _bubble(ret);
    }

    // ================================================================ UUPS (ERC-1822 / ERC-1967)

    function upgradeToAndCall(address newImplementation, bytes calldata data) external payable virtual wrapNative {
        if (address(this) == _self) revert UnauthorizedCallContext();
        (bool ok, bytes memory ret) = newImplementation.staticcall(abi.encodeCall(this.proxiableUUID, ()));
        if (!ok || ret.length < 32 || abi.decode(ret, (bytes32)) != ERC1967_SLOT) revert UpgradeFailed();
        assembly ("memory-safe") {
            sstore(ERC1967_SLOT, newImplementation)
        }
        emit Upgraded(newImplementation);
        if (data.length != 0) {
            (bool success, bytes memory r) = newImplementation.delegatecall(data);
            if (!success) _bubble(r);
        }
    }

    function proxiableUUID() external view returns (bytes32) {
        if (address(this) != _self) revert UnauthorizedCallContext();
        return ERC1967_SLOT;
    }

    // ================================================================ views

    function getValidationData(bytes24 validationFunction) external view returns (ValidationDataView memory d) {
        (address module, uint32 entityId) = Locators.unpack24(validationFunction);
        ValidationStorage storage v = _validation(Locators.configKey(module, entityId));
        d.validationFlags = v.flags;
        d.validationHooks = v.validationHooks;
        d.executionHooks = v.executionHooks;
        d.selectors = v.selectors;
    }

    function getExecutionData(bytes4 selector) external view returns (ExecutionDataView memory d) {
        ExecutionStorage storage e = AccountStorageLib.get().executionStorage[selector];
        if (e.module == address(0) && _isNativeSelector(selector)) {
            d.module = address(this);
            d.allowGlobalValidation = _isGlobalSelector(selector);
            d.skipRuntimeValidation = !d.allowGlobalValidation;
        } else {
            d.module = e.module;
            d.skipRuntimeValidation = e.skipRuntimeValidation;
            d.allowGlobalValidation = e.allowGlobalValidation;
        }
        d.executionHooks = e.executionHooks;
    }

    function supportsInterface(bytes4 interfaceId) external view returns (bool) {
        if (interfaceId == 0xffffffff) return false;
        return interfaceId == 0x01ffc9a7 || interfaceId == 0x150b7a02 || interfaceId == 0x4e2312e0
            || AccountStorageLib.get().supportedInterfaces[interfaceId] != 0;
    }

    // ================================================================ internals

    function _validation(uint168 key) internal view returns (ValidationStorage storage) {
        return AccountStorageLib.get().validationStorage[key];
    }

    /// ModuleEntity of a lookup key, for error data.
    function _entityOf(uint168 key) internal view returns (bytes24) {
        if (Locators.isDirect(key)) {
            return Locators.pack(address(uint160(key >> 8)), Locators.DIRECT_CALL_ENTITY);
        }
        return Locators.pack(_validation(key).module, uint32(key >> 8));
    }

    function _call(address target, uint256 value, bytes calldata data) internal returns (bytes memory ret) {
        bool ok;
        (ok, ret) = target.call{value: value}(data);
        if (!ok) _bubble(ret);
    }

    function _bubble(bytes memory ret) internal pure {
        assembly ("memory-safe") {
            revert(add(ret, 0x20), mload(ret))
        }
    }

    // ---------------------------------------------------------------- variant hooks

    /// Whether `key` is the Semi-Modular Account's built-in owner (entity 0).
    function _isFallback(uint168) internal view virtual returns (bool) {
        return false;
    }

    function _fallbackValidateUserOp(bytes32, bytes calldata) internal view virtual returns (uint256) {
        return 1;
    }

    function _fallbackValidateRuntime() internal view virtual {
        revert NullModule();
    }

    function _fallbackValidateSignature(bytes32, bytes calldata) internal view virtual returns (bool) {
        return false;
    }
}
