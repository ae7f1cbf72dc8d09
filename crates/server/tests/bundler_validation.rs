//! Validation by simulation on the embedded chain (and once on anvil): good operations are
//! accepted with their facts, bad ones refused with the right ERC-7769 code and a clear message.
//!
//! Here, at the edge, because the codes are the edge's mapping of the bundler's refusals
//! (`keyward_server::bundler::reject_code`).

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use alloy::primitives::{Address, Bytes, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolValue;
use keyward_bundler::{RejectReason, ValidationConfig, validate_user_op};
use keyward_contracts::bindings::TestPaymaster;
use keyward_primitives::validation_data::MAX_U48;
use keyward_primitives::{PaymasterInit, UserOperation};
use keyward_server::bundler::reject_code;
use keyward_testkit::Harness;
use keyward_testkit::ops::{self, count_call};

const ETH: u64 = 1_000_000_000_000_000_000;

struct Setup {
    h: Harness,
    owner: PrivateKeySigner,
    account: Address,
    counter: Address,
}

async fn setup(h: Harness) -> Setup {
    let owner = PrivateKeySigner::random();
    let account = h.test_account(owner.address(), U256::from(ETH)).await;
    let counter = h.counter().await;
    Setup { h, owner, account, counter }
}

impl Setup {
    async fn signed(&self, edit: impl FnOnce(&mut UserOperation)) -> UserOperation {
        let mut op = ops::op(self.account, self.h.nonce(self.account, 0).await, count_call(self.counter));
        edit(&mut op);
        self.h.sign(&mut op, &self.owner).await;
        op
    }

    async fn validate(&self, op: &UserOperation) -> Result<keyward_bundler::ValidationOutcome, RejectReason> {
        validate_user_op(self.h.chain.as_ref(), &ValidationConfig::default(), op).await
    }

    async fn paymaster(&self) -> Address {
        let pm = self.h.deploy(keyward_contracts::artifacts::test_paymaster(), &self.h.ep.abi_encode()).await;
        self.h.transact(pm, TestPaymaster::depositCall {}, U256::from(ETH)).await;
        pm
    }
}

fn with_paymaster(op: &mut UserOperation, paymaster: Address, mode: u8) {
    op.paymaster = Some(PaymasterInit {
        paymaster,
        verification_gas_limit: 100_000,
        post_op_gas_limit: 100_000,
        data: Bytes::from(vec![mode]),
    });
}

async fn accepts_a_good_op_with_its_facts(s: &Setup) {
    let op = s.signed(|_| {}).await;
    let out = s.validate(&op).await.unwrap();
    assert_eq!(out.user_op_hash, op.hash(s.h.ep, s.h.chain_id().await));
    assert_eq!(out.prefund, op.required_prefund());
    assert!(out.pre_op_gas > op.pre_verification_gas, "validation gas is counted");
    assert_eq!((out.valid_after, out.valid_until), (0, MAX_U48));
}

#[tokio::test]
async fn good_op_is_accepted() {
    accepts_a_good_op_with_its_facts(&setup(Harness::embedded()).await).await;
}

#[tokio::test]
async fn good_op_is_accepted_on_anvil() {
    accepts_a_good_op_with_its_facts(&setup(Harness::anvil().await).await).await;
}

#[tokio::test]
async fn bad_signature_is_32507() {
    let s = setup(Harness::embedded()).await;
    let mut op = s.signed(|_| {}).await;
    // Signed by someone else.
    s.h.sign(&mut op, &PrivateKeySigner::random()).await;
    let err = s.validate(&op).await.unwrap_err();
    assert_eq!(err, RejectReason::InvalidSignature);
    assert_eq!(reject_code(&err), -32507);
}

#[tokio::test]
async fn reverting_validation_is_32500_with_the_reason() {
    let s = setup(Harness::embedded()).await;
    let mut op = s.signed(|_| {}).await;
    op.signature = Bytes::from_static(&[0xde, 0xad, 0xde, 0xad]);
    let err = s.validate(&op).await.unwrap_err();
    assert_eq!(reject_code(&err), -32500);
    assert_eq!(err.to_string(), "AA23 reverted: TestAccount: forced revert");
}

#[tokio::test]
async fn wrong_nonce_is_32500_aa25() {
    let s = setup(Harness::embedded()).await;
    let op = s.signed(|op| op.nonce = U256::from(5)).await;
    let err = s.validate(&op).await.unwrap_err();
    assert_eq!((reject_code(&err), err.to_string().as_str()), (-32500, "AA25 invalid account nonce"));
}

#[tokio::test]
async fn expired_or_expiring_window_is_32503() {
    let s = setup(Harness::embedded()).await;
    let now = s.h.latest_timestamp().await;
    // 77-byte signature: ECDSA ‖ validAfter (6 bytes) ‖ validUntil (6 bytes).
    for (after, until, want) in [(0u64, now + 10, "expires at"), (now + 3_600, now + 7_200, "not valid before")] {
        let mut op = s.signed(|_| {}).await;
        let mut sig = op.signature.to_vec();
        sig.extend_from_slice(&after.to_be_bytes()[2..]);
        sig.extend_from_slice(&until.to_be_bytes()[2..]);
        op.signature = sig.into();
        let err = s.validate(&op).await.unwrap_err();
        assert_eq!(reject_code(&err), -32503, "{err}");
        assert!(err.to_string().starts_with(want), "{err}");
    }
}

#[tokio::test]
async fn paymaster_refusals_are_32501_naming_the_paymaster() {
    let s = setup(Harness::embedded()).await;
    let pm = s.paymaster().await;
    for (mode, want) in [(2u8, "AA33 reverted: TestPaymaster: validation reverted"), (3, "AA34")] {
        let op = s.signed(|op| with_paymaster(op, pm, mode)).await;
        let err = s.validate(&op).await.unwrap_err();
        assert_eq!(reject_code(&err), -32501, "{err}");
        match err {
            RejectReason::PaymasterRejected { paymaster, reason } => {
                assert_eq!(paymaster, pm);
                assert!(reason.contains(want), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
    // An accepting paymaster passes.
    let op = s.signed(|op| with_paymaster(op, pm, 0)).await;
    s.validate(&op).await.unwrap();
}

/// A change that makes an operation malformed.
type Tamper = Box<dyn FnOnce(&mut UserOperation)>;

#[tokio::test]
async fn malformed_fields_are_32602_before_any_simulation() {
    let s = setup(Harness::embedded()).await;
    let cases: Vec<(Tamper, &str)> = vec![
        (Box::new(|op| op.call_gas_limit = 1 << 120), "exceeds 2^120 - 1"),
        (Box::new(|op| op.verification_gas_limit = 20_000_000), "above this bundler's maximum"),
        (Box::new(|op| op.max_priority_fee_per_gas = op.max_fee_per_gas + 1), "above maxFeePerGas"),
        (Box::new(|op| op.pre_verification_gas = U256::from(21_000)), "preVerificationGas 21000 is below"),
        (
            Box::new(|op| {
                op.max_fee_per_gas = 1;
                op.max_priority_fee_per_gas = 1;
            }),
            "below the current base fee",
        ),
    ];
    for (edit, want) in cases {
        let op = s.signed(edit).await;
        let err = s.validate(&op).await.unwrap_err();
        assert_eq!(reject_code(&err), -32602, "{err}");
        assert!(err.to_string().contains(want), "{err} should say {want}");
    }
}

#[tokio::test]
async fn nonce_slot_is_where_the_entry_point_keeps_the_sequence() {
    let h = Harness::embedded();
    let sender = Address::with_last_byte(0x5e);
    let key = 7u64;
    let slot = keyward_bundler::validation::nonce_slot(sender, U256::from(key));
    h.chain
        .set_storage_at(h.ep, U256::from_be_bytes(slot.0), alloy::primitives::B256::from(U256::from(5)))
        .await
        .unwrap();
    assert_eq!(h.nonce(sender, key).await, (U256::from(key) << 64) | U256::from(5));
}

#[tokio::test]
async fn a_next_in_line_op_validates_assuming_the_pending_one_is_included() {
    let s = setup(Harness::embedded()).await;
    let op = s.signed(|op| op.nonce = U256::from(1)).await;
    let config = ValidationConfig::default();
    let err = validate_user_op(s.h.chain.as_ref(), &config, &op).await.unwrap_err();
    assert_eq!(err.to_string(), "AA25 invalid account nonce");
    let assume = keyward_bundler::validation::Assumptions { nonce_sequence: Some(1), ..Default::default() };
    keyward_bundler::validation::validate_user_op_with(s.h.chain.as_ref(), &config, &op, assume).await.unwrap();
}

#[tokio::test]
async fn insufficient_prefund_is_32500_aa21() {
    let h = Harness::embedded();
    let owner = PrivateKeySigner::random();
    let account = h.test_account(owner.address(), U256::ZERO).await; // no balance, no deposit, no paymaster
    let counter = h.counter().await;
    let mut op = ops::op(account, U256::ZERO, count_call(counter));
    h.sign(&mut op, &owner).await;
    let err = validate_user_op(h.chain.as_ref(), &ValidationConfig::default(), &op).await.unwrap_err();
    assert_eq!((reject_code(&err), err.to_string().as_str()), (-32500, "AA21 didn't pay prefund"));
}
