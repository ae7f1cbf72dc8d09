//! `SmartWalletClient`: the Rust counterpart of `@alchemy/wallet-apis`' `createSmartWalletClient`,
//! over the `keyward_api::wallet` jsonrpsee client. The signer (any alloy [`Signer`]) signs locally
//! whatever the server asks for, after the client recomputed the digest from the data it was given.

use std::time::Duration;

use alloy::primitives::{Address, B256, Bytes};
use alloy::signers::Signer;
use jsonrpsee_http_client::HttpClient;
use keyward_api::wallet::{
    CallsStatus, CreateSessionParams, CreateSessionResult, FormatSignParams, GetSessionParams, HexNumber,
    ListAccountsParams, ListAccountsResult, ListSessionsParams, Permission, PermissionsCapability, PersonalSignData,
    PrepareCallsCapabilities, PrepareCallsResult, PrepareSignParams, PreparedCallItem, PreparedCalls,
    RequestAccountParams, RequestAccountResult, RevokeCapabilities, RevokeSessionsParams, SendCallsCapabilities,
    SendPreparedCallsResult, SessionId, SessionInfo, SessionSignatureRequest, SigEnvelope, SigType, SignCapabilities,
    SignableRequest, SignatureRequest, SignedAuthorization, SignedCallItem, SignedCalls, SignedUserOpV06,
    SignedUserOpV07, TypedData, UuidV4, WalletApiClient, WalletCapabilities,
};
use keyward_primitives::mav2::P256PublicKey;

use super::endpoint::{Endpoint, sending_capabilities};
use super::error::WalletClientError;

pub use keyward_api::wallet::{Call, SessionKey};

/// How long [`SmartWalletClient::wait_for_calls_status`] waits by default (viem's default).
pub const DEFAULT_STATUS_TIMEOUT: Duration = Duration::from_secs(60);

/// How often [`SmartWalletClient::wait_for_calls_status`] polls by default.
pub const DEFAULT_STATUS_POLL: Duration = Duration::from_millis(200);

/// What [`SmartWalletClient::grant_permissions`] asks for (the account defaults to the client's).
#[derive(Debug, Clone)]
pub struct GrantPermissions {
    /// The account granting the session; `None` = the client's account.
    pub account: Option<Address>,
    /// Unix expiry in seconds (0 = never).
    pub expiry_sec: u64,
    /// The session key's address.
    pub session_key: Address,
    /// What the key may do.
    pub permissions: Vec<Permission>,
}

/// What [`SmartWalletClient::grant_passkey_permissions`] asks for: a session for a P-256 passkey
/// (Keyward extension; the account defaults to the client's).
#[derive(Debug, Clone)]
pub struct GrantPasskeyPermissions {
    /// The account granting the session; `None` = the client's account.
    pub account: Option<Address>,
    /// Unix expiry in seconds (0 = never).
    pub expiry_sec: u64,
    /// The passkey's public key.
    pub public_key: P256PublicKey,
    /// What the key may do.
    pub permissions: Vec<Permission>,
}

/// A client of one Wallet API server, one chain, one signer, acting for one account.
#[derive(Debug, Clone)]
pub struct SmartWalletClient<S> {
    ep: Endpoint,
    signer: S,
}

impl<S: Signer + Send + Sync> SmartWalletClient<S> {
    /// A client of the server at `url` on `chain_id`, signing with `signer` and acting — like the
    /// official SDK without `account` — for the signer's own address (EIP-7702).
    pub fn new(url: &str, signer: S, chain_id: u64) -> Result<Self, WalletClientError> {
        let ep = Endpoint::connect(url, chain_id, signer.address())?;
        Ok(Self { ep, signer })
    }

    /// The same client acting for `account` (a smart account from `request_account`).
    pub fn with_account(mut self, account: Address) -> Self {
        self.ep.account = account;
        self
    }

    /// The same client sponsoring every call with these gas policies (the SDK's `paymaster` option).
    pub fn with_policy_ids(mut self, policy_ids: Vec<UuidV4>) -> Self {
        self.ep.policy_ids = policy_ids;
        self
    }

    /// The same client checking user-operation hashes against another EntryPoint.
    pub fn with_entry_point(mut self, entry_point: Address) -> Self {
        self.ep.entry_point = entry_point;
        self
    }

    /// The account the client acts for.
    pub fn account(&self) -> Address {
        self.ep.account
    }

    /// The signer's address.
    pub fn signer_address(&self) -> Address {
        self.signer.address()
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.ep.chain_id
    }

    /// The underlying jsonrpsee client (every `wallet_*` method through [`WalletApiClient`]).
    pub fn rpc(&self) -> &HttpClient {
        &self.ep.rpc
    }

    /// `wallet_requestAccount` for the signer: its counterfactual smart account (created if needed).
    /// Like the official SDK, this does not change the client's account; use [`Self::with_account`].
    pub async fn request_account(&self) -> Result<RequestAccountResult, WalletClientError> {
        self.request_account_with(RequestAccountParams::BySigner {
            signer_address: self.signer.address(),
            id: None,
            creation_hint: None,
            include_counterfactual_info: Some(true),
        })
        .await
    }

    /// `wallet_requestAccount` with explicit params.
    pub async fn request_account_with(
        &self,
        params: RequestAccountParams,
    ) -> Result<RequestAccountResult, WalletClientError> {
        Ok(self.ep.rpc.request_account(params).await?)
    }

    /// `wallet_listAccounts` of the signer.
    pub async fn list_accounts(&self) -> Result<ListAccountsResult, WalletClientError> {
        let params = ListAccountsParams { signer_address: self.signer.address(), limit: None, after: None };
        Ok(self.ep.rpc.list_accounts(params).await?)
    }

    /// `wallet_getCapabilities` of the client's account on its chain.
    pub async fn get_capabilities(&self) -> Result<WalletCapabilities, WalletClientError> {
        Ok(self.ep.rpc.get_capabilities(self.ep.account, Some(vec![self.ep.chain()?])).await?)
    }

    /// `wallet_createSession`, then the owner (this client's signer) signs the session's typed data:
    /// returns the permissions context `0x00 ‖ sessionId ‖ signature` for `permissions.context`.
    pub async fn grant_permissions(&self, grant: GrantPermissions) -> Result<Bytes, WalletClientError> {
        let key = SessionKey::Secp256k1(grant.session_key);
        self.grant(grant.account, grant.expiry_sec, key, grant.permissions).await
    }

    /// [`Self::grant_permissions`] for a P-256 passkey (`key.type` `p256`, Keyward extension): the
    /// permissions context the passkey's client ([`super::PasskeySessionClient`]) acts with.
    pub async fn grant_passkey_permissions(&self, grant: GrantPasskeyPermissions) -> Result<Bytes, WalletClientError> {
        let key = SessionKey::P256(grant.public_key);
        self.grant(grant.account, grant.expiry_sec, key, grant.permissions).await
    }

    async fn grant(
        &self,
        account: Option<Address>,
        expiry_sec: u64,
        key: SessionKey,
        permissions: Vec<Permission>,
    ) -> Result<Bytes, WalletClientError> {
        let params = CreateSessionParams {
            account: account.unwrap_or(self.ep.account),
            chain_id: self.ep.chain()?,
            expiry_sec: Some(expiry_sec),
            key,
            permissions,
        };
        let CreateSessionResult { session_id, signature_request, .. } = self.ep.rpc.create_session(params).await?;
        let SessionSignatureRequest::TypedData { data, raw_payload } = signature_request;
        let digest = typed_digest(&data)?;
        if digest != raw_payload {
            return Err(WalletClientError::mismatch_digest("session typed data", digest, raw_payload));
        }
        let signature = self.signer.sign_hash(&digest).await?;
        let mut context = Vec::with_capacity(82);
        context.push(0);
        context.extend_from_slice(session_id.0.as_slice());
        context.extend_from_slice(&signature.as_bytes());
        Ok(context.into())
    }

    /// `wallet_prepareCalls` from the client's account, with the client's policies unless the
    /// capabilities name their own.
    pub async fn prepare_calls(
        &self,
        calls: Vec<Call>,
        capabilities: Option<PrepareCallsCapabilities>,
    ) -> Result<PrepareCallsResult, WalletClientError> {
        self.ep.prepare_calls(calls, capabilities).await
    }

    /// Signs every item of prepared calls with the client's signer: user operations over their
    /// signature request (checked against the operation's hash), authorizations as EIP-7702 tuples.
    pub async fn sign_prepared_calls(&self, prepared: &PrepareCallsResult) -> Result<SignedCalls, WalletClientError> {
        match &prepared.prepared {
            PreparedCalls::UserOperationV070(op) => {
                let digest = self.sign_user_op_request(op.signature_request.as_ref(), Some(&op.data), op.chain_id)?;
                let signature = self.sign_envelope(digest).await?;
                Ok(SignedCalls::UserOperationV070(SignedUserOpV07 {
                    data: op.data.clone(),
                    chain_id: op.chain_id,
                    signature,
                }))
            }
            PreparedCalls::UserOperationV060(op) => {
                let digest = self.sign_user_op_request(op.signature_request.as_ref(), None, op.chain_id)?;
                let signature = self.sign_envelope(digest).await?;
                Ok(SignedCalls::UserOperationV060(SignedUserOpV06 {
                    data: op.data.clone(),
                    chain_id: op.chain_id,
                    signature,
                }))
            }
            PreparedCalls::Authorization(auth) => Ok(SignedCalls::Authorization(self.sign_authorization(auth).await?)),
            PreparedCalls::Array { data } => {
                let mut items = Vec::with_capacity(data.len());
                for item in data {
                    items.push(match item {
                        PreparedCallItem::UserOperationV070(op) => {
                            let digest =
                                self.sign_user_op_request(op.signature_request.as_ref(), Some(&op.data), op.chain_id)?;
                            SignedCallItem::UserOperationV070(SignedUserOpV07 {
                                data: op.data.clone(),
                                chain_id: op.chain_id,
                                signature: self.sign_envelope(digest).await?,
                            })
                        }
                        PreparedCallItem::UserOperationV060(op) => {
                            let digest = self.sign_user_op_request(op.signature_request.as_ref(), None, op.chain_id)?;
                            SignedCallItem::UserOperationV060(SignedUserOpV06 {
                                data: op.data.clone(),
                                chain_id: op.chain_id,
                                signature: self.sign_envelope(digest).await?,
                            })
                        }
                        PreparedCallItem::Authorization(auth) => {
                            SignedCallItem::Authorization(self.sign_authorization(auth).await?)
                        }
                    });
                }
                Ok(SignedCalls::Array { data: items })
            }
            PreparedCalls::PaymasterPermit(_) => Err(WalletClientError::NotSignable(
                "a paymaster-permit is signed by send_calls (it needs a second prepare)".into(),
            )),
        }
    }

    /// The digest a user operation's signature request asks for, after checking it: the request
    /// must be present, its `rawPayload` (if any) must be its digest, and a personal_sign of 32 raw
    /// bytes must be the operation's EntryPoint hash.
    fn sign_user_op_request(
        &self,
        request: Option<&SignatureRequest>,
        op: Option<&keyward_api::wallet::UserOpV07>,
        chain_id: HexNumber,
    ) -> Result<B256, WalletClientError> {
        let request = request.ok_or_else(|| {
            WalletClientError::NotSignable("the user operation has no signatureRequest (estimation only?)".into())
        })?;
        let digest = request_digest(request)?;
        if let (Some(op), SignatureRequest::PersonalSign { data: PersonalSignData::Raw { raw }, .. }) = (op, request) {
            let user_op = op.to_user_operation(Bytes::new()).map_err(|e| WalletClientError::Mismatch(e.to_string()))?;
            let hash = user_op.hash(self.ep.entry_point, u64::from(chain_id));
            if raw.as_ref() != hash.as_slice() {
                return Err(WalletClientError::Mismatch(format!(
                    "personal_sign of {raw} but the user operation hashes to {hash}"
                )));
            }
        }
        Ok(digest)
    }

    async fn sign_envelope(&self, digest: B256) -> Result<SigEnvelope, WalletClientError> {
        Ok(SigEnvelope::secp256k1(&self.signer.sign_hash(&digest).await?))
    }

    async fn sign_authorization(
        &self,
        auth: &keyward_api::wallet::PreparedAuthorization,
    ) -> Result<SignedAuthorization, WalletClientError> {
        let digest = auth.data.authorization(auth.chain_id).signature_hash();
        if let SignatureRequest::Eip7702Auth { raw_payload } = auth.signature_request
            && raw_payload != digest
        {
            return Err(WalletClientError::mismatch_digest("eip7702Auth", digest, raw_payload));
        }
        Ok(SignedAuthorization {
            data: auth.data.clone(),
            chain_id: auth.chain_id,
            signature: self.sign_envelope(digest).await?,
        })
    }

    /// `wallet_sendPreparedCalls`.
    pub async fn send_prepared_calls(
        &self,
        calls: SignedCalls,
        capabilities: Option<SendCallsCapabilities>,
    ) -> Result<SendPreparedCallsResult, WalletClientError> {
        self.ep.send_prepared_calls(calls, capabilities).await
    }

    /// Prepare, sign, send — with the ERC-20 permit round trip when the server asks for one — and
    /// return the call id (the official SDK's `sendCalls`).
    pub async fn send_calls(
        &self,
        calls: Vec<Call>,
        capabilities: Option<PrepareCallsCapabilities>,
    ) -> Result<SendPreparedCallsResult, WalletClientError> {
        let capabilities = self.ep.with_policies(capabilities);
        let mut prepared = self.prepare_calls(calls, capabilities.clone()).await?;
        if let PreparedCalls::PaymasterPermit(permit) = &prepared.prepared {
            let digest = request_digest(&permit.signature_request)?;
            let signature = SigEnvelope::secp256k1(&self.signer.sign_hash(&digest).await?);
            let mut again = (*permit.modified_request).clone();
            again.paymaster_permit_signature = Some(signature);
            prepared = self.ep.rpc.prepare_calls(again).await?;
        }
        let signed = self.sign_prepared_calls(&prepared).await?;
        self.send_prepared_calls(signed, sending_capabilities(capabilities.as_ref())).await
    }

    /// `wallet_listSessions` (Keyward extension): the account's sessions, their state and what is
    /// left of each budget onchain.
    pub async fn list_sessions(&self) -> Result<Vec<SessionInfo>, WalletClientError> {
        let params = ListSessionsParams { account: self.ep.account, chain_id: self.ep.chain()? };
        Ok(self.ep.rpc.list_sessions(params).await?.sessions)
    }

    /// `wallet_getSession` (Keyward extension): one session of the account.
    pub async fn get_session(&self, session_id: SessionId) -> Result<SessionInfo, WalletClientError> {
        let params = GetSessionParams { account: self.ep.account, chain_id: self.ep.chain()?, session_id };
        Ok(self.ep.rpc.get_session(params).await?)
    }

    /// `wallet_revokeSessions` (Keyward extension), signed by this client's signer (the account's
    /// owner) and sent: the call id of the revoking operation, `None` when every session named was
    /// revoked already. The client's gas policies sponsor it.
    pub async fn revoke_sessions(&self, session_ids: Vec<SessionId>) -> Result<Option<Bytes>, WalletClientError> {
        let capabilities = self.ep.with_policies(None);
        let paymaster_service = capabilities.as_ref().and_then(|c| c.paymaster_service.clone());
        let params = RevokeSessionsParams {
            account: self.ep.account,
            chain_id: self.ep.chain()?,
            session_ids,
            capabilities: paymaster_service.clone().map(|p| RevokeCapabilities { paymaster_service: Some(p) }),
        };
        let Some(prepared) = self.ep.rpc.revoke_sessions(params).await?.prepared_calls else { return Ok(None) };
        let signed = self.sign_prepared_calls(&prepared).await?;
        let sent = self.send_prepared_calls(signed, sending_capabilities(capabilities.as_ref())).await?;
        Ok(Some(sent.id))
    }

    /// `wallet_getCallsStatus`.
    pub async fn get_calls_status(&self, id: &Bytes) -> Result<CallsStatus, WalletClientError> {
        Ok(self.ep.rpc.get_calls_status(id.clone()).await?)
    }

    /// Polls `wallet_getCallsStatus` until the status is final (200 or ≥ 300), like viem's
    /// `waitForCallsStatus`; an unknown id (5730) right after sending is retried until `timeout`.
    pub async fn wait_for_calls_status(
        &self,
        id: &Bytes,
        timeout: Duration,
        poll: Duration,
    ) -> Result<CallsStatus, WalletClientError> {
        self.ep.wait_for_status(id, timeout, poll).await
    }

    /// Signs a message as the smart account (ERC-1271): `wallet_prepareSign`, the signer signs what
    /// the server returns, `wallet_formatSign`. Returns what the account's `isValidSignature` accepts.
    pub async fn sign_message(&self, message: PersonalSignData) -> Result<Bytes, WalletClientError> {
        self.sign_as_account(SignableRequest::PersonalSign { data: message }, None).await
    }

    /// Signs EIP-712 typed data as the smart account (ERC-1271), like [`Self::sign_message`].
    pub async fn sign_typed_data(&self, typed_data: TypedData) -> Result<Bytes, WalletClientError> {
        self.sign_as_account(SignableRequest::TypedData { data: typed_data }, None).await
    }

    /// [`Self::sign_message`] / [`Self::sign_typed_data`] through a session key's permissions.
    pub async fn sign_as_account(
        &self,
        request: SignableRequest,
        permissions: Option<PermissionsCapability>,
    ) -> Result<Bytes, WalletClientError> {
        let capabilities = permissions.map(|permissions| SignCapabilities { permissions });
        let prepared = self
            .ep
            .rpc
            .prepare_sign(PrepareSignParams {
                from: self.ep.account,
                chain_id: self.ep.chain()?,
                signature_request: request,
                capabilities: capabilities.clone(),
            })
            .await?;
        let digest = prepared.signature_request.digest().map_err(|e| WalletClientError::Mismatch(e.to_string()))?;
        let signature = self.signer.sign_hash(&digest).await?;
        let formatted = self
            .ep
            .rpc
            .format_sign(FormatSignParams {
                from: self.ep.account,
                chain_id: self.ep.chain()?,
                signature: SigEnvelope {
                    ty: SigType::Ecdsa,
                    data: keyward_api::wallet::EcdsaSigData::from_signature(&signature),
                },
                capabilities,
            })
            .await?;
        Ok(formatted.signature)
    }
}

fn typed_digest(data: &TypedData) -> Result<B256, WalletClientError> {
    data.signing_hash().map_err(|e| WalletClientError::Mismatch(e.to_string()))
}

/// The digest of a signature request, checked against its `rawPayload` when one is given.
fn request_digest(request: &SignatureRequest) -> Result<B256, WalletClientError> {
    let digest = request.digest().map_err(|e| WalletClientError::Mismatch(e.to_string()))?;
    let raw = match request {
        SignatureRequest::PersonalSign { raw_payload, .. } | SignatureRequest::TypedData { raw_payload, .. } => {
            *raw_payload
        }
        SignatureRequest::Eip7702Auth { .. } => None,
        SignatureRequest::P256 { raw_payload, .. } => Some(*raw_payload),
    };
    match raw {
        Some(raw) if raw != digest => Err(WalletClientError::mismatch_digest("signatureRequest", digest, raw)),
        _ => Ok(digest),
    }
}
