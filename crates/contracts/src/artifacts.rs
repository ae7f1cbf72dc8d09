//! The compiled artifacts (`contracts/artifacts/*.json`), embedded at compile time.

use std::sync::OnceLock;

use alloy::json_abi::JsonAbi;
use alloy::primitives::Bytes;
use serde::Deserialize;

/// One compiled contract: ABI, creation bytecode and runtime bytecode.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    /// Contract name as in the Solidity source.
    pub contract_name: String,
    /// The JSON ABI.
    pub abi: JsonAbi,
    /// Creation code (constructor arguments are appended by the deployer).
    pub bytecode: Bytes,
    /// Runtime code, as placed by state injection.
    pub deployed_bytecode: Bytes,
}

macro_rules! artifacts {
    ($($(#[$doc:meta])* $fn_name:ident => $file:literal;)*) => {
        $(
            $(#[$doc])*
            pub fn $fn_name() -> &'static Artifact {
                static CELL: OnceLock<Artifact> = OnceLock::new();
                CELL.get_or_init(|| parse(include_str!(concat!(
                    env!("CARGO_MANIFEST_DIR"), "/../../contracts/artifacts/", $file, ".json"
                ))))
            }
        )*

        /// Every embedded artifact, for checks that walk them all.
        pub fn all() -> Vec<&'static Artifact> {
            vec![$($fn_name()),*]
        }
    };
}

/// Parses an embedded artifact; these are compile-time constants checked by this crate's tests.
fn parse(text: &str) -> Artifact {
    match serde_json::from_str(text) {
        Ok(artifact) => artifact,
        Err(e) => panic!("embedded contract artifact is malformed (rebuild contracts/): {e}"),
    }
}

artifacts! {
    /// Keyward's EntryPoint v0.7.
    entry_point => "EntryPoint";
    /// The SenderCreator the EntryPoint deploys accounts through.
    sender_creator => "SenderCreator";
    /// EntryPoint plus the simulation entry points; injected by state override, never deployed.
    entry_point_simulations => "EntryPointSimulations";
    /// Minimal ECDSA account used by tests and examples.
    test_account => "TestAccount";
    /// CREATE2 factory of `TestAccount`, with failure hooks for tests.
    test_account_factory => "TestAccountFactory";
    /// Paymaster whose behaviour tests select through its data.
    test_paymaster => "TestPaymaster";
    /// A call target that counts, reverts or accepts ETH.
    test_counter => "TestCounter";
    /// A minimal mintable ERC-20.
    test_token => "TestToken";
    /// CREATE2 factory of Keyward's modular accounts (MAv2 AccountFactory ABI).
    account_factory => "AccountFactory";
    /// Semi-Modular Account implementation, owner appended to the proxy's code (factory default).
    semi_modular_account_bytecode => "SemiModularAccountBytecode";
    /// Semi-Modular Account implementation with the owner in storage (upgrades).
    semi_modular_account_storage_only => "SemiModularAccountStorageOnly";
    /// Semi-Modular Account implementation for EIP-7702 delegation.
    semi_modular_account_7702 => "SemiModularAccount7702";
    /// Fully modular account implementation (owner is a module validation).
    modular_account => "ModularAccount";
    /// ECDSA / ERC-1271 signer validation (owner of ModularAccount, every session key).
    single_signer_validation_module => "SingleSignerValidationModule";
    /// Validation hook bounding a validation to a time range.
    time_range_module => "TimeRangeModule";
    /// Native-token value (execution hook) and gas (validation hook) budgets.
    native_token_limit_module => "NativeTokenLimitModule";
    /// Validation hook pinning the paymaster.
    paymaster_guard_module => "PaymasterGuardModule";
    /// Target / selector allowlist (validation hook) and ERC-20 spend limits (execution hook).
    allowlist_module => "AllowlistModule";
    /// Periodic spend and call limits and argument conditions (execution hook).
    session_rules_module => "SessionRulesModule";
    /// P-256 (passkey) validation: a secp256r1 public key per session entity.
    p256_validation_module => "P256ValidationModule";
    /// Paymaster honouring Keyward's paymaster-signer signatures (gas sponsorship).
    verifying_paymaster => "VerifyingPaymaster";
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_artifact_parses_and_has_code() {
        for a in super::all() {
            assert!(!a.deployed_bytecode.is_empty(), "{} has no runtime code", a.contract_name);
            assert!(!a.bytecode.is_empty(), "{} has no creation code", a.contract_name);
        }
    }
}

#[cfg(test)]
mod abi_drift {
    use alloy::json_abi::JsonAbi;
    use alloy::sol_types::{SolCall, SolError, SolEvent};
    use keyward_primitives::entry_point::IEntryPoint;

    fn has_function(abi: &JsonAbi, signature: &str) -> bool {
        abi.functions().any(|f| f.signature() == signature)
    }

    /// The hand-written `IEntryPoint` bindings in `primitives` name functions, events and errors
    /// that exist, with the same signatures, in the compiled EntryPointSimulations (which is the
    /// EntryPoint plus the simulation entry points).
    #[test]
    fn primitives_bindings_match_the_compiled_entry_point() {
        let abi = &super::entry_point_simulations().abi;
        for sig in [
            IEntryPoint::handleOpsCall::SIGNATURE,
            IEntryPoint::handleAggregatedOpsCall::SIGNATURE,
            IEntryPoint::getUserOpHashCall::SIGNATURE,
            IEntryPoint::getSenderAddressCall::SIGNATURE,
            IEntryPoint::delegateAndRevertCall::SIGNATURE,
            IEntryPoint::getNonceCall::SIGNATURE,
            IEntryPoint::incrementNonceCall::SIGNATURE,
            IEntryPoint::nonceSequenceNumberCall::SIGNATURE,
            IEntryPoint::depositToCall::SIGNATURE,
            IEntryPoint::balanceOfCall::SIGNATURE,
            IEntryPoint::getDepositInfoCall::SIGNATURE,
            IEntryPoint::addStakeCall::SIGNATURE,
            IEntryPoint::unlockStakeCall::SIGNATURE,
            IEntryPoint::withdrawStakeCall::SIGNATURE,
            IEntryPoint::withdrawToCall::SIGNATURE,
            IEntryPoint::supportsInterfaceCall::SIGNATURE,
            IEntryPoint::simulateValidationCall::SIGNATURE,
            IEntryPoint::simulateHandleOpCall::SIGNATURE,
        ] {
            assert!(has_function(abi, sig), "{sig} is not in the compiled ABI");
        }
        let events: Vec<String> = abi.events().map(|e| e.signature()).collect();
        for sig in [
            IEntryPoint::UserOperationEvent::SIGNATURE,
            IEntryPoint::AccountDeployed::SIGNATURE,
            IEntryPoint::UserOperationRevertReason::SIGNATURE,
            IEntryPoint::PostOpRevertReason::SIGNATURE,
            IEntryPoint::UserOperationPrefundTooLow::SIGNATURE,
            IEntryPoint::BeforeExecution::SIGNATURE,
            IEntryPoint::SignatureAggregatorChanged::SIGNATURE,
            IEntryPoint::Deposited::SIGNATURE,
            IEntryPoint::Withdrawn::SIGNATURE,
            IEntryPoint::StakeLocked::SIGNATURE,
            IEntryPoint::StakeUnlocked::SIGNATURE,
            IEntryPoint::StakeWithdrawn::SIGNATURE,
        ] {
            assert!(events.iter().any(|e| e == sig), "event {sig} is not in the compiled ABI");
        }
        let errors: Vec<String> = abi.errors().map(|e| e.signature()).collect();
        for sig in [
            IEntryPoint::FailedOp::SIGNATURE,
            IEntryPoint::FailedOpWithRevert::SIGNATURE,
            IEntryPoint::PostOpReverted::SIGNATURE,
            IEntryPoint::SignatureValidationFailed::SIGNATURE,
            IEntryPoint::SenderAddressResult::SIGNATURE,
            IEntryPoint::DelegateAndRevert::SIGNATURE,
            IEntryPoint::ReentrancyGuardReentrantCall::SIGNATURE,
        ] {
            assert!(errors.iter().any(|e| e == sig), "error {sig} is not in the compiled ABI");
        }
    }
}

/// Contracts of the custom-permission-module work (issue 19), kept apart from the account stack.
pub mod custom_modules {
    use super::{Artifact, OnceLock, parse};

    artifacts! {
        /// The permission-module template (`templates/permission-module`): at most N calls to a
        /// target per UTC day, as a validation-associated pre-execution hook.
        daily_call_limit_module => "DailyCallLimitModule";
        /// A deliberately bad validation hook: reads and writes a global slot in validation
        /// (ERC-7562 STO-021), for the checks of `keyward check-module`.
        test_unassociated_storage_hook => "TestUnassociatedStorageHook";
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn every_custom_module_artifact_parses_and_has_code() {
            for a in super::all() {
                assert!(!a.deployed_bytecode.is_empty(), "{} has no runtime code", a.contract_name);
            }
        }
    }
}
