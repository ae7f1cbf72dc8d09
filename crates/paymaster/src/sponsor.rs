//! The sponsor: checks an operation against its policy, reserves its worst-case cost in the ledger
//! and signs the verifying paymaster's data; settles or releases the reservation afterwards.

use std::collections::HashMap;
use std::sync::Arc;

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use keyward_bundler::watch::{EventSink, SeenOp};
use keyward_chain::Chain;
use keyward_primitives::paymaster::{
    PaymasterDataError, ValidityWindow, VerifyingPaymasterData, paymaster_init, sponsorship_signing_digest,
};
use keyward_primitives::{PaymasterInit, UserOperation};
use keyward_store::Store;
use keyward_store::sponsorship::{
    Reservation, ReservationRequest, ReserveOutcome, SponsorshipError, SponsorshipRecord, SponsorshipStatus,
};
use uuid::Uuid;

use crate::policy::{Policy, PolicyError, max_cost, parse_policy_id};

/// Gas limit of the paymaster's validation (ecrecover, one cold storage read, calldata hashing).
pub const DEFAULT_VERIFICATION_GAS_LIMIT: u128 = 60_000;
/// Gas limit of postOp: the paymaster has none (empty context).
pub const DEFAULT_POST_OP_GAS_LIMIT: u128 = 0;
/// How long a paymaster signature stays valid (seconds).
pub const DEFAULT_SIGNATURE_LIFETIME: u64 = 600;
/// How long after its window ends an unsettled reservation is kept before being released.
pub const RELEASE_GRACE: u64 = 60;

/// Where the paymaster is and how it signs.
#[derive(Clone, Debug)]
pub struct SponsorConfig {
    /// The VerifyingPaymaster contract.
    pub paymaster: Address,
    /// The EntryPoint it is deployed for.
    pub entry_point: Address,
    /// The chain it sponsors on.
    pub chain_id: u64,
    /// `paymasterVerificationGasLimit` put in sponsored operations.
    pub verification_gas_limit: u128,
    /// `paymasterPostOpGasLimit` put in sponsored operations.
    pub post_op_gas_limit: u128,
    /// Lifetime of a signature (seconds); the policy's end caps it.
    pub signature_lifetime: u64,
}

impl SponsorConfig {
    /// The defaults for `paymaster` on `chain_id` with the EntryPoint `entry_point`.
    pub fn new(paymaster: Address, entry_point: Address, chain_id: u64) -> Self {
        Self {
            paymaster,
            entry_point,
            chain_id,
            verification_gas_limit: DEFAULT_VERIFICATION_GAS_LIMIT,
            post_op_gas_limit: DEFAULT_POST_OP_GAS_LIMIT,
            signature_lifetime: DEFAULT_SIGNATURE_LIFETIME,
        }
    }
}

/// Errors of the sponsor.
#[derive(Debug, thiserror::Error)]
pub enum SponsorError {
    /// The policy refuses the operation.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The operation cannot carry paymaster data (a field out of range).
    #[error("cannot build paymaster data: {0}")]
    Data(#[from] PaymasterDataError),
    /// The ledger failed (database) or refused (conflicting sponsorship).
    #[error("sponsorship ledger: {0}")]
    Ledger(SponsorshipError),
    /// A policy stored in the database does not parse.
    #[error("stored policy {id} is invalid: {reason}")]
    StoredPolicy {
        /// The policy id.
        id: String,
        /// The parse error.
        reason: String,
    },
    /// The chain could not be read.
    #[error("chain: {0}")]
    Chain(String),
    /// Signing failed.
    #[error("signing paymaster data: {0}")]
    Signing(String),
}

impl From<SponsorshipError> for SponsorError {
    fn from(e: SponsorshipError) -> Self {
        SponsorError::Ledger(e)
    }
}

/// What a sponsored operation carries: the paymaster fields, and what was signed and reserved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SponsoredFields {
    /// paymaster, its gas limits and the signed paymasterData.
    pub paymaster: PaymasterInit,
    /// The window signed.
    pub window: ValidityWindow,
    /// Worst-case cost held in the ledger (zero for stub data).
    pub max_cost: U256,
    /// userOpHash of the sponsored operation (zero for stub data).
    pub user_op_hash: B256,
    /// The policy's name, for ERC-7677's `sponsor`.
    pub sponsor_name: Option<String>,
}

/// A sponsorship signed but not yet in the ledger ([`Sponsor::quote`]).
#[derive(Clone, Debug)]
pub struct Quote {
    /// The signed fields, to hand out once the reservation is stored.
    pub fields: SponsoredFields,
    /// What the ledger must hold first.
    pub reservation: Reservation,
    /// The operation with stub paymaster fields (to sign again over another window).
    pub op: UserOperation,
    /// The policy.
    pub policy: Uuid,
}

/// The signature window a reservation was recorded with.
fn window_of(rec: &SponsorshipRecord) -> ValidityWindow {
    ValidityWindow { valid_until: rec.request.valid_until, valid_after: rec.request.valid_after }
}

/// What [`Sponsor::settle_events`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SettleReport {
    /// Operations found onchain and settled, with their actual cost.
    pub settled: Vec<(B256, U256)>,
    /// Operations whose window ended without inclusion, released.
    pub released: Vec<B256>,
}

/// Counter: gas paid by the paymaster for settled operations, in gwei, by `chain` and `policy`.
pub const SPONSOR_SPENT_GWEI: &str = "keyward_sponsor_spent_gwei_total";
/// Counter: sponsored operations settled, by `chain` and `policy`.
pub const SPONSOR_SETTLED: &str = "keyward_sponsor_settled_total";

/// The gas sponsor of one chain: policies (config file and store), the paymaster signer, the ledger.
pub struct Sponsor {
    signer: PrivateKeySigner,
    config: SponsorConfig,
    policies: HashMap<Uuid, Policy>,
    store: Store,
    chain: Arc<dyn Chain>,
}

impl Sponsor {
    /// A sponsor signing with `signer` for `config.paymaster`, with the policies of the config
    /// file; policies not among them are looked up in the store.
    pub fn new(
        signer: PrivateKeySigner,
        config: SponsorConfig,
        policies: Vec<Policy>,
        store: Store,
        chain: Arc<dyn Chain>,
    ) -> Self {
        let policies = policies.into_iter().map(|p| (p.id, p)).collect();
        Self { signer, config, policies, store, chain }
    }

    /// The paymaster's configuration.
    pub fn config(&self) -> &SponsorConfig {
        &self.config
    }

    /// The address whose signatures the paymaster must honour.
    pub fn signer_address(&self) -> Address {
        self.signer.address()
    }

    /// The ledger's store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The policy `id` (a UUID string): from the config file, else from the store.
    pub async fn policy(&self, id: &str) -> Result<Policy, SponsorError> {
        let uuid = parse_policy_id(id)?;
        if let Some(p) = self.policies.get(&uuid) {
            return Ok(p.clone());
        }
        let stored = self.store.get_policy(&uuid.to_string()).await?.ok_or(PolicyError::Unknown(uuid))?;
        serde_json::from_str(&stored.policy_json)
            .map_err(|e| SponsorError::StoredPolicy { id: uuid.to_string(), reason: e.to_string() })
    }

    /// Saves a policy in the store (replacing one with the same id).
    pub async fn put_policy(&self, policy: &Policy) -> Result<(), SponsorError> {
        let json = serde_json::to_string(policy)
            .map_err(|e| SponsorError::StoredPolicy { id: policy.id.to_string(), reason: e.to_string() })?;
        self.store.put_policy(&policy.id.to_string(), &json).await?;
        Ok(())
    }

    /// The chain's latest block time: windows are judged by `block.timestamp`.
    pub async fn now(&self) -> Result<u64, SponsorError> {
        let block = self
            .chain
            .block_by_number(BlockNumberOrTag::Latest, false)
            .await
            .map_err(|e| SponsorError::Chain(e.to_string()))?
            .ok_or_else(|| SponsorError::Chain("no latest block".into()))?;
        Ok(block.header.timestamp)
    }

    /// Stub paymaster fields for gas estimation (ERC-7677 `pm_getPaymasterStubData`): the policy
    /// is checked (all but the costs, which need final gas values); nothing is reserved; the
    /// signature is a placeholder of the real one's shape.
    pub async fn stub(&self, op: &UserOperation, policy_id: &str) -> Result<SponsoredFields, SponsorError> {
        self.stub_checking(op, policy_id, true).await
    }

    /// [`Sponsor::stub`] for the estimate of an operation the same request then sponsors with
    /// [`Sponsor::sponsor`], whose reservation checks the spend exactly: the policy's rules only,
    /// no read of the ledger.
    pub async fn stub_before_sponsoring(
        &self,
        op: &UserOperation,
        policy_id: &str,
    ) -> Result<SponsoredFields, SponsorError> {
        self.stub_checking(op, policy_id, false).await
    }

    async fn stub_checking(
        &self,
        op: &UserOperation,
        policy_id: &str,
        check_spend: bool,
    ) -> Result<SponsoredFields, SponsorError> {
        let policy = self.policy(policy_id).await?;
        let now = self.now().await?;
        policy.admit(op, now, None)?;
        if check_spend {
            self.refuse_if_spent(&policy, op.sender).await?;
        }
        let window = self.window(&policy, now);
        let data = VerifyingPaymasterData::stub(window);
        Ok(SponsoredFields {
            paymaster: self.fields(&data)?,
            window,
            max_cost: U256::ZERO,
            user_op_hash: B256::ZERO,
            sponsor_name: policy.name.clone(),
        })
    }

    /// Sponsors `op` (its gas and fee fields final; its paymaster fields are replaced) under the
    /// policy `policy_id`: checks the policy, reserves `max cost` atomically in the ledger, and
    /// returns the signed paymaster fields. Retrying with the same operation returns the same
    /// fields and reserves nothing more.
    pub async fn sponsor(&self, op: &UserOperation, policy_id: &str) -> Result<SponsoredFields, SponsorError> {
        let quote = self.quote(op, policy_id).await?;
        let r = &quote.reservation;
        let outcome = self
            .store
            .reserve_sponsorship(&r.request, r.limits, r.release_before)
            .await
            .map_err(|e| self.ledger_error(quote.policy, e))?;
        self.reserved(quote, outcome)
    }

    /// The first half of [`Sponsor::sponsor`]: checks the policy and signs, reserving nothing. The
    /// fields may be handed out only once [`Quote::reservation`] is stored (by
    /// `Store::reserve_sponsorship`, or with the prepared operation by
    /// `Store::insert_prepared_reserving`), then through [`Sponsor::reserved`].
    pub async fn quote(&self, op: &UserOperation, policy_id: &str) -> Result<Quote, SponsorError> {
        let policy = self.policy(policy_id).await?;
        let now = self.now().await?;
        let mut op = op.clone();
        op.paymaster = Some(self.fields(&VerifyingPaymasterData::stub(ValidityWindow::default()))?);
        let cost = max_cost(&op);
        policy.admit(&op, now, Some(cost))?;
        let window = self.window(&policy, now);
        let signed = self.sign(&op, window)?;
        let request = ReservationRequest {
            policy_id: policy.id.to_string(),
            chain_id: self.config.chain_id,
            request_key: self.request_key(&op),
            user_op_hash: self.signed_hash(&op, &signed),
            sender: op.sender,
            max_cost: cost,
            valid_until: window.valid_until,
            valid_after: window.valid_after,
        };
        let reservation =
            Reservation { request, limits: policy.spend_limits(), release_before: now.saturating_sub(RELEASE_GRACE) };
        let fields = SponsoredFields {
            paymaster: signed,
            window,
            max_cost: cost,
            user_op_hash: reservation.request.user_op_hash,
            sponsor_name: policy.name.clone(),
        };
        Ok(Quote { fields, reservation, op, policy: policy.id })
    }

    /// The fields `quote` stands for once the ledger stored its reservation (`outcome`): its own
    /// for a new reservation, else [`Sponsor::resign`]ed for the reservation found.
    pub fn reserved(&self, quote: Quote, outcome: ReserveOutcome) -> Result<SponsoredFields, SponsorError> {
        let mut fields = quote.fields;
        if let ReserveOutcome::AlreadyReserved(rec) = outcome {
            fields.paymaster = self.resign(&quote.op, &rec)?;
            fields.window = window_of(&rec);
            fields.user_op_hash = rec.request.user_op_hash;
        }
        tracing::debug!(policy = %quote.policy, sender = %quote.op.sender, cost = %fields.max_cost, hash = %fields.user_op_hash, "sponsored");
        Ok(fields)
    }

    /// The paymaster fields of `op` (a retried prepare) under the reservation `existing` stored
    /// for it before: signed over the window recorded then (ECDSA here is deterministic, so the
    /// retry gets what the first request got).
    pub fn resign(&self, op: &UserOperation, existing: &SponsorshipRecord) -> Result<PaymasterInit, SponsorError> {
        self.sign(op, window_of(existing))
    }

    /// The ledger's refusal of a reservation under `policy` as the policy's refusal (exhausted),
    /// or its failure.
    pub fn ledger_error(&self, policy: Uuid, e: SponsorshipError) -> SponsorError {
        let id = policy;
        match e {
            SponsorshipError::PolicyExhausted { limit, committed, requested, .. } => {
                SponsorError::Policy(PolicyError::Exhausted { id, limit, committed, cost: requested })
            }
            SponsorshipError::SenderExhausted { sender, limit, committed, requested, .. } => {
                SponsorError::Policy(PolicyError::SenderExhausted { id, sender, limit, committed, cost: requested })
            }
            other => SponsorError::Ledger(other),
        }
    }

    /// Records the actual cost of the included operation `user_op_hash` (from its receipt).
    pub async fn settle(&self, user_op_hash: B256, actual_gas_cost: U256) -> Result<SponsorshipRecord, SponsorError> {
        Ok(self.store.settle_sponsorship(self.config.chain_id, user_op_hash, actual_gas_cost).await?)
    }

    /// Returns the reservation of an operation that will not be included (refused, dropped).
    pub async fn release(&self, user_op_hash: B256, reason: &str) -> Result<SponsorshipRecord, SponsorError> {
        Ok(self.store.release_sponsorship(self.config.chain_id, user_op_hash, reason).await?)
    }

    /// Settles this paymaster's operations among `events` (their `actualGasCost`) and releases the
    /// reservations whose signature window ended, with a grace of [`RELEASE_GRACE`], before
    /// `block_timestamp` — the time of the last block read, so no inclusion is still unread.
    /// Idempotent: events read again (after a reorg or a failed round) change nothing.
    pub async fn settle_events(&self, events: &[SeenOp], block_timestamp: u64) -> Result<SettleReport, SponsorError> {
        let mut report = SettleReport::default();
        let ours: Vec<(B256, U256)> = events
            .iter()
            .filter(|e| e.paymaster == self.config.paymaster)
            .map(|e| (e.user_op_hash, e.actual_gas_cost))
            .collect();
        // One transaction for the block's operations; one signed by this paymaster's key but not
        // reserved in this ledger (another deployment sharing the key) is not ours to account.
        let costs: std::collections::HashMap<B256, U256> = ours.iter().copied().collect();
        for done in self.store.settle_sponsorships(self.config.chain_id, &ours).await? {
            let hash = done.request.user_op_hash;
            let Some(&cost) = costs.get(&hash) else { continue };
            if done.status == SponsorshipStatus::Settled && done.actual_cost == Some(cost) {
                report.settled.push((hash, cost));
                let gwei = cost / U256::from(1_000_000_000u64);
                let labels = [("chain", self.config.chain_id.to_string()), ("policy", done.request.policy_id.clone())];
                metrics::counter!(SPONSOR_SPENT_GWEI, &labels).increment(gwei.saturating_to::<u64>());
                metrics::counter!(SPONSOR_SETTLED, &labels).increment(1);
            }
        }
        let ended_before = block_timestamp.saturating_sub(RELEASE_GRACE);
        loop {
            let lapsed = self.store.lapsed_reservations(self.config.chain_id, ended_before, 500).await?;
            if lapsed.is_empty() {
                break;
            }
            for rec in lapsed {
                self.release(rec.request.user_op_hash, "expired without inclusion").await?;
                report.released.push(rec.request.user_op_hash);
            }
        }
        Ok(report)
    }

    /// Refuses early (stub data) when the policy, or the sender's share, has nothing left at all;
    /// the exact check against the operation's cost happens when it is sponsored.
    async fn refuse_if_spent(&self, policy: &Policy, sender: Address) -> Result<(), SponsorError> {
        let id = policy.id;
        if let Some(limit) = policy.max_total_spend.map(|w| w.0) {
            let committed = self.store.policy_totals(&id.to_string()).await?.committed();
            if committed >= limit {
                return Err(PolicyError::Exhausted { id, limit, committed, cost: U256::ZERO }.into());
            }
        }
        if let Some(limit) = policy.max_spend_per_sender.map(|w| w.0) {
            let committed = self.store.sender_totals(&id.to_string(), sender).await?.committed();
            if committed >= limit {
                return Err(PolicyError::SenderExhausted { id, sender, limit, committed, cost: U256::ZERO }.into());
            }
        }
        Ok(())
    }

    /// The signature window: from the policy's start (or 0) to now + lifetime, capped by the
    /// policy's end.
    fn window(&self, policy: &Policy, now: u64) -> ValidityWindow {
        ValidityWindow {
            valid_until: policy.signature_valid_until(now, self.config.signature_lifetime),
            valid_after: policy.valid_after.unwrap_or(0),
        }
    }

    /// Paymaster fields with `data`.
    fn fields(&self, data: &VerifyingPaymasterData) -> Result<PaymasterInit, SponsorError> {
        Ok(paymaster_init(
            self.config.paymaster,
            self.config.verification_gas_limit,
            self.config.post_op_gas_limit,
            data,
        )?)
    }

    /// `op` (with this paymaster's fields) signed over `window`.
    fn sign(&self, op: &UserOperation, window: ValidityWindow) -> Result<PaymasterInit, SponsorError> {
        let mut op = op.clone();
        op.paymaster = Some(self.fields(&VerifyingPaymasterData::stub(window))?);
        let digest = sponsorship_signing_digest(&op, self.config.chain_id, window)?;
        let sig = self.signer.sign_hash_sync(&digest).map_err(|e| SponsorError::Signing(e.to_string()))?;
        let data = VerifyingPaymasterData { window, signature: Bytes::from(sig.as_bytes().to_vec()) };
        self.fields(&data)
    }

    /// The operation's identity without its paymaster signature or account signature: the
    /// userOpHash of the op with empty paymasterData.
    fn request_key(&self, op: &UserOperation) -> B256 {
        let mut op = op.clone();
        if let Some(pm) = op.paymaster.as_mut() {
            pm.data = Bytes::new();
        }
        op.hash(self.config.entry_point, self.config.chain_id)
    }

    /// userOpHash of `op` carrying `signed`.
    fn signed_hash(&self, op: &UserOperation, signed: &PaymasterInit) -> B256 {
        let mut op = op.clone();
        op.paymaster = Some(signed.clone());
        op.hash(self.config.entry_point, self.config.chain_id)
    }
}

#[async_trait::async_trait]
impl EventSink for Sponsor {
    async fn on_blocks(&self, events: &[SeenOp], block_timestamp: u64) -> Result<(), String> {
        let report = self.settle_events(events, block_timestamp).await.map_err(|e| e.to_string())?;
        if !report.settled.is_empty() || !report.released.is_empty() {
            tracing::debug!(settled = report.settled.len(), released = report.released.len(), "sponsorship ledger");
        }
        Ok(())
    }
}
