//! Building and sending bundles on the embedded chain: invalid operations are refused, a sender's
//! consecutive sequences share a bundle (a setup operation goes alone), operations that fail only together are dropped one by one, EIP-7702
//! operations go out in a type-4 transaction, and per-op receipts are cut from the bundle receipt.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use std::time::Duration;

use alloy::eips::eip7702::{Authorization, SignedAuthorization};
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes, U256};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolEvent, SolValue};
use keyward_bundler::bundle::{Admitted, BundleContext, Candidate, build_bundle, build_bundle_in};
use keyward_bundler::fees::current_fees;
use keyward_bundler::receipt::{included_entities, user_operation_receipt};
use keyward_bundler::submit::send_bundle;
use keyward_bundler::validation::Assumptions;
use keyward_bundler::{ValidationConfig, validate_user_op};
use keyward_chain::send::wait_receipt;
use keyward_contracts::bindings::{TestCounter, TestPaymaster};
use keyward_primitives::{PaymasterInit, UserOperation};
use keyward_testkit::Harness;
use keyward_testkit::ops::{self, count_call};

const ETH: u64 = 1_000_000_000_000_000_000;
const MAX_GAS: u64 = 15_000_000;

async fn account(h: &Harness, fund: U256) -> (PrivateKeySigner, Address) {
    let owner = PrivateKeySigner::random();
    let a = h.test_account(owner.address(), fund).await;
    (owner, a)
}

async fn candidate(h: &Harness, op: UserOperation) -> Candidate {
    Candidate { hash: op.hash(h.ep, h.chain_id().await), op, authorization: None }
}

async fn send(h: &Harness, bundle: &keyward_bundler::bundle::Bundle) -> alloy::rpc::types::TransactionReceipt {
    let bundler = &h.keys[9];
    let nonce = h.chain.transaction_count(bundler.address(), true).await.unwrap();
    let fees = current_fees(h.chain.as_ref()).await.unwrap();
    let hash = send_bundle(h.chain.as_ref(), bundler, bundle, h.ep, nonce, fees).await.unwrap();
    wait_receipt(h.chain.as_ref(), hash, Duration::from_secs(10)).await.unwrap()
}

async fn refuses_invalid_and_includes_consecutive_sequences_of_a_sender(h: Harness) {
    let counter = h.counter().await;
    let (owner_a, a) = account(&h, U256::from(ETH)).await;
    let (owner_b, b) = account(&h, U256::from(ETH)).await;
    let (_, c) = account(&h, U256::from(ETH)).await;
    let mut op_a = ops::op(a, U256::ZERO, count_call(counter));
    h.sign(&mut op_a, &owner_a).await;
    let mut op_a2 = ops::op(a, U256::from(1), count_call(counter));
    h.sign(&mut op_a2, &owner_a).await;
    let mut op_b = ops::op(b, U256::ZERO, count_call(counter));
    h.sign(&mut op_b, &owner_b).await;
    let mut op_c = ops::op(c, U256::ZERO, count_call(counter));
    h.sign(&mut op_c, &PrivateKeySigner::random()).await; // not its owner
    let cands = vec![
        candidate(&h, op_a.clone()).await,
        candidate(&h, op_a2).await,
        candidate(&h, op_c).await,
        candidate(&h, op_b).await,
    ];
    let (ha, ha2, hc, hb) = (cands[0].hash, cands[1].hash, cands[2].hash, cands[3].hash);
    let bundler = h.keys[9].address();
    let bundle =
        build_bundle(h.chain.as_ref(), &ValidationConfig::default(), cands, bundler, bundler, MAX_GAS).await.unwrap();
    assert_eq!(bundle.ops.iter().map(|c| c.hash).collect::<Vec<_>>(), vec![ha, ha2, hb]);
    assert!(bundle.deferred.is_empty(), "{:?}", bundle.deferred);
    assert_eq!(bundle.rejected.len(), 1);
    assert_eq!(bundle.rejected[0].0, hc);
    assert!(bundle.rejected[0].1.contains("signature"), "{}", bundle.rejected[0].1);

    let receipt = send(&h, &bundle).await;
    assert!(receipt.status());
    let r = user_operation_receipt(&receipt, h.ep, ha).expect("receipt of op a");
    assert!(r.success);
    assert_eq!(r.sender, a);
    assert_eq!(r.nonce, U256::ZERO);
    // Op a's logs: its prefund deposit is in validation, so only execution logs are here: the
    // counter's event, emitted by the counter.
    assert!(r.logs.iter().any(|l| l.address() == counter && l.topics()[0] == TestCounter::Counted::SIGNATURE_HASH));
    assert!(user_operation_receipt(&receipt, h.ep, hb).unwrap().success);
    assert!(user_operation_receipt(&receipt, h.ep, ha2).unwrap().success);
    assert!(user_operation_receipt(&receipt, h.ep, hc).is_none());
    assert_eq!(h.read(counter, TestCounter::counterCall {}).await.unwrap(), U256::from(3));
}

async fn ops_that_fail_only_together_are_dropped_one_by_one(h: Harness) {
    let counter = h.counter().await;
    let pm = h.deploy(keyward_contracts::artifacts::test_paymaster(), &h.ep.abi_encode()).await;
    let mut ops_ = Vec::new();
    for _ in 0..2 {
        let (owner, a) = account(&h, U256::ZERO).await;
        let mut op = ops::op(a, U256::ZERO, count_call(counter));
        op.paymaster = Some(PaymasterInit {
            paymaster: pm,
            verification_gas_limit: 100_000,
            post_op_gas_limit: 100_000,
            data: Bytes::new(),
        });
        h.sign(&mut op, &owner).await;
        ops_.push(op);
    }
    // Deposit enough for exactly one operation's prefund: each validates alone, not both together.
    let prefund = ops_[0].required_prefund();
    h.transact(pm, TestPaymaster::depositCall {}, prefund + prefund / U256::from(2)).await;
    let cands = vec![candidate(&h, ops_[0].clone()).await, candidate(&h, ops_[1].clone()).await];
    let second = cands[1].hash;
    let bundler = h.keys[9].address();
    let bundle =
        build_bundle(h.chain.as_ref(), &ValidationConfig::default(), cands, bundler, bundler, MAX_GAS).await.unwrap();
    assert_eq!(bundle.ops.len(), 1);
    assert_eq!(bundle.rejected, vec![(second, "AA31 paymaster deposit too low".to_string())]);
    let first = bundle.ops[0].hash;
    let receipt = send(&h, &bundle).await;
    assert!(receipt.status());
    // Its entities, read off the receipt: the sender and the paymaster (no factory).
    let r = user_operation_receipt(&receipt, h.ep, first).unwrap();
    assert_eq!(included_entities(&receipt, &r), vec![ops_[0].sender, pm]);
}

/// An operation that deploys its account names its factory in the receipt (`AccountDeployed`):
/// the entities of an included operation are its sender and factory, as its fields give them.
async fn an_included_deployment_names_its_factory(h: Harness) {
    let m = keyward_testkit::mav2::Mav2::deploy(h).await;
    let a = m.counterfactual_account(U256::from(ETH)).await;
    let call = keyward_testkit::mav2::execute(m.h.keys[0].address(), U256::ZERO, Bytes::new());
    let mut op = m.owner_op(&a, call).await;
    m.sign_owner(&a, &mut op);
    let factory = op.factory.as_ref().map(|f| f.factory).unwrap();
    let cand = candidate(&m.h, op).await;
    let hash = cand.hash;
    let bundler = m.h.keys[9].address();
    let bundle = build_bundle(m.h.chain.as_ref(), &ValidationConfig::default(), vec![cand], bundler, bundler, MAX_GAS)
        .await
        .unwrap();
    assert_eq!(bundle.ops.len(), 1, "rejected: {:?}", bundle.rejected);
    let receipt = send(&m.h, &bundle).await;
    let r = user_operation_receipt(&receipt, m.h.ep, hash).unwrap();
    assert!(r.success);
    assert_eq!(included_entities(&receipt, &r), vec![a.address, factory]);
}

/// A funded EOA, its signed authorization delegating to a TestAccount implementation (storage
/// never used), and the signature the account's "accept" hook takes for any of its ops.
async fn delegating_eoa(h: &Harness) -> (Address, SignedAuthorization, Bytes) {
    let implementation = h.test_account(Address::with_last_byte(1), U256::ZERO).await;
    let eoa = PrivateKeySigner::random();
    h.send_tx(&h.keys[0], TransactionRequest::default().with_to(eoa.address()).with_value(U256::from(ETH)))
        .await
        .unwrap();
    let auth = Authorization { chain_id: U256::from(h.chain_id().await), address: implementation, nonce: 0 };
    let sig = eoa.sign_hash_sync(&auth.signature_hash()).unwrap();
    let accept: Bytes = [&[0xda, 0x7a, 0xda, 0x7a][..], &[0u8; 32][..]].concat().into();
    (eoa.address(), auth.into_signed(sig), accept)
}

async fn eip7702_operation_goes_out_in_a_type_4_transaction(h: Harness) {
    let counter = h.counter().await;
    let (eoa, auth, accept) = delegating_eoa(&h).await;
    let implementation = auth.address;
    let mut op = ops::op(eoa, U256::ZERO, count_call(counter));
    op.signature = accept;
    let cand = Candidate { hash: op.hash(h.ep, h.chain_id().await), op, authorization: Some(auth) };
    let hash = cand.hash;
    let bundler = h.keys[9].address();
    let bundle = build_bundle(h.chain.as_ref(), &ValidationConfig::default(), vec![cand], bundler, bundler, MAX_GAS)
        .await
        .unwrap();
    assert_eq!(bundle.ops.len(), 1, "rejected: {:?}", bundle.rejected);
    let receipt = send(&h, &bundle).await;
    assert_eq!(receipt.inner.tx_type() as u8, 4);
    assert!(user_operation_receipt(&receipt, h.ep, hash).unwrap().success);
    let code = h.chain.code(eoa).await.unwrap();
    assert_eq!(&code[..3], &[0xef, 0x01, 0x00]);
    assert_eq!(&code[3..], implementation.as_slice());
    assert_eq!(h.read(counter, TestCounter::counterCall {}).await.unwrap(), U256::from(1));
}

async fn a_later_nonce_waits_instead_of_failing(h: Harness) {
    // Sequence 1 offered while sequence 0 is elsewhere (pending, or in a bundle not yet mined):
    // deferred, never refused; sequence 0 of the same account, once used, is refused.
    let counter = h.counter().await;
    let (owner, a) = account(&h, U256::from(ETH)).await;
    let mut later = ops::op(a, U256::from(1), count_call(counter));
    h.sign(&mut later, &owner).await;
    let later = candidate(&h, later).await;
    let bundler = h.keys[9].address();
    let config = ValidationConfig::default();
    let bundle = build_bundle(h.chain.as_ref(), &config, vec![later.clone()], bundler, bundler, MAX_GAS).await.unwrap();
    assert!(bundle.ops.is_empty() && bundle.rejected.is_empty());
    assert_eq!(bundle.deferred, vec![later.hash]);
    let mut first = ops::op(a, U256::ZERO, count_call(counter));
    h.sign(&mut first, &owner).await;
    let first = candidate(&h, first).await;
    let bundle = build_bundle(h.chain.as_ref(), &config, vec![first.clone()], bundler, bundler, MAX_GAS).await.unwrap();
    assert!(send(&h, &bundle).await.status());
    let again = build_bundle(h.chain.as_ref(), &config, vec![first.clone()], bundler, bundler, MAX_GAS).await.unwrap();
    assert_eq!(again.rejected.len(), 1);
    assert!(again.rejected[0].1.starts_with("AA25"), "{}", again.rejected[0].1);
}

async fn a_sequence_dropped_from_the_bundle_defers_the_ones_after_it(h: Harness) {
    // Sender b's op and a's sequence 0 share a paymaster whose deposit covers one prefund: the
    // whole-bundle check drops a's sequence 0 (AA31); a's sequence 1, which pays for itself, must
    // then wait (deferred, not refused: without sequence 0 it would fail AA25).
    let counter = h.counter().await;
    let pm = h.deploy(keyward_contracts::artifacts::test_paymaster(), &h.ep.abi_encode()).await;
    let sponsored = |op: &mut UserOperation| {
        op.paymaster = Some(PaymasterInit {
            paymaster: pm,
            verification_gas_limit: 100_000,
            post_op_gas_limit: 100_000,
            data: Bytes::new(),
        })
    };
    let (owner_b, b) = account(&h, U256::ZERO).await;
    let (owner_a, a) = account(&h, U256::from(ETH)).await;
    let mut op_b = ops::op(b, U256::ZERO, count_call(counter));
    sponsored(&mut op_b);
    h.sign(&mut op_b, &owner_b).await;
    let mut op_a0 = ops::op(a, U256::ZERO, count_call(counter));
    sponsored(&mut op_a0);
    h.sign(&mut op_a0, &owner_a).await;
    let mut op_a1 = ops::op(a, U256::from(1), count_call(counter));
    h.sign(&mut op_a1, &owner_a).await;
    let prefund = op_b.required_prefund();
    h.transact(pm, TestPaymaster::depositCall {}, prefund + prefund / U256::from(2)).await;
    let cands = vec![candidate(&h, op_b).await, candidate(&h, op_a0).await, candidate(&h, op_a1).await];
    let (hb, ha0, ha1) = (cands[0].hash, cands[1].hash, cands[2].hash);
    let bundler = h.keys[9].address();
    let bundle =
        build_bundle(h.chain.as_ref(), &ValidationConfig::default(), cands, bundler, bundler, MAX_GAS).await.unwrap();
    assert_eq!(bundle.ops.iter().map(|c| c.hash).collect::<Vec<_>>(), vec![hb]);
    assert_eq!(bundle.rejected, vec![(ha0, "AA31 paymaster deposit too low".to_string())]);
    assert_eq!(bundle.deferred, vec![ha1]);
    assert_eq!(bundle.gas_limit, 100_000 + keyward_bundler::bundle::op_gas_limit(&bundle.ops[0].op));
    assert!(send(&h, &bundle).await.status());
}

async fn an_operation_carrying_a_delegation_goes_alone(h: Harness) {
    let counter = h.counter().await;
    let (eoa, auth, accept) = delegating_eoa(&h).await;
    let mut first = ops::op(eoa, U256::ZERO, count_call(counter));
    first.signature = accept.clone();
    let mut second = ops::op(eoa, U256::from(1), count_call(counter));
    second.signature = accept;
    let chain_id = h.chain_id().await;
    let first = Candidate { hash: first.hash(h.ep, chain_id), op: first, authorization: Some(auth) };
    let second = Candidate { hash: second.hash(h.ep, chain_id), op: second, authorization: None };
    let (h1, h2) = (first.hash, second.hash);
    let bundler = h.keys[9].address();
    let bundle = build_bundle(
        h.chain.as_ref(),
        &ValidationConfig::default(),
        vec![first, second.clone()],
        bundler,
        bundler,
        MAX_GAS,
    )
    .await
    .unwrap();
    assert_eq!(bundle.ops.iter().map(|c| c.hash).collect::<Vec<_>>(), vec![h1]);
    assert_eq!(bundle.deferred, vec![h2]);
    assert!(send(&h, &bundle).await.status());
    // Once the delegation is live, the next sequence goes on its own.
    let bundle = build_bundle(h.chain.as_ref(), &ValidationConfig::default(), vec![second], bundler, bundler, MAX_GAS)
        .await
        .unwrap();
    assert_eq!(bundle.ops.iter().map(|c| c.hash).collect::<Vec<_>>(), vec![h2], "rejected: {:?}", bundle.rejected);
    assert!(send(&h, &bundle).await.status());
    assert_eq!(h.read(counter, TestCounter::counterCall {}).await.unwrap(), U256::from(2));
}

/// The head a bundle is built on, (number, hash).
async fn head(h: &Harness) -> (u64, alloy::primitives::B256) {
    let b = h.chain.block_by_number(alloy::eips::BlockNumberOrTag::Latest, false).await.unwrap().unwrap();
    (b.header.number, b.header.hash)
}

/// On the head its admission validated, under the same assumptions, a candidate is not simulated
/// again: the admission's outcome stands in, and STO-041 is still judged against the pool at bundle
/// time from the admission's facts. On a later head it is simulated again.
async fn a_candidate_on_its_admission_head_is_not_simulated_again(h: Harness) {
    let counter = h.counter().await;
    let (owner, a) = account(&h, U256::from(ETH)).await;
    let mut op = ops::op(a, U256::ZERO, count_call(counter));
    h.sign(&mut op, &owner).await;
    let config = ValidationConfig::default();
    let outcome = validate_user_op(h.chain.as_ref(), &config, &op).await.unwrap();
    let c = candidate(&h, op).await;
    let admitted = Admitted {
        head: outcome.head,
        assumptions: Assumptions::default(),
        storage_contracts: outcome.facts.storage_contracts.clone(),
        code_hashes: outcome.facts.code_hashes.clone(),
    };
    assert_eq!(outcome.head, head(&h).await);
    let bundler = h.keys[9].address();
    let build = |context: BundleContext| {
        let (chain, config, c) = (h.chain.clone(), config.clone(), c.clone());
        async move {
            build_bundle_in(chain.as_ref(), &config, vec![c], (bundler, bundler), MAX_GAS, &context).await.unwrap()
        }
    };
    let mut context = BundleContext { head: Some(head(&h).await), ..Default::default() };
    context.admitted.insert(c.hash, admitted.clone());

    let bundle = build(context.clone()).await;
    assert_eq!(bundle.reused_admissions, vec![c.hash]);
    assert_eq!(bundle.ops.iter().map(|o| o.hash).collect::<Vec<_>>(), vec![c.hash]);

    // STO-041 from the admission's facts: storage of another pooled sender defers it.
    let other = Address::with_last_byte(0x77);
    let mut sto041 = context.clone();
    sto041.admitted.insert(c.hash, Admitted { storage_contracts: vec![other], ..admitted.clone() });
    sto041.known_senders.insert(other);
    let bundle = build(sto041).await;
    assert_eq!((bundle.ops.len(), bundle.deferred.clone()), (0, vec![c.hash]));

    // Other assumptions (a pending predecessor) or another head: simulated again.
    let mut assumed = context.clone();
    assumed.admitted.insert(
        c.hash,
        Admitted { assumptions: Assumptions { nonce_sequence: Some(0), ..Default::default() }, ..admitted },
    );
    let bundle = build(assumed).await;
    assert!(bundle.reused_admissions.is_empty());
    assert_eq!(bundle.ops.len(), 1);
    let tx = TransactionRequest::default().with_to(Address::with_last_byte(0x78)).with_value(U256::from(1));
    assert!(h.send_tx(&h.keys[1], tx).await.unwrap().status());
    context.head = Some(head(&h).await);
    let bundle = build(context).await;
    assert!(bundle.reused_admissions.is_empty(), "a new block: the candidate is validated again");
    assert_eq!(bundle.ops.len(), 1);
    assert!(send(&h, &bundle).await.status());
    assert_eq!(h.read(counter, TestCounter::counterCall {}).await.unwrap(), U256::from(1));
}

/// Each scenario on a fresh embedded chain and on a fresh anvil.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $( #[tokio::test] async fn $name() { super::$name(super::Harness::embedded()).await; } )*
        }
        mod anvil {
            $( #[tokio::test] async fn $name() { super::$name(super::Harness::anvil().await).await; } )*
        }
    };
}

on_both_backends!(
    refuses_invalid_and_includes_consecutive_sequences_of_a_sender,
    a_sequence_dropped_from_the_bundle_defers_the_ones_after_it,
    an_operation_carrying_a_delegation_goes_alone,
    ops_that_fail_only_together_are_dropped_one_by_one,
    eip7702_operation_goes_out_in_a_type_4_transaction,
    a_later_nonce_waits_instead_of_failing,
    an_included_deployment_names_its_factory,
    a_candidate_on_its_admission_head_is_not_simulated_again,
);
