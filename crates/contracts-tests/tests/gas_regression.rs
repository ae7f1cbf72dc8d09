//! Gas pins (issue #17): the `handleOps` / transaction `gasUsed` of the aa-benchmarks scenarios that
//! `shared/oracles/mav2-gas` measures against Modular Account V2, on the embedded revm chain where
//! gas is deterministic (fixed keys, recipients and amounts; a fresh chain per scenario).
//!
//! A change that costs more gas fails here; one that costs less fails too, so the new figure gets
//! pinned and reviewed. Run with `-- --nocapture` to print the measured table; update `PINS` with it.
//! The side-by-side comparison with MAv2's release bytecode is `bench/gas.sh` (docs/gas.md).

#![allow(unused_crate_dependencies)]

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use keyward_contracts::bindings::{AccountFactory, TestToken};
use keyward_primitives::UserOperation;
use keyward_primitives::mav2::ids::{HookConfig, ValidationConfig};
use keyward_primitives::mav2::install::InstallValidation;
use keyward_primitives::mav2::modules::{
    HookInstall, allow_target, allowlist_install_data, erc20_spend_limit, native_token_limit_install_data,
    single_signer_install_data, time_range_install_data,
};
use keyward_primitives::mav2::nonce::NonceKey;
use keyward_testkit::mav2::{ETH, INSTALL_CALL_GAS, Mav2, Outcome, SmaAccount, execute};

/// (scenario, gasUsed) measured on the embedded chain. Update deliberately (see the module doc).
const PINS: [(&str, u64); 9] = [
    ("UO: account creation", 202661),
    ("UO: native transfer", 153693),
    ("UO: ERC-20 transfer", 152393),
    ("UO: session key creation (install validation + 4 hooks)", 407697),
    ("UO: session key native transfer", 176090),
    ("UO: session key ERC-20 transfer", 175303),
    ("Runtime: account creation", 97463),
    ("Runtime: native transfer (owner calls execute)", 66610),
    ("Runtime: ERC-20 transfer (owner calls execute)", 65435),
];

/// The session's validation entity id (as the oracle's scenarios).
const SESSION_ENTITY: u32 = 1;
const NATIVE_AMOUNT: u128 = ETH / 2;
const TOKEN_AMOUNT: u64 = 50_000_000;
const VALID_UNTIL: u64 = 2_100_000_000;

fn key(byte: u8) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&B256::repeat_byte(byte)).unwrap()
}

fn owner() -> PrivateKeySigner {
    key(0x11)
}

fn session_key() -> PrivateKeySigner {
    key(0x22)
}

/// A recipient that does not exist yet (as the oracle's alice on a fresh anvil: 25,000 gas for the
/// new account on the native rows).
fn recipient() -> Address {
    Address::repeat_byte(0xa1)
}

fn transfer(to: Address, amount: u64) -> Bytes {
    TestToken::transferCall { to, amount: U256::from(amount) }.abi_encode().into()
}

/// A fresh chain whose bundle beneficiary exists.
async fn fresh() -> Mav2 {
    let m = Mav2::embedded().await;
    m.fund(m.beneficiary, U256::from(1)).await;
    m
}

/// The owner's deployed account holding 10,000 ETH and 100 token units ×10^6 of a fresh TestToken.
async fn funded_account(m: &Mav2) -> (SmaAccount, Address) {
    let a = m.account_of(owner(), U256::ZERO, U256::from(10 * ETH)).await;
    let token = m.token(a.address, U256::from(100_000_000u64)).await;
    (a, token)
}

async fn gas_of_op(m: &Mav2, op: UserOperation) -> u64 {
    match m.send(op).await {
        Outcome::Success(r) => r.gas_used,
        Outcome::Reverted(_, data) => panic!("op reverted: {data}"),
        Outcome::Rejected(e) => panic!("op rejected: {e:?}"),
    }
}

async fn owner_op_gas(m: &Mav2, a: &SmaAccount, call: Bytes) -> u64 {
    let mut op = m.owner_op(a, call).await;
    op.call_gas_limit = INSTALL_CALL_GAS;
    m.sign_owner(a, &mut op);
    gas_of_op(m, op).await
}

/// The oracle's `installValidation`: SingleSigner entity 1, flags 0x05 (global, user op), hooks
/// TimeRange (validation 0x01), Allowlist (validation 0x01: recipient, and the token with an ERC-20
/// limit), Allowlist (pre-execution 0x04), NativeTokenLimit (validation 0x01), all hook entity 0.
fn session_install(m: &Mav2, token: Address, limit: U256) -> Bytes {
    let md = &m.modules;
    let bare = |module: Address| HookConfig::bare_validation_hook(module, 0);
    InstallValidation {
        validation: ValidationConfig::new(md.single_signer_validation, SESSION_ENTITY, true, false, true),
        selectors: vec![],
        install_data: single_signer_install_data(SESSION_ENTITY, session_key().address()),
        hooks: vec![
            HookInstall {
                config: bare(md.time_range),
                install_data: time_range_install_data(0, VALID_UNTIL, 0).unwrap(),
            },
            HookInstall {
                config: bare(md.allowlist),
                install_data: allowlist_install_data(0, &[allow_target(recipient()), erc20_spend_limit(token, limit)])
                    .unwrap(),
            },
            HookInstall {
                config: HookConfig::execution_hook(md.allowlist, 0, true, false),
                install_data: Bytes::new(),
            },
            HookInstall {
                config: bare(md.native_token_limit),
                install_data: native_token_limit_install_data(0, limit),
            },
        ],
    }
    .calldata()
}

async fn session_op_gas(m: &Mav2, a: &SmaAccount, inner: Bytes) -> u64 {
    let nonce_key = NonceKey::regular(U256::ZERO, SESSION_ENTITY, true, false).unwrap();
    let seq = m.ep_nonce(a.address, nonce_key.full_key()).await;
    let call: Bytes = [&[0x8d, 0xd7, 0x71, 0x2f][..], inner.as_ref()].concat().into();
    let mut op = m.op(a.address, seq, call);
    // 1-wei fees as the oracle: the NativeTokenLimit validation hook charges gas × maxFeePerGas.
    op.max_fee_per_gas = 1;
    op.max_priority_fee_per_gas = 1;
    op.signature = m.ecdsa_user_op_signature(&session_key(), &op);
    gas_of_op(m, op).await
}

/// A plain transaction from the owner's EOA (funded) to its account.
async fn runtime_gas(m: &Mav2, a: &SmaAccount, call: Bytes) -> u64 {
    m.fund(a.owner.address(), U256::from(ETH)).await;
    let tx = TransactionRequest::default().with_to(a.address).with_input(call);
    let r = m.h.send_tx(&a.owner, tx).await.unwrap();
    assert!(r.status(), "runtime call reverted");
    r.gas_used
}

async fn measure(scenario: &str) -> u64 {
    let m = fresh().await;
    let to = recipient();
    match scenario {
        "UO: account creation" => {
            let a = m.counterfactual_account_of(owner(), U256::ZERO, U256::from(10 * ETH)).await;
            let mut op = m.owner_op(&a, execute(to, U256::ZERO, Bytes::new())).await;
            m.sign_owner(&a, &mut op);
            let gas = gas_of_op(&m, op).await;
            assert!(m.deployed(a.address).await);
            gas
        }
        "UO: native transfer" => {
            let (a, _) = funded_account(&m).await;
            owner_op_gas(&m, &a, execute(to, U256::from(NATIVE_AMOUNT), Bytes::new())).await
        }
        "UO: ERC-20 transfer" => {
            let (a, token) = funded_account(&m).await;
            owner_op_gas(&m, &a, execute(token, U256::ZERO, transfer(to, TOKEN_AMOUNT))).await
        }
        "UO: session key creation (install validation + 4 hooks)" => {
            let (a, token) = funded_account(&m).await;
            owner_op_gas(&m, &a, session_install(&m, token, U256::from(TOKEN_AMOUNT))).await
        }
        "UO: session key native transfer" => {
            let (a, token) = funded_account(&m).await;
            owner_op_gas(&m, &a, session_install(&m, token, U256::from(NATIVE_AMOUNT))).await;
            let gas = session_op_gas(&m, &a, execute(to, U256::from(NATIVE_AMOUNT), Bytes::new())).await;
            assert_eq!(m.balance(to).await, U256::from(NATIVE_AMOUNT));
            gas
        }
        "UO: session key ERC-20 transfer" => {
            let (a, token) = funded_account(&m).await;
            owner_op_gas(&m, &a, session_install(&m, token, U256::from(TOKEN_AMOUNT))).await;
            let gas = session_op_gas(&m, &a, execute(token, U256::ZERO, transfer(to, TOKEN_AMOUNT))).await;
            assert_eq!(m.token_balance(token, to).await, U256::from(TOKEN_AMOUNT));
            gas
        }
        "Runtime: account creation" => {
            let a = m.counterfactual_account_of(owner(), U256::ZERO, U256::ZERO).await;
            let call = AccountFactory::createSemiModularAccountCall { owner_: a.owner.address(), salt: a.init.salt };
            let r = m.h.transact(m.factory, call, U256::ZERO).await;
            assert!(r.status() && m.deployed(a.address).await);
            r.gas_used
        }
        "Runtime: native transfer (owner calls execute)" => {
            let (a, _) = funded_account(&m).await;
            runtime_gas(&m, &a, execute(to, U256::from(NATIVE_AMOUNT), Bytes::new())).await
        }
        "Runtime: ERC-20 transfer (owner calls execute)" => {
            let (a, token) = funded_account(&m).await;
            runtime_gas(&m, &a, execute(token, U256::ZERO, transfer(to, TOKEN_AMOUNT))).await
        }
        other => panic!("unknown scenario {other}"),
    }
}

#[tokio::test]
async fn gas_per_scenario_is_pinned() {
    let mut measured = Vec::new();
    for (scenario, _) in PINS {
        measured.push((scenario, measure(scenario).await));
    }
    println!("| scenario | gasUsed (embedded chain) |\n|---|---:|");
    for (scenario, gas) in &measured {
        println!("| {scenario} | {gas} |");
    }
    let diffs: Vec<String> = PINS
        .iter()
        .zip(&measured)
        .filter(|((_, pin), (_, gas))| pin != gas)
        .map(|((s, pin), (_, gas))| format!("{s}: pinned {pin}, measured {gas} ({:+})", *gas as i64 - *pin as i64))
        .collect();
    assert!(diffs.is_empty(), "gas changed (update PINS deliberately):\n{}", diffs.join("\n"));
}
