// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {PackedUserOperation} from "../interfaces/PackedUserOperation.sol";
import {IPaymaster} from "../interfaces/IPaymaster.sol";
import {IEntryPoint} from "../interfaces/IEntryPoint.sol";

/// @title VerifyingPaymaster
/// @notice Sponsors user operations that Keyward's paymaster signer approved off chain.
/// @dev paymasterAndData = paymaster (20) ‖ pmVerificationGasLimit (16) ‖ pmPostOpGasLimit (16)
///      ‖ validUntil (6) ‖ validAfter (6) ‖ signature (65).
///      The signer signs EIP-191(getHash(op, validUntil, validAfter)). A wrong signer returns
///      authorizer 1 (the EntryPoint reports AA34); a malformed paymasterData reverts (AA33); the
///      window is returned in the validation data (AA32 when out of range). No postOp (empty context).
contract VerifyingPaymaster is IPaymaster {
    /// Offset of paymasterData in paymasterAndData.
    uint256 internal constant DATA_OFFSET = 52;
    /// Offset of the signature in paymasterAndData.
    uint256 internal constant SIG_OFFSET = 64;
    /// Half the secp256k1 order: higher s values are malleable and refused.
    uint256 internal constant HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    IEntryPoint public immutable entryPoint;
    address public owner;
    address public verifyingSigner;

    event SignerChanged(address indexed previousSigner, address indexed newSigner);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    error NotFromEntryPoint();
    error NotOwner();
    error ZeroAddress();
    error InvalidPaymasterData(uint256 length);
    error PostOpNotSupported();

    constructor(IEntryPoint entryPoint_, address owner_, address signer_) {
        if (address(entryPoint_) == address(0) || owner_ == address(0) || signer_ == address(0)) revert ZeroAddress();
        entryPoint = entryPoint_;
        owner = owner_;
        verifyingSigner = signer_;
        emit OwnershipTransferred(address(0), owner_);
        emit SignerChanged(address(0), signer_);
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    /// @inheritdoc IPaymaster
    function validatePaymasterUserOp(PackedUserOperation calldata userOp, bytes32, uint256)
        external
        view
        returns (bytes memory context, uint256 validationData)
    {
        if (msg.sender != address(entryPoint)) revert NotFromEntryPoint();
        (uint48 validUntil, uint48 validAfter, bytes calldata signature) = parsePaymasterAndData(userOp.paymasterAndData);
        bytes32 digest = _ethSignedHash(getHash(userOp, validUntil, validAfter));
        uint256 failed = _recover(digest, signature) == verifyingSigner ? 0 : 1;
        return ("", failed | (uint256(validUntil) << 160) | (uint256(validAfter) << 208));
    }

    /// @inheritdoc IPaymaster
    function postOp(PostOpMode, bytes calldata, uint256, uint256) external pure {
        revert PostOpNotSupported();
    }

    /// @notice The hash the signer approves: every field of the op except its signature and the
    ///         paymaster signature, with the chain id, this paymaster and the validity window.
    function getHash(PackedUserOperation calldata userOp, uint48 validUntil, uint48 validAfter)
        public
        view
        returns (bytes32)
    {
        bytes calldata pmd = userOp.paymasterAndData;
        if (pmd.length < DATA_OFFSET) revert InvalidPaymasterData(pmd.length);
        return keccak256(
            abi.encode(
                userOp.sender,
                userOp.nonce,
                keccak256(userOp.initCode),
                keccak256(userOp.callData),
                userOp.accountGasLimits,
                bytes32(pmd[20:DATA_OFFSET]),
                userOp.preVerificationGas,
                userOp.gasFees,
                block.chainid,
                address(this),
                validUntil,
                validAfter
            )
        );
    }

    /// @notice Splits paymasterAndData into the window and the signature (exactly 65 bytes).
    function parsePaymasterAndData(bytes calldata pmd)
        public
        pure
        returns (uint48 validUntil, uint48 validAfter, bytes calldata signature)
    {
        if (pmd.length != SIG_OFFSET + 65) revert InvalidPaymasterData(pmd.length);
        validUntil = uint48(bytes6(pmd[DATA_OFFSET:DATA_OFFSET + 6]));
        validAfter = uint48(bytes6(pmd[DATA_OFFSET + 6:SIG_OFFSET]));
        signature = pmd[SIG_OFFSET:];
    }

    /// @notice Replaces the key whose signatures this paymaster honours.
    function setSigner(address newSigner) external onlyOwner {
        if (newSigner == address(0)) revert ZeroAddress();
        emit SignerChanged(verifyingSigner, newSigner);
        verifyingSigner = newSigner;
    }

    /// @notice Hands the paymaster to a new owner.
    function transferOwnership(address newOwner) external onlyOwner {
        if (newOwner == address(0)) revert ZeroAddress();
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    /// @notice Adds msg.value to this paymaster's EntryPoint deposit (anyone may top it up).
    function deposit() external payable {
        entryPoint.depositTo{value: msg.value}(address(this));
    }

    /// @notice This paymaster's EntryPoint deposit.
    function getDeposit() external view returns (uint256) {
        return entryPoint.balanceOf(address(this));
    }

    /// @notice Withdraws `amount` of the deposit to `to`.
    function withdrawTo(address payable to, uint256 amount) external onlyOwner {
        entryPoint.withdrawTo(to, amount);
    }

    /// @notice Stakes msg.value in the EntryPoint (ERC-7562 reputation for the paymaster).
    function addStake(uint32 unstakeDelaySec) external payable onlyOwner {
        entryPoint.addStake{value: msg.value}(unstakeDelaySec);
    }

    /// @notice Starts the unstake delay.
    function unlockStake() external onlyOwner {
        entryPoint.unlockStake();
    }

    /// @notice Withdraws the unlocked stake to `to`.
    function withdrawStake(address payable to) external onlyOwner {
        entryPoint.withdrawStake(to);
    }

    function _ethSignedHash(bytes32 hash) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", hash));
    }

    /// @dev r ‖ s ‖ v, low s, v ∈ {27, 28}; anything else recovers the zero address (never the signer).
    function _recover(bytes32 digest, bytes calldata sig) internal pure returns (address) {
        bytes32 r = bytes32(sig[0:32]);
        bytes32 s = bytes32(sig[32:64]);
        uint8 v = uint8(sig[64]);
        if (uint256(s) > HALF_N || (v != 27 && v != 28)) return address(0);
        return ecrecover(digest, v, r, s);
    }
}
