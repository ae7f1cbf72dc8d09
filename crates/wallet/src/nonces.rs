//! Which nonce a prepared operation gets, so that an account's calls work back to back and in
//! parallel:
//!
//! - **In a row** (each prepared after the previous one was sent): the same key, the next sequence
//!   after the operations of that key still in the mempool; estimation assumes them included.
//! - **In parallel** (prepared before the previous one was sent): a prepared operation holds its
//!   key through a [`NonceLease`] until it is sent, so a concurrent prepare takes the next free
//!   parallel key (`0, 1, 2, …` in the nonce's upper bits) instead of the same nonce. Keys are
//!   reused, so an account's steady state stays on a few warm nonce slots.
//! - A client's `nonceOverride` is used as given (the client orders its own keys and setup).
//! - A session's first call uses the nonce its owner signed; a concurrent prepare of the same
//!   session waits for that install instead of preparing a second one, and so does a concurrent
//!   prepare of an account whose deployment or EIP-7702 delegation is being prepared. Those leases
//!   are short ([`crate::WalletConfig::setup_lease`]): a prepare that is never sent blocks the
//!   others only briefly.

use std::time::Duration;

use alloy::primitives::{Address, U256};
use keyward_bundler::pool::NextSequence;
use keyward_primitives::mav2::{NonceKey, ValidationLocator};
use keyward_primitives::unix_now;
use keyward_store::NonceLease;

use crate::error::{WalletError, WalletResult};
use crate::service::{ResolvedAccount, Wallet};
use crate::sessions::ActingSession;

/// The nonce of an operation being prepared.
#[derive(Debug, Clone)]
pub(crate) struct ChosenNonce {
    /// The full EntryPoint nonce.
    pub nonce: U256,
    /// The key that must sign the operation (owner or session key), when known.
    pub signer: Option<Address>,
    /// The leases this prepare holds: the nonce's key, and the account's setup when the op
    /// deploys or delegates it.
    pub leases: Vec<NonceLease>,
    /// What the pool answered for the nonce's key, when the sequence came from it (the estimate
    /// assumes the same without asking again).
    pub known: Option<NextSequence>,
}

impl ChosenNonce {
    /// The token its leases are held under (one per prepare); `None` without a lease.
    pub(crate) fn lease_token(&self) -> Option<&str> {
        self.leases.first().map(|l| l.token.as_str())
    }
}

/// The lease key that stands for "setting the account up" (deploying or delegating it): no
/// EntryPoint key is this large, so it never collides with a nonce key.
const SETUP_LEASE_KEY: U256 = U256::MAX;

impl Wallet {
    /// Chooses the nonce of an operation of `account` acting as `acting` (or its owner); `sets_up`
    /// when the op deploys or delegates the account (a concurrent prepare then waits for it rather
    /// than deploying or delegating a second time). Leases are taken unless `estimate_only` (an
    /// estimate is never sent).
    pub(crate) async fn choose_nonce(
        &self,
        account: &ResolvedAccount,
        acting: Option<&ActingSession>,
        nonce_override: Option<U256>,
        sets_up: bool,
        estimate_only: bool,
    ) -> WalletResult<ChosenNonce> {
        let mut leases = Vec::new();
        // Every lease of this prepare is held under one token, which its prepared row keeps.
        let holder = uuid::Uuid::new_v4().to_string();
        // A client's nonceOverride orders its own operations: no setup lease either.
        if sets_up && !estimate_only && nonce_override.is_none() {
            let lease = self
                .take_lease(account.address(), SETUP_LEASE_KEY, self.config.setup_lease, &holder)
                .await?
                .ok_or_else(|| {
                    WalletError::Busy(format!(
                        "another request is deploying or delegating {} (its call is prepared, not yet sent)",
                        account.address()
                    ))
                })?;
            leases.push(lease);
        }
        let chosen = self.choose_key(account, acting, nonce_override, estimate_only, &holder).await;
        match chosen {
            Ok(mut c) => {
                c.leases.extend(leases);
                Ok(c)
            }
            Err(e) => {
                self.drop_leases(leases).await;
                Err(e)
            }
        }
    }

    /// [`Wallet::choose_nonce`] without the setup lease.
    async fn choose_key(
        &self,
        account: &ResolvedAccount,
        acting: Option<&ActingSession>,
        nonce_override: Option<U256>,
        estimate_only: bool,
        holder: &str,
    ) -> WalletResult<ChosenNonce> {
        let signer = match acting {
            // A P-256 key has no address: its signature is checked against the session at send.
            Some(a) => a.signer.and_then(|k| k.address()),
            None => Some(account.owner()),
        };
        if let Some(session) = acting.and_then(|a| a.session.as_ref().filter(|_| a.deferred.is_some())) {
            // The installing op's nonce is the one the owner signed.
            if nonce_override.is_some() {
                return Err(WalletError::params(
                    "nonceOverride cannot be used on a session's first call (its nonce is fixed by the grant)",
                ));
            }
            let lease = match estimate_only {
                true => None,
                false => {
                    let key = keyward_primitives::nonce::nonce_key_u256(session.deferred_nonce);
                    Some(self.take_lease(account.address(), key, self.config.setup_lease, holder).await?.ok_or_else(
                        || {
                            WalletError::Busy(
                                "the session's first call, which installs it, is being prepared or sent by another \
                             request"
                                    .into(),
                            )
                        },
                    )?)
                }
            };
            let leases: Vec<NonceLease> = lease.into_iter().collect();
            // Holding the install's lease, look again: the holder before us may have sent it.
            if !leases.is_empty() {
                match self.needs_install(session).await {
                    Ok(true) => {}
                    Ok(false) => {
                        self.drop_leases(leases).await;
                        return Err(WalletError::Busy("the session was installed meanwhile".into()));
                    }
                    Err(e) => {
                        self.drop_leases(leases).await;
                        return Err(e);
                    }
                }
            }
            return Ok(ChosenNonce { nonce: session.deferred_nonce, signer, leases, known: None });
        }
        let key_for = |parallel: U256| -> WalletResult<NonceKey> {
            match acting {
                Some(a) => a.nonce_key(parallel),
                None => NonceKey::new(parallel, ValidationLocator::owner())
                    .map_err(|e| WalletError::params(format!("nonceOverride: {e}"))),
            }
        };
        if let Some(parallel) = nonce_override {
            let key = U256::from(key_for(parallel)?.full_key());
            let next = self.next_sequence(account.address(), key).await?;
            let nonce = (key << 64) | U256::from(next.sequence);
            return Ok(ChosenNonce { nonce, signer, leases: Vec::new(), known: Some(next) });
        }
        for parallel in 0..self.config.parallel_keys.max(1) {
            let key = U256::from(key_for(U256::from(parallel))?.full_key());
            let lease = match estimate_only {
                true => None,
                false => match self.take_lease(account.address(), key, self.config.nonce_lease, holder).await? {
                    Some(lease) => Some(lease),
                    None => continue,
                },
            };
            let leases: Vec<NonceLease> = lease.into_iter().collect();
            let next = match self.next_sequence(account.address(), key).await {
                Ok(next) => next,
                Err(e) => {
                    self.drop_leases(leases).await;
                    return Err(e);
                }
            };
            let nonce = (key << 64) | U256::from(next.sequence);
            return Ok(ChosenNonce { nonce, signer, leases, known: Some(next) });
        }
        Err(WalletError::Busy(format!(
            "all {} parallel nonce keys of {} are held by prepared calls not yet sent",
            self.config.parallel_keys,
            account.address()
        )))
    }

    /// Takes the lease of (`account`, `key`) for `holder` (a prepare's token) for `term`; `None`
    /// when another holds it.
    async fn take_lease(
        &self,
        account: Address,
        key: U256,
        term: Duration,
        holder: &str,
    ) -> WalletResult<Option<NonceLease>> {
        let now = unix_now();
        let lease = NonceLease {
            chain_id: self.chain_id,
            account,
            nonce_key: key,
            token: holder.to_string(),
            expires_at: now.saturating_add(term.as_secs().max(1)),
        };
        Ok(self.store.take_nonce_lease(&lease, now).await?.then_some(lease))
    }

    /// Gives back the leases of a prepare that failed (best effort: they expire anyway).
    pub(crate) async fn drop_leases(&self, leases: Vec<NonceLease>) {
        for lease in leases {
            if let Err(e) = self.store.drop_nonce_lease(&lease).await {
                tracing::warn!(error = %e, "could not drop a nonce lease; it expires by itself");
            }
        }
    }
}
