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
import {AccountStorage, AccountStorageLib, AccountFlags, ExecutionStorage, Records, Locators} from "./AccountStorage.sol";
import {AccountHashes} from "./AccountHashes.sol";
import {ExecutionInstallDelegate} from "./ExecutionInstallDelegate.sol";
import {ModuleManagerInternals} from "./ModuleManagerInternals.sol";
import {TokenReceiver} from "./TokenReceiver.sol";
import {SignatureSegments} from "../libraries/SignatureSegments.sol";
import {DeferredActions} from "../libraries/DeferredActions.sol";
import {CalldataArgs} from "../libraries/CalldataArgs.sol";

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
    /// validUntil = max (open), validAfter 0, authorizer 0: what _intersect makes of an empty result.
    uint256 internal constant NO_BOUNDS = 0xffffffffffff << 160;
    bytes32 internal constant ERC1967_SLOT = AccountFlags.SLOT;

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
        if (post.length != 0) _runPostHooks(post);
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
        returns (bytes memory)
    {
        // §2.1: nothing to return to the EntryPoint (and no copy of the return data). Without
        // selector-associated hooks, wrapNative would do nothing for it: the call alone, then an
        // empty `bytes` returned.
        if (msg.sender == entryPoint && AccountFlags.get() & AccountFlags.SELECTOR_HOOKS == 0) {
            _callDiscard(target, value, data);
            assembly ("memory-safe") {
                mstore(0x00, 0x20)
                mstore(0x20, 0)
                return(0x00, 0x40)
            }
        }
        return _executeWrapped(target, value, data);
    }

    function _executeWrapped(address target, uint256 value, bytes calldata data)
        internal
        wrapNative
        returns (bytes memory result)
    {
        if (msg.sender == entryPoint) _callDiscard(target, value, data);
        else result = _call(target, value, data);
    }

    function executeBatch(Call[] calldata calls) external payable override wrapNative returns (bytes[] memory results) {
        bool toEntryPoint = msg.sender == entryPoint;
        results = new bytes[](toEntryPoint ? 0 : calls.length);
        for (uint256 i = 0; i < calls.length; ++i) {
            if (toEntryPoint) {
                _callDiscard(calls[i].target, calls[i].value, calls[i].data);
            } else {
                results[i] = _call(calls[i].target, calls[i].value, calls[i].data);
            }
        }
    }

    /// §5.6. Lesson R2 (CL ALCHEMY-002): the execution hooks are those of the validation named by
    /// this op's nonce — never taken from caller-controlled bytes.
    function executeUserOp(PackedUserOperation calldata userOp, bytes32) external override onlyEntryPoint {
        (uint256 r, uint256 h) = _recordHead(Locators.keyOf(Locators.fromNonce(userOp.nonce)));
        PostHook[] memory post;
        if (Records.numExecutionHooks(h) != 0) post = _runRecordPreExecHooks(r, h, msg.sender, 0, msg.data);
        _runInner(_tail4(userOp.callData));
        if (post.length != 0) _runPostHooks(post);
    }

    /// §5.6 step 3: the op's inner call as a self-call. An inner `execute` on an account without
    /// selector-associated hooks runs in place: its self-call would do nothing more (a call from the
    /// account itself is not validated and has no hooks to run).
    function _runInner(bytes calldata inner) internal {
        if (
            inner.length >= 4 && _selectorOf(inner) == IModularAccount.execute.selector
                && AccountFlags.get() & AccountFlags.SELECTOR_HOOKS == 0
        ) {
            (address target, uint256 value, bytes calldata data) = CalldataArgs.executeArgs(_tail4(inner));
            _callDiscard(target, value, data);
        } else {
            _callDiscard(address(this), 0, inner);
        }
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
        (uint256 r, uint256 h) = _recordHead(key);
        _checkApplies(data, key, h, uint8(locator) & Locators.OPT_GLOBAL != 0 ? Mode.GLOBAL : Mode.SELECTOR);
        rest = _runRuntimeHooks(r, h, data, rest);
        _runtimeValidate(key, h, data, SignatureSegments.finalSegment(rest));
        PostHook[] memory post = _runPreExecHooks(_executionHooks(r, h), msg.sender, msg.value, data);
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
        _ownerFastPath(userOp, userOpHash, missingAccountFunds);
        validationData = _validateUserOpFull(userOp, userOpHash);
        if (missingAccountFunds != 0) {
            // Failure is the EntryPoint's concern (AA21); GAS precedes CALL here (ERC-7562 OP-012).
            assembly ("memory-safe") {
                pop(call(gas(), caller(), missingAccountFunds, 0, 0, 0, 0))
            }
        }
    }

    /// Validation of ops the fast path did not take: §4 locator, §8 deferred action, §5 segments.
    function _validateUserOpFull(PackedUserOperation calldata userOp, bytes32 userOpHash)
        internal
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
    }

    function _validateUserOp(uint168 locator, PackedUserOperation calldata userOp, bytes32 userOpHash, bytes calldata sig)
        internal
        returns (uint256)
    {
        uint168 key = Locators.keyOf(locator);
        (uint256 r, uint256 h) = _recordHead(key);
        _checkUserOpScope(userOp.callData, locator, key, h);
        if (Records.numValidationHooks(h) == 0 && _isFallback(key)) {
            return _fallbackValidateUserOp(userOpHash, SignatureSegments.finalSegment(sig));
        }
        return _runUserOpValidation(key, r, h, userOp, userOpHash, sig);
    }

    /// §3.2 applicability, §3.3 execution-hook context rule, and the user-op flag.
    function _checkUserOpScope(bytes calldata callData, uint168 locator, uint168 key, uint256 h) internal view {
        if (_isGlobalExecuteOp(callData, locator, h)) return;
        _checkApplies(callData, key, h, uint8(locator) & Locators.OPT_GLOBAL != 0 ? Mode.GLOBAL : Mode.SELECTOR);
        // §3.3: only executeUserOp tells the account, at execution time, which validation ran.
        if (Records.numExecutionHooks(h) != 0) {
            if (callData.length < 4 || _selectorOf(callData) != IAccountExecute.executeUserOp.selector) {
                revert RequireUserOperationContext();
            }
        }
        if (!_isFallback(key) && Records.flags(h) & FLAG_USER_OP == 0) revert UserOpValidationInvalid(_entityOf(key, h));
    }

    /// The commonest scope in one look, with the outcome of the full checks: a global user-op
    /// validation (flags global + user op, so _isGlobalValidation holds in every variant) used
    /// globally, on `executeUserOp ‖ execute(target ≠ this, …)` or, without execution hooks, on
    /// `execute(target ≠ this, …)`. False = run the full checks.
    function _isGlobalExecuteOp(bytes calldata callData, uint168 locator, uint256 h) internal view returns (bool ok) {
        if (uint8(locator) & Locators.OPT_GLOBAL == 0 || Records.flags(h) & (FLAG_GLOBAL | FLAG_USER_OP) != 5) {
            return false;
        }
        uint256 noExecHooks = Records.numExecutionHooks(h) == 0 ? 1 : 0;
        assembly ("memory-safe") {
            let o := callData.offset
            let len := callData.length
            if gt(len, 3) {
                let sel := shr(224, calldataload(o))
                // executeUserOp(…) wraps the op's call: step over its selector
                if eq(sel, 0x8dd7712f) {
                    o := add(o, 4)
                    len := sub(len, 4)
                    sel := 0
                    if gt(len, 3) { sel := shr(224, calldataload(o)) }
                    noExecHooks := 1
                }
                // execute(target, …): 36 bytes for the target word, which is not this account
                ok := and(
                    and(noExecHooks, eq(sel, 0xb61d27f6)),
                    and(gt(len, 35), iszero(eq(calldataload(add(o, 4)), address())))
                )
            }
        }
    }

    function _runUserOpValidation(
        uint168 key,
        uint256 r,
        uint256 h,
        PackedUserOperation calldata userOp,
        bytes32 userOpHash,
        bytes calldata sig
    ) internal returns (uint256 result) {
        (uint256 p, uint256 sigPos) = _opCallBuffer(userOp, userOpHash, sig.length);
        uint256 hooksResult;
        bool hooks = Records.numValidationHooks(h) != 0;
        if (hooks) (hooksResult, sig) = _runPreUserOpHooks(r, h, p, sig, sigPos);
        sig = SignatureSegments.finalSegment(sig);
        result = _isFallback(key) ? _fallbackValidateUserOp(userOpHash, sig) : _moduleValidateUserOp(key, h, p, sigPos, sig);
        if (hooks) result = _intersect(hooksResult, result);
    }

    function _moduleValidateUserOp(uint168 key, uint256 h, uint256 p, uint256 sigPos, bytes calldata sig)
        internal
        returns (uint256 result)
    {
        bool ok;
        (ok, result) =
            _callOpModule(p, sigPos, IValidationModule.validateUserOp.selector, Records.moduleOf(h), uint32(key >> 8), sig);
        if (!ok) revert UserOpValidationFunctionReverted(_entityOf(key, h), _returnData());
    }

    /// Validation hooks in installation order, each with its own §5.1 segment.
    function _runPreUserOpHooks(uint256 r, uint256 h, uint256 p, bytes calldata sig, uint256 sigPos)
        internal
        returns (uint256 hooksResult, bytes calldata)
    {
        uint256 n = Records.numHooks(h);
        uint256 vi;
        // _intersect(0, x) == _intersect(NO_BOUNDS, x), and a valid (0) hook changes nothing once the
        // open validUntil is normalised: start normalised and skip the zeros.
        hooksResult = NO_BOUNDS;
        for (uint256 i = 0; i < n; ++i) {
            uint256 e = Records.entry(r, h, i);
            if (!Records.isValidationHook(e)) continue;
            bytes calldata seg;
            (seg, sig) = SignatureSegments.next(sig, vi);
            unchecked {
                ++vi;
            }
            (bool ok, uint256 res) = _callOpModule(
                p, sigPos, IValidationHookModule.preUserOpValidationHook.selector, Records.hookModule(e), Records.entityOf(e), seg
            );
            if (!ok) revert PreUserOpValidationHookReverted(bytes24(Records.hookConfig(e)), _returnData());
            // §5.3: hooks may only say valid (0) or invalid (1), never name an aggregator.
            if (uint160(res) > 1) revert UnexpectedAggregator(bytes24(Records.hookConfig(e)), address(uint160(res)));
            if (res != 0) hooksResult = _intersect(hooksResult, res);
        }
        return (hooksResult, sig);
    }

    /// Calldata of `f(uint32 entityId, PackedUserOperation op, bytes32 userOpHash)` in memory, built
    /// once per validation: the op is copied from this call's calldata up to its signature, which
    /// each hook and the validation get replaced by their own segment (§5.1) at `sigPos`. The
    /// EntryPoint encodes the op strictly; an op whose other dynamic fields do not all lie before its
    /// signature reverts.
    function _opCallBuffer(PackedUserOperation calldata userOp, bytes32 userOpHash, uint256 maxSigLen)
        internal
        pure
        returns (uint256 p, uint256 sigPos)
    {
        assembly ("memory-safe") {
            let t := userOp
            let sigOff := calldataload(add(t, 0x100))
            // initCode (head word 2), callData (3), paymasterAndData (7): between the head and the
            // signature. Each: 0x120 ≤ o < sigOff, l ≤ sigOff and o + 0x20 + l ≤ sigOff.
            let o1 := calldataload(add(t, 0x40))
            let o2 := calldataload(add(t, 0x60))
            let o3 := calldataload(add(t, 0xe0))
            let l1 := calldataload(add(t, o1))
            let l2 := calldataload(add(t, o2))
            let l3 := calldataload(add(t, o3))
            if or(
                or(
                    or(or(lt(o1, 0x120), iszero(lt(o1, sigOff))), or(gt(l1, sigOff), gt(add(add(o1, 0x20), l1), sigOff))),
                    or(or(lt(o2, 0x120), iszero(lt(o2, sigOff))), or(gt(l2, sigOff), gt(add(add(o2, 0x20), l2), sigOff)))
                ),
                or(or(lt(o3, 0x120), iszero(lt(o3, sigOff))), or(gt(l3, sigOff), gt(add(add(o3, 0x20), l3), sigOff)))
            ) { revert(0, 0) }
            p := mload(0x40)
            mstore(add(p, 0x40), 0x60)
            mstore(add(p, 0x60), userOpHash)
            calldatacopy(add(p, 0x80), t, sigOff)
            sigPos := add(add(p, 0x80), sigOff)
            mstore(0x40, add(add(sigPos, 0x40), and(add(maxSigLen, 31), not(31))))
        }
    }

    /// Calls `selector(entityId, op*, userOpHash)` on `module` from the buffer of _opCallBuffer with
    /// `seg` as the op's signature; ok = the call succeeded with at least 32 bytes of return data.
    function _callOpModule(uint256 p, uint256 sigPos, bytes4 selector, address module, uint32 entityId, bytes calldata seg)
        internal
        returns (bool ok, uint256 result)
    {
        assembly ("memory-safe") {
            mstore(p, shr(224, selector))
            mstore(add(p, 0x20), and(entityId, 0xffffffff))
            mstore(sigPos, seg.length)
            mstore(add(add(sigPos, 0x20), and(seg.length, not(31))), 0)
            calldatacopy(add(sigPos, 0x20), seg.offset, seg.length)
            let end := add(add(sigPos, 0x20), and(add(seg.length, 31), not(31)))
            ok := call(gas(), module, 0, add(p, 28), sub(end, add(p, 28)), 0x00, 0x20)
            ok := and(ok, gt(returndatasize(), 31))
            result := mload(0x00)
        }
    }

    /// §5.3 coalescing: validUntil (0 = ∞) min, validAfter max; authorizer 1 from `a` (hooks) wins,
    /// otherwise `b`'s authorizer (0, 1 or an aggregator from the validation function).
    function _intersect(uint256 a, uint256 b) internal pure returns (uint256 r) {
        assembly ("memory-safe") {
            // validUntil - 1 (mod 2^48) puts 0 (open) last; the smaller one, + 1, capped at the max
            r := and(sub(shr(160, a), 1), 0xffffffffffff)
            let u := and(sub(shr(160, b), 1), 0xffffffffffff)
            if lt(u, r) { r := u }
            r := add(r, lt(r, 0xffffffffffff))
            // validAfter: the later one
            u := shr(208, a)
            if gt(shr(208, b), u) { u := shr(208, b) }
            r := or(shl(208, u), shl(160, r))
            // authorizer: 1 from `a` wins, else `b`'s
            u := and(b, 0xffffffffffffffffffffffffffffffffffffffff)
            if eq(and(a, 0xffffffffffffffffffffffffffffffffffffffff), 1) { u := 1 }
            r := or(r, u)
        }
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
        (uint256 r, uint256 h) = _recordHead(innerKey);
        // Lesson R3 (QS-01): granting validations have no validation hooks (none would run here).
        if (Records.numValidationHooks(h) != 0) revert DeferredValidationHasValidationHooks();
        // Lesson R1 (CL ALCHEMY-001): the granter must be applicable to the whole call, batch
        // self-calls included.
        _checkApplies(call, innerKey, h, uint8(innerLocator) & Locators.OPT_GLOBAL != 0 ? Mode.GLOBAL : Mode.SELECTOR);
        // Fallback signs the digest itself (no ReplaySafeHash wrap); modules wrap on their own.
        if (_validateSignature(innerKey, h, address(this), digest, deferredSig, false) != MAGIC_1271) {
            revert DeferredActionSignatureInvalid();
        }
        // Lesson R3: the granter's validation-associated execution hooks run around the self-call.
        PostHook[] memory post = _runRecordPreExecHooks(r, h, msg.sender, 0, call);
        _callDiscard(address(this), 0, call);
        _runPostHooks(post);
    }

    // ================================================================ runtime validation (§6)

    function _runRuntimeHooks(uint256 r, uint256 h, bytes calldata data, bytes calldata sig)
        internal
        returns (bytes calldata)
    {
        uint256 n = Records.numHooks(h);
        uint256 vi;
        for (uint256 i = 0; i < n; ++i) {
            uint256 e = Records.entry(r, h, i);
            if (!Records.isValidationHook(e)) continue;
            bytes calldata seg;
            (seg, sig) = SignatureSegments.next(sig, vi++);
            _preRuntimeHook(Records.hookConfig(e), data, seg);
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

    function _runtimeValidate(uint168 key, uint256 h, bytes calldata data, bytes calldata authData) internal {
        if (_isFallback(key)) return _fallbackValidateRuntime();
        address module = Records.moduleOf(h);
        // Lesson R21: a module without code would approve everything.
        if (module.code.length == 0) revert RuntimeValidationFunctionReverted(_entityOf(key, h), "");
        (bool ok, bytes memory ret) = module.call(
            abi.encodeCall(
                IValidationModule.validateRuntime,
                (address(this), uint32(key >> 8), msg.sender, msg.value, data, authData)
            )
        );
        if (!ok) revert RuntimeValidationFunctionReverted(_entityOf(key, h), ret);
    }

    /// Direct calls (§6.2): callers other than the EntryPoint and the account itself are checked
    /// against their direct-call validation; then all execution hooks' pre parts run.
    function _preCall(bool skipValidation) internal returns (PostHook[] memory) {
        bytes25[] memory hooks;
        if (AccountFlags.get() & AccountFlags.SELECTOR_HOOKS != 0) {
            hooks = AccountStorageLib.get().executionStorage[msg.sig].executionHooks;
        }
        if (!skipValidation && msg.sender != entryPoint && msg.sender != address(this)) {
            uint168 key = Locators.directKey(msg.sender);
            (uint256 r, uint256 h) = _recordHead(key);
            _checkApplies(msg.data, key, h, Mode.EITHER);
            uint256 n = Records.numHooks(h);
            for (uint256 i = 0; i < n; ++i) {
                uint256 e = Records.entry(r, h, i);
                if (Records.isValidationHook(e)) _preRuntimeHook(Records.hookConfig(e), msg.data, msg.data[:0]);
            }
            if (Records.numExecutionHooks(h) != 0) hooks = _concat(_executionHooks(r, h), hooks);
        }
        if (hooks.length == 0) return new PostHook[](0);
        return _runPreExecHooks(hooks, msg.sender, msg.value, msg.data);
    }

    // ================================================================ applicability (§3.2)

    /// Returns nothing; reverts unless `data` may be called under validation `key` (record head `h`)
    /// in `mode`.
    function _checkApplies(bytes calldata data, uint168 key, uint256 h, Mode mode) internal view {
        if (data.length < 4) revert UnrecognizedFunction(bytes4(0));
        bytes4 selector = _selectorOf(data);
        if (selector == IAccountExecute.executeUserOp.selector) {
            if (data.length < 8) revert UnrecognizedFunction(selector);
            data = _tail4(data);
            selector = _selectorOf(data);
        }
        bool viaGlobal = _selectorAllowed(selector, key, h, mode);
        if (selector == IModularAccount.execute.selector) {
            uint256 target;
            assembly ("memory-safe") {
                // data[4:36], with the slice's empty revert when shorter
                if lt(data.length, 36) { revert(0, 0) }
                target := calldataload(add(data.offset, 4))
            }
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
                    _selectorAllowed(innerSel, key, h, mode);
                } else if (!viaGlobal) {
                    _checkTarget(calls[i].target);
                }
            }
        }
    }

    /// d[4:], with the slice's empty revert when `d` is shorter.
    function _tail4(bytes calldata d) internal pure returns (bytes calldata r) {
        assembly ("memory-safe") {
            if lt(d.length, 4) { revert(0, 0) }
            r.offset := add(d.offset, 4)
            r.length := sub(d.length, 4)
        }
    }

    /// The first 4 bytes of `d` (the caller checked that it has them).
    function _selectorOf(bytes calldata d) internal pure returns (bytes4 sel) {
        assembly ("memory-safe") {
            sel := and(calldataload(d.offset), shl(224, 0xffffffff))
        }
    }

    /// §3.2 step 3. Returns whether the global pool (rather than the selector set) allowed it.
    function _selectorAllowed(bytes4 selector, uint168 key, uint256 h, Mode mode)
        internal
        view
        returns (bool viaGlobal)
    {
        if (mode != Mode.SELECTOR && _isGlobalSelector(selector) && _isGlobalValidation(key, h)) return true;
        if (mode != Mode.GLOBAL && Records.hasSelector(key, h, selector)) return false;
        revert ValidationFunctionMissing(selector);
    }

    /// Lesson R18 (Keyward): calls authorised through a selector set (scoped sessions) may not target
    /// the EntryPoint (deposit, incrementNonce) or any module ever installed on the account (setters
    /// keyed by the account would let a session rewrite its own limits). Global validations can
    /// reinstall everything anyway, so they keep these targets for the owner's administration.
    function _checkTarget(address target) internal view {
        if (target == entryPoint || Records.isModule(target)) revert TargetNotAllowed(target);
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

    function _isGlobalValidation(uint168, uint256 h) internal view virtual returns (bool) {
        return Records.flags(h) & FLAG_GLOBAL != 0;
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

    /// The record's execution hooks as HookConfigs, installation order.
    function _executionHooks(uint256 r, uint256 h) internal view returns (bytes25[] memory hooks) {
        return _hooksOfKind(r, h, false);
    }

    function _hooksOfKind(uint256 r, uint256 h, bool validationHooks) internal view returns (bytes25[] memory hooks) {
        uint256 count = validationHooks ? Records.numValidationHooks(h) : Records.numExecutionHooks(h);
        hooks = new bytes25[](count);
        if (count == 0) return hooks;
        uint256 n = Records.numHooks(h);
        uint256 k;
        for (uint256 i = 0; i < n; ++i) {
            uint256 e = Records.entry(r, h, i);
            if (Records.isValidationHook(e) == validationHooks) hooks[k++] = Records.hookConfig(e);
        }
    }

    /// Pre hooks in order, all from one `preExecutionHook(entityId, sender, value, data)` calldata
    /// buffer; returns the post hooks to run (with their pre hook's data).
    function _runPreExecHooks(bytes25[] memory hooks, address sender, uint256 value, bytes calldata data)
        internal
        returns (PostHook[] memory post)
    {
        post = new PostHook[](hooks.length);
        if (hooks.length == 0) return post;
        (uint256 p, uint256 size) = _execHookBuffer(sender, value, data);
        uint256 count;
        for (uint256 i = 0; i < hooks.length; ++i) {
            count = _preExecEntry(hooks[i], p, size, post, count);
        }
        assembly ("memory-safe") {
            mstore(post, count)
        }
    }

    /// _runPreExecHooks over the execution hooks of the record at `r` (head `h`), read in place.
    function _runRecordPreExecHooks(uint256 r, uint256 h, address sender, uint256 value, bytes calldata data)
        internal
        returns (PostHook[] memory post)
    {
        uint256 ne = Records.numExecutionHooks(h);
        post = new PostHook[](ne);
        if (ne == 0) return post;
        (uint256 p, uint256 size) = _execHookBuffer(sender, value, data);
        uint256 n = Records.numHooks(h);
        uint256 count;
        for (uint256 i = 0; i < n; ++i) {
            uint256 e = Records.entry(r, h, i);
            if (!Records.isValidationHook(e)) count = _preExecEntry(Records.hookConfig(e), p, size, post, count);
        }
        assembly ("memory-safe") {
            mstore(post, count)
        }
    }

    /// Runs `hook`'s pre part (if any) from the buffer; records it in `post` (at `count`) if it has a
    /// post part. Returns the new count.
    function _preExecEntry(bytes25 hook, uint256 p, uint256 size, PostHook[] memory post, uint256 count)
        internal
        returns (uint256)
    {
        uint8 flags = uint8(hook[24]);
        bytes memory preData;
        if (flags & HOOK_HAS_PRE != 0) preData = _preExecHook(hook, p, size, flags & HOOK_HAS_POST != 0);
        if (flags & HOOK_HAS_POST != 0) post[count++] = PostHook(hook, preData);
        return count;
    }

    /// `preExecutionHook(entityId, sender, value, data)` calldata in memory (entity id patched per hook).
    function _execHookBuffer(address sender, uint256 value, bytes calldata data)
        internal
        pure
        returns (uint256 p, uint256 size)
    {
        assembly ("memory-safe") {
            p := mload(0x40)
            mstore(p, 0xed6dfb13) // preExecutionHook(uint32,address,uint256,bytes)
            mstore(add(p, 0x40), and(sender, 0xffffffffffffffffffffffffffffffffffffffff))
            mstore(add(p, 0x60), value)
            mstore(add(p, 0x80), 0x80)
            mstore(add(p, 0xa0), data.length)
            mstore(add(add(p, 0xc0), and(data.length, not(31))), 0)
            calldatacopy(add(p, 0xc0), data.offset, data.length)
            size := add(0xa4, and(add(data.length, 31), not(31)))
            mstore(0x40, add(add(p, 28), size))
        }
    }

    /// §9: the hook must return strictly ABI-encoded `bytes` (offset 0x20, length within the data),
    /// else it counts as a failure. The bytes are copied only when a post hook will need them.
    function _preExecHook(bytes25 hook, uint256 p, uint256 size, bool keep) internal returns (bytes memory ret) {
        (address module, uint32 entityId) = Locators.unpack(hook);
        bool ok;
        assembly ("memory-safe") {
            mstore(add(p, 0x20), and(entityId, 0xffffffff))
            ok := call(gas(), module, 0, add(p, 28), size, 0x00, 0x40)
            if ok {
                ok := and(
                    gt(returndatasize(), 63),
                    and(eq(mload(0x00), 0x20), iszero(gt(mload(0x20), sub(returndatasize(), 64))))
                )
            }
        }
        if (!ok) revert PreExecHookReverted(bytes24(hook), _returnData());
        if (keep) {
            assembly ("memory-safe") {
                let len := mload(0x20)
                ret := mload(0x40)
                mstore(ret, len)
                returndatacopy(add(ret, 0x20), 0x40, len)
                mstore(0x40, add(add(ret, 0x20), and(add(len, 31), not(31))))
            }
        }
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
        if (b.length == 0) return a;
        c = new bytes25[](a.length + b.length);
        for (uint256 i = 0; i < a.length; ++i) c[i] = a[i];
        for (uint256 i = 0; i < b.length; ++i) c[a.length + i] = b[i];
    }

    // ================================================================ ERC-1271 (§7)

    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        (uint168 locator, bytes calldata rest) = SignatureSegments.splitLocator(signature);
        uint168 key = Locators.keyOf(locator);
        (uint256 r, uint256 h) = _recordHead(key);
        if (Records.numValidationHooks(h) != 0) rest = _runPreSignatureHooks(r, h, hash, rest);
        return _validateSignature(key, h, msg.sender, hash, SignatureSegments.finalSegment(rest), true) == MAGIC_1271
            ? MAGIC_1271
            : INVALID_1271;
    }

    function _runPreSignatureHooks(uint256 r, uint256 h, bytes32 hash, bytes calldata rest)
        internal
        view
        returns (bytes calldata)
    {
        uint256 n = Records.numHooks(h);
        uint256 vi;
        for (uint256 i = 0; i < n; ++i) {
            uint256 e = Records.entry(r, h, i);
            if (!Records.isValidationHook(e)) continue;
            bytes calldata seg;
            (seg, rest) = SignatureSegments.next(rest, vi++);
            _preSignatureHook(Records.hookConfig(e), hash, seg);
        }
        return rest;
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
    function _validateSignature(uint168 key, uint256 h, address sender, bytes32 hash, bytes calldata sig, bool wrap)
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
        if (Records.flags(h) & FLAG_SIGNATURE == 0) revert SignatureValidationInvalid(_entityOf(key, h));
        (bool ok, bytes memory ret) = Records.moduleOf(h).staticcall(
            abi.encodeCall(IValidationModule.validateSignature, (address(this), uint32(key >> 8), sender, hash, sig))
        );
        if (!ok || ret.length < 32) revert SignatureValidationFunctionReverted(_entityOf(key, h), ret);
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
    /// Any execution install marks the account as possibly having selector-associated hooks (the
    /// flag is never cleared: it only decides whether native calls look them up).
    function installExecution(address, ExecutionManifest calldata, bytes calldata) external override wrapNative {
        _delegateToInstaller();
        AccountFlags.set(AccountFlags.SELECTOR_HOOKS, true);
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
        AccountFlags.setImplementation(newImplementation);
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
        uint168 key = Locators.configKey(module, entityId);
        uint256 r = Records.slotOf(key);
        uint256 h = Records.load(r);
        d.validationFlags = Records.flags(h);
        d.validationHooks = _hooksOfKind(r, h, true);
        d.executionHooks = _hooksOfKind(r, h, false);
        uint256 n = Records.numSelectors(h);
        d.selectors = new bytes4[](n);
        uint256 s = Records.selectorsSlot(key);
        for (uint256 i = 0; i < n; ++i) d.selectors[i] = Records.selectorAt(s, i);
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

    /// Slot and head word of a validation record (see Records). Variants may skip the read when they
    /// know the record is empty.
    function _recordHead(uint168 key) internal view virtual returns (uint256 r, uint256 h) {
        r = Records.slotOf(key);
        h = Records.load(r);
    }

    /// ModuleEntity of a lookup key, for error data.
    function _entityOf(uint168 key, uint256 h) internal view returns (bytes24) {
        if (Locators.isDirect(key)) {
            return Locators.pack(address(uint160(key >> 8)), Locators.DIRECT_CALL_ENTITY);
        }
        return Locators.pack(Records.moduleOf(h), uint32(key >> 8));
    }

    /// A call whose return data nobody reads: reverts bubble, success copies nothing.
    function _callDiscard(address target, uint256 value, bytes calldata data) internal {
        assembly ("memory-safe") {
            let p := mload(0x40)
            calldatacopy(p, data.offset, data.length)
            if iszero(call(gas(), target, value, p, data.length, 0, 0)) {
                returndatacopy(p, 0, returndatasize())
                revert(p, returndatasize())
            }
        }
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

    /// Validates an op the variant can decide on a shorter path, with exactly the full path's
    /// outcome, and ends the call (prefund paid, validationData returned); otherwise returns.
    function _ownerFastPath(PackedUserOperation calldata, bytes32, uint256) internal virtual {}

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
