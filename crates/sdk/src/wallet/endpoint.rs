//! What every Wallet API client of the SDK shares: the server connection, the chain, the account
//! acted for, the EntryPoint user-operation hashes are checked against and the gas policies that
//! sponsor calls — with the calls that need nothing more (prepare, send, status).

use std::time::{Duration, Instant};

use alloy::primitives::{Address, Bytes};
use jsonrpsee_http_client::{HttpClient, HttpClientBuilder};
use keyward_api::wallet::{
    Call, CallsStatus, HexNumber, PaymasterService, PrepareCallsCapabilities, PrepareCallsParams, PrepareCallsResult,
    SendCallsCapabilities, SendPreparedCallsParams, SendPreparedCallsResult, SignedCalls, UuidV4, WalletApiClient,
    codes,
};
use keyward_primitives::ENTRY_POINT_V07;

use super::error::WalletClientError;

/// One Wallet API server, one chain, one account.
#[derive(Debug, Clone)]
pub(super) struct Endpoint {
    /// The jsonrpsee client of the server.
    pub(super) rpc: HttpClient,
    /// The chain id.
    pub(super) chain_id: u64,
    /// The account acted for.
    pub(super) account: Address,
    /// The EntryPoint user-operation hashes are checked against.
    pub(super) entry_point: Address,
    /// The gas policies sponsoring every call (none: unsponsored).
    pub(super) policy_ids: Vec<UuidV4>,
}

impl Endpoint {
    /// The server at `url` on `chain_id`, acting for `account`, over the canonical EntryPoint.
    pub(super) fn connect(url: &str, chain_id: u64, account: Address) -> Result<Self, WalletClientError> {
        let rpc = HttpClientBuilder::default()
            .request_timeout(Duration::from_secs(30))
            .build(url)
            .map_err(|e| WalletClientError::InvalidUrl { url: url.to_string(), reason: e.to_string() })?;
        Ok(Self { rpc, chain_id, account, entry_point: ENTRY_POINT_V07, policy_ids: Vec::new() })
    }

    /// The chain id as the wire writes it.
    pub(super) fn chain(&self) -> Result<HexNumber, WalletClientError> {
        HexNumber::try_from(self.chain_id).map_err(|e| WalletClientError::NotSignable(e.to_string()))
    }

    /// `capabilities` with the endpoint's gas policies, unless they name their own.
    pub(super) fn with_policies(
        &self,
        capabilities: Option<PrepareCallsCapabilities>,
    ) -> Option<PrepareCallsCapabilities> {
        if self.policy_ids.is_empty() || capabilities.as_ref().is_some_and(|c| c.paymaster_service.is_some()) {
            return capabilities;
        }
        let mut caps = capabilities.unwrap_or_default();
        caps.paymaster_service = Some(policy_service(&self.policy_ids));
        Some(caps)
    }

    /// `wallet_prepareCalls` from the account, with the endpoint's policies unless the
    /// capabilities name their own.
    pub(super) async fn prepare_calls(
        &self,
        calls: Vec<Call>,
        capabilities: Option<PrepareCallsCapabilities>,
    ) -> Result<PrepareCallsResult, WalletClientError> {
        let params = PrepareCallsParams {
            calls: Some(calls),
            from: self.account,
            chain_id: self.chain()?,
            capabilities: self.with_policies(capabilities),
            paymaster_permit_signature: None,
        };
        Ok(self.rpc.prepare_calls(params).await?)
    }

    /// `wallet_sendPreparedCalls`.
    pub(super) async fn send_prepared_calls(
        &self,
        calls: SignedCalls,
        capabilities: Option<SendCallsCapabilities>,
    ) -> Result<SendPreparedCallsResult, WalletClientError> {
        let params = SendPreparedCallsParams { calls, capabilities, call_id: None };
        Ok(self.rpc.send_prepared_calls(params).await?)
    }

    /// Polls `wallet_getCallsStatus` until the status is final (200 or ≥ 300), like viem's
    /// `waitForCallsStatus`; an unknown id (5730) right after sending is retried for 3 s.
    pub(super) async fn wait_for_status(
        &self,
        id: &Bytes,
        timeout: Duration,
        poll: Duration,
    ) -> Result<CallsStatus, WalletClientError> {
        let start = Instant::now();
        loop {
            match self.rpc.get_calls_status(id.clone()).await.map_err(WalletClientError::from) {
                Ok(status) if status.status.is_final() => return Ok(status),
                Ok(_) => {}
                Err(e) if e.code() == Some(codes::UNKNOWN_BUNDLE_ID) && start.elapsed() < Duration::from_secs(3) => {}
                Err(e) => return Err(e),
            }
            if start.elapsed() >= timeout {
                return Err(WalletClientError::Timeout { id: id.clone(), waited: start.elapsed() });
            }
            tokio::time::sleep(poll).await;
        }
    }
}

/// The `paymasterService` capability naming `policy_ids` (one as `policyId`, several as `policyIds`).
pub(super) fn policy_service(policy_ids: &[UuidV4]) -> PaymasterService {
    let (policy_id, policy_ids) = match policy_ids {
        [one] => (Some(one.clone()), None),
        many => (None, Some(many.to_vec())),
    };
    PaymasterService { policy_id, policy_ids, only_estimation: None, erc20: None, webhook_data: None }
}

/// What `wallet_sendPreparedCalls` repeats of the prepare capabilities: `permissions` and the
/// policy id(s) with `webhookData` (the official SDK's `extractCapabilitiesForSending`).
pub(super) fn sending_capabilities(capabilities: Option<&PrepareCallsCapabilities>) -> Option<SendCallsCapabilities> {
    let c = capabilities?;
    let paymaster_service = c.paymaster_service.as_ref().map(|p| PaymasterService {
        policy_id: p.policy_id.clone(),
        policy_ids: p.policy_ids.clone(),
        only_estimation: None,
        erc20: None,
        webhook_data: p.webhook_data.clone(),
    });
    if c.permissions.is_none() && paymaster_service.is_none() {
        return None;
    }
    Some(SendCallsCapabilities { permissions: c.permissions.clone(), paymaster_service })
}
