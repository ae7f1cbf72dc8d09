//! `keyward check-module` against a `keyward dev` child process: the template permission module
//! passes every check; the deliberately bad hook (a global slot in validation) fails the ERC-7562
//! checks with the rule named, and the command exits non-zero.

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

mod common;

use std::process::Command;

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, Bytes};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::SolValue;
use keyward_contracts::artifacts::custom_modules;

use common::Dev;

async fn deploy(url: &str, creation: &Bytes) -> Address {
    let key = keyward_chain::dev_keys::dev_signer(0).unwrap();
    let provider = ProviderBuilder::new().wallet(EthereumWallet::from(key)).connect_http(url.parse().unwrap());
    let tx = TransactionRequest::default().with_deploy_code(creation.clone());
    let receipt = provider.send_transaction(tx).await.unwrap().get_receipt().await.unwrap();
    receipt.contract_address.unwrap()
}

fn check_module(url: &str, module: Address, kind: &str, install_data: &[u8]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["check-module", "--rpc-url", url, "--module", &module.to_string(), "--kind", kind])
        .args(["--install-data", &alloy::hex::encode_prefixed(install_data)])
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_passes_and_the_unassociated_storage_hook_fails_with_the_rule_named() {
    let dev = Dev::start(&[]);
    let good = deploy(&dev.url, &custom_modules::daily_call_limit_module().bytecode).await;
    let bad = deploy(&dev.url, &custom_modules::test_unassociated_storage_hook().bytecode).await;

    let install = (1u32, Address::with_last_byte(0x11), 3u32).abi_encode_params();
    let (code, out) = check_module(&dev.url, good, "execution-hook", &install);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.matches("PASS  (a)").count(), 2, "{out}");
    assert!(out.contains("PASS  (b)") && out.contains("TargetNotAllowed"), "{out}");
    assert!(out.contains("result: PASS (3 checks)"), "{out}");

    let (code, out) = check_module(&dev.url, bad, "validation-hook", &1u32.abi_encode());
    assert_eq!(code, 1, "{out}");
    assert_eq!(out.matches("FAIL  (a)").count(), 2, "{out}");
    assert!(out.contains("ERC-7562") && out.contains("STO-010/021") && out.contains("slot 0x0"), "{out}");
    assert!(out.contains("PASS  (b)"), "a session still cannot call it: {out}");
    assert!(out.contains("result: FAIL (2 of 3 checks failed)"), "{out}");

    // A wrong address is a setup failure (exit 2), not a verdict.
    let (code, out) = check_module(&dev.url, Address::with_last_byte(0x42), "validation-hook", &[]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("has no code"), "{out}");
    dev.interrupt();
}
