//! Passkey (P-256) session keys through the Wallet API (Keyward extension): the owner grants the
//! session with [`SmartWalletClient::grant_passkey_permissions`](super::SmartWalletClient), then a
//! [`PasskeySessionClient`] prepares, signs and sends the session's calls with a [`P256Signer`] —
//! RustCrypto's [`p256::ecdsa::SigningKey`], or any key that signs as WebCrypto's ECDSA with
//! SHA-256 does (a secure enclave, a hardware token).

use std::time::Duration;

use alloy::primitives::{Address, Bytes};
use keyward_api::wallet::{
    Call, CallsStatus, PrepareCallsCapabilities, PrepareCallsResult, PreparedCalls, SendPreparedCallsResult,
    SigEnvelope, SignatureRequest, SignedCalls, SignedUserOpV07, UuidV4,
};
use keyward_primitives::mav2::P256PublicKey;
use keyward_primitives::mav2::session_key::p256_signing_digest;

use super::endpoint::{Endpoint, sending_capabilities};
use super::error::WalletClientError;

/// A P-256 key that signs as WebCrypto's `sign({name: "ECDSA", hash: "SHA-256"}, key, message)`.
pub trait P256Signer: Send + Sync {
    /// The key's public key.
    fn public_key(&self) -> Result<P256PublicKey, WalletClientError>;

    /// ECDSA with SHA-256 of `message`: `r ‖ s` (64 bytes; a high `s` is fine, the server makes
    /// it low).
    fn sign_sha256(&self, message: &[u8]) -> impl Future<Output = Result<[u8; 64], WalletClientError>> + Send;
}

impl P256Signer for p256::ecdsa::SigningKey {
    fn public_key(&self) -> Result<P256PublicKey, WalletClientError> {
        P256PublicKey::from_verifying_key(self.verifying_key()).map_err(|e| WalletClientError::Signer(e.to_string()))
    }

    async fn sign_sha256(&self, message: &[u8]) -> Result<[u8; 64], WalletClientError> {
        use p256::ecdsa::signature::Signer;
        let signature: p256::ecdsa::Signature =
            self.try_sign(message).map_err(|e| WalletClientError::Signer(e.to_string()))?;
        Ok(signature.to_bytes().into())
    }
}

/// A client of one Wallet API server acting for one account through one passkey session.
#[derive(Debug, Clone)]
pub struct PasskeySessionClient<K> {
    ep: Endpoint,
    key: K,
}

impl<K: P256Signer> PasskeySessionClient<K> {
    /// A client of the server at `url` on `chain_id`, acting for `account` with the passkey `key`.
    pub fn new(url: &str, key: K, chain_id: u64, account: Address) -> Result<Self, WalletClientError> {
        Ok(Self { ep: Endpoint::connect(url, chain_id, account)?, key })
    }

    /// The same client sponsoring every call with these gas policies.
    pub fn with_policy_ids(mut self, policy_ids: Vec<UuidV4>) -> Self {
        self.ep.policy_ids = policy_ids;
        self
    }

    /// The same client checking user-operation hashes against another EntryPoint.
    pub fn with_entry_point(mut self, entry_point: Address) -> Self {
        self.ep.entry_point = entry_point;
        self
    }

    /// The passkey's public key.
    pub fn public_key(&self) -> Result<P256PublicKey, WalletClientError> {
        self.key.public_key()
    }

    /// The account the client acts for.
    pub fn account(&self) -> Address {
        self.ep.account
    }

    /// `wallet_prepareCalls` from the account (the capabilities carry the session's `permissions`).
    pub async fn prepare_calls(
        &self,
        calls: Vec<Call>,
        capabilities: Option<PrepareCallsCapabilities>,
    ) -> Result<PrepareCallsResult, WalletClientError> {
        self.ep.prepare_calls(calls, capabilities).await
    }

    /// Signs the prepared user operation with the passkey, after checking the request: a `p256`
    /// request whose message is the operation's hash and whose `rawPayload` is its SHA-256.
    pub async fn sign_prepared_calls(&self, prepared: &PrepareCallsResult) -> Result<SignedCalls, WalletClientError> {
        let PreparedCalls::UserOperationV070(op) = &prepared.prepared else {
            return Err(WalletClientError::NotSignable(
                "a passkey session signs one user operation (no authorization, permit or v0.6 operation)".into(),
            ));
        };
        let Some(SignatureRequest::P256 { data, raw_payload }) = &op.signature_request else {
            return Err(WalletClientError::NotSignable(format!(
                "the user operation's signatureRequest is not a p256 request: {:?}",
                op.signature_request
            )));
        };
        let user_op =
            op.data.to_user_operation(Bytes::new()).map_err(|e| WalletClientError::Mismatch(e.to_string()))?;
        let hash = user_op.hash(self.ep.entry_point, u64::from(op.chain_id));
        if data.message != hash {
            return Err(WalletClientError::Mismatch(format!(
                "p256 message {} but the user operation hashes to {hash}",
                data.message
            )));
        }
        let digest = p256_signing_digest(hash);
        if *raw_payload != digest {
            return Err(WalletClientError::mismatch_digest("p256 rawPayload", digest, *raw_payload));
        }
        let signature = self.key.sign_sha256(hash.as_slice()).await?;
        Ok(SignedCalls::UserOperationV070(SignedUserOpV07 {
            data: op.data.clone(),
            chain_id: op.chain_id,
            signature: SigEnvelope::p256(&signature),
        }))
    }

    /// `wallet_sendPreparedCalls`.
    pub async fn send_prepared_calls(
        &self,
        calls: SignedCalls,
        capabilities: Option<keyward_api::wallet::SendCallsCapabilities>,
    ) -> Result<SendPreparedCallsResult, WalletClientError> {
        self.ep.send_prepared_calls(calls, capabilities).await
    }

    /// Prepare, sign with the passkey, send: the call id.
    pub async fn send_calls(
        &self,
        calls: Vec<Call>,
        capabilities: Option<PrepareCallsCapabilities>,
    ) -> Result<SendPreparedCallsResult, WalletClientError> {
        let capabilities = self.ep.with_policies(capabilities);
        let prepared = self.prepare_calls(calls, capabilities.clone()).await?;
        let signed = self.sign_prepared_calls(&prepared).await?;
        self.send_prepared_calls(signed, sending_capabilities(capabilities.as_ref())).await
    }

    /// Polls `wallet_getCallsStatus` until the status is final (200 or ≥ 300).
    pub async fn wait_for_calls_status(
        &self,
        id: &Bytes,
        timeout: Duration,
        poll: Duration,
    ) -> Result<CallsStatus, WalletClientError> {
        self.ep.wait_for_status(id, timeout, poll).await
    }
}
