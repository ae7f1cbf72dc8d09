//! Building, signing and bundling user operations for `TestAccount`.

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes, U256};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{SolCall, SolValue};
use keyward_chain::ChainError;
use keyward_contracts::bindings::{TestAccount, TestCounter};
use keyward_primitives::entry_point::IEntryPoint;
use keyward_primitives::{PackedUserOperation, UserOperation};

use crate::entry_point::{EpError, decode_ep_error};
use crate::harness::Harness;

/// Default gas of test operations: generous and round, so charging arithmetic is easy to follow.
pub const VERIFICATION_GAS: u128 = 300_000;
/// Default call gas limit.
pub const CALL_GAS: u128 = 200_000;
/// Default pre-verification gas.
pub const PRE_VERIFICATION_GAS: u64 = 50_000;
/// Default fee cap (wei).
pub const MAX_FEE: u128 = 3_000_000_000;
/// Default priority fee (wei).
pub const PRIORITY_FEE: u128 = 1_000_000_000;

/// `TestAccount.execute(target, value, data)` calldata.
pub fn execute_call(target: Address, value: U256, data: Bytes) -> Bytes {
    TestAccount::executeCall { target, value, data }.abi_encode().into()
}

/// Calldata making an account call `TestCounter.count()` on `counter`.
pub fn count_call(counter: Address) -> Bytes {
    execute_call(counter, U256::ZERO, TestCounter::countCall {}.abi_encode().into())
}

/// An unsigned op for `sender` with the default gas values.
pub fn op(sender: Address, nonce: U256, call_data: Bytes) -> UserOperation {
    UserOperation {
        sender,
        nonce,
        call_data,
        call_gas_limit: CALL_GAS,
        verification_gas_limit: VERIFICATION_GAS,
        pre_verification_gas: U256::from(PRE_VERIFICATION_GAS),
        max_fee_per_gas: MAX_FEE,
        max_priority_fee_per_gas: PRIORITY_FEE,
        ..Default::default()
    }
}

/// `TestAccount`'s signature: EIP-191 personal-sign of the userOpHash by the owner (65 bytes).
pub fn sign(op: &mut UserOperation, owner: &PrivateKeySigner, ep: Address, chain_id: u64) {
    let hash = op.hash(ep, chain_id);
    let sig = owner.sign_message_sync(hash.as_slice()).expect("signing");
    op.signature = sig.as_bytes().to_vec().into();
}

impl Harness {
    /// Deploys a `TestAccount` owned by `owner` for this harness's EntryPoint, funded with `fund` wei.
    pub async fn test_account(&self, owner: Address, fund: U256) -> Address {
        let art = keyward_contracts::artifacts::test_account();
        let account = self.deploy(art, &(self.ep, owner).abi_encode_params()).await;
        if fund > U256::ZERO {
            let tx = TransactionRequest::default().with_to(account).with_value(fund);
            self.send_tx(&self.keys[0], tx).await.unwrap();
        }
        account
    }

    /// Deploys a `TestCounter`.
    pub async fn counter(&self) -> Address {
        self.deploy(keyward_contracts::artifacts::test_counter(), &[]).await
    }

    /// `EntryPoint.getNonce(sender, key)`.
    pub async fn nonce(&self, sender: Address, key: u64) -> U256 {
        self.read(self.ep, IEntryPoint::getNonceCall { sender, key: alloy::primitives::aliases::U192::from(key) })
            .await
            .unwrap()
    }

    /// `EntryPoint.balanceOf(a)`: the deposit of `a`.
    pub async fn deposit_of(&self, a: Address) -> U256 {
        self.read(self.ep, IEntryPoint::balanceOfCall { account: a }).await.unwrap()
    }

    /// Signs `op` for this harness's EntryPoint and chain.
    pub async fn sign(&self, op: &mut UserOperation, owner: &PrivateKeySigner) {
        sign(op, owner, self.ep, self.chain_id().await);
    }

    /// Calldata of `handleOps(ops, beneficiary)`.
    pub fn handle_ops_data(ops: Vec<PackedUserOperation>, beneficiary: Address) -> Bytes {
        IEntryPoint::handleOpsCall { ops, beneficiary }.abi_encode().into()
    }

    /// Runs `handleOps` as a bundler would: `eth_call` first (a failing bundle is decoded, not
    /// sent), then the transaction from the bundler key (dev key 9).
    pub async fn handle_ops(
        &self,
        ops: Vec<UserOperation>,
        beneficiary: Address,
    ) -> Result<TransactionReceipt, EpError> {
        self.handle_packed(ops.iter().map(UserOperation::pack).collect(), beneficiary, None).await
    }

    /// `handleOps` with packed ops and an optional fixed transaction gas limit.
    pub async fn handle_packed(
        &self,
        ops: Vec<PackedUserOperation>,
        beneficiary: Address,
        gas: Option<u64>,
    ) -> Result<TransactionReceipt, EpError> {
        let bundler = &self.keys[9];
        let mut tx = TransactionRequest::default()
            .with_from(bundler.address())
            .with_to(self.ep)
            .with_input(Self::handle_ops_data(ops, beneficiary));
        if let Some(gas) = gas {
            tx = tx.with_gas_limit(gas);
        }
        match self.chain.call(tx.clone(), None).await {
            Err(ChainError::Reverted { data, .. }) => return Err(decode_ep_error(&data)),
            Err(other) => panic!("handleOps simulation failed outside the EVM: {other}"),
            Ok(_) => {}
        }
        let receipt = self.send_tx(bundler, tx).await.unwrap();
        assert!(receipt.status(), "handleOps passed eth_call but reverted onchain");
        Ok(receipt)
    }
}
