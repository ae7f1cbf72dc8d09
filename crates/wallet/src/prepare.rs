//! `wallet_prepareCalls`: the user operation (and, for an EOA not yet delegated, the EIP-7702
//! authorization) that executes the calls, with gas estimated by simulation and current fees;
//! remembered by userOpHash for `wallet_sendPreparedCalls`.

use alloy::eips::eip7702::Authorization;
use alloy::primitives::{Address, Bytes, U256};
use keyward_primitives::mav2::SessionKey;
use keyward_primitives::mav2::abi::{Call as BatchCall, encode_execute, encode_execute_batch, user_op_call_data};
use keyward_primitives::mav2::session_key::DUMMY_P256_USER_OP_SIGNATURE;
use keyward_primitives::mav2::signature::DUMMY_USER_OP_SIGNATURE;
use keyward_primitives::unix_now;
use keyward_primitives::{FactoryInit, PaymasterInit, UserOperation};
use keyward_store::sponsorship::Reserving;
use keyward_store::wallet::PreparedRecord;

use crate::config::{SponsorError, SponsorQuote};
use crate::error::{WalletError, WalletResult};
use crate::nonces::ChosenNonce;
use crate::records;
use crate::service::{ResolvedAccount, Wallet};
use crate::sessions::ActingSession;
use crate::types::{
    Call, DelegationRequest, GasOverride, GasOverrides, GasPayment, PrepareCalls, Prepared, PreparedCalls, PreparedOp,
    SignatureScheme,
};

/// The account call that runs `calls`: `execute` for one call, `executeBatch` otherwise (an empty
/// `executeBatch` for no calls: the account's validation needs a function to check, and the op
/// still deploys or delegates the account); a single call to the account itself is the account
/// function's calldata (the account refuses to run its own functions through `execute`).
pub(crate) fn account_call(account: Address, calls: &[Call]) -> WalletResult<Bytes> {
    match calls {
        [only] if only.to == account => {
            if !only.value().is_zero() {
                return Err(WalletError::params("a call to the account's own function cannot carry value"));
            }
            Ok(only.data())
        }
        [only] => Ok(encode_execute(only.to, only.value(), only.data())),
        many => Ok(encode_execute_batch(
            many.iter().map(|c| BatchCall { target: c.to, value: c.value(), data: c.data() }).collect(),
        )),
    }
}

/// Applies one `gasParamsOverride` entry to an estimate.
fn overridden(estimate: u128, o: &Option<GasOverride>, name: &str) -> WalletResult<u128> {
    match o {
        None => Ok(estimate),
        Some(GasOverride::Absolute(v)) => {
            u128::try_from(*v).map_err(|_| WalletError::params(format!("gasParamsOverride.{name} exceeds 128 bits")))
        }
        Some(GasOverride::Multiplier(multiplier)) => {
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

fn apply_overrides(op: &mut UserOperation, o: &GasOverrides) -> WalletResult<()> {
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

/// Refuses an `eip7702Auth` request that does not fit the account.
fn check_delegation_request(account: &ResolvedAccount, request: Option<&DelegationRequest>) -> WalletResult<()> {
    match (account, request) {
        (_, None) => Ok(()),
        (ResolvedAccount::Sma { address, .. }, Some(_)) => {
            Err(WalletError::params(format!("eip7702Auth: {address} is a smart contract account, not an EOA")))
        }
        (_, Some(DelegationRequest { undelegate: true, .. })) => Err(WalletError::UnsupportedCapability(
            "eip7702Auth: undelegation (delegation to the zero address) is not supported by this server".into(),
        )),
        (_, Some(DelegationRequest { account: Some(a), .. })) if *a != account.address() => {
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
    pub async fn prepare_calls(&self, p: PrepareCalls) -> WalletResult<Prepared> {
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

    /// The gas policy to sponsor under, if the prepare is to be sponsored.
    fn sponsorship(&self, payment: &GasPayment) -> WalletResult<Option<Sponsorship>> {
        let GasPayment::Sponsored { policy_id } = payment else {
            return Ok(None);
        };
        let Some(sponsor) = self.config.sponsor.clone() else {
            return Err(WalletError::UnsupportedCapability(
                "paymasterService: gas sponsorship is not configured on this server".into(),
            ));
        };
        Ok(Some((sponsor, policy_id.clone())))
    }

    /// For an EOA not yet delegated to our implementation: the authorization this op carries and
    /// the delegate to assume while estimating. Waits (busy) while an earlier delegation is pending.
    async fn delegation(&self, account: &ResolvedAccount) -> WalletResult<Option<Authorization>> {
        let ResolvedAccount::Eip7702 { address } = account else {
            return Ok(None);
        };
        let implementation = self.config.deployment.sma_7702_impl;
        if self.delegate_of(*address).await? == Some(implementation) {
            return Ok(None);
        }
        self.require_7702_implementation().await?;
        if self.setup_pending(*address).await? {
            return Err(WalletError::Busy(format!("the delegation of {address} is still pending in an earlier call")));
        }
        let nonce = self.chain.transaction_count(*address, true).await?;
        Ok(Some(Authorization { chain_id: U256::from(self.chain_id), address: implementation, nonce }))
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
    async fn prepare_once(&self, p: &PrepareCalls) -> WalletResult<Prepared> {
        self.check_chain(p.chain_id)?;
        let policy = self.sponsorship(&p.gas_payment)?;
        let only_estimation = p.gas_payment == GasPayment::EstimateOnly;
        let calls = p.calls.clone();
        let account = self.resolve_account(p.from).await?;
        check_delegation_request(&account, p.delegation.as_ref())?;
        let acting = match &p.permissions_context {
            Some(context) => Some(self.acting_session(&account, context, &calls).await?),
            None => None,
        };
        let authorization = self.delegation(&account).await?;
        let factory = self.factory_init(&account).await?;
        let nonce_override = p.nonce_key;
        let sets_up = authorization.is_some() || factory.is_some();
        let chosen = self.choose_nonce(&account, acting.as_ref(), nonce_override, sets_up, only_estimation).await?;
        let leases = chosen.leases.clone();
        let lease_token = chosen.lease_token().map(str::to_string);
        // Holding the setup lease, look again: the holder before us may have sent (or even
        // included) the op that sets the account up, after we looked.
        if sets_up && !leases.is_empty() && self.set_up_since(&account, factory.is_some()).await? {
            self.drop_leases(leases).await;
            return Err(WalletError::Busy(format!("{} was set up by another call meanwhile", account.address())));
        }
        let sponsorship = policy.clone();
        let built =
            self.build_prepared(&account, acting.as_ref(), p, policy, chosen, authorization, factory, calls).await;
        let stored = match built {
            // An estimate only is never signed nor sent: nothing to remember.
            Ok((_, result, _)) if only_estimation => return Ok(result),
            Ok((record, result, quote)) => {
                let sponsored = sponsorship.as_ref().zip(quote);
                self.store_prepared(record, result, lease_token.as_deref(), sponsored).await
            }
            Err(e) => Err(e),
        };
        match stored {
            Ok((stored, result)) => {
                self.prepared.put(stored.hash, stored);
                Ok(result)
            }
            Err(e) => {
                self.drop_leases(leases).await;
                Err(e)
            }
        }
    }

    /// Builds, estimates and (when asked) sponsors the operation; its record, the answer, and the
    /// sponsorship's quote (its reservation not yet stored).
    #[allow(clippy::too_many_arguments)]
    async fn build_prepared(
        &self,
        account: &ResolvedAccount,
        acting: Option<&ActingSession>,
        p: &PrepareCalls,
        policy: Option<Sponsorship>,
        chosen: ChosenNonce,
        authorization: Option<Authorization>,
        factory: Option<FactoryInit>,
        calls: Vec<Call>,
    ) -> WalletResult<(PreparedRecord, Prepared, Option<SponsorQuote>)> {
        let only_estimation = p.gas_payment == GasPayment::EstimateOnly;
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
        // A P-256 session's dummy runs the module's whole verification (about 0.8M gas where the
        // chain has no P-256 precompile), so the estimate covers the real signature.
        let scheme = match acting.and_then(|a| a.signer) {
            Some(SessionKey::P256(_)) => SignatureScheme::P256,
            _ => SignatureScheme::Secp256k1,
        };
        let dummy = match scheme {
            SignatureScheme::P256 => DUMMY_P256_USER_OP_SIGNATURE,
            SignatureScheme::Secp256k1 => DUMMY_USER_OP_SIGNATURE,
        };
        op.signature = match &deferred_prefix {
            Some(prefix) => {
                prefix.user_op_signature(&dummy).map_err(|e| WalletError::Internal(format!("deferred action: {e}")))?
            }
            None => dummy,
        };
        if let Some((sponsor, policy_id)) = &policy {
            op.paymaster = sponsor.stub(&op, policy_id).await.map_err(|e| sponsor_error(policy_id, e))?;
        }
        // Estimated as if the account's pending operations of this key were included (the bundler
        // admits it under the same assumption).
        let delegate = authorization.as_ref().map(|a| a.address);
        let estimate = self.pool.estimate(&op, delegate, chosen.known).await.map_err(simulation_failed)?;
        op.call_gas_limit = estimate.call_gas_limit.saturating_to();
        op.verification_gas_limit = estimate.verification_gas_limit.saturating_to();
        op.pre_verification_gas = estimate.pre_verification_gas;
        if let Some(o) = &p.gas_overrides {
            apply_overrides(&mut op, o)?;
        }
        // Last: the paymaster signs the final gas values (its reservation is stored with the
        // prepared row, before anything is handed out).
        let quote = match &policy {
            Some((sponsor, policy_id)) => {
                let quote = sponsor.quote(&op, policy_id).await.map_err(|e| sponsor_error(policy_id, e))?;
                op.paymaster = Some(quote.paymaster.clone());
                Some(quote)
            }
            None => None,
        };
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
            authorization_json: authorization.as_ref().map(records::authorization_json).transpose()?,
            deferred: deferred_prefix.is_some(),
            owner_signature: acting.and_then(|a| a.deferred.as_ref()).map(|s| Bytes::from(s.as_bytes().to_vec())),
            calls_json: records::calls_json(&calls)?,
            created_at: unix_now(),
        };
        let op = PreparedOp { op, hash, needs_signature: !only_estimation, scheme };
        let prepared = match authorization {
            Some(authorization) => PreparedCalls::Delegation { authorization, op },
            None => PreparedCalls::UserOperation(op),
        };
        Ok((record, Prepared { chain_id: self.chain_id, prepared, calls }, quote))
    }

    /// Stores the prepared operation `record` (with its sponsorship's reservation, in one
    /// transaction, when `sponsored`); returns the record and answer as stored. A retried prepare
    /// whose operation the ledger reserved before gets the paymaster fields signed for that
    /// reservation instead.
    async fn store_prepared(
        &self,
        record: PreparedRecord,
        result: Prepared,
        lease_token: Option<&str>,
        sponsored: Option<(&Sponsorship, SponsorQuote)>,
    ) -> WalletResult<(PreparedRecord, Prepared)> {
        let Some(((sponsor, policy_id), quote)) = sponsored else {
            return Ok((self.store.insert_prepared(&record, lease_token).await?, result));
        };
        let reserving = self.store.insert_prepared_reserving(&quote.reservation, &record, lease_token).await;
        match reserving.map_err(|e| sponsor_error(policy_id, sponsor.ledger_error(policy_id, e)))? {
            Reserving::Stored(stored) => Ok((*stored, result)),
            Reserving::AlreadyReserved(existing) => {
                let paymaster =
                    sponsor.resign(&result.prepared.op().op, &existing).map_err(|e| sponsor_error(policy_id, e))?;
                let (record, result) = self.with_paymaster(record, result, paymaster)?;
                Ok((self.store.insert_prepared(&record, lease_token).await?, result))
            }
        }
    }

    /// `record` and `result` with the operation's paymaster fields replaced by `paymaster` (and so
    /// its hash).
    fn with_paymaster(
        &self,
        mut record: PreparedRecord,
        mut result: Prepared,
        paymaster: PaymasterInit,
    ) -> WalletResult<(PreparedRecord, Prepared)> {
        let prepared = match &mut result.prepared {
            PreparedCalls::UserOperation(op) | PreparedCalls::Delegation { op, .. } => op,
        };
        prepared.op.paymaster = Some(paymaster);
        prepared.hash = prepared.op.hash(self.config.deployment.entry_point, self.chain_id);
        record.hash = prepared.hash;
        record.op_json = serde_json::to_string(&prepared.op).map_err(|e| WalletError::Internal(e.to_string()))?;
        Ok((record, result))
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
        WalletError::Bundler { reason, .. } => WalletError::Bundler { reason, simulation: true },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let o = GasOverrides {
            call_gas_limit: Some(GasOverride::Multiplier(1.5)),
            verification_gas_limit: Some(GasOverride::Absolute(U256::from(7))),
            ..Default::default()
        };
        apply_overrides(&mut op, &o).unwrap();
        assert_eq!((op.call_gas_limit, op.verification_gas_limit), (150_000, 7));
        assert_eq!(op.pre_verification_gas, U256::from(50_000), "untouched");
        let bad = GasOverrides { max_fee_per_gas: Some(GasOverride::Multiplier(-1.0)), ..Default::default() };
        assert!(
            matches!(apply_overrides(&mut op, &bad), Err(WalletError::InvalidParams(m)) if m.contains("maxFeePerGas"))
        );
        let inverted = GasOverrides {
            max_priority_fee_per_gas: Some(GasOverride::Absolute(U256::from(11))),
            ..Default::default()
        };
        assert!(apply_overrides(&mut op, &inverted).is_err(), "priority above the cap");
    }

    #[test]
    fn calls_become_execute_batch_or_a_direct_account_call() {
        let account = Address::repeat_byte(0xac);
        let to = Address::repeat_byte(0x01);
        let one = Call { to, data: Some(Bytes::from(vec![1, 2, 3, 4])), value: Some(U256::from(5)) };
        assert_eq!(
            account_call(account, std::slice::from_ref(&one)).unwrap(),
            encode_execute(to, U256::from(5), vec![1, 2, 3, 4].into())
        );
        let batch = account_call(account, &[one.clone(), one.clone()]).unwrap();
        assert_eq!(&batch[..4], &[0x34, 0xfc, 0xd5, 0xbe], "executeBatch");
        let own = Call { to: account, data: Some(Bytes::from(vec![9, 9, 9, 9])), value: None };
        assert_eq!(account_call(account, &[own]).unwrap(), Bytes::from(vec![9, 9, 9, 9]));
        let own_with_value = Call { to: account, data: None, value: Some(U256::from(1)) };
        assert!(account_call(account, &[own_with_value]).is_err());
    }
}
