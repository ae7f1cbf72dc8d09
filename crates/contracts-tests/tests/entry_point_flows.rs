//! Keyward's EntryPoint v0.7: successful flows and their charging, to the wei — on the embedded
//! chain, and the same flows through `RpcChain` on a real anvil.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use alloy::primitives::{Address, Bytes, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolValue};
use keyward_contracts::bindings::{TestAccountFactory, TestCounter, TestPaymaster};
use keyward_primitives::entry_point::IEntryPoint::{self, IEntryPointEvents};
use keyward_primitives::{FactoryInit, PaymasterInit};
use keyward_testkit::ops::{self, count_call, execute_call};
use keyward_testkit::{Harness, ep_events};

const ETH: u64 = 1_000_000_000_000_000_000;

fn beneficiary() -> Address {
    PrivateKeySigner::random().address()
}

async fn counter_of(h: &Harness, counter: Address) -> U256 {
    h.read(counter, TestCounter::counterCall {}).await.unwrap()
}

fn op_events(events: &[IEntryPointEvents]) -> Vec<&IEntryPoint::UserOperationEvent> {
    events
        .iter()
        .filter_map(|e| match e {
            IEntryPointEvents::UserOperationEvent(u) => Some(u),
            _ => None,
        })
        .collect()
}

async fn owner_op_executes_and_charges_exactly(h: &Harness) {
    let owner = PrivateKeySigner::random();
    let account = h.test_account(owner.address(), U256::from(ETH)).await;
    let counter = h.counter().await;
    let mut op = ops::op(account, h.nonce(account, 0).await, count_call(counter));
    h.sign(&mut op, &owner).await;
    let hash = op.hash(h.ep, h.chain_id().await);
    let onchain: alloy::primitives::B256 =
        h.read(h.ep, IEntryPoint::getUserOpHashCall { userOp: op.pack() }).await.unwrap();
    assert_eq!(onchain, hash, "getUserOpHash == primitives::UserOperation::hash");

    let ben = beneficiary();
    let balance_before = h.balance(account).await;
    let receipt = h.handle_ops(vec![op.clone()], ben).await.unwrap();
    let events = ep_events(&receipt, h.ep);
    assert!(matches!(events.first(), Some(IEntryPointEvents::Deposited(_))), "prefund paid first: {events:?}");
    assert!(events.iter().any(|e| matches!(e, IEntryPointEvents::BeforeExecution(_))));
    let uo = op_events(&events);
    assert_eq!(uo.len(), 1);
    let uo = uo[0];
    assert!(uo.success);
    assert_eq!(uo.userOpHash, hash);
    assert_eq!(uo.sender, account);
    assert_eq!(uo.paymaster, Address::ZERO);
    assert_eq!(counter_of(h, counter).await, U256::from(1));
    assert_eq!(h.nonce(account, 0).await, U256::from(1));

    // Charging: the account paid the full prefund from its balance, was refunded into its
    // deposit, and the beneficiary received exactly actualGasCost.
    let prefund = op.required_prefund();
    assert_eq!(h.balance(account).await, balance_before - prefund);
    assert_eq!(h.deposit_of(account).await, prefund - uo.actualGasCost);
    assert_eq!(h.balance(ben).await, uo.actualGasCost);
    // The price: min(maxFee, basefee + tip) of the bundle's block.
    let block = h.chain.block_by_number(receipt.block_number.unwrap().into(), false).await.unwrap().unwrap();
    let base = u128::from(block.header.base_fee_per_gas.unwrap());
    let price = op.max_fee_per_gas.min(base + op.max_priority_fee_per_gas);
    assert_eq!(uo.actualGasCost, uo.actualGasUsed * U256::from(price));
}

#[tokio::test]
async fn unused_gas_penalty_is_ten_percent_of_unused_execution_gas() {
    // The same op on two identical fresh chains, differing only in the call gas limit. The
    // account's "accept" hook (0xda7ada7a ‖ validationData 0) stands in for an ECDSA signature,
    // whose gas varies with the signature's v byte and would blur the comparison.
    let accept: Bytes = [&[0xda, 0x7a, 0xda, 0x7a][..], &[0u8; 32][..]].concat().into();
    let mut used = Vec::new();
    for extra in [0u128, 100_000] {
        let h = Harness::embedded();
        let counter = h.counter().await;
        let account = h.test_account(Address::with_last_byte(0x0e), U256::from(ETH)).await;
        let mut op = ops::op(account, U256::ZERO, count_call(counter));
        op.call_gas_limit += extra;
        op.signature = accept.clone();
        let receipt = h.handle_ops(vec![op], Address::with_last_byte(0xbe)).await.unwrap();
        used.push(op_events(&ep_events(&receipt, h.ep))[0].actualGasUsed);
    }
    assert_eq!(used[1] - used[0], U256::from(10_000), "10% of 100,000 more unused gas");
}

async fn bundle_of_several_ops_pays_the_beneficiary_the_sum(h: &Harness) {
    let counter = h.counter().await;
    let mut bundle = Vec::new();
    for _ in 0..3 {
        let owner = PrivateKeySigner::random();
        let account = h.test_account(owner.address(), U256::from(ETH)).await;
        let mut op = ops::op(account, U256::ZERO, count_call(counter));
        h.sign(&mut op, &owner).await;
        bundle.push(op);
    }
    let ben = beneficiary();
    let receipt = h.handle_ops(bundle, ben).await.unwrap();
    let events = ep_events(&receipt, h.ep);
    let uos = op_events(&events);
    assert_eq!(uos.len(), 3);
    let total: U256 = uos.iter().map(|u| u.actualGasCost).sum();
    assert_eq!(h.balance(ben).await, total);
    assert_eq!(counter_of(h, counter).await, U256::from(3));
    // All validations happen before any execution: three Deposited, then BeforeExecution.
    let before_exec = events.iter().position(|e| matches!(e, IEntryPointEvents::BeforeExecution(_))).unwrap();
    assert_eq!(events[..before_exec].iter().filter(|e| matches!(e, IEntryPointEvents::Deposited(_))).count(), 3);
}

async fn paymaster_pays_and_post_op_sees_the_cost(h: &Harness) {
    let counter = h.counter().await;
    let pm = h.deploy(keyward_contracts::artifacts::test_paymaster(), &h.ep.abi_encode()).await;
    h.transact(pm, TestPaymaster::depositCall {}, U256::from(ETH)).await;
    let owner = PrivateKeySigner::random();
    let account = h.test_account(owner.address(), U256::ZERO).await; // holds nothing
    let mut op = ops::op(account, U256::ZERO, count_call(counter));
    op.paymaster = Some(PaymasterInit {
        paymaster: pm,
        verification_gas_limit: 100_000,
        post_op_gas_limit: 100_000,
        data: Bytes::from(vec![1u8]), // mode 1: context, so postOp runs
    });
    h.sign(&mut op, &owner).await;
    let ben = beneficiary();
    let receipt = h.handle_ops(vec![op.clone()], ben).await.unwrap();
    let events = ep_events(&receipt, h.ep);
    let uo = op_events(&events)[0];
    assert!(uo.success);
    assert_eq!(uo.paymaster, pm);
    assert_eq!(h.balance(account).await, U256::ZERO);
    assert_eq!(h.deposit_of(pm).await, U256::from(ETH) - uo.actualGasCost);
    assert_eq!(h.balance(ben).await, uo.actualGasCost);
    // postOp ran with mode opSucceeded and a cost below the final charge (its own gas and the
    // penalty come after).
    assert_eq!(U256::from(h.read(pm, TestPaymaster::postOpCountCall {}).await.unwrap()), U256::from(1));
    assert_eq!(h.read(pm, TestPaymaster::lastPostOpModeCall {}).await.unwrap(), 0, "opSucceeded");
    let seen = U256::from(h.read(pm, TestPaymaster::lastActualGasCostCall {}).await.unwrap());
    assert!(seen > U256::ZERO && seen < uo.actualGasCost, "postOp saw {seen}, charged {}", uo.actualGasCost);
}

async fn init_code_deploys_the_sender_in_the_first_op(h: &Harness) {
    let counter = h.counter().await;
    let factory = h.deploy(keyward_contracts::artifacts::test_account_factory(), &h.ep.abi_encode()).await;
    let owner = PrivateKeySigner::random();
    let salt = U256::from(7);
    let sender: Address =
        h.read(factory, TestAccountFactory::getAddressCall { owner: owner.address(), salt }).await.unwrap();
    // Fund the counterfactual address.
    let tx = alloy::rpc::types::TransactionRequest::default();
    let tx = alloy::network::TransactionBuilder::with_value(
        alloy::network::TransactionBuilder::with_to(tx, sender),
        U256::from(ETH),
    );
    h.send_tx(&h.keys[0], tx).await.unwrap();
    assert!(h.chain.code(sender).await.unwrap().is_empty());

    let mut op = ops::op(sender, U256::ZERO, count_call(counter));
    op.factory = Some(FactoryInit {
        factory,
        factory_data: TestAccountFactory::createAccountCall { owner: owner.address(), salt }.abi_encode().into(),
    });
    op.verification_gas_limit = 1_000_000;
    h.sign(&mut op, &owner).await;
    let receipt = h.handle_ops(vec![op.clone()], beneficiary()).await.unwrap();
    let events = ep_events(&receipt, h.ep);
    let deployed = events.iter().find_map(|e| match e {
        IEntryPointEvents::AccountDeployed(d) => Some(d),
        _ => None,
    });
    let deployed = deployed.expect("AccountDeployed");
    assert_eq!(deployed.sender, sender);
    assert_eq!(deployed.factory, factory);
    assert_eq!(deployed.paymaster, Address::ZERO);
    assert!(!h.chain.code(sender).await.unwrap().is_empty());
    assert!(op_events(&events)[0].success);
    assert_eq!(counter_of(h, counter).await, U256::from(1));
}

async fn execute_user_op_is_dispatched_with_the_whole_op(h: &Harness) {
    let counter = h.counter().await;
    let owner = PrivateKeySigner::random();
    let account = h.test_account(owner.address(), U256::from(ETH)).await;
    // callData = executeUserOp selector ‖ execute(counter, 0, count())
    let inner = count_call(counter);
    let call_data: Bytes = [&[0x8d, 0xd7, 0x71, 0x2f][..], inner.as_ref()].concat().into();
    let mut op = ops::op(account, U256::ZERO, call_data);
    h.sign(&mut op, &owner).await;
    let hash = op.hash(h.ep, h.chain_id().await);
    let receipt = h.handle_ops(vec![op], beneficiary()).await.unwrap();
    let executed =
        receipt.inner.logs().iter().any(|l| l.address() == account && l.topics().get(1).map(|t| t.0) == Some(hash.0));
    assert!(executed, "UserOpExecuted(userOpHash) emitted by the account");
    assert_eq!(counter_of(h, counter).await, U256::from(1));
}

async fn reverting_execution_is_charged_and_reported(h: &Harness) {
    let counter = h.counter().await;
    let owner = PrivateKeySigner::random();
    let account = h.test_account(owner.address(), U256::from(ETH)).await;
    let fail = execute_call(counter, U256::ZERO, TestCounter::failCall {}.abi_encode().into());
    let mut op = ops::op(account, U256::ZERO, fail);
    h.sign(&mut op, &owner).await;
    let ben = beneficiary();
    let receipt = h.handle_ops(vec![op], ben).await.unwrap();
    let events = ep_events(&receipt, h.ep);
    let reason = events.iter().find_map(|e| match e {
        IEntryPointEvents::UserOperationRevertReason(r) => Some(r.revertReason.clone()),
        _ => None,
    });
    let reason = reason.expect("UserOperationRevertReason");
    assert_eq!(alloy::sol_types::decode_revert_reason(&reason).as_deref(), Some("revert: TestCounter: failed"));
    let uo = op_events(&events)[0];
    assert!(!uo.success);
    assert_eq!(h.balance(ben).await, uo.actualGasCost);
    assert_eq!(h.nonce(account, 0).await, U256::from(1), "the nonce is used even when execution reverts");

    // Long revert data is cut to 2048 bytes.
    let long = execute_call(
        counter,
        U256::ZERO,
        TestCounter::failWithLengthCall { len: U256::from(5000) }.abi_encode().into(),
    );
    let mut op = ops::op(account, U256::from(1), long);
    op.call_gas_limit = 1_000_000;
    h.sign(&mut op, &owner).await;
    let receipt = h.handle_ops(vec![op], ben).await.unwrap();
    let reason = ep_events(&receipt, h.ep).into_iter().find_map(|e| match e {
        IEntryPointEvents::UserOperationRevertReason(r) => Some(r.revertReason),
        _ => None,
    });
    assert_eq!(reason.expect("revert reason").len(), 2048);
}

async fn post_op_revert_rolls_back_execution_but_charges(h: &Harness) {
    let counter = h.counter().await;
    let pm = h.deploy(keyward_contracts::artifacts::test_paymaster(), &h.ep.abi_encode()).await;
    h.transact(pm, TestPaymaster::depositCall {}, U256::from(ETH)).await;
    let owner = PrivateKeySigner::random();
    let account = h.test_account(owner.address(), U256::ZERO).await;
    let mut op = ops::op(account, U256::ZERO, count_call(counter));
    op.paymaster = Some(PaymasterInit {
        paymaster: pm,
        verification_gas_limit: 100_000,
        post_op_gas_limit: 100_000,
        data: Bytes::from(vec![6u8]),
    });
    h.sign(&mut op, &owner).await;
    let receipt = h.handle_ops(vec![op], beneficiary()).await.unwrap();
    let events = ep_events(&receipt, h.ep);
    assert!(events.iter().any(|e| matches!(e, IEntryPointEvents::PostOpRevertReason(_))));
    let uo = op_events(&events)[0];
    assert!(!uo.success);
    assert_eq!(counter_of(h, counter).await, U256::ZERO, "execution rolled back");
    assert_eq!(h.deposit_of(pm).await, U256::from(ETH) - uo.actualGasCost);
}

/// Runs each flow on a fresh embedded chain.
macro_rules! embedded {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(&super::Harness::embedded()).await;
                }
            )*
        }
    };
}

embedded!(
    owner_op_executes_and_charges_exactly,
    bundle_of_several_ops_pays_the_beneficiary_the_sum,
    paymaster_pays_and_post_op_sees_the_cost,
    init_code_deploys_the_sender_in_the_first_op,
    execute_user_op_is_dispatched_with_the_whole_op,
    reverting_execution_is_charged_and_reported,
    post_op_revert_rolls_back_execution_but_charges,
);

/// The same `handleOps` round trips on anvil, with our contracts placed by `anvil_setCode`.
#[tokio::test]
async fn flows_on_anvil() {
    let h = Harness::anvil().await;
    owner_op_executes_and_charges_exactly(&h).await;
    paymaster_pays_and_post_op_sees_the_cost(&h).await;
    init_code_deploys_the_sender_in_the_first_op(&h).await;
    bundle_of_several_ops_pays_the_beneficiary_the_sum(&h).await;
    reverting_execution_is_charged_and_reported(&h).await;
}
