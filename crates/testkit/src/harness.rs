//! A chain for tests: embedded or anvil, with Keyward's contracts and funded dev keys.

use std::sync::Arc;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes, U256};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolCall;
use keyward_chain::anvil::Anvil;
use keyward_chain::deploy::place_dev_contracts;
use keyward_chain::send::send_and_wait;
use keyward_chain::{ChainError, DevChain, EmbeddedChain, EmbeddedConfig, dev_keys::dev_signers};
use keyward_contracts::Artifact;
use keyward_primitives::ENTRY_POINT_V07;

/// A chain with dev keys; `ep` is the EntryPoint the helpers talk to.
pub struct Harness {
    /// The chain under test.
    pub chain: Arc<dyn DevChain>,
    /// The ten funded dev keys.
    pub keys: Vec<PrivateKeySigner>,
    /// EntryPoint used by the user-operation helpers.
    pub ep: Address,
    _anvil: Option<Anvil>,
}

impl Harness {
    /// A fresh embedded chain with Keyward's EntryPoint at the canonical address.
    pub fn embedded() -> Self {
        Self::on(EmbeddedChain::open(EmbeddedConfig::default()).expect("embedded chain"))
    }

    /// A harness over an existing embedded chain (e.g. one with another chain id).
    pub fn on(chain: Arc<EmbeddedChain>) -> Self {
        Self { chain, keys: dev_signers(10).unwrap(), ep: ENTRY_POINT_V07, _anvil: None }
    }

    /// A fresh anvil with Keyward's contracts placed at their canonical addresses.
    pub async fn anvil() -> Self {
        Self::anvil_with("prague").await
    }

    /// [`Harness::anvil`] under another hardfork (`osaka`: with the P-256 precompile).
    pub async fn anvil_with(hardfork: &str) -> Self {
        let anvil = Anvil::start_with(31337, hardfork).await.expect("anvil must be installed: npm ci --prefix tools");
        let chain = Arc::new(anvil.chain().unwrap());
        place_dev_contracts(chain.as_ref()).await.unwrap();
        Self { chain, keys: dev_signers(10).unwrap(), ep: ENTRY_POINT_V07, _anvil: Some(anvil) }
    }

    /// The anvil node's URL, when this harness runs on anvil.
    pub fn anvil_url(&self) -> Option<&str> {
        self._anvil.as_ref().map(|a| a.url())
    }

    /// The chain id.
    pub async fn chain_id(&self) -> u64 {
        self.chain.chain_id().await.unwrap()
    }

    /// Deploys `creation ‖ args` from dev key 0 and returns the new address.
    pub async fn deploy_code(&self, creation: &Bytes, args: &[u8]) -> Address {
        let code: Bytes = [creation.as_ref(), args].concat().into();
        let receipt = self.send_tx(&self.keys[0], TransactionRequest::default().with_deploy_code(code)).await.unwrap();
        assert!(receipt.status(), "deployment reverted");
        receipt.contract_address.expect("contract address")
    }

    /// Deploys an artifact with ABI-encoded constructor `args`.
    pub async fn deploy(&self, artifact: &Artifact, args: &[u8]) -> Address {
        self.deploy_code(&artifact.bytecode, args).await
    }

    /// Signs, sends and waits for `tx` from `signer`.
    pub async fn send_tx(
        &self,
        signer: &PrivateKeySigner,
        tx: TransactionRequest,
    ) -> Result<TransactionReceipt, ChainError> {
        send_and_wait(self.chain.as_ref(), signer, tx).await
    }

    /// Sends `call` to `to` with `value` from dev key 0 and waits for the receipt.
    pub async fn transact<C: SolCall>(&self, to: Address, call: C, value: U256) -> TransactionReceipt {
        let tx = TransactionRequest::default().with_to(to).with_input(call.abi_encode()).with_value(value);
        self.send_tx(&self.keys[0], tx).await.unwrap()
    }

    /// `eth_call` of `call` on `to`, decoded.
    pub async fn read<C: SolCall>(&self, to: Address, call: C) -> Result<C::Return, ChainError> {
        let tx = TransactionRequest::default().with_to(to).with_input(call.abi_encode());
        let out = self.chain.call(tx, None).await?;
        C::abi_decode_returns(&out).map_err(|e| ChainError::Internal(format!("decoding {}: {e}", C::SIGNATURE)))
    }

    /// Balance of `a`.
    pub async fn balance(&self, a: Address) -> U256 {
        self.chain.balance(a).await.unwrap()
    }
}
