//! The paymaster contract on a chain: its EntryPoint deposit (read, top up) and its signer.

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, U256};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use keyward_chain::Chain;
use keyward_chain::send::send_and_wait;
use keyward_contracts::bindings::VerifyingPaymaster;
use keyward_primitives::entry_point::IEntryPoint;

/// Errors of paymaster administration.
#[derive(Debug, thiserror::Error)]
pub enum DepositError {
    /// The chain refused or failed a call or transaction.
    #[error("chain: {0}")]
    Chain(String),
    /// A transaction was mined but reverted.
    #[error("{what} reverted (tx {tx})")]
    Reverted {
        /// What was attempted.
        what: &'static str,
        /// The transaction hash.
        tx: alloy::primitives::B256,
    },
}

async fn read<C: SolCall>(chain: &dyn Chain, to: Address, call: C) -> Result<C::Return, DepositError> {
    let tx = TransactionRequest::default().with_to(to).with_input(call.abi_encode());
    let out = chain.call(tx, None).await.map_err(|e| DepositError::Chain(e.to_string()))?;
    C::abi_decode_returns(&out).map_err(|e| DepositError::Chain(format!("decoding {}: {e}", C::SIGNATURE)))
}

async fn send<C: SolCall>(
    chain: &dyn Chain,
    from: &PrivateKeySigner,
    to: Address,
    call: C,
    value: U256,
    what: &'static str,
) -> Result<(), DepositError> {
    let tx = TransactionRequest::default().with_to(to).with_input(call.abi_encode()).with_value(value);
    let receipt = send_and_wait(chain, from, tx).await.map_err(|e| DepositError::Chain(e.to_string()))?;
    if !receipt.status() {
        return Err(DepositError::Reverted { what, tx: receipt.transaction_hash });
    }
    Ok(())
}

/// The paymaster's deposit in the EntryPoint (wei).
pub async fn deposit_of(chain: &dyn Chain, paymaster: Address) -> Result<U256, DepositError> {
    read(chain, paymaster, VerifyingPaymaster::getDepositCall {}).await
}

/// Adds `amount` wei from `funder` to the paymaster's deposit.
pub async fn top_up(
    chain: &dyn Chain,
    funder: &PrivateKeySigner,
    paymaster: Address,
    amount: U256,
) -> Result<(), DepositError> {
    send(chain, funder, paymaster, VerifyingPaymaster::depositCall {}, amount, "deposit").await
}

/// The key the paymaster honours.
pub async fn signer_of(chain: &dyn Chain, paymaster: Address) -> Result<Address, DepositError> {
    read(chain, paymaster, VerifyingPaymaster::verifyingSignerCall {}).await
}

/// Makes `signer` the paymaster's signer (sent by `owner`) unless it already is.
pub async fn ensure_signer(
    chain: &dyn Chain,
    owner: &PrivateKeySigner,
    paymaster: Address,
    signer: Address,
) -> Result<(), DepositError> {
    if signer_of(chain, paymaster).await? == signer {
        return Ok(());
    }
    send(chain, owner, paymaster, VerifyingPaymaster::setSignerCall { newSigner: signer }, U256::ZERO, "setSigner")
        .await
}

/// Unstake delay of the paymaster's EntryPoint stake (one day), as ERC-7562 bundlers require.
pub const UNSTAKE_DELAY: u32 = 86_400;

/// Whether the paymaster is staked in `entry_point`.
pub async fn is_staked(chain: &dyn Chain, entry_point: Address, paymaster: Address) -> Result<bool, DepositError> {
    let info = read(chain, entry_point, IEntryPoint::getDepositInfoCall { account: paymaster }).await?;
    Ok(info.staked)
}

/// Stakes `amount` wei for the paymaster (sent by its `owner`) unless it is already staked: a
/// paymaster that reads its own storage (the signer) needs a stake under ERC-7562 (STO-031/032).
pub async fn ensure_staked(
    chain: &dyn Chain,
    owner: &PrivateKeySigner,
    entry_point: Address,
    paymaster: Address,
    amount: U256,
) -> Result<(), DepositError> {
    if is_staked(chain, entry_point, paymaster).await? {
        return Ok(());
    }
    let call = VerifyingPaymaster::addStakeCall { unstakeDelaySec: UNSTAKE_DELAY };
    send(chain, owner, paymaster, call, amount, "addStake").await
}
