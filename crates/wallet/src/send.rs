//! `wallet_sendPreparedCalls`: checks the echoed operation against what was prepared, verifies
//! the signatures, assembles the account signature (deferred-action prefix on a session's first
//! use; EIP-7702 authorization attached) and submits it to the bundler's durable mempool.
//! Idempotent: the same signed operation always answers the same call id.

use alloy::primitives::{Address, Bytes, U256};
use keyward_bundler::Submission;
use keyward_primitives::UserOperation;
use keyward_primitives::eip7702::recover_authority;
use keyward_primitives::mav2::SessionKey;
use keyward_primitives::mav2::session_key::p256_user_op_signature;
use keyward_primitives::mav2::signature::{eoa_user_op_signature, user_op_signing_hash};
use keyward_primitives::unix_now;
use keyward_store::wallet::{CallRecord, PreparedRecord};

use crate::error::{WalletError, WalletResult};
use crate::records;
use crate::service::Wallet;
use crate::sessions::{grant_prefix, parse_signature};
use crate::types::{CallId, SendPrepared, Sent, SignedDelegation, UserOpSignature};

impl Wallet {
    /// `wallet_sendPreparedCalls`.
    pub async fn send_prepared_calls(&self, p: SendPrepared) -> WalletResult<Sent> {
        if p.sponsored && self.config.sponsor.is_none() {
            return Err(WalletError::UnsupportedCapability(
                "paymasterService: gas sponsorship is not configured on this server".into(),
            ));
        }
        self.check_chain(p.chain_id)?;
        let SendPrepared { mut op, signature: sig, authorization: auth, .. } = p;
        let ep = self.config.deployment.entry_point;
        let hash = op.hash(ep, self.chain_id);
        let id = CallId { chain_id: self.chain_id, hash };
        let Some(prepared) = self.prepared_record(hash).await? else {
            // A retry of a call already accepted: recording the call dropped its prepared row in
            // the same transaction, so the call is there now if it ever will be.
            if let Some(call) = self.call_record(hash).await? {
                return Ok(Sent { id, calls: records::calls(&call.calls_json)? });
            }
            return Err(WalletError::params(format!(
                "user operation {hash} was not prepared by this server (or its fields changed after \
                 wallet_prepareCalls): prepare it again"
            )));
        };
        let stored: UserOperation = serde_json::from_str(&prepared.op_json)
            .map_err(|e| WalletError::Internal(format!("stored prepared operation: {e}")))?;
        if stored != op {
            return Err(WalletError::params(format!("user operation {hash} differs from the one prepared")));
        }
        let calls = records::calls(&prepared.calls_json)?;

        let outer = self.session_signature(&prepared, sig).await?;
        let authorization = self.check_authorization(&prepared, &op, auth)?;

        op.signature = if prepared.deferred { self.deferred_signature(&prepared, &outer).await? } else { outer };

        let record = CallRecord {
            chain_id: self.chain_id,
            hash,
            account: op.sender,
            calls_json: prepared.calls_json.clone(),
            session_id: prepared.session_id,
            created_at: unix_now(),
        };
        let installs_session = prepared.deferred;
        // The admission records the call in its own commit; the pool answers a known operation (a
        // retried send) as admitted, and records the call then too.
        let submission = Submission { op: op.clone(), authorization };
        match self.pool.submit(submission, Some((&record, installs_session))).await {
            Ok(_) => {
                self.prepared.forget(&hash);
                self.calls.put(hash, record);
                return Ok(Sent { id, calls });
            }
            // A retry or a concurrent twin may have submitted it before (and it may even be
            // included, so this copy now fails its nonce check): then it is accepted all the same,
            // and its call recorded below if that first submission did not.
            Err(e) => {
                if self.pool.state(hash).await?.is_none() {
                    return Err(self.naming_revoked_session(prepared.session_id, e.into()).await);
                }
            }
        }
        // The operation is in the mempool now: a failure from here on is not answered -32603 (a
        // client retrying that would be fine here, but the spec's rule is firm); the write (the
        // call, the session's installing op, the nonce leases ended: the mempool orders the key
        // from now on, so a concurrent prepare may queue on it) is retried first, then the answer
        // names the id the retry will get.
        let mut last_error = None;
        for attempt in 0..3u64 {
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(100 * attempt)).await;
            }
            match self.record_call(&record, installs_session).await {
                Ok(_) => {
                    self.prepared.forget(&hash);
                    return Ok(Sent { id, calls });
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(WalletError::rejected(format!(
            "user operation {hash} was accepted but its call id {id} could not be recorded ({}); send the same \
             request again to get the id",
            last_error.map(|e| e.to_string()).unwrap_or_default()
        )))
    }

    /// The prepared operation `hash` not yet sent: remembered when this process prepared it,
    /// else read from the store (another replica's prepare, or one forgotten). A remembered one
    /// whose call another replica recorded meanwhile is submitted again and answers as a retry.
    async fn prepared_record(&self, hash: alloy::primitives::B256) -> WalletResult<Option<PreparedRecord>> {
        if let Some(prepared) = self.prepared.get(&hash) {
            return Ok(Some(prepared));
        }
        Ok(self.store.prepared(self.chain_id, hash).await?)
    }

    /// The signature segment of the operation's validation, after checking the signature against
    /// the key that must sign: a P-256 session's key (`0xFF ‖ r ‖ s`, s made low), or the prepared
    /// secp256k1 signer (`0xFF ‖ 0x00 ‖ r ‖ s ‖ v`). A signature of the wrong type is refused.
    async fn session_signature(&self, prepared: &PreparedRecord, sig: UserOpSignature) -> WalletResult<Bytes> {
        let hash = prepared.hash;
        // A key with an address (the owner, a secp256k1 session key) was recorded as the prepared
        // op's signer: only a P-256 session (no address) needs its session's key read.
        let session = match prepared.session_id.filter(|_| prepared.signer == Address::ZERO) {
            Some(id) => Some(
                self.session(&id)
                    .await?
                    .ok_or_else(|| WalletError::Internal("the prepared op's session is gone".into()))?,
            ),
            None => None,
        };
        let key = session.as_ref().map(records::session_key).transpose()?;
        match (key, sig) {
            (Some(SessionKey::P256(key)), UserOpSignature::P256(raw)) => {
                let rs = key.verify_user_op(hash, &raw).map_err(|e| WalletError::params(format!("signature: {e}")))?;
                Ok(p256_user_op_signature(&rs))
            }
            (Some(SessionKey::P256(key)), UserOpSignature::Secp256k1(_)) => Err(WalletError::params(format!(
                "signature: user operation {hash} acts through a p256 session (public key {}): send the passkey's \
                 signature {{\"type\": \"p256\", \"data\": r ‖ s}}",
                key.uncompressed()
            ))),
            (_, UserOpSignature::P256(_)) => Err(WalletError::params(format!(
                "signature: a p256 signature is only accepted for a p256 session's calls; user operation {hash} is \
                 signed by a secp256k1 key"
            ))),
            (_, UserOpSignature::Secp256k1(sig)) => {
                // Through the process's memo: the admission's validation recovers the same input.
                let recovered = keyward_chain::recover_memo::recover_address(&user_op_signing_hash(hash), &sig)
                    .ok_or_else(|| WalletError::params("signature does not recover to an address"))?;
                if prepared.signer != Address::ZERO && recovered != prepared.signer {
                    return Err(WalletError::params(format!(
                        "signature: signed by {recovered}, but user operation {hash} must be signed by {}",
                        prepared.signer
                    )));
                }
                Ok(eoa_user_op_signature(&sig))
            }
        }
    }

    /// The `eip7702Auth` to attach: required exactly when the op was prepared with one, equal to
    /// it, for this chain, and signed by the sender.
    fn check_authorization(
        &self,
        prepared: &PreparedRecord,
        op: &UserOperation,
        auth: Option<SignedDelegation>,
    ) -> WalletResult<Option<alloy::eips::eip7702::SignedAuthorization>> {
        let expected = prepared
            .authorization_json
            .as_deref()
            .map(|json| records::authorization(json, self.chain_id))
            .transpose()?;
        match (expected, auth) {
            (None, None) => Ok(None),
            (None, Some(_)) => Err(WalletError::params(
                "this user operation was prepared without an authorization; send it alone, not in an array",
            )),
            (Some(_), None) => Err(WalletError::params(
                "this user operation delegates the EOA: send the signed authorization with it (type \"array\")",
            )),
            (Some(expected), Some(a)) => {
                self.check_chain(a.chain_id)?;
                if (a.address, a.nonce) != (expected.address, expected.nonce) {
                    return Err(WalletError::params(format!(
                        "authorization {{address {}, nonce {:#x}}} differs from the one prepared {{address {}, nonce \
                         {:#x}}}",
                        a.address, a.nonce, expected.address, expected.nonce
                    )));
                }
                let authorization = alloy::eips::eip7702::Authorization {
                    chain_id: U256::from(a.chain_id),
                    address: a.address,
                    nonce: a.nonce,
                };
                let signed = authorization.into_signed(a.signature);
                let authority = recover_authority(&signed).map_err(|e| WalletError::params(e.to_string()))?;
                if authority != op.sender {
                    return Err(WalletError::params(format!(
                        "authorization signed by {authority}, not by the EOA {}",
                        op.sender
                    )));
                }
                Ok(Some(signed))
            }
        }
    }

    /// The installing op's signature: the deferred-action prefix (owner grant) and the session
    /// key's signature.
    async fn deferred_signature(&self, prepared: &PreparedRecord, outer: &[u8]) -> WalletResult<Bytes> {
        let session_id =
            prepared.session_id.ok_or_else(|| WalletError::Internal("deferred op without a session".into()))?;
        let session = self
            .session(&session_id)
            .await?
            .ok_or_else(|| WalletError::Internal("the prepared op's session is gone".into()))?;
        let owner = prepared
            .owner_signature
            .as_ref()
            .ok_or_else(|| WalletError::Internal("deferred op without the owner's grant signature".into()))?;
        let owner_signature = parse_signature("owner grant signature", owner)?;
        let owner = self.resolve_account(prepared.account).await?.owner();
        grant_prefix(&session, owner, &owner_signature)
            .user_op_signature(outer)
            .map_err(|e| WalletError::Internal(format!("deferred action: {e}")))
    }
}
