// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {PackedUserOperation} from "../interfaces/PackedUserOperation.sol";
import {IAccount} from "../interfaces/IAccount.sol";
import {IAccountExecute} from "../interfaces/IAccountExecute.sol";

/// @title TestAccount
/// @notice Minimal ERC-4337 v0.7 account for Keyward's test suites and dev chains. NOT FOR REAL FUNDS.
/// @dev The signature selects the behaviour of validateUserOp:
///
///   | signature                           | behaviour                                                   |
///   |-------------------------------------|-------------------------------------------------------------|
///   | 65 bytes r ‖ s ‖ v                  | ECDSA by `owner` over EIP-191 personal-sign(userOpHash); 0 if valid, 1 (SIG_VALIDATION_FAILED) if not |
///   | 77 bytes r ‖ s ‖ v ‖ validAfter uint48 ‖ validUntil uint48 | as above, plus the time window packed into validationData (AA22 tests) |
///   | 0xdeaddead ‖ …                      | revert "TestAccount: forced revert" (AA23)                  |
///   | 0xb042b042 [‖ uint256 leave]        | pay prefund, then burn gas until gasleft() < leave (default 2000), return 0 (AA26; leave = 0 ⇒ out of gas ⇒ AA23). Uses GAS, so it breaks ERC-7562 OP-012 on purpose |
///   | 0x0bad0bad ‖ …                      | do not pay the prefund, return 0 (AA21)                     |
///   | 0xda7ada7a ‖ uint256 validationData | pay prefund, return validationData as given (AA22/AA24/aggregator tests) |
///   | anything else                       | pay prefund, return 1                                       |
///
///   Hooks are recognised only when the length is neither 65 nor 77, so a real signature is never
///   mistaken for one. They skip the signature check: never use this account outside tests.
contract TestAccount is IAccount, IAccountExecute {
    struct Call {
        address target;
        uint256 value;
        bytes data;
    }

    bytes4 internal constant HOOK_REVERT = 0xdeaddead;
    bytes4 internal constant HOOK_BURN_GAS = 0xb042b042;
    bytes4 internal constant HOOK_NO_PREFUND = 0x0bad0bad;
    bytes4 internal constant HOOK_VALIDATION_DATA = 0xda7ada7a;
    uint256 internal constant SIG_VALIDATION_FAILED = 1;
    uint256 internal constant DEFAULT_GAS_LEFT = 2000;
    /// @dev secp256k1n / 2: higher s values are malleable duplicates and rejected.
    uint256 internal constant HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    address public immutable entryPoint;
    address public owner;

    /// @dev Emitted by executeUserOp so tests can see the IAccountExecute dispatch happened.
    event UserOpExecuted(bytes32 indexed userOpHash);

    error NotFromEntryPoint();
    error NotAuthorized();

    constructor(address entryPoint_, address owner_) {
        entryPoint = entryPoint_;
        owner = owner_;
    }

    receive() external payable {}

    modifier onlyEntryPoint() {
        if (msg.sender != entryPoint) revert NotFromEntryPoint();
        _;
    }

    /// @dev The EntryPoint, the owner, or the account itself (executeUserOp self-calls).
    modifier onlyAuthorized() {
        if (msg.sender != entryPoint && msg.sender != owner && msg.sender != address(this)) revert NotAuthorized();
        _;
    }

    /// @inheritdoc IAccount
    function validateUserOp(PackedUserOperation calldata userOp, bytes32 userOpHash, uint256 missingAccountFunds)
        external
        onlyEntryPoint
        returns (uint256 validationData)
    {
        bytes calldata sig = userOp.signature;
        if (sig.length == 65 || sig.length == 77) {
            validationData = _validateSignature(sig, userOpHash);
            _payPrefund(missingAccountFunds);
            return validationData;
        }
        bytes4 hook = sig.length >= 4 ? bytes4(sig[:4]) : bytes4(0);
        if (hook == HOOK_REVERT) revert("TestAccount: forced revert");
        if (hook == HOOK_NO_PREFUND) return 0;
        _payPrefund(missingAccountFunds);
        if (hook == HOOK_VALIDATION_DATA && sig.length >= 36) return uint256(bytes32(sig[4:36]));
        if (hook == HOOK_BURN_GAS) {
            _burnGasUntil(sig.length >= 36 ? uint256(bytes32(sig[4:36])) : DEFAULT_GAS_LEFT);
            return 0;
        }
        return SIG_VALIDATION_FAILED;
    }

    /// @notice Single call. Reverts bubble up unchanged.
    function execute(address target, uint256 value, bytes calldata data) external onlyAuthorized {
        _call(target, value, data);
    }

    /// @notice Several calls, all or nothing. Selector 0x34fcd5be (same shape as MAv2's).
    function executeBatch(Call[] calldata calls) external onlyAuthorized {
        for (uint256 i; i < calls.length; ++i) {
            _call(calls[i].target, calls[i].value, calls[i].data);
        }
    }

    /// @inheritdoc IAccountExecute
    /// @dev Runs `userOp.callData[4:]` as a call to this account (e.g. an encoded execute(...)).
    function executeUserOp(PackedUserOperation calldata userOp, bytes32 userOpHash) external onlyEntryPoint {
        emit UserOpExecuted(userOpHash);
        _call(address(this), 0, userOp.callData[4:]);
    }

    /// @dev 0 if `owner` signed personal_sign(userOpHash); 77-byte signatures add a time window.
    function _validateSignature(bytes calldata sig, bytes32 userOpHash) internal view returns (uint256 data) {
        bytes32 digest = keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", userOpHash));
        address signer = _recover(digest, sig[:65]);
        data = (signer != address(0) && signer == owner) ? 0 : SIG_VALIDATION_FAILED;
        if (sig.length == 77) {
            uint256 validAfter = uint48(bytes6(sig[65:71]));
            uint256 validUntil = uint48(bytes6(sig[71:77]));
            data |= (validUntil << 160) | (validAfter << 208);
        }
    }

    /// @dev ecrecover with v in {0,1,27,28} and low-s enforced; 0 on any failure.
    function _recover(bytes32 digest, bytes calldata sig) internal pure returns (address) {
        bytes32 r = bytes32(sig[:32]);
        bytes32 s = bytes32(sig[32:64]);
        uint8 v = uint8(sig[64]);
        if (v < 27) v += 27;
        if (uint256(s) > HALF_N || (v != 27 && v != 28)) return address(0);
        return ecrecover(digest, v, r, s);
    }

    /// @dev Failure is ignored on purpose: the EntryPoint checks the deposit and reverts with AA21.
    function _payPrefund(uint256 missingAccountFunds) internal {
        if (missingAccountFunds == 0) return;
        (bool ok,) = payable(msg.sender).call{value: missingAccountFunds}("");
        (ok);
    }

    function _burnGasUntil(uint256 leave) internal view {
        uint256 x;
        while (gasleft() >= leave) {
            x = uint256(keccak256(abi.encode(x)));
        }
    }

    function _call(address target, uint256 value, bytes calldata data) internal {
        (bool ok, bytes memory ret) = target.call{value: value}(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 0x20), mload(ret))
            }
        }
    }
}
