//! A custom permission module, as a third party would use one: deploy the template
//! `DailyCallLimitModule` (templates/permission-module: "at most N calls to a target per UTC day")
//! on a running `keyward dev`, install it for a session key next to Keyward's allowlist with the
//! low-level SDK, and watch the account enforce it onchain: two calls allowed, the third refused
//! (through the bundler and by an operation sent straight to the EntryPoint), then uninstalled.
//!
//! ```sh
//! cargo run -p keyward -- dev &                                   # http://127.0.0.1:4337
//! cargo run -p keyward-examples --bin custom_permission_module [RPC_URL]
//! ```

// Each example is a crate of its own that sees every dependency of the package.
#![allow(unused_crate_dependencies)]

#[path = "common.rs"]
mod common;

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolEvent, SolValue};
use anyhow::{Context, ensure};
use keyward_primitives::ENTRY_POINT_V07;
use keyward_primitives::entry_point::IEntryPoint;
use keyward_primitives::mav2::abi::Call;
use keyward_primitives::mav2::modules::{allow_target, entity_uninstall_data};
use keyward_sdk::modular_account::{GasOverrides, SessionHook, SessionKeyConnection, SessionKeyValidation};
use keyward_sdk::{BundlerClient, ModularAccount, SignerEntity};

alloy::sol! {
    interface IDailyCallLimit {
        function limits(uint32 entityId, address account) external view returns (address target, uint32 maxCallsPerDay);
        function callsLeftToday(uint32 entityId, address account) external view returns (uint256);
    }
    interface ICounter {
        function count() external payable;
    }
}

const ETH: u128 = 1_000_000_000_000_000_000;
/// The session's entity id, also the hook's entity id on the module.
const ENTITY: u32 = 1;
/// Calls a day the session may make to the target.
const MAX_PER_DAY: u32 = 2;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::args().nth(1).unwrap_or_else(common::rpc_url);
    let client = BundlerClient::new(&url, ENTRY_POINT_V07)?;
    let chain_id = client.chain_id().await.with_context(|| format!("is keyward dev running at {url}?"))?;
    let contracts = common::dev_contracts(&client).await?;
    let dev0 = keyward_chain::dev_keys::dev_signer(0)?;
    let wallet = ProviderBuilder::new().wallet(EthereumWallet::from(dev0.clone())).connect_http(url.parse()?);

    // 1. Deploy the module (and a call target) as its author would.
    let mut deployed = Vec::new();
    for artifact in [
        keyward_contracts::artifacts::custom_modules::daily_call_limit_module(),
        keyward_contracts::artifacts::test_counter(),
    ] {
        let tx = TransactionRequest::default().with_deploy_code(artifact.bytecode.clone());
        let receipt = wallet.send_transaction(tx).await?.get_receipt().await?;
        let at = receipt.contract_address.context("no contract address")?;
        println!("deployed {} at {at}", artifact.contract_name);
        deployed.push(at);
    }
    let (module, counter) = (deployed[0], deployed[1]);

    // 2. The owner's account, funded from dev key 0 (it pays its own gas).
    let owner = ModularAccount::owner(PrivateKeySigner::random(), U256::ZERO, chain_id, contracts);
    let tx = TransactionRequest::default().with_to(owner.address()).with_value(U256::from(ETH));
    ensure!(wallet.send_transaction(tx).await?.get_receipt().await?.status(), "funding the account failed");

    // 3. The owner installs a session key: our allowlist (only the counter) + the custom module
    //    as a pre-execution hook, in one installValidation (its first op also deploys the account).
    let key = PrivateKeySigner::random();
    let install_data = Bytes::from((ENTITY, counter, MAX_PER_DAY).abi_encode_params());
    let session = SessionKeyValidation::new(ENTITY, key.address())
        .allowlist(vec![allow_target(counter)])
        .hook(SessionHook::custom_execution_hook(module, ENTITY, install_data, entity_uninstall_data(ENTITY)));
    let hash = owner.send_user_operation(&client, owner.encode_install_session_key(&session)?).await?;
    ensure!(client.wait_for_receipt(hash).await?.success, "installValidation reverted");
    println!(
        "account {}: session key {} installed with DailyCallLimitModule ({MAX_PER_DAY}/day)",
        owner.address(),
        key.address()
    );

    // 4. The session key calls the counter: twice allowed.
    let connection = SessionKeyConnection {
        account_address: owner.address(),
        signer_entity: SignerEntity::new(ENTITY, false),
        factory_args: None,
    };
    let sk = ModularAccount::session_key(key, connection, chain_id, contracts)?;
    let count = || vec![Call { target: counter, value: U256::ZERO, data: ICounter::countCall {}.abi_encode().into() }];
    for i in 1..=MAX_PER_DAY {
        let r = sk.send_calls(&client, count()).await?;
        ensure!(r.success, "call {i} should be allowed: {:?}", r.reason);
        println!("call {i}: allowed (user op {})", r.user_op_hash);
    }

    // 5. The third call today is refused onchain by the module.
    let refused = sk.send_calls(&client, count()).await;
    ensure!(refused.is_err(), "the bundler's estimate should see the hook revert");
    println!(
        "call 3 via the SDK: refused at estimation ({})",
        short(&refused.err().map(|e| e.to_string()).unwrap_or_default())
    );
    let fixed = GasOverrides {
        call_gas_limit: Some(300_000),
        verification_gas_limit: Some(600_000),
        pre_verification_gas: Some(U256::from(80_000)),
        ..Default::default()
    };
    let data = sk.encode_calls(&client, count()).await?;
    let op = sk.build_user_operation(&client, data.clone(), fixed.clone()).await?;
    let r = client.wait_for_receipt(client.send_user_operation(&op).await?).await?;
    ensure!(!r.success, "the module should revert the third call");
    println!("call 3 through the bundler: included, reverted onchain (user op {})", r.user_op_hash);
    let op = sk.build_user_operation(&client, data, fixed).await?;
    let handle = IEntryPoint::handleOpsCall { ops: vec![op.pack()], beneficiary: dev0.address() };
    let tx = TransactionRequest::default().with_to(contracts.entry_point).with_input(handle.abi_encode());
    let receipt = wallet.send_transaction(tx).await?.get_receipt().await?;
    let success = receipt
        .inner
        .logs()
        .iter()
        .find_map(|l| IEntryPoint::UserOperationEvent::decode_log_data(l.data()).ok().map(|e| e.success));
    ensure!(success == Some(false), "straight to the EntryPoint: expected a reverted op, got {success:?}");
    println!("call 3 straight to EntryPoint.handleOps: reverted onchain (tx {})", receipt.transaction_hash);

    // 6. The owner uninstalls the session: the module's state is cleared with its own data.
    let hash = owner.send_user_operation(&client, owner.encode_uninstall_session_key(&session)?).await?;
    ensure!(client.wait_for_receipt(hash).await?.success, "uninstallValidation reverted");
    let limits = IDailyCallLimit::limitsCall { entityId: ENTITY, account: owner.address() }.abi_encode();
    let out = client.call(module, limits.into(), "limits").await?;
    let limit = IDailyCallLimit::limitsCall::abi_decode_returns(&out)?;
    ensure!(limit.target == Address::ZERO && limit.maxCallsPerDay == 0, "module state left behind");
    let data = sk.encode_execute(counter, U256::ZERO, ICounter::countCall {}.abi_encode().into(), false);
    let gone = sk.build_user_operation(&client, data, GasOverrides::default()).await;
    ensure!(gone.is_err(), "the uninstalled session should be refused");
    println!("uninstalled: module state cleared, the session key is refused");
    Ok(())
}

fn short(s: &str) -> String {
    s.chars().take(160).collect()
}
