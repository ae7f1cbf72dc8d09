//! `RpcChain` against a real anvil node passes the same scenarios as the embedded chain, and
//! Keyward's contracts can be placed there at their canonical addresses.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

mod common;

use keyward_chain::anvil::Anvil;
use keyward_chain::deploy::place_dev_contracts;
use keyward_chain::{Chain, RpcChain};
use keyward_primitives::{ENTRY_POINT_V07, SENDER_CREATOR_V07};

async fn node() -> (Anvil, RpcChain) {
    let anvil = Anvil::start(31337).await.expect("anvil must be installed: npm ci --prefix tools");
    let chain = anvil.chain().unwrap();
    place_dev_contracts(&chain).await.unwrap();
    (anvil, chain)
}

#[tokio::test]
async fn scenarios_pass_on_anvil() {
    let (_anvil, chain) = node().await;
    common::transfer_changes_balances_exactly(&chain).await;
    common::deploy_and_filter_logs(&chain).await;
    common::estimate_and_overrides(&chain).await;
    common::stale_nonce_is_refused(&chain).await;
    common::eip7702_delegation(&chain).await;
    common::dev_controls(&chain).await;
    common::fees(&chain).await;
    common::storage_survives_touching_the_account(&chain).await;
}

#[tokio::test]
async fn contracts_are_placed_at_canonical_addresses() {
    let (_anvil, chain) = node().await;
    assert_eq!(
        chain.code(ENTRY_POINT_V07).await.unwrap(),
        keyward_contracts::artifacts::entry_point().deployed_bytecode
    );
    assert_eq!(
        chain.code(SENDER_CREATOR_V07).await.unwrap(),
        keyward_contracts::artifacts::sender_creator().deployed_bytecode
    );
    assert_eq!(chain.transaction_count(ENTRY_POINT_V07, false).await.unwrap(), 2);
}
