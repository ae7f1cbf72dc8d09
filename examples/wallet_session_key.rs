//! The Wallet API session-key flow with the Rust SDK against a running `keyward dev` — the README's
//! "Quick start: Wallet API": an owner gets a smart account, grants a session key at most 0.01 ETH
//! to one recipient for an hour, and the session key sends 0.001 ETH from the account.
//!
//! ```sh
//! cargo run -p keyward -- dev &                                       # http://127.0.0.1:4337
//! cargo run -p keyward-examples --bin wallet_session_key [RPC_URL]
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::U256;
use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use anyhow::{Context, ensure};
use keyward_api::wallet::{Call, HexBigInt, Permission, PermissionsCapability, PrepareCallsCapabilities, StatusCode};
use keyward_sdk::wallet::{GrantPermissions, SmartWalletClient};

const MILLI_ETH: u128 = 1_000_000_000_000_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("KEYWARD_RPC_URL").ok())
        .unwrap_or_else(|| "http://127.0.0.1:4337".to_string());
    let node = ProviderBuilder::new().connect_http(url.parse()?);
    let chain_id = node.get_chain_id().await.with_context(|| format!("is keyward dev running at {url}?"))?;

    // 1. The owner's smart account (counterfactual: its first operation deploys it).
    let owner = PrivateKeySigner::random();
    let account = SmartWalletClient::new(&url, owner.clone(), chain_id)?.request_account().await?.account_address;
    println!("owner    {}\naccount  {account}", owner.address());
    // It pays its own gas here: 1 ETH from dev key 0.
    let funder = keyward_chain::dev_keys::dev_signer(0)?;
    let wallet = ProviderBuilder::new().wallet(EthereumWallet::from(funder)).connect_http(url.parse()?);
    let tx = TransactionRequest::default().with_to(account).with_value(U256::from(1000 * MILLI_ETH));
    ensure!(wallet.send_transaction(tx).await?.get_receipt().await?.status(), "funding the account failed");

    // 2. The owner grants a session key: at most 0.01 ETH, only to `recipient`, for one hour.
    let owner_client = SmartWalletClient::new(&url, owner, chain_id)?.with_account(account);
    let session_key = PrivateKeySigner::random();
    let recipient = PrivateKeySigner::random().address();
    let context = owner_client
        .grant_permissions(GrantPermissions {
            account: None,
            expiry_sec: SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() + 3600,
            session_key: session_key.address(),
            permissions: vec![
                Permission::NativeTokenTransfer { allowance: U256::from(10 * MILLI_ETH) },
                Permission::ContractAccess { address: recipient },
            ],
        })
        .await?;
    println!("session  key {} context {context}", session_key.address());

    // 3. The session key sends 0.001 ETH from the account and waits for the outcome.
    let session = SmartWalletClient::new(&url, session_key, chain_id)?.with_account(account);
    let permissions = PrepareCallsCapabilities {
        permissions: Some(PermissionsCapability::Context { context }),
        ..Default::default()
    };
    let call = Call { to: recipient, data: None, value: Some(HexBigInt::from(MILLI_ETH)) };
    let sent = session.send_calls(vec![call], Some(permissions)).await?;
    println!("call     {}", sent.id);
    let status = session.wait_for_calls_status(&sent.id, Duration::from_secs(60), Duration::from_millis(200)).await?;
    let tx = status.receipts.as_ref().and_then(|r| r.first()).map(|r| r.transaction_hash.to_string());
    println!("status   {} ({:?}), tx {}", status.status.code(), status.status, tx.unwrap_or_default());
    ensure!(status.status == StatusCode::Confirmed, "the call did not succeed");

    // The effect, onchain.
    let balance = node.get_balance(recipient).await?;
    println!("balance  {recipient} = {balance} wei");
    ensure!(balance == U256::from(MILLI_ETH), "expected {MILLI_ETH} wei at the recipient");
    Ok(())
}
