//! Building, estimating, signing and sending this account's user operations through a
//! [`BundlerClient`].

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::signers::Signer;
use alloy::sol_types::SolCall;
use keyward_api::bundler::UserOperationReceipt;
use keyward_primitives::mav2::ModuleEntity;
use keyward_primitives::mav2::abi::Call;
use keyward_primitives::{PaymasterInit, UserOperation};

use super::{AccountError, DeferredSessionGrant, ModularAccount};
use crate::bundler_client::{BundlerClient, FeeSuggestion};

alloy::sol! {
    /// What `getValidationData` returns (§2.5).
    struct ValidationDataView {
        uint8 validationFlags;
        bytes25[] validationHooks;
        bytes25[] executionHooks;
        bytes4[] selectors;
    }

    /// The account's validation view.
    interface IValidationView {
        function getValidationData(bytes24 validationFunction) external view returns (ValidationDataView memory);
    }
}

/// Fees of an operation.
pub type Fees = FeeSuggestion;

/// Values that replace the estimate (or the fee suggestion) when building an operation, and its
/// paymaster.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GasOverrides {
    /// Paymaster sponsoring the operation; its gas limits, when 0, are taken from the estimate.
    pub paymaster: Option<PaymasterInit>,
    /// Fees instead of the node's suggestion.
    pub fees: Option<Fees>,
    /// `callGasLimit` instead of the estimate.
    pub call_gas_limit: Option<u128>,
    /// `verificationGasLimit` instead of the estimate.
    pub verification_gas_limit: Option<u128>,
    /// `preVerificationGas` instead of the estimate.
    pub pre_verification_gas: Option<U256>,
}

fn gas_u128(v: U256, field: &'static str) -> Result<u128, AccountError> {
    u128::try_from(v).map_err(|_| {
        AccountError::Bundler(crate::BundlerClientError::Transport(format!("estimated {field} {v} exceeds 128 bits")))
    })
}

impl<S> ModularAccount<S> {
    /// Whether the account has code.
    pub async fn is_deployed(&self, client: &BundlerClient) -> Result<bool, AccountError> {
        Ok(!client.code(self.address).await?.is_empty())
    }

    /// The next nonce of this signer's validation key (`EntryPoint.getNonce(account, key)`).
    pub async fn get_nonce(&self, client: &BundlerClient) -> Result<U256, AccountError> {
        Ok(client.entry_point_nonce(self.address, self.nonce_key().full_key()).await?)
    }

    /// The deferred grant when its op is still to be sent (the EntryPoint's next nonce of the
    /// grant's key is the grant's).
    pub async fn pending_grant(&self, client: &BundlerClient) -> Result<Option<&DeferredSessionGrant>, AccountError> {
        let Some(grant) = self.deferred_action() else { return Ok(None) };
        let next = client.entry_point_nonce(self.address, grant.nonce_key()?.full_key()).await?;
        Ok((next == grant.nonce).then_some(grant))
    }

    /// Whether this signer's validation has execution hooks (its user ops then need
    /// `callData = 0x8dd7712f ‖ call`): the pending deferred grant says so, else the deployed
    /// account; false for an account not deployed yet.
    pub async fn has_execution_hooks(&self, client: &BundlerClient) -> Result<bool, AccountError> {
        if let Some(grant) = self.pending_grant(client).await? {
            return Ok(grant.has_execution_hooks);
        }
        if !self.is_deployed(client).await? {
            return Ok(false);
        }
        let entity = ModuleEntity::new(Address::ZERO, self.signer_entity.entity_id).encode();
        let data = IValidationView::getValidationDataCall { validationFunction: entity }.abi_encode();
        let out = client.call(self.address, data.into(), "account.getValidationData").await?;
        let view = IValidationView::getValidationDataCall::abi_decode_returns(&out).map_err(|e| {
            crate::BundlerClientError::Node { method: "account.getValidationData", reason: e.to_string() }
        })?;
        Ok(!view.executionHooks.is_empty())
    }

    /// User-op callData for `calls` as the account is configured onchain: one call → `execute`
    /// (a self-call as is), several → `executeBatch`; prefixed when the validation has execution hooks.
    pub async fn encode_calls(&self, client: &BundlerClient, calls: Vec<Call>) -> Result<Bytes, AccountError> {
        let hooks = self.has_execution_hooks(client).await?;
        Ok(match <[Call; 1]>::try_from(calls) {
            Ok([c]) => self.encode_execute(c.target, c.value, c.data, hooks),
            Err(calls) => self.encode_execute_batch(calls, hooks),
        })
    }

    /// An unsigned operation running `call_data` (dummy signature), with the next nonce, `initCode`
    /// while the account is not deployed, the node's fees and the bundler's gas estimate (skipped
    /// when `overrides` gives all three gas values).
    pub async fn prepare_user_operation(
        &self,
        client: &BundlerClient,
        call_data: Bytes,
        overrides: GasOverrides,
    ) -> Result<UserOperation, AccountError> {
        let chain_id = client.chain_id().await?;
        if chain_id != self.chain_id {
            return Err(AccountError::ChainMismatch { account: self.chain_id, bundler: chain_id });
        }
        let factory = if self.is_deployed(client).await? {
            None
        } else {
            Some(self.factory_args().ok_or(AccountError::NotDeployed(self.address))?)
        };
        let fees = match overrides.fees {
            Some(f) => f,
            None => client.fee_suggestion().await?,
        };
        let nonce = match self.pending_grant(client).await? {
            Some(grant) => grant.nonce,
            None => self.get_nonce(client).await?,
        };
        let mut op = UserOperation {
            sender: self.address,
            nonce,
            factory,
            call_data,
            max_fee_per_gas: fees.max_fee_per_gas,
            max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
            paymaster: overrides.paymaster.clone(),
            signature: Bytes::new(),
            ..Default::default()
        };
        op.signature = self.with_grant_prefix(op.nonce, &self.dummy_signature())?;
        let paymaster_gas_given =
            op.paymaster.as_ref().is_none_or(|p| p.verification_gas_limit != 0 && p.post_op_gas_limit != 0);
        if let (Some(call), Some(verification), Some(pre_verification), true) = (
            overrides.call_gas_limit,
            overrides.verification_gas_limit,
            overrides.pre_verification_gas,
            paymaster_gas_given,
        ) {
            // Every gas value given: no estimation (which would simulate, and could refuse, the op).
            op.call_gas_limit = call;
            op.verification_gas_limit = verification;
            op.pre_verification_gas = pre_verification;
            return Ok(op);
        }
        let estimate = client.estimate_user_operation_gas(&op).await?;
        op.call_gas_limit = match overrides.call_gas_limit {
            Some(v) => v,
            None => gas_u128(estimate.call_gas_limit, "callGasLimit")?,
        };
        op.verification_gas_limit = match overrides.verification_gas_limit {
            Some(v) => v,
            None => gas_u128(estimate.verification_gas_limit, "verificationGasLimit")?,
        };
        op.pre_verification_gas = overrides.pre_verification_gas.unwrap_or(estimate.pre_verification_gas);
        if let Some(p) = op.paymaster.as_mut() {
            if p.verification_gas_limit == 0 {
                let v = estimate.paymaster_verification_gas_limit.unwrap_or(estimate.verification_gas_limit);
                p.verification_gas_limit = gas_u128(v, "paymasterVerificationGasLimit")?;
            }
            if p.post_op_gas_limit == 0 {
                let v = estimate.paymaster_post_op_gas_limit.unwrap_or_default();
                p.post_op_gas_limit = gas_u128(v, "paymasterPostOpGasLimit")?;
            }
        }
        Ok(op)
    }
}

impl<S: Signer + Send + Sync> ModularAccount<S> {
    /// Prepares and signs an operation running `call_data`.
    pub async fn build_user_operation(
        &self,
        client: &BundlerClient,
        call_data: Bytes,
        overrides: GasOverrides,
    ) -> Result<UserOperation, AccountError> {
        let mut op = self.prepare_user_operation(client, call_data, overrides).await?;
        self.sign_user_operation(&mut op).await?;
        Ok(op)
    }

    /// Builds, signs and sends an operation running `call_data`; returns its userOpHash.
    pub async fn send_user_operation(&self, client: &BundlerClient, call_data: Bytes) -> Result<B256, AccountError> {
        let op = self.build_user_operation(client, call_data, GasOverrides::default()).await?;
        Ok(client.send_user_operation(&op).await?)
    }

    /// Sends `calls` (encoded by [`Self::encode_calls`]) and waits for the receipt.
    pub async fn send_calls(
        &self,
        client: &BundlerClient,
        calls: Vec<Call>,
    ) -> Result<UserOperationReceipt, AccountError> {
        let call_data = self.encode_calls(client, calls).await?;
        let hash = self.send_user_operation(client, call_data).await?;
        Ok(client.wait_for_receipt(hash).await?)
    }
}
