//! The account's packed internal storage (issue #17): the module table of 20-byte entries packed
//! across slots, and the account flags kept above the implementation address in the ERC-1967 slot.
//! Each test checks what the layout must preserve through the account's behaviour, and the layout
//! itself where a wrong one would still behave (flags read from the slot the proxy reads).

// An integration test is a crate of its own that sees every dependency of its package.
#![allow(unused_crate_dependencies)]

use alloy::primitives::{Address, Bytes, U256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolError};
use keyward_contracts::artifacts;
use keyward_contracts::bindings::{SemiModularAccountBytecode as Sma, TimeRangeModule};
use keyward_primitives::mav2::factory::ERC1967_IMPLEMENTATION_SLOT;
use keyward_primitives::mav2::modules::{single_signer_install_data, time_range_install_data};
use keyward_primitives::mav2::{HookConfig, HookInstall, InstallValidation, ValidationConfig};
use keyward_testkit::mav2::{INSTALL_CALL_GAS, Mav2, SmaAccount, eth, execute, milli};
use serde_json::json;

const TARGET: [u8; 4] = Sma::TargetNotAllowed::SELECTOR;
/// AccountFlags bits above the implementation address (contracts/src/account/AccountStorage.sol).
const FALLBACK_RECORD: u64 = 0x01;
const SIGNER_STORED: u64 = 0x04;

/// The ERC-1967 slot of `account`: (implementation address, account flags above it).
async fn implementation_word(m: &Mav2, account: Address) -> (Address, u64) {
    let word: U256 = m.h.chain.storage_at(account, ERC1967_IMPLEMENTATION_SLOT.into()).await.unwrap().into();
    let flags: U256 = word >> 160;
    (Address::from_word(word.into()), flags.to::<u64>())
}

/// A TimeRange validation hook on the owner (entity 0) under `entity`, due now for a day.
async fn owner_time_range_hook(m: &Mav2, a: &SmaAccount, entity: u32) {
    let hook = HookInstall::time_range(&m.modules, entity, m.now().await + 86_400, 0).unwrap();
    let install = InstallValidation {
        validation: ValidationConfig::new(Address::ZERO, 0, true, true, true),
        selectors: vec![],
        install_data: Bytes::new(),
        hooks: vec![hook],
    };
    m.owner_call_with_gas(a, install.calldata(), INSTALL_CALL_GAS).await.success();
}

/// Eleven modules entered by one install occupy entries 0–10 of the packed table, which covers
/// every position an entry can take in a slot (20 bytes at offsets 0, 20, 8, 28, 16, 4, 24, 12,
/// straddling two slots at 20, 28 and 24): each reads back as installed, a module entered before is
/// found again, and R18 refuses every one of them as a scoped session's target.
#[tokio::test]
async fn module_table_packs_entries_across_slots_and_r18_refuses_each() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let to = Address::with_last_byte(0x58);
    let mut ranges = Vec::new();
    for _ in 0..10 {
        ranges.push(m.h.deploy(artifacts::time_range_module(), &[]).await);
    }
    let until = m.now().await + 86_400;
    let signer = PrivateKeySigner::random().address();
    // A signer validation under `entity` with a TimeRange hook from each of `modules`; the hook
    // modules its record reads back (through the table).
    let install_and_read = |entity: u32, modules: Vec<Address>| {
        let m = &m;
        let a = &a;
        async move {
            let hooks = modules
                .iter()
                .map(|&module| HookInstall {
                    config: HookConfig::bare_validation_hook(module, entity),
                    install_data: time_range_install_data(entity, until, 0).unwrap(),
                })
                .collect();
            let install = InstallValidation {
                validation: ValidationConfig::new(m.modules.single_signer_validation, entity, false, false, true),
                selectors: vec![],
                install_data: single_signer_install_data(entity, signer),
                hooks,
            };
            m.owner_call_with_gas(a, install.calldata(), 4 * INSTALL_CALL_GAS).await.success();
            let validation =
                keyward_primitives::mav2::ModuleEntity::new(m.modules.single_signer_validation, entity).encode();
            let view =
                m.h.read(a.address, Sma::getValidationDataCall { validationFunction: validation }).await.unwrap();
            view.validationHooks.iter().map(|h| Address::from_slice(&h[..20])).collect::<Vec<Address>>()
        }
    };
    assert_eq!(install_and_read(60, ranges.clone()).await, ranges, "hook modules read back from the packed table");
    // A module entered before keeps its entry: a second validation naming one of them reads it back.
    assert_eq!(install_and_read(62, vec![ranges[7]]).await, vec![ranges[7]]);

    // R18: a scoped session may call its allowlisted target, and none of the account's modules.
    let s = m.session(&a, 61, json!([{"type": "contract-access", "data": {"address": format!("{to:#x}")}}]), 0).await;
    m.session_call(&a, &s, &execute(to, U256::ZERO, Bytes::new())).await.success();
    let mut modules = ranges.clone();
    modules.extend([m.modules.single_signer_validation, m.modules.allowlist]);
    for module in modules {
        let call = TimeRangeModule::setTimeRangeCall {
            entityId: 61,
            validUntil: Default::default(),
            validAfter: Default::default(),
        };
        m.session_call(&a, &s, &execute(module, U256::ZERO, call.abi_encode()))
            .await
            .rejected_with("AA23", Some(TARGET));
    }
}

/// The owner's record flag sits above the implementation address, survives `upgradeToAndCall`,
/// and keeps the owner's hooks running: a hook changed after the upgrade to "not due yet" refuses
/// the owner's next op (without the flag, the owner's fast path would skip the hook).
#[tokio::test]
async fn account_flags_ride_above_the_implementation_and_survive_an_upgrade() {
    let m = Mav2::embedded().await;
    let a = m.account(eth(1)).await;
    let to = Address::with_last_byte(0x59);
    assert_eq!(implementation_word(&m, a.address).await, (m.sma_impl, 0), "a new account has no flags");

    owner_time_range_hook(&m, &a, 0x7000_0002).await;
    let (implementation, flags) = implementation_word(&m, a.address).await;
    assert_eq!(implementation, m.sma_impl);
    assert_eq!(flags & FALLBACK_RECORD, FALLBACK_RECORD);

    let upgrade = Sma::upgradeToAndCallCall { newImplementation: m.sma_impl, data: Bytes::new() };
    m.owner_call(&a, upgrade.abi_encode().into()).await.success();
    assert_eq!(implementation_word(&m, a.address).await, (m.sma_impl, flags), "the upgrade kept the flags");
    m.owner_call(&a, execute(to, milli(1), Bytes::new())).await.success();

    let now = m.now().await;
    let later = TimeRangeModule::setTimeRangeCall {
        entityId: 0x7000_0002,
        validUntil: alloy::primitives::Uint::from(now + 2 * 86_400),
        validAfter: alloy::primitives::Uint::from(now + 86_400),
    };
    m.owner_call(&a, execute(m.modules.time_range, U256::ZERO, later.abi_encode())).await.success();
    m.owner_call(&a, execute(to, milli(1), Bytes::new())).await.rejected_with("AA22", None);
}

/// The owner slot is read only once something was stored there: changing the owner sets the
/// flag (the new owner signs, the old one no longer does), disabling keeps it (owner ops refused),
/// and storing (0, enabled) clears it (the proxy's built-in owner signs again).
#[tokio::test]
async fn the_owner_slot_is_read_only_after_the_owner_changed() {
    let m = Mav2::embedded().await;
    let mut a = m.account(eth(1)).await;
    let to = Address::with_last_byte(0x5a);
    let original = a.owner.clone();
    let next = PrivateKeySigner::random();
    let update = |signer: Address, disabled: bool| -> Bytes {
        Sma::updateFallbackSignerDataCall { fallbackSigner: signer, isDisabled: disabled }.abi_encode().into()
    };

    m.owner_call(&a, update(next.address(), false)).await.success();
    assert_eq!(implementation_word(&m, a.address).await.1 & SIGNER_STORED, SIGNER_STORED);
    m.owner_call(&a, execute(to, milli(1), Bytes::new())).await.rejected_with("AA24", None);
    a.owner = next.clone();
    m.owner_call(&a, execute(to, milli(1), Bytes::new())).await.success();

    m.owner_call(&a, update(Address::ZERO, false)).await.success();
    assert_eq!(implementation_word(&m, a.address).await, (m.sma_impl, 0), "(0, enabled) clears the flag");
    m.owner_call(&a, execute(to, milli(1), Bytes::new())).await.rejected_with("AA24", None);
    a.owner = original;
    m.owner_call(&a, execute(to, milli(1), Bytes::new())).await.success();
    let data = m.h.read(a.address, Sma::getFallbackSignerDataCall {}).await.unwrap();
    assert_eq!((data._0, data._1), (a.owner.address(), false));

    m.owner_call(&a, update(Address::ZERO, true)).await.success();
    assert_eq!(implementation_word(&m, a.address).await.1 & SIGNER_STORED, SIGNER_STORED);
    m.owner_call(&a, execute(to, milli(1), Bytes::new())).await.rejected_with("AA23", None);
}
