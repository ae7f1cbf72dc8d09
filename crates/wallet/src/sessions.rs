//! `wallet_createSession` and the `permissions` capability: a session key's validation compiled
//! from Wallet-API permissions, installed lazily by a deferred action the owner signs; which
//! session a prepare acts as, its owner signature, expiry, scope and first-use state.

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{Address, B256, Bytes, Signature, U256, eip191_hash_message, keccak256};
use keyward_contracts::bindings::{SemiModularAccountBytecode, SingleSignerValidationModule};
use keyward_primitives::mav2::permissions::{PermissionCompiler, PermissionsContext};
use keyward_primitives::mav2::scope::{ScopedCall, check_scope};
use keyward_primitives::mav2::signature::{eoa_personal_sign_validation_data, eoa_validation_data};
use keyward_primitives::mav2::{
    CompiledSession, DeferredAction, DeferredActionPrefix, ModuleEntity, NonceKey, SessionKey, ValidationLocator,
};
use keyward_primitives::nonce::{nonce_sequence, split_nonce};
use keyward_primitives::unix_now;
use keyward_store::wallet::{SessionInsert, SessionRecord};

use crate::error::{WalletError, WalletResult};
use crate::records;
use crate::service::{ResolvedAccount, Wallet};
use crate::types::{Call, CreateSession, CreatedSession};

/// What a prepare acting through the `permissions` capability needs to know.
#[derive(Debug, Clone)]
pub(crate) struct ActingSession {
    /// The stored session (absent for a key installed outside the API, context 0x02).
    pub session: Option<SessionRecord>,
    /// Entity id of the session's validation.
    pub entity_id: u32,
    /// Whether the validation is global.
    pub is_global: bool,
    /// Whether its ops need the `executeUserOp` prefix.
    pub has_execution_hooks: bool,
    /// The session key (None when unknown: context 0x02 without a stored session).
    pub signer: Option<SessionKey>,
    /// The owner's grant signature, when this op must carry the deferred install.
    pub deferred: Option<Signature>,
    /// The account's owner (who signed the grant).
    pub owner: Address,
}

impl ActingSession {
    /// The nonce key of this op (deferred flag on the installing op).
    pub(crate) fn nonce_key(&self, parallel_key: U256) -> WalletResult<NonceKey> {
        NonceKey::regular(parallel_key, self.entity_id, self.is_global, self.deferred.is_some())
            .map_err(|e| WalletError::params(format!("nonceOverride: {e}")))
    }

    /// The deferred-action prefix of the installing op.
    pub(crate) fn deferred_prefix(&self) -> Option<DeferredActionPrefix> {
        Some(grant_prefix(self.session.as_ref()?, self.owner, self.deferred.as_ref()?))
    }
}

/// The deferred-action prefix that installs `session` with `owner`'s grant signature: over the
/// EIP-712 digest (`0x00`), or over EIP-191 of it (`0x02`, a personal_sign of `rawPayload`).
pub(crate) fn grant_prefix(
    session: &SessionRecord,
    owner: Address,
    owner_signature: &Signature,
) -> DeferredActionPrefix {
    let deferred_signature = if owner_signature.recover_address_from_prehash(&session.digest).ok() == Some(owner) {
        eoa_validation_data(owner_signature)
    } else {
        eoa_personal_sign_validation_data(owner_signature)
    };
    DeferredActionPrefix {
        inner_locator: ValidationLocator::owner(),
        deadline: session.expiry,
        call: session.install_call.clone(),
        deferred_signature,
    }
}

/// A 65-byte ECDSA signature from raw bytes (`v` 0/1 or 27/28).
pub(crate) fn parse_signature(what: &str, raw: &[u8]) -> WalletResult<Signature> {
    if raw.len() != 65 {
        return Err(WalletError::params(format!("{what} must be a 65-byte ECDSA signature, got {} bytes", raw.len())));
    }
    Signature::from_raw(raw).map_err(|e| WalletError::params(format!("{what}: {e}")))
}

/// The calls as the scope precheck sees them.
pub(crate) fn scoped_calls(calls: &[Call]) -> Vec<ScopedCall> {
    calls.iter().map(|c| ScopedCall { to: c.to, value: c.value(), data: c.data() }).collect()
}

impl Wallet {
    fn compiler(&self) -> PermissionCompiler {
        PermissionCompiler { modules: self.config.deployment.modules, entry_point: self.config.deployment.entry_point }
    }

    /// Timestamp of the latest block (what the account's time-range hook compares with).
    pub(crate) async fn chain_time(&self) -> WalletResult<u64> {
        let block = self
            .chain
            .block_by_number(BlockNumberOrTag::Latest, false)
            .await?
            .ok_or_else(|| WalletError::Internal("no latest block".into()))?;
        Ok(block.header.timestamp)
    }

    /// `wallet_createSession`.
    pub async fn create_session(&self, p: CreateSession) -> WalletResult<CreatedSession> {
        self.check_chain(p.chain_id)?;
        let account = self.resolve_account(p.account).await?;
        if let ResolvedAccount::Eip7702 { address } = &account
            && self.delegate_of(*address).await? != Some(self.config.deployment.sma_7702_impl)
        {
            return Err(WalletError::params(format!(
                "account {address} is an EOA not delegated to the 7702 account implementation {}: send a call as \
                 the owner first (it delegates the account), then create the session",
                self.config.deployment.sma_7702_impl
            )));
        }
        let session_key = p.session_key;
        if session_key == SessionKey::Secp256k1(account.owner()) {
            return Err(WalletError::params("the session key must not be the account owner"));
        }
        // A secp256k1 key is hashed as its address, as before p256 keys existed (a retry of a
        // request made then still finds its session).
        let key_json = match &session_key {
            SessionKey::Secp256k1(a) => serde_json::json!(a),
            SessionKey::P256(k) => serde_json::json!({"type": "p256", "publicKey": k.uncompressed()}),
        };
        let expiry = p.expiry;
        let now = self.chain_time().await?;
        // Refuse bad permissions before anything is allocated or written; the checked set then
        // compiles at whichever entity id the session gets.
        let checked = self
            .compiler()
            .check(account.address(), session_key, &p.permissions, expiry, now)
            .map_err(|e| WalletError::params(format!("permissions: {e}")))?;

        let permissions_json = records::permissions_json(&p.permissions)?;
        let request_hash = keccak256(
            serde_json::json!({
                "chainId": self.chain_id,
                "account": account.address(),
                "key": key_json,
                "permissions": serde_json::from_str::<serde_json::Value>(&permissions_json).unwrap_or_default(),
                "expirySec": expiry,
            })
            .to_string(),
        );
        let session = loop {
            if let Some(existing) = self.store.session_by_request(request_hash).await? {
                break existing;
            }
            let entity_id = self.store.next_entity_id(account.address()).await?;
            let compiled: CompiledSession =
                checked.compile(entity_id).map_err(|e| WalletError::params(format!("permissions: {e}")))?;
            let key = compiled.nonce_key(U256::ZERO, true).map_err(|e| WalletError::Internal(e.to_string()))?;
            let sequence = nonce_sequence(self.ep_nonce(account.address(), U256::from(key.full_key())).await?);
            let deferred = compiled
                .deferred_action(U256::ZERO, sequence)
                .map_err(|e| WalletError::params(format!("deferred action: {e}")))?;
            let rec = SessionRecord {
                id: B128Random::next(),
                chain_id: self.chain_id,
                account: account.address(),
                key: records::key_record(&session_key),
                permissions_json: permissions_json.clone(),
                entity_id,
                is_global: compiled.is_global,
                has_execution_hooks: compiled.has_execution_hooks(),
                expiry,
                deferred_nonce: deferred.nonce,
                install_call: deferred.call.clone(),
                digest: deferred.digest(self.chain_id, account.address()),
                request_hash,
                first_op: None,
                created_at: unix_now(),
            };
            match self.store.insert_session(&rec).await? {
                SessionInsert::Inserted => break rec,
                SessionInsert::Existing(existing) => break *existing,
                SessionInsert::EntityTaken => continue,
            }
        };
        // The typed data comes from the same DeferredAction as the stored digest (primitives).
        let action = DeferredAction::build(session.deferred_nonce, session.expiry, session.install_call.clone())
            .map_err(|e| WalletError::Internal(format!("stored session: {e}")))?;
        Ok(CreatedSession {
            id: session.id,
            chain_id: self.chain_id,
            typed_data: action.typed_data(self.chain_id, session.account),
            digest: session.digest,
        })
    }

    /// Resolves the `permissions` capability of a prepare: which session acts, whether this op
    /// installs it, and that the calls fit its scope.
    pub(crate) async fn acting_session(
        &self,
        account: &ResolvedAccount,
        context: &[u8],
        calls: &[Call],
    ) -> WalletResult<ActingSession> {
        let context =
            PermissionsContext::decode(context).map_err(|e| WalletError::params(format!("permissions: {e}")))?;
        let mut revoked = None;
        let acting = match context {
            PermissionsContext::LocalDeferred(_) => {
                return Err(WalletError::UnsupportedCapability(
                    "permissions: context version 0x01 (local deferred action) is not supported; use the context \
                     of a wallet_createSession session (0x00) or of an installed key (0x02)"
                        .into(),
                ));
            }
            PermissionsContext::NonDeferred { is_global, entity_id } => {
                let session = self.store.session_by_entity(account.address(), entity_id).await?;
                let (signer, has_execution_hooks) = match &session {
                    Some(s) => (records::session_key(s)?, s.has_execution_hooks),
                    None => {
                        let (signer, hooks) = self.installed_key(account.address(), entity_id).await?;
                        (SessionKey::Secp256k1(signer), hooks)
                    }
                };
                ActingSession {
                    entity_id,
                    is_global,
                    has_execution_hooks,
                    signer: Some(signer),
                    session,
                    deferred: None,
                    owner: account.owner(),
                }
            }
            PermissionsContext::RemoteDeferred { session_id, owner_signature } => {
                let session = self.session(&session_id).await?.ok_or_else(|| {
                    WalletError::params(format!("permissions: unknown session {}", Bytes::from(session_id.to_vec())))
                })?;
                if session.account != account.address() || session.chain_id != self.chain_id {
                    return Err(WalletError::params(format!(
                        "permissions: session {} belongs to account {} on chain {}, not to {} on chain {}",
                        Bytes::from(session_id.to_vec()),
                        session.account,
                        session.chain_id,
                        account.address(),
                        self.chain_id
                    )));
                }
                let owner_sig = parse_signature("permissions: the owner signature", &owner_signature)?;
                self.check_grant_signature(&session, account.owner(), &owner_sig)?;
                // One read of the chain answers both: must this call install it, is it revoked.
                let onchain = self.onchain_session(&session).await?;
                revoked = Some(onchain.revoked());
                let deferred = self.install_wanted(&session, onchain.grant_used).await?.then_some(owner_sig);
                ActingSession {
                    entity_id: session.entity_id,
                    is_global: session.is_global,
                    has_execution_hooks: session.has_execution_hooks,
                    signer: Some(records::session_key(&session)?),
                    session: Some(session),
                    deferred,
                    owner: account.owner(),
                }
            }
        };
        if let Some(session) = &acting.session {
            // A grant already used belongs to a session installed since, or revoked.
            let revoked = match revoked {
                Some(revoked) => revoked,
                None => self.session_revoked(session).await?,
            };
            if acting.deferred.is_none() && revoked {
                return Err(WalletError::rejected(format!(
                    "session {} was revoked: its key is no longer installed on {}",
                    Bytes::from(session.id.to_vec()),
                    session.account
                )));
            }
            if session.expiry != 0 {
                let now = self.chain_time().await?;
                if now >= session.expiry {
                    return Err(WalletError::rejected(format!(
                        "session {} expired at {} (chain time {now})",
                        Bytes::from(session.id.to_vec()),
                        session.expiry
                    )));
                }
            }
            let stored = records::permissions(&session.permissions_json)?;
            check_scope(account.address(), &stored, &scoped_calls(calls))
                .map_err(|v| WalletError::rejected(format!("scope precheck: {v}")))?;
        }
        Ok(acting)
    }

    /// A key installed outside the API (context 0x02): its SingleSigner signer and whether its
    /// validation has execution hooks, read from the account and the module.
    async fn installed_key(&self, account: Address, entity_id: u32) -> WalletResult<(Address, bool)> {
        let module = self.config.deployment.modules.single_signer_validation;
        let entity = ModuleEntity::new(module, entity_id).encode();
        let data = self
            .read(account, SemiModularAccountBytecode::getValidationDataCall { validationFunction: entity })
            .await?
            .ok_or_else(|| {
                WalletError::params(format!(
                    "permissions: account {account} is not deployed, so it has no installed key"
                ))
            })?;
        if data.validationFlags == 0 && data.selectors.is_empty() && data.validationHooks.is_empty() {
            return Err(WalletError::params(format!(
                "permissions: no validation is installed at entity {entity_id} of {account}"
            )));
        }
        let signer = self
            .read(module, SingleSignerValidationModule::signersCall { entityId: entity_id, account })
            .await?
            .unwrap_or_default();
        if signer == Address::ZERO {
            return Err(WalletError::params(format!(
                "permissions: entity {entity_id} of {account} is not a SingleSigner validation"
            )));
        }
        Ok((signer, !data.executionHooks.is_empty()))
    }

    /// The owner must have signed the session's DeferredAction digest: the typed data (EIP-712), or
    /// its `rawPayload` as an EIP-191 message, which Keyward's accounts accept as signer type `0x02`.
    fn check_grant_signature(&self, session: &SessionRecord, owner: Address, sig: &Signature) -> WalletResult<()> {
        // Every call of a session carries the same grant: recover it once.
        let grant = keccak256([session.digest.as_slice(), owner.as_slice(), &sig.as_bytes()].concat());
        if self.grants.get(&grant).is_some() {
            return Ok(());
        }
        let recovered = sig.recover_address_from_prehash(&session.digest).ok();
        if recovered == Some(owner)
            || sig.recover_address_from_prehash(&eip191_hash_message(session.digest)).ok() == Some(owner)
        {
            self.grants.put(grant, ());
            return Ok(());
        }
        let id = Bytes::from(session.id.to_vec());
        Err(WalletError::params(format!(
            "permissions: the owner signature does not match session {id}: it recovers to {}, the account owner is \
             {owner}",
            recovered.map(|a| a.to_string()).unwrap_or_else(|| "nothing".into())
        )))
    }

    /// Whether the session's next op must carry its install: the deferred nonce is unused onchain
    /// and no op carrying it is still waiting. An install in flight makes later prepares wait
    /// ([`WalletError::Busy`]).
    pub(crate) async fn needs_install(&self, session: &SessionRecord) -> WalletResult<bool> {
        let (key, signed_seq) = split_nonce(session.deferred_nonce);
        let onchain = nonce_sequence(self.ep_nonce(session.account, U256::from(key)).await?);
        self.install_wanted(session, onchain > signed_seq).await
    }

    /// [`Wallet::needs_install`] knowing whether the session's grant nonce is used onchain.
    async fn install_wanted(&self, session: &SessionRecord, grant_used: bool) -> WalletResult<bool> {
        if grant_used {
            return Ok(false);
        }
        if let Some(first) = session.first_op
            && let Some(op) = self.pool.state(first).await?
            && op.is_unfinished()
        {
            return Err(WalletError::Busy(format!(
                "the session's first call (user operation {first}) is still pending: it installs the session key"
            )));
        }
        Ok(true)
    }
}

/// Sessions remembered by [`Wallet::session`].
pub(crate) const REMEMBERED_SESSIONS: std::num::NonZeroUsize = std::num::NonZeroUsize::new(4096).unwrap();

impl Wallet {
    /// The stored session `id`. Its row changes once only, when its first operation is recorded
    /// (`first_op`, written once): from then on it is remembered in the process.
    pub(crate) async fn session(&self, id: &[u8; 16]) -> WalletResult<Option<SessionRecord>> {
        if let Some(session) = self.sessions.get(id) {
            return Ok(Some(session));
        }
        let session = self.store.session(id).await?;
        if let Some(s) = session.as_ref().filter(|s| s.first_op.is_some()) {
            self.sessions.put(*id, s.clone());
        }
        Ok(session)
    }
}

/// Grants (session digest, owner, signature) whose signature recovered to the owner.
pub(crate) const REMEMBERED_GRANTS: std::num::NonZeroUsize = std::num::NonZeroUsize::new(4096).unwrap();

/// The most recently checked good grants, by the hash of (digest, owner, signature).
pub(crate) type GrantCache = crate::memo::Memo<B256, ()>;

/// Random 16-byte session ids.
struct B128Random;

impl B128Random {
    fn next() -> [u8; 16] {
        let a = uuid::Uuid::new_v4().into_bytes();
        let b = uuid::Uuid::new_v4().into_bytes();
        // Two v4 UUIDs give 244 random bits; fold them so no bit of the id is fixed.
        let mut out = [0u8; 16];
        for i in 0..16 {
            out[i] = a[i] ^ b[15 - i];
        }
        out
    }
}
