//! The low-level session-key path against a running `keyward dev`, as the product docs show it:
//! create the owner's account, install a session key under entity id 1 with global validation,
//! reconnect as the session key to the same address, and send 1 ETH with it.
//!
//! ```sh
//! cargo run -p keyward -- dev &                                   # http://127.0.0.1:4337
//! cargo run -p keyward-examples --bin low_level_session_key [RPC_URL] [--json]
//! ```

// Each example is a crate of its own that sees every dependency of the package.
#![allow(unused_crate_dependencies)]

#[path = "common.rs"]
mod common;

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Bytes, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use anyhow::{Context, ensure};
use keyward_primitives::ENTRY_POINT_V07;
use keyward_primitives::mav2::abi::Call;
use keyward_sdk::modular_account::{SessionKeyConnection, SessionKeyValidation};
use keyward_sdk::{BundlerClient, ModularAccount, SignerEntity};

const ETH: u128 = 1_000_000_000_000_000_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let url = args.iter().find(|a| !a.starts_with("--")).cloned().unwrap_or_else(common::rpc_url);
    let say = |line: String| {
        if !json {
            println!("{line}");
        }
    };

    let client = BundlerClient::new(&url, ENTRY_POINT_V07)?;
    let chain_id = client.chain_id().await.with_context(|| format!("is keyward dev running at {url}?"))?;
    let contracts = common::dev_contracts(&client).await?;

    // 1. The owner's account: its address is known before it exists.
    let owner = ModularAccount::owner(PrivateKeySigner::random(), U256::ZERO, chain_id, contracts);
    say(format!("owner {}  account {} (counterfactual)", owner.signer().address(), owner.address()));
    // Fund it from dev key 0 (the account pays its own gas).
    let funder = keyward_chain::dev_keys::dev_signer(0)?;
    let wallet = ProviderBuilder::new().wallet(EthereumWallet::from(funder)).connect_http(url.parse()?);
    let tx = TransactionRequest::default().with_to(owner.address()).with_value(U256::from(2 * ETH));
    let funded = wallet.send_transaction(tx).await?.get_receipt().await?;
    ensure!(funded.status(), "funding the account failed");

    // 2. The owner installs a session key under entity id 1, global validation. This first op
    //    also deploys the account (factory args in the same op).
    let session_key = PrivateKeySigner::random();
    let session = SessionKeyValidation::new(1, session_key.address()).global(true);
    let install = owner.encode_install_session_key(&session)?;
    let hash = owner.send_user_operation(&client, install).await?;
    let installed = client.wait_for_receipt(hash).await?;
    ensure!(installed.success, "installValidation reverted: {:?}", installed.reason);
    say(format!(
        "session key {} installed (user op {hash}, tx {})",
        session_key.address(),
        installed.receipt.transaction_hash
    ));

    // 3. Reconnect as the session key to the same account address.
    let connection = SessionKeyConnection {
        account_address: owner.address(),
        signer_entity: SignerEntity { entity_id: 1, is_global_validation: true },
        factory_args: None,
    };
    let session_key_hex = alloy::hex::encode_prefixed(session_key.to_bytes());
    let sk = ModularAccount::session_key(session_key, connection, chain_id, contracts)?;

    // 4. Send 1 ETH with the session key.
    let recipient = PrivateKeySigner::random().address();
    let before = client.balance(sk.address()).await?;
    let sent =
        sk.send_calls(&client, vec![Call { target: recipient, value: U256::from(ETH), data: Bytes::new() }]).await?;
    ensure!(sent.success, "the session key's transfer reverted: {:?}", sent.reason);
    let after = client.balance(sk.address()).await?;
    let received = client.balance(recipient).await?;
    ensure!(received == U256::from(ETH), "recipient has {received} wei, expected 1 ETH");
    say(format!(
        "session key sent 1 ETH: user op {}  tx {}  block {}  gas used {}  cost {} wei",
        sent.user_op_hash,
        sent.receipt.transaction_hash,
        sent.receipt.block_number.unwrap_or_default(),
        sent.actual_gas_used,
        sent.actual_gas_cost
    ));
    say(format!("account balance {before} -> {after} wei; recipient {recipient} balance {received} wei"));

    if json {
        let summary = serde_json::json!({
            "chainId": chain_id,
            "entryPoint": contracts.entry_point,
            "factory": contracts.factory,
            "semiModularAccountImpl": contracts.semi_modular_account_impl,
            "singleSignerValidation": contracts.modules.single_signer_validation,
            "owner": owner.signer().address(),
            "account": sk.address(),
            "sessionKey": session_key_hex,
            "sessionKeyAddress": sk.signer().address(),
            "entityId": 1,
            "isGlobalValidation": true,
            "installUserOpHash": hash,
            "transferUserOpHash": sent.user_op_hash,
            "transferNonce": sent.nonce,
            "recipient": recipient,
            "recipientBalance": received,
        });
        println!("{summary}");
    }
    Ok(())
}
