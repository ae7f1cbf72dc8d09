// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {PackedUserOperation} from "../interfaces/PackedUserOperation.sol";
import {IValidationHookModule} from "../interfaces/erc6900/IERC6900.sol";
import {ModuleBase} from "./ModuleBase.sol";

/// @notice Validation hook bounding a validation to [validAfter, validUntil] (§10.4). On the user-op
///         path the range is returned in validationData (never reads TIMESTAMP, ERC-7562 OP-011).
contract TimeRangeModule is ModuleBase, IValidationHookModule {
    error TimeRangeNotValid();

    event TimeRangeSet(uint32 indexed entityId, address indexed account, uint48 validUntil, uint48 validAfter);

    struct TimeRange {
        uint48 validUntil;
        uint48 validAfter;
    }

    mapping(uint32 entityId => mapping(address account => TimeRange)) public timeRanges;

    function moduleId() external pure returns (string memory) {
        return "keyward.time-range-module.1.0.0";
    }

    /// abi.encode(uint32 entityId, uint48 validUntil, uint48 validAfter) — overwrites (R25).
    function onInstall(bytes calldata data) external {
        (uint32 entityId, uint48 validUntil, uint48 validAfter) = abi.decode(data, (uint32, uint48, uint48));
        setTimeRange(entityId, validUntil, validAfter);
    }

    /// abi.encode(uint32 entityId)
    function onUninstall(bytes calldata data) external {
        uint32 entityId = abi.decode(data, (uint32));
        delete timeRanges[entityId][msg.sender];
        emit TimeRangeSet(entityId, msg.sender, 0, 0);
    }

    /// Lesson R5 (QS-12): (0,0) and validUntil ≤ validAfter are rejected; validUntil 0 = open end.
    function setTimeRange(uint32 entityId, uint48 validUntil, uint48 validAfter) public {
        if (validUntil == 0 && validAfter == 0) revert TimeRangeNotValid();
        if (validUntil == 0) validUntil = type(uint48).max;
        if (validUntil <= validAfter) revert TimeRangeNotValid();
        timeRanges[entityId][msg.sender] = TimeRange(validUntil, validAfter);
        emit TimeRangeSet(entityId, msg.sender, validUntil, validAfter);
    }

    /// Lesson R14 (Keyward): an unconfigured id fails closed instead of allowing forever.
    function preUserOpValidationHook(uint32 entityId, PackedUserOperation calldata userOp, bytes32)
        external
        view
        returns (uint256)
    {
        _requireEmptySignature(userOp);
        uint256 w = _rangeWord(entityId, msg.sender);
        // validUntil (bits 0..47) → validationData bits 160..207, validAfter (48..95) → 208..255
        return w << 160;
    }

    /// Runtime calls are outside ERC-4337 validation, so the clock may be read here (inclusive ends).
    function preRuntimeValidationHook(uint32 entityId, address, uint256, bytes calldata, bytes calldata)
        external
        view
    {
        TimeRange memory r = _range(entityId, msg.sender);
        if (block.timestamp > r.validUntil || block.timestamp < r.validAfter) revert TimeRangeNotValid();
    }

    /// No-op as in MAv2: sessions never get isSignatureValidation (lesson R17).
    function preSignatureValidationHook(uint32, address, bytes32, bytes calldata) external pure {}

    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        return interfaceId == type(IValidationHookModule).interfaceId || super.supportsInterface(interfaceId);
    }

    function _range(uint32 entityId, address account) internal view returns (TimeRange memory r) {
        r = timeRanges[entityId][account];
        if (r.validUntil == 0) revert TimeRangeNotValid();
    }

    /// The packed TimeRange word (validUntil bits 0..47, validAfter 48..95, nothing above: both are
    /// only ever written together through the struct); validUntil 0 (unconfigured) reverts.
    function _rangeWord(uint32 entityId, address account) internal view returns (uint256 w) {
        uint256 base;
        assembly ("memory-safe") {
            base := timeRanges.slot
        }
        uint256 s = _slot2(base, entityId, uint160(account));
        assembly ("memory-safe") {
            w := and(sload(s), 0xffffffffffffffffffffffff)
        }
        if (uint48(w) == 0) revert TimeRangeNotValid();
    }
}
