//! `wallet_prepareCalls`: the user operation (and, for an EOA not yet delegated, the EIP-7702
//! authorization) that executes the calls, with gas estimated by simulation and current fees;
//! remembered by userOpHash for `wallet_sendPreparedCalls`.

use alloy::primitives::{Address, Bytes, U256};
use keyward_api::wallet::{
    AuthorizationData, Call, Delegation, Eip7702AuthCapability, FeePayment, GasParam, GasParamsOverride, HexNumber,
    PrepareCallsCapabilities, PrepareCallsParams, PrepareCallsResult, PrepareDetails, PreparedAuthorization,
    PreparedCallItem, PreparedCalls, PreparedUserOpV07, SignatureRequest, UserOpV07, UserOperationDetails,
};
use keyward_primitives::mav2::abi::{Call as BatchCall, encode_execute, encode_execute_batch, user_op_call_data};
use keyward_primitives::mav2::signature::DUMMY_USER_OP_SIGNATURE;
use keyward_primitives::unix_now;
use keyward_primitives::{FactoryInit, UserOperation};
use keyward_store::wallet::PreparedRecord;

use crate::config::SponsorError;
use crate::error::{WalletError, WalletResult};
use crate::nonces::ChosenNonce;
use crate::service::{ResolvedAccount, Wallet};
use crate::sessions::ActingSession;

/// The account call that runs `calls`: `execute` for one call, `executeBatch` otherwise (an empty
/// `executeBatch` for no calls: the account's validation needs a function to check, and the op
/// still deploys or delegates the account); a single call to the account itself is the account
/// function's calldata (the account refuses to run its own functions through `execute`).
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

/// The gas policy a prepare asks for, when it is to be sponsored.
type Sponsorship = (std::sync::Arc<dyn crate::config::Sponsor>, String);

/// Whether the prepare only estimates (`paymasterService.onlyEstimation`): nothing is sponsored,
/// leased or remembered, and no signature is requested.
fn estimate_only(caps: &PrepareCallsCapabilities) -> bool {
    caps.paymaster_service.as_ref().is_some_and(|pm| pm.only_estimation == Some(true))
}

/// Refuses the capabilities this server does not support.
fn check_supported(p: &PrepareCallsParams, caps: &PrepareCallsCapabilities) -> WalletResult<()> {
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
    Ok(())
}

/// Refuses an `eip7702Auth` capability that does not fit the account.
fn check_eip7702_capability(account: &ResolvedAccount, cap: Option<&Eip7702AuthCapability>) -> WalletResult<()> {
    match (account, cap) {
        (_, None) => Ok(()),
        (ResolvedAccount::Sma { address, .. }, Some(_)) => {
            Err(WalletError::params(format!("eip7702Auth: {address} is a smart contract account, not an EOA")))
        }
        (_, Some(Eip7702AuthCapability::Explicit { delegation: Delegation::Undelegate, .. })) => {
            Err(WalletError::UnsupportedCapability(
                "eip7702Auth: undelegation (delegation to the zero address) is not supported by this server".into(),
            ))
        }
        (_, Some(Eip7702AuthCapability::Explicit { account: Some(a), .. })) if *a != account.address() => {
            Err(WalletError::params(format!("eip7702Auth.account {a} is not `from` ({})", account.address())))
        }
        _ => Ok(()),
    }
}

/// A sponsor's refusal or failure as the wallet answers it.
fn sponsor_error(policy_id: &str, e: SponsorError) -> WalletError {
    match e {
        SponsorError::Refused { reason, message } => {
            WalletError::PolicyRejected { policy_id: policy_id.to_string(), reason, message }
        }
        SponsorError::Invalid(m) => WalletError::params(format!("paymasterService: {m}")),
        SponsorError::Unavailable(m) => WalletError::Internal(format!("paymasterService: {m}")),
    }
}

impl Wallet {
    /// `wallet_prepareCalls`. When the account has an earlier operation in flight that this one
    /// depends on (a session's install, an EIP-7702 delegation), waits for it to be included, up
    /// to [`crate::WalletConfig::in_flight_wait`].
    pub async fn prepare_calls(&self, p: PrepareCallsParams) -> WalletResult<PrepareCallsResult> {
        let deadline = tokio::time::Instant::now() + self.config.in_flight_wait;
        loop {
            match self.prepare_once(&p).await {
                Err(WalletError::Busy(why)) if tokio::time::Instant::now() < deadline => {
                    tracing::debug!(%why, "prepare waits for an operation in flight");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Err(WalletError::Busy(why)) => {
                    return Err(WalletError::rejected(format!(
                        "{why}; it is still in flight after {} s: retry once it is included",
                        self.config.in_flight_wait.as_secs()
                    )));
                }
                other => return other,
            }
        }
    }

    /// The gas policy to sponsor under, if the capability asks for sponsorship.
    fn sponsorship(&self, caps: &PrepareCallsCapabilities) -> WalletResult<Option<Sponsorship>> {
        let Some(pm) = caps.paymaster_service.as_ref().filter(|_| !estimate_only(caps)) else {
            return Ok(None);
        };
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
        Ok(Some((sponsor, first.as_str().to_string())))
    }

    /// For an EOA not yet delegated to our implementation: the authorization this op carries and
    /// the delegate to assume while estimating. Waits (busy) while an earlier delegation is pending.
    async fn delegation(&self, account: &ResolvedAccount) -> WalletResult<Option<AuthorizationData>> {
        let ResolvedAccount::Eip7702 { address } = account else {
            return Ok(None);
        };
        let implementation = self.config.deployment.sma_7702_impl;
        if self.delegate_of(*address).await? == Some(implementation) {
            return Ok(None);
        }
        if self.setup_pending(*address).await? {
            return Err(WalletError::Busy(format!("the delegation of {address} is still pending in an earlier call")));
        }
        let nonce = self.chain.transaction_count(*address, true).await?;
        let nonce = HexNumber::try_from(nonce).map_err(|e| WalletError::Internal(e.to_string()))?;
        Ok(Some(AuthorizationData { address: implementation, nonce }))
    }

    /// The factory init of a counterfactual smart account not yet deployed. Waits (busy) while an
    /// earlier operation that deploys it is pending.
    async fn factory_init(&self, account: &ResolvedAccount) -> WalletResult<Option<FactoryInit>> {
        match account {
            ResolvedAccount::Sma { address, owner, salt } if self.code(*address).await?.is_empty() => {
                if self.setup_pending(*address).await? {
                    return Err(WalletError::Busy(format!(
                        "the deployment of {address} is still pending in an earlier call"
                    )));
                }
                let init = self.sma_init(*owner, *salt);
                Ok(Some(FactoryInit { factory: init.factory, factory_data: init.factory_data() }))
            }
            _ => Ok(None),
        }
    }

    /// One attempt at `wallet_prepareCalls`; [`WalletError::Busy`] when it must wait.
    async fn prepare_once(&self, p: &PrepareCallsParams) -> WalletResult<PrepareCallsResult> {
        self.check_chain(p.chain_id)?;
        let caps = p.capabilities.clone().unwrap_or_default();
        check_supported(p, &caps)?;
        let policy = self.sponsorship(&caps)?;
        let only_estimation = estimate_only(&caps);
        let calls = p.calls.clone().unwrap_or_default();
        let account = self.resolve_account(p.from).await?;
        check_eip7702_capability(&account, caps.eip7702_auth.as_ref())?;
        let acting = match &caps.permissions {
            Some(pc) => Some(self.acting_session(&account, pc, &calls).await?),
            None => None,
        };
        let authorization = self.delegation(&account).await?;
        let factory = self.factory_init(&account).await?;
        let nonce_override = caps.nonce_override.as_ref().map(|n| n.nonce_key.0);
        let sets_up = authorization.is_some() || factory.is_some();
        let chosen = self.choose_nonce(&account, acting.as_ref(), nonce_override, sets_up, only_estimation).await?;
        let leases = chosen.leases.clone();
        // Holding the setup lease, look again: the holder before us may have sent (or even
        // included) the op that sets the account up, after we looked.
        if sets_up && !leases.is_empty() && self.set_up_since(&account, factory.is_some()).await? {
            self.drop_leases(leases).await;
            return Err(WalletError::Busy(format!("{} was set up by another call meanwhile", account.address())));
        }
        let built =
            self.build_prepared(&account, acting.as_ref(), &caps, policy, chosen, authorization, factory, calls).await;
        match built {
            Ok((record, result)) => {
                // An estimate only is never signed nor sent: nothing to remember.
                if !only_estimation {
                    let stored = self.store.insert_prepared(&record).await;
                    if let Err(e) = stored {
                        self.drop_leases(leases).await;
                        return Err(e.into());
                    }
                    for lease in &leases {
                        self.store.bind_nonce_lease(lease, record.hash).await?;
                    }
                }
                Ok(result)
            }
            Err(e) => {
                self.drop_leases(leases).await;
                Err(e)
            }
        }
    }

    /// Builds, estimates and (when asked) sponsors the operation; its record and the answer.
    #[allow(clippy::too_many_arguments)]
    async fn build_prepared(
        &self,
        account: &ResolvedAccount,
        acting: Option<&ActingSession>,
        caps: &PrepareCallsCapabilities,
        policy: Option<Sponsorship>,
        chosen: ChosenNonce,
        authorization: Option<AuthorizationData>,
        factory: Option<FactoryInit>,
        calls: Vec<Call>,
    ) -> WalletResult<(PreparedRecord, PrepareCallsResult)> {
        let only_estimation = estimate_only(caps);
        let inner = account_call(account.address(), &calls)?;
        let has_hooks = acting.is_some_and(|a| a.has_execution_hooks);
        let fees = self.pool.fees().await?;
        let mut op = UserOperation {
            sender: account.address(),
            nonce: chosen.nonce,
            factory,
            call_data: user_op_call_data(&inner, has_hooks),
            max_fee_per_gas: fees.max_fee_per_gas,
            max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
            ..Default::default()
        };
        let deferred_prefix = acting.and_then(|a| a.deferred_prefix());
        op.signature = match &deferred_prefix {
            Some(prefix) => prefix
                .user_op_signature(&DUMMY_USER_OP_SIGNATURE)
                .map_err(|e| WalletError::Internal(format!("deferred action: {e}")))?,
            None => DUMMY_USER_OP_SIGNATURE,
        };
        if let Some((sponsor, policy_id)) = &policy {
            op.paymaster = sponsor.stub(&op, policy_id).await.map_err(|e| sponsor_error(policy_id, e))?;
        }
        // Estimated as if the account's pending operations of this key were included (the bundler
        // admits it under the same assumption).
        let delegate = authorization.as_ref().map(|a| a.address);
        let estimate = self.pool.estimate(&op, delegate).await.map_err(simulation_failed)?;
        op.call_gas_limit = estimate.call_gas_limit.saturating_to();
        op.verification_gas_limit = estimate.verification_gas_limit.saturating_to();
        op.pre_verification_gas = estimate.pre_verification_gas;
        if let Some(o) = &caps.gas_params_override {
            apply_overrides(&mut op, o)?;
        }
        // Last: the paymaster signs the final gas values.
        if let Some((sponsor, policy_id)) = &policy {
            let paymaster = sponsor.sponsor(&op, policy_id).await.map_err(|e| sponsor_error(policy_id, e))?;
            op.paymaster = Some(paymaster);
        }
        op.signature = Bytes::new();

        let hash = op.hash(self.config.deployment.entry_point, self.chain_id);
        let internal = |e: serde_json::Error| WalletError::Internal(e.to_string());
        let record = PreparedRecord {
            chain_id: self.chain_id,
            hash,
            account: account.address(),
            op_json: serde_json::to_string(&op).map_err(internal)?,
            session_id: acting.and_then(|a| a.session.as_ref().map(|s| s.id)),
            signer: chosen.signer.unwrap_or(Address::ZERO),
            authorization_json: authorization.as_ref().map(serde_json::to_string).transpose().map_err(internal)?,
            deferred: deferred_prefix.is_some(),
            owner_signature: acting.and_then(|a| a.deferred.as_ref()).map(|s| Bytes::from(s.as_bytes().to_vec())),
            calls_json: serde_json::to_string(&calls).map_err(internal)?,
            created_at: unix_now(),
        };
        let result = self.prepare_answer(&op, hash, authorization, calls, only_estimation)?;
        Ok((record, result))
    }

    /// The `wallet_prepareCalls` answer for `op` (and the authorization it carries).
    fn prepare_answer(
        &self,
        op: &UserOperation,
        hash: alloy::primitives::B256,
        authorization: Option<AuthorizationData>,
        calls: Vec<Call>,
        only_estimation: bool,
    ) -> WalletResult<PrepareCallsResult> {
        let chain_id = HexNumber::try_from(self.chain_id).map_err(|e| WalletError::Internal(e.to_string()))?;
        let prepared_op = PreparedUserOpV07 {
            data: UserOpV07::from_user_operation(op),
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

    /// Whether `account` is set up (deployed when `deploying`, delegated otherwise) or being set up
    /// by an operation in the mempool.
    async fn set_up_since(&self, account: &ResolvedAccount, deploying: bool) -> WalletResult<bool> {
        if self.setup_pending(account.address()).await? {
            return Ok(true);
        }
        Ok(match deploying {
            true => !self.code(account.address()).await?.is_empty(),
            false => self.delegate_of(account.address()).await? == Some(self.config.deployment.sma_7702_impl),
        })
    }

    /// Whether an op that sets `sender` up (deploys it through a factory, or delegates it with an
    /// EIP-7702 authorization) is still waiting in the pool: later ops depend on it.
    async fn setup_pending(&self, sender: Address) -> WalletResult<bool> {
        Ok(self.pool.setup_pending(sender).await?)
    }
}

/// A refusal by simulation, as the wallet answers it (`simulation failed: …`).
fn simulation_failed(e: keyward_bundler::RejectReason) -> WalletError {
    match WalletError::from(e) {
        WalletError::Rejected { message, by_bundler } => {
            WalletError::Rejected { message: format!("simulation failed: {message}"), by_bundler }
        }
        other => other,
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
