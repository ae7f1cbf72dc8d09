//! The account stack is created through the deterministic deployer: on the embedded chain (which
//! carries our copy of the deployer) and on anvil (which ships the original) it lands at the same
//! addresses with the same code, and a second run sends nothing.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use alloy::primitives::U256;
use keyward_chain::anvil::Anvil;
use keyward_chain::deploy::{deploy_account_stack, place_dev_contracts};
use keyward_chain::dev_keys::dev_signer;
use keyward_chain::{Chain, DevChain, EmbeddedChain, EmbeddedConfig};

use keyward_contracts::Deployment;
use keyward_contracts::deployment::{DETERMINISTIC_DEPLOYER, DETERMINISTIC_DEPLOYER_CODE};
use keyward_primitives::entry_point::IEntryPoint;

const ETH: u128 = 1_000_000_000_000_000_000;

async fn deploy_twice(chain: &dyn Chain) -> Deployment {
    let key = dev_signer(0).unwrap();
    let d = deploy_account_stack(chain, &key, U256::from(ETH)).await.unwrap();
    assert_eq!(d, Deployment::keyward(key.address()));
    for (name, address) in d.named() {
        assert!(!chain.code(address).await.unwrap().is_empty(), "{name} has no code at {address}");
    }
    let block = chain.block_number().await.unwrap();
    let again = deploy_account_stack(chain, &key, U256::from(ETH)).await.unwrap();
    assert_eq!(again, d);
    assert_eq!(chain.block_number().await.unwrap(), block, "a second run must send no transaction");
    d
}

async fn staked(chain: &dyn Chain, d: &Deployment) -> bool {
    use alloy::network::TransactionBuilder;
    use alloy::sol_types::SolCall;
    let call = IEntryPoint::getDepositInfoCall { account: d.factory };
    let tx = alloy::rpc::types::TransactionRequest::default().with_to(d.entry_point).with_input(call.abi_encode());
    let raw = chain.call(tx, None).await.unwrap();
    IEntryPoint::getDepositInfoCall::abi_decode_returns(&raw).unwrap().staked
}

#[tokio::test]
async fn embedded_and_anvil_get_the_same_stack() {
    let embedded = EmbeddedChain::open(EmbeddedConfig::default()).unwrap();
    let on_embedded = deploy_twice(embedded.as_ref()).await;
    assert!(staked(embedded.as_ref(), &on_embedded).await);

    let anvil = Anvil::start(31337).await.expect("anvil must be installed: npm install --prefix tools");
    let node = anvil.chain().unwrap();
    // anvil ships the deterministic deployer at genesis: the independent reference for our copy.
    assert_eq!(node.code(DETERMINISTIC_DEPLOYER).await.unwrap(), DETERMINISTIC_DEPLOYER_CODE);
    place_dev_contracts(&node).await.unwrap();
    let on_anvil = deploy_twice(&node).await;
    assert_eq!(on_anvil, on_embedded);
    assert!(staked(&node, &on_anvil).await);
    for (name, address) in on_embedded.named() {
        assert_eq!(
            node.code(address).await.unwrap(),
            embedded.code(address).await.unwrap(),
            "{name} differs between anvil and the embedded chain"
        );
    }
}

#[tokio::test]
async fn a_chain_without_the_deployer_gets_a_clear_error() {
    let anvil = Anvil::start(31337).await.expect("anvil must be installed: npm install --prefix tools");
    let node = anvil.chain().unwrap();
    node.set_code(DETERMINISTIC_DEPLOYER, Default::default()).await.unwrap();
    let err = deploy_account_stack(&node, &dev_signer(0).unwrap(), U256::ZERO).await.unwrap_err();
    assert!(err.to_string().contains("no deterministic deployer"), "{err}");
}
