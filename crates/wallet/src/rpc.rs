//! The `WalletApiServer` implementation: each `wallet_*` method served by [`Wallet`], domain errors
//! mapped to the spec's JSON-RPC codes.

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

use crate::error::WalletError;
use crate::service::Wallet;

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
        e.to_rpc()
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
