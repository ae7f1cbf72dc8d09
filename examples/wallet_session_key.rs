//! The Wallet API session-key flow with the Rust SDK against a running `keyward dev` — the README's
//! "Quick start: Wallet API": an owner gets a smart account, grants a session key access to one
//! recipient for an hour, and the session key makes a call from the account. No funding step: the
//! account holds 0 ETH and `keyward dev`'s default gas policy pays for the operation.
//!
//! ```sh
//! cargo run -p keyward -- dev &                                       # http://127.0.0.1:4337
//! cargo run -p keyward-examples --bin wallet_session_key [RPC_URL]
//! ```

// Each example is a crate of its own that sees every dependency of the package.
#![allow(unused_crate_dependencies)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy::primitives::U256;
use alloy::providers::{Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use anyhow::{Context, ensure};
use keyward_api::wallet::{Call, Permission, PermissionsCapability, PrepareCallsCapabilities, StatusCode};
use keyward_sdk::wallet::{GrantPermissions, SmartWalletClient};

/// The gas policy `keyward dev` ships (printed in its banner): it sponsors anything.
const DEV_POLICY_ID: &str = "4337e2b0-1a6d-4c3e-9f00-000000004337";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("KEYWARD_RPC_URL").ok())
        .unwrap_or_else(|| "http://127.0.0.1:4337".to_string());
    let node = ProviderBuilder::new().connect_http(url.parse()?);
    let chain_id = node.get_chain_id().await.with_context(|| format!("is keyward dev running at {url}?"))?;

    // 1. The owner's smart account (counterfactual: its first operation deploys it). It holds 0 ETH.
    let owner = PrivateKeySigner::random();
    let account = SmartWalletClient::new(&url, owner.clone(), chain_id)?.request_account().await?.account_address;
    println!("owner    {}\naccount  {account}", owner.address());

    // 2. The owner grants a session key: calls to `recipient` only, for one hour.
    let owner_client = SmartWalletClient::new(&url, owner, chain_id)?.with_account(account);
    let session_key = PrivateKeySigner::random();
    let recipient = PrivateKeySigner::random().address();
    let context = owner_client
        .grant_permissions(GrantPermissions {
            account: None,
            expiry_sec: SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() + 3600,
            session_key: session_key.address(),
            permissions: vec![Permission::ContractAccess { address: recipient }],
        })
        .await?;
    println!("session  key {} context {context}", session_key.address());

    // 3. The session key calls `recipient` (no ETH moved), its gas sponsored by the default policy
    //    (sent as `paymasterService.policyId` to wallet_prepareCalls and wallet_sendPreparedCalls),
    //    and waits for the outcome.
    let session = SmartWalletClient::new(&url, session_key, chain_id)?
        .with_account(account)
        .with_policy_ids(vec![DEV_POLICY_ID.parse()?]);
    let permissions = PrepareCallsCapabilities {
        permissions: Some(PermissionsCapability::Context { context }),
        ..Default::default()
    };
    let call = Call { to: recipient, data: None, value: None };
    let sent = session.send_calls(vec![call], Some(permissions)).await?;
    println!("call     {}", sent.id);
    let status = session.wait_for_calls_status(&sent.id, Duration::from_secs(60), Duration::from_millis(200)).await?;
    let tx = status.receipts.as_ref().and_then(|r| r.first()).map(|r| r.transaction_hash.to_string());
    println!("status   {} ({:?}), tx {}", status.status.code(), status.status, tx.unwrap_or_default());
    ensure!(status.status == StatusCode::Confirmed, "the call did not succeed");

    // The effect, onchain: the account is deployed and still holds 0 ETH (the paymaster paid).
    let code = node.get_code_at(account).await?;
    let balance = node.get_balance(account).await?;
    println!("onchain  {account}: {} bytes of code, balance {balance} wei", code.len());
    ensure!(!code.is_empty(), "the account has no code");
    ensure!(balance == U256::ZERO, "expected the account to hold 0 wei (gas sponsored), it holds {balance}");
    Ok(())
}
