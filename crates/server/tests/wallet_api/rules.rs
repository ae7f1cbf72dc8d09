//! Keyward's extension permission types through the Wallet API: a subscription session
//! (`erc20-token-periodic`) pays exactly its allowance in each of three periods, `call-limit`
//! and `function-arguments` refuse what is out of bounds with errors naming the rule, and
//! `wallet_listSessions` shows what is left. (Each rule's onchain enforcement, with operations sent
//! straight to the EntryPoint and the period edges to the second, is in
//! crates/contracts-tests/tests/account_session_rules.rs.)

use alloy::primitives::{Address, U256};
use alloy::sol_types::SolCall;
use keyward_api::wallet::{ListSessionsParams, StatusCode, WalletApiClient};
use keyward_contracts::bindings::TestToken;

use crate::env::Env;
use crate::sessions::{call, count, deployed_account, new_key, prepare_error, run};

fn transfer(to: Address, amount: u64) -> Vec<u8> {
    TestToken::transferCall { to, amount: U256::from(amount) }.abi_encode()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_pays_exactly_its_allowance_each_period() {
    let env = Env::new().await;
    let o = deployed_account(&env).await;
    let token = env.h.deploy(keyward_contracts::artifacts::test_token(), &[]).await;
    env.h.transact(token, TestToken::mintCall { to: o.account, amount: U256::from(1000) }, U256::ZERO).await;
    let merchant = Address::with_last_byte(0x3e);
    let period = 30 * 86_400u64;
    let (key, ctx) = new_key(
        &env,
        &o,
        serde_json::json!([
            { "type": "erc20-token-periodic",
              "data": { "address": token, "allowance": "0xa", "periodSec": period } },
            { "type": "function-arguments",
              "data": { "address": token, "function": "0xa9059cbb",
                        "conditions": [{ "arg": 0, "op": "eq", "values": [merchant] }] } },
            { "type": "call-limit", "data": { "count": 1, "periodSec": period } },
        ]),
    )
    .await;
    for p in 0..3u64 {
        if p > 0 {
            // The next period, with a block in it (calls are simulated against the latest block);
            // a minute more, as the dev chain's blocks may run a few seconds ahead of its clock.
            env.h.chain.increase_time(period + 60).await.unwrap();
            env.h.chain.mine().await.unwrap();
        }
        assert_eq!(
            run(&env, o.account, vec![call(token, transfer(merchant, 10), 0)], &ctx, &key).await,
            StatusCode::Confirmed
        );
        // One unit more in the same period: refused before anything is sent, naming the module's error.
        let (code, message) = prepare_error(&env, o.account, vec![call(token, transfer(merchant, 1), 0)], &ctx).await;
        assert_eq!(code, -32000, "{message}");
        assert!(message.contains("SpendLimitExceeded") || message.contains("CallLimitExceeded"), "{message}");
    }
    let paid = env.h.read(token, TestToken::balanceOfCall(merchant)).await.unwrap();
    assert_eq!(paid, U256::from(30));
    // Another recipient is refused by the precheck, naming the rule.
    let (code, message) =
        prepare_error(&env, o.account, vec![call(token, transfer(Address::with_last_byte(1), 1), 0)], &ctx).await;
    assert_eq!(code, -32000, "{message}");
    assert!(message.contains("function-arguments"), "{message}");
    // Listed with what is left in the current period.
    let p = ListSessionsParams { account: o.account, chain_id: u32::try_from(env.chain_id).unwrap().into() };
    let sessions = env.client.list_sessions(p).await.unwrap().sessions;
    let budgets = &sessions[0].budgets;
    let left = |ty: &str| budgets.iter().find(|b| b.ty == ty).map(|b| b.remaining.0).unwrap();
    assert_eq!(left("erc20-token-periodic"), U256::ZERO);
    assert_eq!(left("call-limit"), U256::ZERO);
    env.h.chain.increase_time(period + 60).await.unwrap();
    env.h.chain.mine().await.unwrap();
    let p = ListSessionsParams { account: o.account, chain_id: u32::try_from(env.chain_id).unwrap().into() };
    let sessions = env.client.list_sessions(p).await.unwrap().sessions;
    let budgets = &sessions[0].budgets;
    let left = |ty: &str| budgets.iter().find(|b| b.ty == ty).map(|b| b.remaining.0).unwrap();
    assert_eq!(left("erc20-token-periodic"), U256::from(10), "refilled in the next period");
    assert_eq!(left("call-limit"), U256::from(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_rules_are_refused_with_the_rule_named() {
    let env = Env::new().await;
    let o = deployed_account(&env).await;
    let counter = env.h.counter().await;
    for (permissions, expected) in [
        (
            serde_json::json!([{ "type": "call-limit", "data": { "count": 0 } },
                             { "type": "contract-access", "data": { "address": counter } }]),
            "count must be at least 1",
        ),
        (
            serde_json::json!([{ "type": "native-token-periodic", "data": { "allowance": "0x1", "periodSec": 0 } },
                             { "type": "contract-access", "data": { "address": counter } }]),
            "periodSec",
        ),
        (
            serde_json::json!([{ "type": "function-arguments", "data": { "address": counter, "function": "0x06661abd",
                               "conditions": [{ "arg": 0, "op": "eq", "values": ["0x01", "0x02"] }] } },
                             { "type": "contract-access", "data": { "address": counter } }]),
            "exactly one value",
        ),
    ] {
        let p = crate::sessions::session_params(&env, o.account, Address::with_last_byte(9), permissions, 0);
        let err = env.client.create_session(p).await.unwrap_err().to_string();
        assert!(err.contains(expected), "{err}");
    }
    let _ = count();
}
