//! The Wallet API (`wallet_*`, ../shared/spec/wallet-api.md) served by a [`Wallet`]: each method
//! wired to the service, its errors mapped to the spec's JSON-RPC codes (§9).

use std::sync::Arc;

use alloy::primitives::{Address, Bytes};
use async_trait::async_trait;
use jsonrpsee::core::RpcResult;
use keyward_api::wallet::{
    CallsStatus, CreateSessionParams, CreateSessionResult, FormatSignParams, FormatSignResult, HexNumber,
    ListAccountsParams, ListAccountsResult, PrepareCallsParams, PrepareCallsResult, PrepareSignParams,
    PrepareSignResult, RequestAccountParams, RequestAccountResult, SendPreparedCallsParams, SendPreparedCallsResult,
    WalletApiServer, WalletCapabilities,
};

use jsonrpsee::types::ErrorObjectOwned;
use keyward_api::wallet::codes;
use keyward_wallet::{Wallet, WalletError};

use crate::bundler::reject_code;

/// The JSON-RPC code of a wallet error (wallet-api.md §9).
pub fn error_code(e: &WalletError) -> i32 {
    match e {
        WalletError::InvalidParams(_) => codes::INVALID_PARAMS,
        WalletError::UnsupportedChain { .. } => codes::UNSUPPORTED_CHAIN,
        WalletError::UnsupportedCapability(_) => codes::UNSUPPORTED_CAPABILITY,
        WalletError::UnknownCallId(_) => codes::UNKNOWN_BUNDLE_ID,
        WalletError::Rejected { .. } | WalletError::PolicyRejected { .. } | WalletError::Busy(_) => {
            codes::INVALID_INPUT
        }
        WalletError::Internal(_) => codes::INTERNAL,
    }
}

/// A wallet error as its JSON-RPC error object: the bundler's code in `data.bundlerCode` when the
/// bundler refused, `data: {policyId, reason}` for a gas policy's refusal.
pub fn rpc_error(e: &WalletError) -> ErrorObjectOwned {
    let data = match e {
        WalletError::Rejected { by_bundler: Some(reason), .. } => {
            Some(serde_json::json!({ "bundlerCode": reject_code(reason) }))
        }
        WalletError::PolicyRejected { policy_id, reason, .. } => {
            Some(serde_json::json!({ "policyId": policy_id, "reason": reason }))
        }
        _ => None,
    };
    ErrorObjectOwned::owned(error_code(e), e.to_string(), data)
}

/// The Wallet API RPC handler.
#[derive(Debug, Clone)]
pub struct WalletRpc {
    wallet: Arc<Wallet>,
}

impl WalletRpc {
    /// Serves `wallet`.
    pub fn new(wallet: Arc<Wallet>) -> Self {
        Self { wallet }
    }

    /// The JSON-RPC module of the Wallet API, to merge into a server.
    pub fn into_module(self) -> jsonrpsee::RpcModule<Self> {
        WalletApiServer::into_rpc(self)
    }
}

fn log<T>(method: &str, r: Result<T, WalletError>) -> RpcResult<T> {
    r.map_err(|e| {
        match &e {
            WalletError::Internal(m) => tracing::warn!(method, error = %m, "wallet request failed"),
            other => tracing::debug!(method, error = %other, "wallet request refused"),
        }
        rpc_error(&e)
    })
}

#[async_trait]
impl WalletApiServer for WalletRpc {
    async fn request_account(&self, params: RequestAccountParams) -> RpcResult<RequestAccountResult> {
        log("wallet_requestAccount", self.wallet.request_account(params).await)
    }

    async fn list_accounts(&self, params: ListAccountsParams) -> RpcResult<ListAccountsResult> {
        log("wallet_listAccounts", self.wallet.list_accounts(params).await)
    }

    async fn create_session(&self, params: CreateSessionParams) -> RpcResult<CreateSessionResult> {
        log("wallet_createSession", self.wallet.create_session(params).await)
    }

    async fn prepare_calls(&self, params: PrepareCallsParams) -> RpcResult<PrepareCallsResult> {
        log("wallet_prepareCalls", self.wallet.prepare_calls(params).await)
    }

    async fn send_prepared_calls(&self, params: SendPreparedCallsParams) -> RpcResult<SendPreparedCallsResult> {
        log("wallet_sendPreparedCalls", self.wallet.send_prepared_calls(params).await)
    }

    async fn get_calls_status(&self, id: Bytes) -> RpcResult<CallsStatus> {
        log("wallet_getCallsStatus", self.wallet.get_calls_status(id).await)
    }

    async fn prepare_sign(&self, params: PrepareSignParams) -> RpcResult<PrepareSignResult> {
        log("wallet_prepareSign", self.wallet.prepare_sign(params).await)
    }

    async fn format_sign(&self, params: FormatSignParams) -> RpcResult<FormatSignResult> {
        log("wallet_formatSign", self.wallet.format_sign(params).await)
    }

    async fn get_capabilities(
        &self,
        address: Address,
        chain_ids: Option<Vec<HexNumber>>,
    ) -> RpcResult<WalletCapabilities> {
        log("wallet_getCapabilities", self.wallet.get_capabilities(address, chain_ids).await)
    }
}
