//! Gas sponsorship on `keyward dev`: the paymaster signer is the dev mnemonic's index 12, the
//! deposit is funded at start, and a default policy that sponsors anything is ready to use.

use std::sync::Arc;

use alloy::primitives::{Address, U256};
use alloy::signers::local::PrivateKeySigner;
use keyward_chain::dev_keys::dev_signer;
use keyward_chain::{Chain, DevChain};
use keyward_store::Store;
use uuid::Uuid;

use crate::deposit::{deposit_of, ensure_signer, ensure_staked, top_up};
use crate::policy::Policy;
use crate::sponsor::{Sponsor, SponsorConfig};

/// Index of the paymaster signer in the dev mnemonic (with the other dev key indices in `dev_keys`).
pub use keyward_chain::dev_keys::PAYMASTER_KEY_INDEX;

/// Id of the default dev policy (a fixed UUID v4, so scripts and docs can name it).
pub const DEV_POLICY_ID: &str = "4337e2b0-1a6d-4c3e-9f00-000000004337";

/// Name of the default dev policy.
pub const DEV_POLICY_NAME: &str = "Keyward dev (sponsors everything)";

/// The deposit is topped up to this when it is lower (wei): 1,000 ETH.
const DEV_DEPOSIT: u128 = 1_000 * 1_000_000_000_000_000_000;

/// The paymaster's EntryPoint stake (wei): 1 ETH, one-day unstake delay.
const DEV_STAKE: u128 = 1_000_000_000_000_000_000;

/// Balance given to the paymaster key when it runs low (wei): 10,000 ETH.
const DEV_KEY_BALANCE: u128 = 10_000 * 1_000_000_000_000_000_000;

/// Why dev sponsorship could not start.
#[derive(Debug, thiserror::Error)]
pub enum DevError {
    /// The chain refused a dev method or transaction.
    #[error("{0}")]
    Chain(String),
    /// The default policy id is not a UUID (a build error).
    #[error("default policy id: {0}")]
    PolicyId(String),
}

/// Sponsorship running on a dev chain.
pub struct DevSponsorship {
    /// The sponsor (policies, signer, ledger).
    pub sponsor: Arc<Sponsor>,
    /// The default policy.
    pub default_policy: Policy,
    /// The paymaster contract.
    pub paymaster: Address,
    /// Its deposit in the EntryPoint after funding.
    pub deposit: U256,
}

/// The default dev policy: anything, any sender, no limit.
pub fn dev_policy() -> Result<Policy, DevError> {
    let id = Uuid::parse_str(DEV_POLICY_ID).map_err(|e| DevError::PolicyId(e.to_string()))?;
    Ok(Policy::open(id, DEV_POLICY_NAME))
}

/// Makes index 12 the paymaster's signer (sent by `owner`, the paymaster's owner), stakes it,
/// funds the deposit, and builds the sponsor with the default policy plus `policies`.
pub async fn start(
    chain: Arc<dyn DevChain>,
    store: Store,
    paymaster: Address,
    entry_point: Address,
    owner: &PrivateKeySigner,
    policies: Vec<Policy>,
) -> Result<DevSponsorship, DevError> {
    let err = |e: &dyn std::fmt::Display| DevError::Chain(e.to_string());
    let key = dev_signer(PAYMASTER_KEY_INDEX).map_err(|e| err(&e))?;
    let dev_key_balance = U256::from(DEV_KEY_BALANCE);
    for who in [key.address(), owner.address()] {
        if chain.balance(who).await.map_err(|e| err(&e))? < dev_key_balance / U256::from(10) {
            chain.set_balance(who, dev_key_balance).await.map_err(|e| err(&e))?;
        }
    }
    let as_chain: Arc<dyn Chain> = chain.clone();
    ensure_signer(as_chain.as_ref(), owner, paymaster, key.address()).await.map_err(|e| err(&e))?;
    let stake = U256::from(DEV_STAKE);
    ensure_staked(as_chain.as_ref(), owner, entry_point, paymaster, stake).await.map_err(|e| err(&e))?;
    let target = U256::from(DEV_DEPOSIT);
    let current = deposit_of(as_chain.as_ref(), paymaster).await.map_err(|e| err(&e))?;
    if current < target / U256::from(10) {
        top_up(as_chain.as_ref(), &key, paymaster, target - current).await.map_err(|e| err(&e))?;
    }
    let deposit = deposit_of(as_chain.as_ref(), paymaster).await.map_err(|e| err(&e))?;
    let chain_id = as_chain.chain_id().await.map_err(|e| err(&e))?;
    let default_policy = dev_policy()?;
    let mut all = vec![default_policy.clone()];
    all.extend(policies.into_iter().filter(|p| p.id != default_policy.id));
    let sponsor =
        Arc::new(Sponsor::new(key, SponsorConfig::new(paymaster, entry_point, chain_id), all, store, as_chain));
    Ok(DevSponsorship { sponsor, default_policy, paymaster, deposit })
}

impl DevSponsorship {
    /// The banner section printed by `keyward dev`.
    pub fn banner(&self) -> String {
        let eth = U256::from(1_000_000_000_000_000_000u128);
        format!(
            "\nGas sponsorship (ERC-7677 pm_getPaymasterStubData / pm_getPaymasterData on the same URL)\n  \
             Paymaster   {} (VerifyingPaymaster, staked, deposit {} ETH)\n  Signer      {} (mnemonic index {PAYMASTER_KEY_INDEX})\n  \
             Policy      {} ({})\n",
            self.paymaster,
            self.deposit / eth,
            self.sponsor.signer_address(),
            self.default_policy.id,
            self.default_policy.name.as_deref().unwrap_or_default(),
        )
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_dev_policy_id_is_a_v4_uuid() {
        let p = super::dev_policy().unwrap();
        assert_eq!(p.id.get_version_num(), 4);
        crate::config::check_policy(&p).unwrap();
    }
}
