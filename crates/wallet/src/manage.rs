//! Session management, Keyward's extensions of the Wallet API: an account's sessions with their
//! state and what is left of every budget (read from the chain, where the account's modules keep
//! it), and revocation of sessions in one owner operation that goes through the usual
//! prepare / send / status path.
//!
//! ```text
//!  stored session ─┬─▶ SingleSigner.signers(E, account)        installed?
//!                  │   (P256Validation.keys(E, account) for a passkey)
//!                  ├─▶ EntryPoint.getNonce(account, grant key)  grant used?
//!                  └─▶ module limits at E and E + 0x7fffffff    budgets left
//!                        │
//!                        ▼
//!  state: active | expired | revoked ──▶ revoke: uninstallValidation (installed)
//!                                               EntryPoint.incrementNonce (grant unused)
//! ```

use alloy::primitives::{Address, Bytes, U256};
use alloy::sol_types::SolCall;
use keyward_contracts::bindings::{
    AllowlistModule, NativeTokenLimitModule, P256ValidationModule, SessionRulesModule, SingleSignerValidationModule,
};
use keyward_primitives::entry_point::IEntryPoint;
use keyward_primitives::mav2::modules::entity_uninstall_data;
use keyward_primitives::mav2::permissions::offset_entity_id;
use keyward_primitives::mav2::{InstallValidation, Permission, SessionKey, UninstallValidation};
use keyward_primitives::nonce::{nonce_sequence, split_nonce};
use keyward_store::wallet::SessionRecord;

use crate::error::{WalletError, WalletResult};
use crate::records;
use crate::service::Wallet;
use crate::types::{Call, GasPayment, PrepareCalls, Prepared};

/// Where a session stands onchain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// Usable: installed, or granted and installed by its first call.
    Active,
    /// Past its expiry (by the chain's clock).
    Expired,
    /// Uninstalled, or its grant burnt before first use.
    Revoked,
}

impl SessionState {
    /// The name the API answers.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        }
    }
}

/// One budget of a session and what is left of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    /// What the budget counts.
    pub kind: BudgetKind,
    /// The budget granted.
    pub allowance: U256,
    /// What is left of it onchain (the allowance while the session is not installed yet, zero
    /// once it is revoked).
    pub remaining: U256,
}

/// What a budget counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetKind {
    /// Native value sent, in wei (`native-token-transfer`).
    Native,
    /// Amount of one ERC-20 token moved by `transfer` and `approve` (`erc20-token-transfer`).
    Erc20 {
        /// The token.
        token: Address,
    },
    /// Wei spent on gas (`gas-limit`).
    Gas,
    /// Native value sent in the current period (`native-token-periodic`).
    NativePeriodic,
    /// Amount of one ERC-20 token moved in the current period (`erc20-token-periodic`).
    Erc20Periodic {
        /// The token.
        token: Address,
    },
    /// Calls made in the current period, or in total (`call-limit`).
    Calls,
}

/// A session as listed: what was granted, where it stands and what is left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    /// The session id.
    pub id: [u8; 16],
    /// The chain.
    pub chain_id: u64,
    /// The account.
    pub account: Address,
    /// The session key: an address, or a P-256 public key.
    pub session_key: SessionKey,
    /// The permissions granted, in request order.
    pub permissions: Vec<Permission>,
    /// Expiry in unix seconds (0 = never).
    pub expiry: u64,
    /// The session's validation entity id on the account.
    pub entity_id: u32,
    /// Whether the session's validation is installed on the account now.
    pub installed: bool,
    /// Active, expired or revoked.
    pub state: SessionState,
    /// Each budget and what is left of it.
    pub budgets: Vec<Budget>,
    /// When the session was created (unix seconds).
    pub created_at: u64,
}

/// A request to revoke sessions of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokeSessions {
    /// The account.
    pub account: Address,
    /// The chain.
    pub chain_id: u64,
    /// The sessions to revoke (at least one).
    pub session_ids: Vec<[u8; 16]>,
    /// Who pays for the revoking operation.
    pub gas_payment: GasPayment,
}

/// What a revocation needs: the owner operation to sign and send (none when every session named
/// is revoked already).
#[derive(Debug, Clone, PartialEq)]
pub struct Revocation {
    /// Sessions already revoked (nothing to do for them).
    pub already_revoked: Vec<[u8; 16]>,
    /// The prepared owner operation revoking the others.
    pub prepared: Option<Prepared>,
}

/// Most sessions one revocation names.
pub const MAX_REVOKED_AT_ONCE: usize = 64;

fn id_hex(id: &[u8; 16]) -> Bytes {
    Bytes::from(id.to_vec())
}

impl Wallet {
    /// The sessions of `account` on `chain_id`, oldest first.
    pub async fn list_sessions(&self, account: Address, chain_id: u64) -> WalletResult<Vec<SessionView>> {
        self.check_chain(chain_id)?;
        let records = self.store.sessions_of(account, chain_id).await?;
        let now = self.chain_time().await?;
        let mut views = Vec::with_capacity(records.len());
        for r in records {
            views.push(self.session_view(r, now).await?);
        }
        Ok(views)
    }

    /// One session of `account`; unknown ids and another account's sessions are refused.
    pub async fn get_session(&self, account: Address, chain_id: u64, id: [u8; 16]) -> WalletResult<SessionView> {
        self.check_chain(chain_id)?;
        let session = self.owned_session(account, &id).await?;
        let now = self.chain_time().await?;
        self.session_view(session, now).await
    }

    /// Prepares the owner operation that revokes `req.session_ids`: `uninstallValidation` for an
    /// installed session, `EntryPoint.incrementNonce` of its grant's key for one never used.
    /// Idempotent: sessions revoked already are answered as such and add nothing.
    pub async fn revoke_sessions(&self, req: RevokeSessions) -> WalletResult<Revocation> {
        self.check_chain(req.chain_id)?;
        if req.session_ids.is_empty() {
            return Err(WalletError::params("sessionIds: name at least one session"));
        }
        if req.session_ids.len() > MAX_REVOKED_AT_ONCE {
            return Err(WalletError::params(format!(
                "sessionIds: at most {MAX_REVOKED_AT_ONCE} sessions per revocation, got {}",
                req.session_ids.len()
            )));
        }
        // Each session once, in request order (a second uninstall of it would revert the batch).
        let mut seen = std::collections::HashSet::new();
        let mut ids = req.session_ids.clone();
        ids.retain(|id| seen.insert(*id));
        let mut already_revoked = Vec::new();
        let mut calls = Vec::new();
        for id in &ids {
            let session = self.owned_session(req.account, id).await?;
            let onchain = self.onchain_session(&session).await?;
            if onchain.revoked() {
                already_revoked.push(*id);
                continue;
            }
            calls.push(if onchain.installed {
                self.uninstall_call(&session)?
            } else {
                self.burn_grant_call(&session).await?
            });
        }
        if calls.is_empty() {
            return Ok(Revocation { already_revoked, prepared: None });
        }
        let prepared = self
            .prepare_calls(PrepareCalls {
                from: req.account,
                chain_id: req.chain_id,
                calls,
                permissions_context: None,
                gas_payment: req.gas_payment,
                gas_overrides: None,
                delegation: None,
                nonce_key: None,
            })
            .await?;
        Ok(Revocation { already_revoked, prepared: Some(prepared) })
    }

    /// Whether `session` is revoked onchain (for precise errors on its calls).
    pub(crate) async fn session_revoked(&self, session: &SessionRecord) -> WalletResult<bool> {
        Ok(self.onchain_session(session).await?.revoked())
    }

    /// `err`, refusing a call of session `session_id`, reworded to name the session when the
    /// session has been revoked (the account's refusal alone says only that no validation matches).
    pub(crate) async fn naming_revoked_session(&self, session_id: Option<[u8; 16]>, err: WalletError) -> WalletError {
        let Some(id) = session_id else { return err };
        let revoked = match self.store.session(&id).await {
            Ok(Some(session)) => self.session_revoked(&session).await.unwrap_or(false),
            _ => false,
        };
        if revoked { WalletError::rejected(format!("session {} was revoked ({err})", id_hex(&id))) } else { err }
    }

    /// The stored session `id`, which must belong to `account` on this chain.
    async fn owned_session(&self, account: Address, id: &[u8; 16]) -> WalletResult<SessionRecord> {
        let session = self
            .store
            .session(id)
            .await?
            .ok_or_else(|| WalletError::params(format!("sessionId: unknown session {}", id_hex(id))))?;
        if session.account != account || session.chain_id != self.chain_id {
            return Err(WalletError::params(format!(
                "sessionId: session {} belongs to another account or chain, not to {account} on chain {}",
                id_hex(id),
                self.chain_id
            )));
        }
        Ok(session)
    }

    /// `session` as listed at chain time `now`.
    async fn session_view(&self, session: SessionRecord, now: u64) -> WalletResult<SessionView> {
        let permissions = records::permissions(&session.permissions_json)?;
        let onchain = self.onchain_session(&session).await?;
        let state = if onchain.revoked() {
            SessionState::Revoked
        } else if session.expiry != 0 && now >= session.expiry {
            SessionState::Expired
        } else {
            SessionState::Active
        };
        let mut budgets = Vec::new();
        for p in &permissions {
            let (kind, allowance) = match p {
                Permission::NativeTokenTransfer { allowance } => (BudgetKind::Native, *allowance),
                Permission::Erc20TokenTransfer { address, allowance } => {
                    (BudgetKind::Erc20 { token: *address }, *allowance)
                }
                Permission::GasLimit { limit } => (BudgetKind::Gas, *limit),
                Permission::NativeTokenPeriodic { allowance, .. } => (BudgetKind::NativePeriodic, *allowance),
                Permission::Erc20TokenPeriodic { address, allowance, .. } => {
                    (BudgetKind::Erc20Periodic { token: *address }, *allowance)
                }
                Permission::CallLimit { count, .. } => (BudgetKind::Calls, U256::from(*count)),
                _ => continue,
            };
            let remaining = match state {
                SessionState::Revoked => U256::ZERO,
                _ if onchain.installed => self.budget_left(&session, kind).await?,
                _ => allowance,
            };
            budgets.push(Budget { kind, allowance, remaining });
        }
        Ok(SessionView {
            id: session.id,
            chain_id: session.chain_id,
            account: session.account,
            session_key: records::session_key(&session)?,
            permissions,
            expiry: session.expiry,
            entity_id: session.entity_id,
            installed: onchain.installed,
            state,
            budgets,
            created_at: session.created_at,
        })
    }

    /// What the module behind `kind` has left for the session.
    async fn budget_left(&self, session: &SessionRecord, kind: BudgetKind) -> WalletResult<U256> {
        let modules = &self.config.deployment.modules;
        let (e, account) = (session.entity_id, session.account);
        let left = match kind {
            BudgetKind::Native => {
                self.read(
                    modules.native_token_limit,
                    NativeTokenLimitModule::limitsCall { entityId: U256::from(e), account },
                )
                .await?
            }
            BudgetKind::Gas => {
                let entity = U256::from(offset_entity_id(e));
                self.read(modules.native_token_limit, NativeTokenLimitModule::limitsCall { entityId: entity, account })
                    .await?
            }
            BudgetKind::Erc20 { token } => {
                let call = AllowlistModule::erc20SpendLimitsCall { entityId: offset_entity_id(e), token, account };
                self.read(modules.allowlist, call).await?
            }
            BudgetKind::NativePeriodic => {
                let call = SessionRulesModule::remainingCall { entityId: e, token: Address::ZERO, account };
                self.read(modules.session_rules, call).await?
            }
            BudgetKind::Erc20Periodic { token } => {
                self.read(modules.session_rules, SessionRulesModule::remainingCall { entityId: e, token, account })
                    .await?
            }
            BudgetKind::Calls => {
                self.read(modules.session_rules, SessionRulesModule::callsRemainingCall { entityId: e, account })
                    .await?
            }
        };
        left.ok_or_else(|| WalletError::Internal(format!("reading the budget of session {}", id_hex(&session.id))))
    }

    /// The session's onchain facts: its key installed, its grant used.
    pub(crate) async fn onchain_session(&self, session: &SessionRecord) -> WalletResult<OnchainSession> {
        let modules = &self.config.deployment.modules;
        let (entity_id, account) = (session.entity_id, session.account);
        // The nonce before the key: an install included between the two reads then shows as
        // installed, never as a used grant with no key (revoked).
        let (key, signed_seq) = split_nonce(session.deferred_nonce);
        let onchain = nonce_sequence(self.ep_nonce(session.account, U256::from(key)).await?);
        let installed = match records::session_key(session)? {
            SessionKey::Secp256k1(address) => {
                let call = SingleSignerValidationModule::signersCall { entityId: entity_id, account };
                self.read(modules.single_signer_validation, call).await?.unwrap_or_default() == address
            }
            SessionKey::P256(key) => {
                let call = P256ValidationModule::keysCall { entityId: entity_id, account };
                self.read(modules.p256_validation, call)
                    .await?
                    .is_some_and(|k| (k.x, k.y) == (U256::from_be_bytes(key.x().0), U256::from_be_bytes(key.y().0)))
            }
        };
        Ok(OnchainSession { installed, grant_used: onchain > signed_seq })
    }

    /// `uninstallValidation` of the session, clearing every hook's state.
    fn uninstall_call(&self, session: &SessionRecord) -> WalletResult<Call> {
        let install = InstallValidation::decode_calldata(&session.install_call)
            .map_err(|e| WalletError::Internal(format!("stored session {}: {e}", id_hex(&session.id))))?;
        let uninstall = UninstallValidation::clearing_hooks(
            &install,
            entity_uninstall_data(session.entity_id),
            &self.config.deployment.modules,
        );
        Ok(Call { to: session.account, data: Some(uninstall.calldata()), value: None })
    }

    /// `EntryPoint.incrementNonce` of the grant's key: the grant's nonce can then never be used.
    /// Refused while the session's first call (which carries the grant) is in flight.
    async fn burn_grant_call(&self, session: &SessionRecord) -> WalletResult<Call> {
        // Busy while the installing call is pending: burning now would race its inclusion.
        self.needs_install(session).await?;
        let (key, _) = split_nonce(session.deferred_nonce);
        let call = IEntryPoint::incrementNonceCall { key };
        Ok(Call { to: self.config.deployment.entry_point, data: Some(call.abi_encode().into()), value: None })
    }
}

/// A session's facts read from the chain.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OnchainSession {
    /// Its key is the SingleSigner signer (the P256 module's key) at its entity id.
    pub(crate) installed: bool,
    /// Its grant's nonce is used (the session was installed at some point, or the grant burnt).
    pub(crate) grant_used: bool,
}

impl OnchainSession {
    /// Installed once and no longer.
    pub(crate) fn revoked(self) -> bool {
        !self.installed && self.grant_used
    }
}
