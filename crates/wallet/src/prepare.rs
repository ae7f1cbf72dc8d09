//! `wallet_prepareCalls`: the user operation (and, for an EOA not yet delegated, the EIP-7702
//! authorization) that executes the calls, with gas estimated by simulation and current fees;
//! remembered by userOpHash for `wallet_sendPreparedCalls`.

use alloy::primitives::{Address, Bytes, U256};
use keyward_api::bundler::RpcUserOperation;
use keyward_api::wallet::{
    AuthorizationData, Call, Delegation, Eip7702AuthCapability, FeePayment, GasParam, GasParamsOverride, HexNumber,
    PrepareCallsParams, PrepareCallsResult, PrepareDetails, PreparedAuthorization, PreparedCallItem, PreparedCalls,
    PreparedUserOpV07, SignatureRequest, UserOpV07, UserOperationDetails,
};
use keyward_bundler::estimate::estimate_user_op_gas;
use keyward_bundler::submit::current_fees;
use keyward_primitives::mav2::abi::{Call as BatchCall, encode_execute, encode_execute_batch, user_op_call_data};
use keyward_primitives::mav2::signature::DUMMY_USER_OP_SIGNATURE;
use keyward_primitives::mav2::{NonceKey, ValidationLocator};
use keyward_primitives::{FactoryInit, UserOperation};
use keyward_store::wallet::{PreparedRecord, wallet_now};

use crate::error::{WalletError, WalletResult};
use crate::service::{ResolvedAccount, Wallet};
use crate::sessions::ActingSession;

/// The account call that runs `calls`: `execute` for one call, `executeBatch` otherwise; a single
/// call to the account itself is the account function's calldata (the account refuses to run its
/// own functions through `execute`).
pub(crate) fn account_call(account: Address, calls: &[Call]) -> WalletResult<Bytes> {
    let value = |c: &Call| c.value.map(|v| v.0).unwrap_or_default();
    let data = |c: &Call| c.data.clone().unwrap_or_default();
    match calls {
        [only] if only.to == account => {
            if !value(only).is_zero() {
                return Err(WalletError::params("a call to the account's own function cannot carry value"));
            }
            Ok(data(only))
        }
        [only] => Ok(encode_execute(only.to, value(only), data(only))),
        many => Ok(encode_execute_batch(
            many.iter().map(|c| BatchCall { target: c.to, value: value(c), data: data(c) }).collect(),
        )),
    }
}

/// Applies one `gasParamsOverride` entry to an estimate.
fn overridden(estimate: u128, o: &Option<GasParam>, name: &str) -> WalletResult<u128> {
    match o {
        None => Ok(estimate),
        Some(GasParam::Absolute(v)) => {
            u128::try_from(v.0).map_err(|_| WalletError::params(format!("gasParamsOverride.{name} exceeds 128 bits")))
        }
        Some(GasParam::Multiplier { multiplier }) => {
            if !multiplier.is_finite() || *multiplier <= 0.0 || *multiplier > 1000.0 {
                return Err(WalletError::params(format!(
                    "gasParamsOverride.{name}.multiplier must be a number in (0, 1000], got {multiplier}"
                )));
            }
            // Parts per million, so the multiplication stays in integers.
            let ppm = (multiplier * 1_000_000.0).round() as u128;
            Ok(estimate.saturating_mul(ppm) / 1_000_000)
        }
    }
}

fn apply_overrides(op: &mut UserOperation, o: &GasParamsOverride) -> WalletResult<()> {
    op.call_gas_limit = overridden(op.call_gas_limit, &o.call_gas_limit, "callGasLimit")?;
    op.verification_gas_limit =
        overridden(op.verification_gas_limit, &o.verification_gas_limit, "verificationGasLimit")?;
    let pvg = u128::try_from(op.pre_verification_gas).unwrap_or(u128::MAX);
    op.pre_verification_gas = U256::from(overridden(pvg, &o.pre_verification_gas, "preVerificationGas")?);
    op.max_fee_per_gas = overridden(op.max_fee_per_gas, &o.max_fee_per_gas, "maxFeePerGas")?;
    op.max_priority_fee_per_gas =
        overridden(op.max_priority_fee_per_gas, &o.max_priority_fee_per_gas, "maxPriorityFeePerGas")?;
    if let Some(p) = op.paymaster.as_mut() {
        p.verification_gas_limit =
            overridden(p.verification_gas_limit, &o.paymaster_verification_gas_limit, "paymasterVerificationGasLimit")?;
        p.post_op_gas_limit =
            overridden(p.post_op_gas_limit, &o.paymaster_post_op_gas_limit, "paymasterPostOpGasLimit")?;
    }
    if op.max_priority_fee_per_gas > op.max_fee_per_gas {
        return Err(WalletError::params("gasParamsOverride: maxPriorityFeePerGas exceeds maxFeePerGas"));
    }
    Ok(())
}

impl Wallet {
    /// `wallet_prepareCalls`.
    pub async fn prepare_calls(&self, p: PrepareCallsParams) -> WalletResult<PrepareCallsResult> {
        self.check_chain(p.chain_id)?;
        let caps = p.capabilities.unwrap_or_default();
        if p.paymaster_permit_signature.is_some() {
            return Err(WalletError::UnsupportedCapability(
                "paymasterPermitSignature: ERC-20 gas payment is not supported by this server".into(),
            ));
        }
        if caps.state_override.is_some() {
            return Err(WalletError::UnsupportedCapability("stateOverride is not supported by this server".into()));
        }
        if caps.experimental_data_suffix.is_some() {
            return Err(WalletError::UnsupportedCapability(
                "experimental_dataSuffix is not supported by this server".into(),
            ));
        }
        let policy = match &caps.paymaster_service {
            None => None,
            Some(pm) if pm.only_estimation == Some(true) => None,
            Some(pm) => {
                if pm.erc20.is_some() {
                    return Err(WalletError::UnsupportedCapability(
                        "paymasterService.erc20: ERC-20 gas payment is not supported by this server".into(),
                    ));
                }
                let Some(sponsor) = self.config.sponsor.clone() else {
                    return Err(WalletError::UnsupportedCapability(
                        "paymasterService: gas sponsorship is not configured on this server".into(),
                    ));
                };
                let first = pm
                    .policies()
                    .into_iter()
                    .next()
                    .ok_or_else(|| WalletError::params("paymasterService needs policyId or policyIds"))?;
                Some((sponsor, first))
            }
        };
        let only_estimation = caps.paymaster_service.as_ref().is_some_and(|pm| pm.only_estimation == Some(true));
        let calls = p.calls.unwrap_or_default();
        let account = self.resolve_account(p.from).await?;

        if let Some(cap) = &caps.eip7702_auth {
            match (&account, cap) {
                (ResolvedAccount::Sma { address, .. }, _) => {
                    return Err(WalletError::params(format!(
                        "eip7702Auth: {address} is a smart contract account, not an EOA"
                    )));
                }
                (_, Eip7702AuthCapability::Explicit { delegation: Delegation::Undelegate, .. }) => {
                    return Err(WalletError::UnsupportedCapability(
                        "eip7702Auth: undelegation (delegation to the zero address) is not supported by this server"
                            .into(),
                    ));
                }
                (_, Eip7702AuthCapability::Explicit { account: Some(a), .. }) if *a != account.address() => {
                    return Err(WalletError::params(format!(
                        "eip7702Auth.account {a} is not `from` ({})",
                        account.address()
                    )));
                }
                _ => {}
            }
        }

        let acting = match &caps.permissions {
            Some(pc) => Some(self.acting_session(&account, pc, &calls).await?),
            None => None,
        };
        if calls.is_empty() {
            return Err(WalletError::params("calls must contain at least one call"));
        }

        // 7702: an EOA not delegated to our implementation delegates in this op.
        let mut authorization = None;
        let mut assumed_delegate = None;
        if let ResolvedAccount::Eip7702 { address } = &account {
            let implementation = self.config.deployment.sma_7702_impl;
            if self.delegate_of(*address).await? != Some(implementation) {
                if self.delegation_pending(*address).await? {
                    return Err(WalletError::rejected(format!(
                        "the delegation of {address} is still pending in an earlier call; retry once it is included"
                    )));
                }
                let nonce = self.chain.transaction_count(*address, true).await?;
                let nonce = HexNumber::try_from(nonce).map_err(|e| WalletError::Internal(e.to_string()))?;
                authorization = Some(AuthorizationData { address: implementation, nonce });
                assumed_delegate = Some(implementation);
            }
        }

        let factory = match &account {
            ResolvedAccount::Sma { address, owner, salt } if self.code(*address).await?.is_empty() => {
                let init = self.sma_init(*owner, *salt);
                Some(FactoryInit { factory: init.factory, factory_data: init.factory_data() })
            }
            _ => None,
        };

        let parallel_key = caps.nonce_override.as_ref().map(|n| n.nonce_key.0).unwrap_or_default();
        let (nonce, signer) = self.nonce_and_signer(&account, acting.as_ref(), parallel_key).await?;
        let inner = account_call(account.address(), &calls)?;
        let has_hooks = acting.as_ref().is_some_and(|a| a.has_execution_hooks);
        let fees = current_fees(self.chain.as_ref()).await?;
        let mut op = UserOperation {
            sender: account.address(),
            nonce,
            factory,
            call_data: user_op_call_data(&inner, has_hooks),
            max_fee_per_gas: fees.max_fee_per_gas,
            max_priority_fee_per_gas: fees.max_priority_fee_per_gas.max(self.config.validation.min_priority_fee),
            ..Default::default()
        };
        op.max_fee_per_gas = op.max_fee_per_gas.max(op.max_priority_fee_per_gas);
        let deferred_prefix = acting.as_ref().and_then(|a| a.deferred_prefix());
        op.signature = match &deferred_prefix {
            Some(prefix) => prefix
                .user_op_signature(&DUMMY_USER_OP_SIGNATURE)
                .map_err(|e| WalletError::Internal(format!("deferred action: {e}")))?,
            None => DUMMY_USER_OP_SIGNATURE,
        };
        if let Some((sponsor, policy_id)) = &policy {
            op.paymaster = sponsor
                .stub(&op, policy_id.as_str())
                .await
                .map_err(|e| WalletError::rejected(format!("paymasterService: {e}")))?;
        }
        let estimate = estimate_user_op_gas(self.chain.as_ref(), &self.config.validation, &op, assumed_delegate)
            .await
            .map_err(|e| match WalletError::from(e) {
                WalletError::Rejected { message, bundler_code } => {
                    WalletError::Rejected { message: format!("simulation failed: {message}"), bundler_code }
                }
                other => other,
            })?;
        op.call_gas_limit = estimate.call_gas_limit.saturating_to();
        op.verification_gas_limit = estimate.verification_gas_limit.saturating_to();
        op.pre_verification_gas = estimate.pre_verification_gas;
        if let Some(o) = &caps.gas_params_override {
            apply_overrides(&mut op, o)?;
        }
        // Last: the paymaster signs the final gas values.
        if let Some((sponsor, policy_id)) = policy {
            let paymaster = sponsor
                .sponsor(&op, policy_id.as_str())
                .await
                .map_err(|e| WalletError::rejected(format!("paymasterService: {e}")))?;
            op.paymaster = Some(paymaster);
        }
        op.signature = Bytes::new();

        let hash = op.hash(self.config.deployment.entry_point, self.chain_id);
        let calls_json = serde_json::to_string(&calls).map_err(|e| WalletError::Internal(e.to_string()))?;
        let record = PreparedRecord {
            chain_id: self.chain_id,
            hash,
            account: account.address(),
            op_json: serde_json::to_string(&op).map_err(|e| WalletError::Internal(e.to_string()))?,
            session_id: acting.as_ref().and_then(|a| a.session.as_ref().map(|s| s.id)),
            signer: signer.unwrap_or(Address::ZERO),
            authorization_json: authorization
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(|e| WalletError::Internal(e.to_string()))?,
            deferred: deferred_prefix.is_some(),
            owner_signature: acting
                .as_ref()
                .and_then(|a| a.deferred.as_ref())
                .map(|s| Bytes::from(s.as_bytes().to_vec())),
            calls_json,
            created_at: wallet_now(),
        };
        // An estimate only is never signed nor sent: nothing to remember.
        if !only_estimation {
            self.store.insert_prepared(&record).await?;
        }

        let chain_id = HexNumber::try_from(self.chain_id).map_err(|e| WalletError::Internal(e.to_string()))?;
        let prepared_op = PreparedUserOpV07 {
            data: UserOpV07::from_user_operation(&op),
            chain_id,
            signature_request: (!only_estimation).then(|| SignatureRequest::personal_sign_raw(hash)),
            fee_payment: FeePayment {
                sponsored: op.paymaster.is_some(),
                token_address: Address::ZERO,
                max_amount: op.required_prefund().into(),
            },
        };
        let prepared = match authorization {
            Some(auth) => {
                let raw_payload = auth.authorization(chain_id).signature_hash();
                PreparedCalls::Array {
                    data: vec![
                        PreparedCallItem::Authorization(PreparedAuthorization {
                            data: auth,
                            chain_id,
                            signature_request: SignatureRequest::Eip7702Auth { raw_payload },
                        }),
                        PreparedCallItem::UserOperationV070(prepared_op),
                    ],
                }
            }
            None => PreparedCalls::UserOperationV070(prepared_op),
        };
        Ok(PrepareCallsResult {
            prepared,
            details: Some(PrepareDetails::UserOperation { data: UserOperationDetails { hash, calls: Some(calls) } }),
        })
    }

    /// The nonce of the op and the key that must sign it (owner, or the session key).
    async fn nonce_and_signer(
        &self,
        account: &ResolvedAccount,
        acting: Option<&ActingSession>,
        parallel_key: U256,
    ) -> WalletResult<(U256, Option<Address>)> {
        let Some(acting) = acting else {
            let key = NonceKey::new(parallel_key, ValidationLocator::owner())
                .map_err(|e| WalletError::params(format!("nonceOverride: {e}")))?;
            let full_key = U256::from(key.full_key());
            let seq = self.next_sequence(account.address(), full_key).await?;
            return Ok((key.nonce(seq), Some(account.owner())));
        };
        if acting.deferred.is_some() {
            // The installing op's nonce is the one the owner signed.
            let session =
                acting.session.as_ref().ok_or_else(|| WalletError::Internal("deferred without session".into()))?;
            if !parallel_key.is_zero() {
                return Err(WalletError::params(
                    "nonceOverride cannot be used on a session's first call (its nonce is fixed by the grant)",
                ));
            }
            return Ok((session.deferred_nonce, acting.signer));
        }
        let key = acting.nonce_key(parallel_key)?;
        let full_key = U256::from(key.full_key());
        let seq = self.next_sequence(account.address(), full_key).await?;
        Ok((key.nonce(seq), acting.signer))
    }

    /// Whether an op carrying an EIP-7702 authorization for `eoa` is still waiting in the mempool.
    async fn delegation_pending(&self, eoa: Address) -> WalletResult<bool> {
        let pending = self
            .store
            .unfinished_user_ops(self.chain_id, self.config.deployment.entry_point)
            .await
            .map_err(|e| WalletError::Internal(format!("mempool: {e}")))?;
        Ok(pending.iter().any(|r| {
            r.sender == eoa
                && serde_json::from_str::<RpcUserOperation>(&r.op_json).is_ok_and(|o| o.eip7702_auth.is_some())
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyward_api::wallet::HexBigInt;

    #[test]
    fn gas_overrides_absolute_and_multiplied() {
        let mut op = UserOperation {
            call_gas_limit: 100_000,
            verification_gas_limit: 200_000,
            pre_verification_gas: U256::from(50_000),
            max_fee_per_gas: 10,
            max_priority_fee_per_gas: 2,
            ..Default::default()
        };
        let o = GasParamsOverride {
            call_gas_limit: Some(GasParam::Multiplier { multiplier: 1.5 }),
            verification_gas_limit: Some(GasParam::Absolute(HexBigInt::from(7u64))),
            ..Default::default()
        };
        apply_overrides(&mut op, &o).unwrap();
        assert_eq!((op.call_gas_limit, op.verification_gas_limit), (150_000, 7));
        assert_eq!(op.pre_verification_gas, U256::from(50_000), "untouched");
        let bad = GasParamsOverride {
            max_fee_per_gas: Some(GasParam::Multiplier { multiplier: -1.0 }),
            ..Default::default()
        };
        assert!(
            matches!(apply_overrides(&mut op, &bad), Err(WalletError::InvalidParams(m)) if m.contains("maxFeePerGas"))
        );
        let inverted = GasParamsOverride {
            max_priority_fee_per_gas: Some(GasParam::Absolute(HexBigInt::from(11u64))),
            ..Default::default()
        };
        assert!(apply_overrides(&mut op, &inverted).is_err(), "priority above the cap");
    }

    #[test]
    fn calls_become_execute_batch_or_a_direct_account_call() {
        let account = Address::repeat_byte(0xac);
        let to = Address::repeat_byte(0x01);
        let one = Call { to, data: Some(Bytes::from(vec![1, 2, 3, 4])), value: Some(HexBigInt::from(5u64)) };
        assert_eq!(
            account_call(account, std::slice::from_ref(&one)).unwrap(),
            encode_execute(to, U256::from(5), vec![1, 2, 3, 4].into())
        );
        let batch = account_call(account, &[one.clone(), one.clone()]).unwrap();
        assert_eq!(&batch[..4], &[0x34, 0xfc, 0xd5, 0xbe], "executeBatch");
        let own = Call { to: account, data: Some(Bytes::from(vec![9, 9, 9, 9])), value: None };
        assert_eq!(account_call(account, &[own]).unwrap(), Bytes::from(vec![9, 9, 9, 9]));
        let own_with_value = Call { to: account, data: None, value: Some(HexBigInt::from(1u64)) };
        assert!(account_call(account, &[own_with_value]).is_err());
    }
}
