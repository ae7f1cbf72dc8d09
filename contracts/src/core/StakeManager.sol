// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IStakeManager} from "../interfaces/IStakeManager.sol";

/// @title StakeManager
/// @notice Deposits (prepaid gas) and stakes of accounts, paymasters, factories and aggregators.
/// @dev STORAGE: `deposits` must be the first state variable of the EntryPoint (slot 0) with the
///      canonical DepositInfo packing, because third-party bundlers inject the canonical
///      EntryPointSimulations code at the EntryPoint address and it reads this mapping directly.
///      Revert strings are the canonical ones (clients match on them), hence no custom errors here.
abstract contract StakeManager is IStakeManager {
    /// @notice Slot 0. Public getter `deposits(address)` (0xfc7e286d) is part of the canonical ABI.
    mapping(address => DepositInfo) public deposits;

    /// @inheritdoc IStakeManager
    function getDepositInfo(address account) external view returns (DepositInfo memory info) {
        return deposits[account];
    }

    /// @inheritdoc IStakeManager
    function balanceOf(address account) external view returns (uint256) {
        return deposits[account].deposit;
    }

    /// @inheritdoc IStakeManager
    /// @dev Virtual: EntryPointSimulations makes it slightly more expensive (see there).
    function depositTo(address account) public payable virtual {
        emit Deposited(account, _incrementDeposit(account, msg.value));
    }

    /// @inheritdoc IStakeManager
    /// @dev Adding stake re-locks a stake that is being unlocked (withdrawTime back to 0).
    function addStake(uint32 unstakeDelaySec) external payable {
        DepositInfo storage info = deposits[msg.sender];
        require(unstakeDelaySec > 0, "must specify unstake delay");
        require(unstakeDelaySec >= info.unstakeDelaySec, "cannot decrease unstake time");
        uint256 stake = info.stake + msg.value;
        require(stake > 0, "no stake specified");
        require(stake <= type(uint112).max, "stake overflow");
        info.staked = true;
        info.stake = uint112(stake);
        info.unstakeDelaySec = unstakeDelaySec;
        info.withdrawTime = 0;
        emit StakeLocked(msg.sender, stake, unstakeDelaySec);
    }

    /// @inheritdoc IStakeManager
    function unlockStake() external {
        DepositInfo storage info = deposits[msg.sender];
        require(info.unstakeDelaySec != 0, "not staked");
        require(info.staked, "already unstaking");
        uint48 withdrawTime = uint48(block.timestamp) + info.unstakeDelaySec;
        info.withdrawTime = withdrawTime;
        info.staked = false;
        emit StakeUnlocked(msg.sender, withdrawTime);
    }

    /// @inheritdoc IStakeManager
    function withdrawStake(address payable withdrawAddress) external {
        DepositInfo storage info = deposits[msg.sender];
        uint256 stake = info.stake;
        require(stake > 0, "No stake to withdraw");
        require(info.withdrawTime > 0, "must call unlockStake() first");
        require(info.withdrawTime <= block.timestamp, "Stake withdrawal is not due");
        info.unstakeDelaySec = 0;
        info.withdrawTime = 0;
        info.stake = 0;
        emit StakeWithdrawn(msg.sender, withdrawAddress, stake);
        (bool success,) = withdrawAddress.call{value: stake}("");
        require(success, "failed to withdraw stake");
    }

    /// @inheritdoc IStakeManager
    function withdrawTo(address payable withdrawAddress, uint256 withdrawAmount) external {
        DepositInfo storage info = deposits[msg.sender];
        uint256 deposit = info.deposit;
        require(withdrawAmount <= deposit, "Withdraw amount too large");
        unchecked {
            info.deposit = deposit - withdrawAmount;
        }
        emit Withdrawn(msg.sender, withdrawAddress, withdrawAmount);
        (bool success,) = withdrawAddress.call{value: withdrawAmount}("");
        require(success, "failed to withdraw");
    }

    /// @dev Credits `amount` without an event (refunds after execution emit nothing) and returns the
    ///      new total. Checked arithmetic: total ETH supply cannot overflow it, but stay safe.
    function _incrementDeposit(address account, uint256 amount) internal returns (uint256 newTotal) {
        DepositInfo storage info = deposits[account];
        newTotal = info.deposit + amount;
        info.deposit = newTotal;
    }

    /// @dev Stake view used by the simulation results.
    function _getStakeInfo(address addr) internal view returns (StakeInfo memory info) {
        DepositInfo storage d = deposits[addr];
        info.stake = d.stake;
        info.unstakeDelaySec = d.unstakeDelaySec;
    }
}
