//! Prints an owner's deferred grant for a session key (ERC-7769-friendly JSON): a fresh owner's
//! counterfactual account, its `initCode`, and account-kit's `deferredAction` blob that installs
//! the session key (SingleSigner, global, no hooks) in the session's first user operation. Used by
//! the compat suite, where account-kit's session client sends that first operation.
//!
//! ```sh
//! deferred_grant --session 0x… --entity 3 [--url URL]
//! ```

// Each example is a crate of its own that sees every dependency of the package.
#![allow(unused_crate_dependencies)]

#[path = "common.rs"]
mod common;

use alloy::primitives::{Address, U256};
use alloy::signers::local::PrivateKeySigner;
use anyhow::{Context, bail};
use keyward_primitives::ENTRY_POINT_V07;
use keyward_sdk::modular_account::SessionKeyValidation;
use keyward_sdk::{BundlerClient, ModularAccount};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut url = common::rpc_url();
    let (mut session, mut entity_id): (Option<Address>, Option<u32>) = (None, None);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--url" => url = v,
            "--session" => session = Some(v.parse().context("--session")?),
            "--entity" => entity_id = Some(v.parse().context("--entity")?),
            other => bail!("unknown flag {other}"),
        }
    }
    let session = session.context("--session is required")?;
    let entity_id = entity_id.context("--entity is required")?;

    let client = BundlerClient::new(&url, ENTRY_POINT_V07)?;
    let chain_id = client.chain_id().await?;
    let contracts = common::dev_contracts(&client).await?;
    let owner = ModularAccount::owner(PrivateKeySigner::random(), U256::ZERO, chain_id, contracts);
    let install = SessionKeyValidation::new(entity_id, session).global(true).to_install(&contracts.modules)?;
    let key = keyward_primitives::mav2::NonceKey::regular(U256::ZERO, entity_id, true, true)?;
    let next = client.entry_point_nonce(owner.address(), key.full_key()).await?;
    let sequence = u64::try_from(next & U256::from(u64::MAX))?;
    let grant = owner.grant_deferred_install(&install, true, 0, U256::ZERO, sequence).await?;
    let summary = serde_json::json!({
        "owner": owner.signer().address(),
        "account": owner.address(),
        "initCode": owner.init_code(),
        "entityId": entity_id,
        "nonce": grant.nonce,
        "deferredAction": grant.to_sdk_blob()?,
    });
    println!("{summary}");
    Ok(())
}
