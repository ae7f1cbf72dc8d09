//! Puts Keyward's contracts on a chain: the dev placements by state injection (`anvil_setCode`), at
//! the same addresses the embedded chain has them at genesis, and the account stack by transactions
//! through the deterministic deployer.

use alloy::primitives::U256;
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use keyward_contracts::bindings::AccountFactory;
use keyward_contracts::deployment::{DETERMINISTIC_DEPLOYER, Deployment, steps};
use keyward_contracts::dev_placements;
use keyward_primitives::entry_point::IEntryPoint;

use crate::error::{ChainError, ChainResult};
use crate::send::send_and_wait;
use crate::traits::{Chain, DevChain};

/// Writes every dev placement (EntryPoint at its canonical address, SenderCreator, …) into `chain`.
pub async fn place_dev_contracts(chain: &dyn DevChain) -> ChainResult<()> {
    for p in dev_placements() {
        chain.set_code(p.address, p.code).await?;
        chain.set_nonce(p.address, p.nonce).await?;
    }
    Ok(())
}

/// Creates whatever part of Keyward's account stack is missing on `chain` (through the
/// deterministic deployer, so addresses are the same everywhere) and stakes the factory in the
/// EntryPoint with `factory_stake` wei. `deployer` pays and owns the factory. Idempotent: a chain
/// that already has the stack gets no transaction.
pub async fn deploy_account_stack(
    chain: &dyn Chain,
    deployer: &PrivateKeySigner,
    factory_stake: U256,
) -> ChainResult<Deployment> {
    if chain.code(DETERMINISTIC_DEPLOYER).await?.is_empty() {
        return Err(ChainError::InvalidParams(format!(
            "no deterministic deployer at {DETERMINISTIC_DEPLOYER} on this chain"
        )));
    }
    for step in steps(deployer.address()) {
        if !chain.code(step.address).await?.is_empty() {
            continue;
        }
        let tx = TransactionRequest::default().to(DETERMINISTIC_DEPLOYER).input(step.deployer_calldata().into());
        let receipt = send_and_wait(chain, deployer, tx).await?;
        if !receipt.status() || chain.code(step.address).await?.is_empty() {
            return Err(ChainError::Transport(format!(
                "creating {} at {} failed (tx {})",
                step.name, step.address, receipt.transaction_hash
            )));
        }
        tracing::debug!(name = step.name, address = %step.address, "deployed");
    }
    let deployment = Deployment::keyward(deployer.address());
    let info = IEntryPoint::getDepositInfoCall { account: deployment.factory };
    let raw = chain
        .call(TransactionRequest::default().to(deployment.entry_point).input(info.abi_encode().into()), None)
        .await?;
    let staked = IEntryPoint::getDepositInfoCall::abi_decode_returns(&raw)
        .map_err(|e| ChainError::Transport(format!("getDepositInfo: {e}")))?
        .staked;
    if !staked && !factory_stake.is_zero() {
        let stake = AccountFactory::addStakeCall { unstakeDelay: FACTORY_UNSTAKE_DELAY };
        let tx =
            TransactionRequest::default().to(deployment.factory).value(factory_stake).input(stake.abi_encode().into());
        let receipt = send_and_wait(chain, deployer, tx).await?;
        if !receipt.status() {
            return Err(ChainError::Transport(format!("staking the factory failed (tx {})", receipt.transaction_hash)));
        }
    }
    Ok(deployment)
}

/// Unstake delay of the factory's EntryPoint stake (one day).
pub const FACTORY_UNSTAKE_DELAY: u32 = 86_400;
