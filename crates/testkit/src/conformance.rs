//! Helpers for the EntryPoint conformance suites: the canonical v0.7 EntryPoint as an oracle (read
//! from the npm package at test time, never committed), simulations through a state override, and
//! deterministic keys so two chains build the same operations.

use std::path::PathBuf;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::rpc::types::TransactionRequest;
use alloy::rpc::types::state::{AccountOverride, StateOverride};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use keyward_chain::{ChainError, EmbeddedChain, EmbeddedConfig};
use keyward_primitives::entry_point::IEntryPoint;
use keyward_primitives::entry_point::{ExecutionResult, ValidationResult};
use keyward_primitives::{PackedUserOperation, UserOperation};

use crate::entry_point::{EpError, decode_ep_error};
use crate::harness::Harness;

/// Index of the dev key that deploys the canonical EntryPoint (on both chains of a differential
/// test, so every other key's nonce, and hence every CREATE address, lines up).
pub const ORACLE_DEPLOYER_KEY: usize = 8;

/// One artifact of `@account-abstraction/contracts@0.7.0`: (creation code, runtime code).
#[derive(Debug, Clone)]
pub struct CanonicalArtifact {
    /// Creation bytecode (`bytecode`).
    pub bytecode: Bytes,
    /// Runtime bytecode (`deployedBytecode`).
    pub deployed_bytecode: Bytes,
}

/// Directory of the npm package's artifacts (installed by `npm ci --prefix tools`).
pub fn canonical_artifacts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tools/node_modules/@account-abstraction/contracts/artifacts")
}

/// Reads `<name>.json` of the canonical npm artifacts; panics with the install command if absent.
pub fn canonical_artifact(name: &str) -> CanonicalArtifact {
    let path = canonical_artifacts_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "the canonical EntryPoint oracle is missing ({}: {e}). Install it with `npm ci --prefix tools` \
             from the repository root (npm @account-abstraction/contracts@0.7.0; never copy it into the repo)",
            path.display()
        )
    });
    let json: serde_json::Value = serde_json::from_str(&text).expect("canonical artifact is JSON");
    let hex = |field: &str| -> Bytes {
        let s = json[field].as_str().unwrap_or_else(|| panic!("{name}.json has no {field}"));
        s.parse().unwrap_or_else(|e| panic!("{name}.json {field}: {e}"))
    };
    let art = CanonicalArtifact { bytecode: hex("bytecode"), deployed_bytecode: hex("deployedBytecode") };
    assert!(art.bytecode.len() > 1000, "{name}.json bytecode looks empty");
    art
}

/// A deterministic key (secret = `n` as a 32-byte big-endian number, `n ≥ 1`), so the same owner
/// exists on every chain of a differential test.
pub fn fixed_signer(n: u8) -> PrivateKeySigner {
    assert!(n > 0);
    PrivateKeySigner::from_bytes(&B256::with_last_byte(n)).expect("valid secret")
}

/// The 77-byte TestAccount signature: a 65-byte ECDSA signature ‖ validAfter (6) ‖ validUntil (6).
pub fn windowed_signature(sig65: &[u8], valid_after: u64, valid_until: u64) -> Bytes {
    assert_eq!(sig65.len(), 65);
    let mut s = sig65.to_vec();
    s.extend_from_slice(&valid_after.to_be_bytes()[2..]);
    s.extend_from_slice(&valid_until.to_be_bytes()[2..]);
    s.into()
}

/// A TestAccount hook signature: `0xda7ada7a ‖ validationData`.
pub fn validation_data_hook(data: U256) -> Bytes {
    [&[0xda, 0x7a, 0xda, 0x7a][..], &data.to_be_bytes::<32>()[..]].concat().into()
}

impl Harness {
    /// A fresh embedded chain whose `ep` is the canonical v0.7 EntryPoint (npm
    /// `@account-abstraction/contracts@0.7.0`), deployed with CREATE from dev key
    /// [`ORACLE_DEPLOYER_KEY`]; its constructor creates its own SenderCreator. Keyward's EntryPoint
    /// stays at the canonical address, unused.
    pub async fn embedded_with_canonical_ep() -> Self {
        let mut h = Self::on(EmbeddedChain::open(EmbeddedConfig::default()).expect("embedded chain"));
        h.ep = h.deploy_oracle().await;
        h
    }

    /// Keyward's EntryPoint on a fresh embedded chain prepared exactly like
    /// [`Harness::embedded_with_canonical_ep`] (same oracle deployment from the same key), so the
    /// two chains differ only in which EntryPoint `ep` names.
    pub async fn embedded_for_differential() -> Self {
        let h = Self::on(EmbeddedChain::open(EmbeddedConfig::default()).expect("embedded chain"));
        h.deploy_oracle().await;
        h
    }

    /// Deploys the canonical EntryPoint from [`ORACLE_DEPLOYER_KEY`] and returns its address.
    pub async fn deploy_oracle(&self) -> Address {
        let art = canonical_artifact("EntryPoint");
        let tx = TransactionRequest::default().with_deploy_code(art.bytecode);
        let receipt = self.send_tx(&self.keys[ORACLE_DEPLOYER_KEY], tx).await.expect("deploying the canonical EP");
        assert!(receipt.status(), "canonical EntryPoint deployment reverted");
        let ep = receipt.contract_address.expect("contract address");
        assert!(!self.chain.code(ep).await.unwrap().is_empty());
        ep
    }

    /// `eth_call` of `data` to `self.ep` from the bundler key with `code` injected at `self.ep`.
    pub async fn call_with_ep_code(&self, code: &Bytes, data: Bytes) -> Result<Bytes, EpError> {
        let mut overrides = StateOverride::default();
        overrides.insert(self.ep, AccountOverride { code: Some(code.clone()), ..Default::default() });
        let tx = TransactionRequest::default()
            .with_from(self.keys[9].address())
            .with_to(self.ep)
            .with_input(data)
            .with_gas_limit(20_000_000);
        match self.chain.call(tx, Some(overrides)).await {
            Ok(out) => Ok(out),
            Err(ChainError::Reverted { data, .. }) => Err(decode_ep_error(&data)),
            Err(other) => panic!("simulation failed outside the EVM: {other}"),
        }
    }

    /// `simulateValidation(op)` with Keyward's EntryPointSimulations injected at `ep`.
    pub async fn simulate_validation(&self, op: &UserOperation) -> Result<ValidationResult, EpError> {
        let code = &keyward_contracts::artifacts::entry_point_simulations().deployed_bytecode;
        self.simulate_validation_with(code, op.pack()).await
    }

    /// `simulateValidation(op)` with the given simulation runtime code injected at `ep`.
    pub async fn simulate_validation_with(
        &self,
        code: &Bytes,
        op: PackedUserOperation,
    ) -> Result<ValidationResult, EpError> {
        let out = self
            .call_with_ep_code(code, IEntryPoint::simulateValidationCall { userOp: op }.abi_encode().into())
            .await?;
        Ok(IEntryPoint::simulateValidationCall::abi_decode_returns(&out).expect("ValidationResult"))
    }

    /// `simulateHandleOp(op, target, data)` with Keyward's EntryPointSimulations injected at `ep`.
    pub async fn simulate_handle_op(
        &self,
        op: &UserOperation,
        target: Address,
        target_call_data: Bytes,
    ) -> Result<ExecutionResult, EpError> {
        let code = &keyward_contracts::artifacts::entry_point_simulations().deployed_bytecode;
        let call = IEntryPoint::simulateHandleOpCall { op: op.pack(), target, targetCallData: target_call_data };
        let out = self.call_with_ep_code(code, call.abi_encode().into()).await?;
        Ok(IEntryPoint::simulateHandleOpCall::abi_decode_returns(&out).expect("ExecutionResult"))
    }

    /// Sends `data` to `self.ep` from `signer` with a fixed gas limit, skipping `eth_call`, and
    /// returns the receipt whatever its status (to observe what a reverted bundle leaves behind).
    pub async fn send_to_ep_unchecked(
        &self,
        signer: &PrivateKeySigner,
        data: Bytes,
        gas: u64,
    ) -> alloy::rpc::types::TransactionReceipt {
        let tx = TransactionRequest::default().with_to(self.ep).with_input(data).with_gas_limit(gas);
        self.send_tx(signer, tx).await.expect("transaction accepted")
    }

    /// Funds `to` with `value` wei from dev key 0.
    pub async fn fund(&self, to: Address, value: U256) {
        let tx = TransactionRequest::default().with_to(to).with_value(value);
        let r = self.send_tx(&self.keys[0], tx).await.unwrap();
        assert!(r.status(), "funding {to} failed");
    }

    /// Timestamp of the latest block.
    pub async fn latest_timestamp(&self) -> u64 {
        let block = self
            .chain
            .block_by_number(alloy::eips::BlockNumberOrTag::Latest, false)
            .await
            .unwrap()
            .expect("latest block");
        block.header.timestamp
    }
}
