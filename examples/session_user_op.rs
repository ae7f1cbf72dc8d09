//! Prints a session key's signed user operation as ERC-7769 JSON, without sending it:
//! `execute(to, value, 0x)` from `account` through the session's validation, nonce, gas and fees
//! filled in from the running `keyward dev`.
//!
//! ```sh
//! session_user_op --account 0x… --key 0x… --entity 1 [--scoped] --to 0x… --value WEI [--url URL]
//! ```

// Each example is a crate of its own that sees every dependency of the package.
#![allow(unused_crate_dependencies)]

#[path = "common.rs"]
mod common;

use alloy::primitives::{Address, Bytes, U256};
use alloy::signers::local::PrivateKeySigner;
use anyhow::{Context, bail};
use keyward_api::bundler::RpcUserOperation;
use keyward_primitives::ENTRY_POINT_V07;
use keyward_primitives::mav2::abi::Call;
use keyward_sdk::modular_account::{GasOverrides, SessionKeyConnection};
use keyward_sdk::{BundlerClient, ModularAccount, SignerEntity};

struct Args {
    url: String,
    account: Address,
    key: PrivateKeySigner,
    entity_id: u32,
    global: bool,
    to: Address,
    value: U256,
}

fn parse() -> anyhow::Result<Args> {
    let mut url = common::rpc_url();
    let (mut account, mut key, mut entity_id, mut to, mut value) = (None, None, None, None, U256::ZERO);
    let mut global = true;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--scoped" {
            global = false;
            continue;
        }
        let v = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--url" => url = v,
            "--account" => account = Some(v.parse().context("--account")?),
            "--key" => key = Some(v.parse().context("--key")?),
            "--entity" => entity_id = Some(v.parse().context("--entity")?),
            "--to" => to = Some(v.parse().context("--to")?),
            "--value" => value = v.parse().context("--value")?,
            other => bail!("unknown flag {other}"),
        }
    }
    Ok(Args {
        url,
        account: account.context("--account is required")?,
        key: key.context("--key is required")?,
        entity_id: entity_id.context("--entity is required")?,
        global,
        to: to.context("--to is required")?,
        value,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = parse()?;
    let client = BundlerClient::new(&a.url, ENTRY_POINT_V07)?;
    let chain_id = client.chain_id().await?;
    let contracts = common::dev_contracts(&client).await?;
    let connection = SessionKeyConnection {
        account_address: a.account,
        signer_entity: SignerEntity::new(a.entity_id, a.global),
        factory_args: None,
    };
    let sk = ModularAccount::session_key(a.key, connection, chain_id, contracts)?;
    let call_data = sk.encode_calls(&client, vec![Call { target: a.to, value: a.value, data: Bytes::new() }]).await?;
    let op = sk.build_user_operation(&client, call_data, GasOverrides::default()).await?;
    println!("{}", serde_json::to_string(&RpcUserOperation { op, eip7702_auth: None })?);
    Ok(())
}
