//! Puts Keyward's contracts on a chain: the dev placements by state injection (`anvil_setCode`), at
//! the same addresses the embedded chain has them at genesis, and the account stack by transactions
//! through the deterministic deployer.

use alloy::primitives::{Address, U256};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
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

/// One transaction a deployment still needs.
#[derive(Debug, Clone)]
pub struct PlannedTx {
    /// What it does, for people.
    pub what: String,
    /// The transaction (to, data, value; `from` is the deployer).
    pub tx: TransactionRequest,
    /// Gas it is expected to use (estimated, or [`GAS_AFTER_CREATION`] when it calls a contract
    /// the plan creates first).
    pub gas: u64,
    /// The contract it creates, if it is a creation.
    pub creates: Option<Address>,
}

/// Gas assumed for a call to a contract the plan creates first (it cannot be estimated yet).
pub const GAS_AFTER_CREATION: u64 = 120_000;

/// What is missing of Keyward's account stack on `chain` for `deployer`, in order: each contract
/// without code (created through the deterministic deployer, so addresses are the same
/// everywhere), then the factory's EntryPoint stake of `factory_stake` wei when it has none.
pub async fn plan_account_stack(
    chain: &dyn Chain,
    deployer: Address,
    factory_stake: U256,
) -> ChainResult<Vec<PlannedTx>> {
    if chain.code(DETERMINISTIC_DEPLOYER).await?.is_empty() {
        return Err(ChainError::InvalidParams(format!(
            "no deterministic deployer at {DETERMINISTIC_DEPLOYER} on this chain"
        )));
    }
    let mut plan = Vec::new();
    for step in steps(deployer) {
        if !chain.code(step.address).await?.is_empty() {
            continue;
        }
        let tx = TransactionRequest::default()
            .from(deployer)
            .to(DETERMINISTIC_DEPLOYER)
            .input(step.deployer_calldata().into());
        let gas = chain.estimate_gas(tx.clone(), None).await?;
        plan.push(PlannedTx {
            what: format!("create {} at {}", step.name, step.address),
            tx,
            gas,
            creates: Some(step.address),
        });
    }
    let deployment = Deployment::keyward(deployer);
    let info = IEntryPoint::getDepositInfoCall { account: deployment.factory };
    let raw = chain
        .call(TransactionRequest::default().to(deployment.entry_point).input(info.abi_encode().into()), None)
        .await?;
    let staked = IEntryPoint::getDepositInfoCall::abi_decode_returns(&raw)
        .map_err(|e| ChainError::Transport(format!("getDepositInfo: {e}")))?
        .staked;
    if !staked && !factory_stake.is_zero() {
        let stake = AccountFactory::addStakeCall { unstakeDelay: FACTORY_UNSTAKE_DELAY };
        let tx = TransactionRequest::default()
            .from(deployer)
            .to(deployment.factory)
            .value(factory_stake)
            .input(stake.abi_encode().into());
        let gas = match plan.iter().any(|p| p.creates == Some(deployment.factory)) {
            true => GAS_AFTER_CREATION,
            false => chain.estimate_gas(tx.clone(), None).await?,
        };
        let what = format!("stake the factory ({} ETH)", alloy::primitives::utils::format_ether(factory_stake));
        plan.push(PlannedTx { what, tx, gas, creates: None });
    }
    Ok(plan)
}

/// Sends `plan` from `signer`, one transaction after the other, each waited for; their receipts,
/// in order. Fails on the first that reverts or that does not create what it should.
pub async fn send_plan(
    chain: &dyn Chain,
    signer: &PrivateKeySigner,
    plan: Vec<PlannedTx>,
) -> ChainResult<Vec<TransactionReceipt>> {
    let mut receipts = Vec::with_capacity(plan.len());
    for p in plan {
        let receipt = send_and_wait(chain, signer, p.tx).await?;
        let created = match p.creates {
            Some(address) => !chain.code(address).await?.is_empty(),
            None => true,
        };
        if !receipt.status() || !created {
            return Err(ChainError::Transport(format!("{} failed (tx {})", p.what, receipt.transaction_hash)));
        }
        tracing::debug!(what = %p.what, tx = %receipt.transaction_hash, "deployed");
        receipts.push(receipt);
    }
    Ok(receipts)
}

/// Creates whatever part of Keyward's account stack is missing on `chain` and stakes the factory
/// in the EntryPoint with `factory_stake` wei ([`plan_account_stack`], sent). `deployer` pays and
/// owns the factory. Idempotent: a chain that already has the stack gets no transaction.
pub async fn deploy_account_stack(
    chain: &dyn Chain,
    deployer: &PrivateKeySigner,
    factory_stake: U256,
) -> ChainResult<Deployment> {
    let plan = plan_account_stack(chain, deployer.address(), factory_stake).await?;
    send_plan(chain, deployer, plan).await?;
    Ok(Deployment::keyward(deployer.address()))
}

/// Unstake delay of the factory's EntryPoint stake (one day).
pub const FACTORY_UNSTAKE_DELAY: u32 = 86_400;
