//! What both examples share: the RPC URL, and where `keyward dev` put the account stack.

use alloy::primitives::Address;
use anyhow::Context;
use keyward_contracts::Deployment;
use keyward_sdk::{AccountContracts, BundlerClient};

/// The default `keyward dev` URL.
pub(crate) const DEFAULT_URL: &str = "http://127.0.0.1:4337";

/// `KEYWARD_RPC_URL`, else `DEFAULT_URL`.
pub(crate) fn rpc_url() -> String {
    std::env::var("KEYWARD_RPC_URL").unwrap_or_else(|_| DEFAULT_URL.to_string())
}

/// The account stack of `keyward dev`, checked to be deployed on the chain behind `client`.
pub(crate) async fn dev_contracts(client: &BundlerClient) -> anyhow::Result<AccountContracts> {
    let deployer = keyward_chain::dev_keys::dev_signer(keyward_chain::dev_keys::DEPLOYER_KEY_INDEX)?.address();
    let deployment = Deployment::keyward(deployer);
    let contracts = AccountContracts {
        entry_point: deployment.entry_point,
        factory: deployment.factory,
        semi_modular_account_impl: deployment.sma_impl,
        modules: deployment.modules,
    };
    for (name, at) in
        [("AccountFactory", contracts.factory), ("SingleSigner", contracts.modules.single_signer_validation)]
    {
        ensure_code(client, name, at).await?;
    }
    Ok(contracts)
}

async fn ensure_code(client: &BundlerClient, name: &str, at: Address) -> anyhow::Result<()> {
    let code = client.code(at).await.with_context(|| format!("reading the code of {name}"))?;
    anyhow::ensure!(!code.is_empty(), "no {name} at {at}: is this a `keyward dev` with the account stack?");
    Ok(())
}
