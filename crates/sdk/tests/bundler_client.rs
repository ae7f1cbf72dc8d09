//! The bundler client's own behaviour against an in-process `keyward dev`: the EntryPoint it
//! serves, bad input answered with the bundler's error code, the receipt wait timing out, and a
//! malformed URL refused before any request.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

mod common;

use std::time::{Duration, Instant};

use alloy::primitives::{Address, B256, U256};
use keyward_primitives::{ENTRY_POINT_V07, UserOperation};
use keyward_sdk::{BundlerClient, BundlerClientError};

use common::Dev;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entry_point_errors_and_receipt_timeout() {
    let dev = Dev::start("client").await;
    let client = dev.client();
    assert_eq!(client.supported_entry_points().await.unwrap(), vec![ENTRY_POINT_V07]);
    assert_eq!(client.chain_id().await.unwrap(), dev.chain_id);

    // An op from an address without code and without factory: refused with the bundler's code.
    let op = UserOperation {
        sender: Address::with_last_byte(0x99),
        nonce: U256::ZERO,
        call_gas_limit: 100_000,
        verification_gas_limit: 100_000,
        pre_verification_gas: U256::from(60_000),
        max_fee_per_gas: 3_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        signature: vec![0u8; 65].into(),
        ..Default::default()
    };
    let err = client.send_user_operation(&op).await.unwrap_err();
    assert!(matches!(err, BundlerClientError::Rpc { .. }), "{err}");
    assert_eq!(err.code(), Some(-32500), "{err}");
    assert!(err.to_string().contains("AA20"), "{err}");

    // No receipt for an unknown hash: a Timeout after the configured wait, not a hang.
    let client = client.with_polling(Duration::from_millis(20), Duration::from_millis(300));
    let start = Instant::now();
    let err = client.wait_for_receipt(B256::repeat_byte(0x42)).await.unwrap_err();
    assert!(matches!(err, BundlerClientError::Timeout { hash, .. } if hash == B256::repeat_byte(0x42)), "{err}");
    assert!(start.elapsed() >= Duration::from_millis(300) && start.elapsed() < Duration::from_secs(5));
}

#[test]
fn malformed_url_is_refused() {
    let err = BundlerClient::new("not a url", ENTRY_POINT_V07).unwrap_err();
    assert!(matches!(err, BundlerClientError::InvalidUrl { ref url, .. } if url == "not a url"), "{err}");
}
