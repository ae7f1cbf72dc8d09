//! The Wallet API (`wallet_*`, ../shared/spec/wallet-api.md) served by one [`Wallet`] per chain:
//! each request routed by its chain id, converted from the wire (`convert`), answered by the
//! domain service, converted back, and its errors mapped to the spec's JSON-RPC codes (§9,
//! [`errors`]).
//!
//! ```text
//!  wire params ─▶ route (chainId) ─▶ convert::* ─▶ Wallet ─▶ convert::* ─▶ wire result
//!                      │                  │            │
//!                      └──────────────────┴────────────┴──▶ errors::rpc_error ─▶ code, message, data
//! ```

mod convert;
pub mod errors;
pub mod revert;

use std::collections::BTreeMap;
use std::sync::Arc;

use alloy::primitives::{Address, Bytes};
use async_trait::async_trait;
use jsonrpsee::core::RpcResult;
use keyward_api::wallet::{
    CallsStatus, CreateSessionParams, CreateSessionResult, FormatSignParams, FormatSignResult, GetSessionParams,
    HexNumber, ListAccountsParams, ListAccountsResult, ListSessionsParams, ListSessionsResult, PrepareCallsParams,
    PrepareCallsResult, PrepareSignParams, PrepareSignResult, RequestAccountParams, RequestAccountResult,
    RevokeSessionsParams, RevokeSessionsResult, SendPreparedCallsParams, SendPreparedCallsResult, SessionInfo,
    WalletApiServer, WalletCapabilities,
};
use keyward_wallet::types::CallId;
use keyward_wallet::{Wallet, WalletError, WalletResult};

pub use errors::{error_code, rpc_error};

/// The Wallet API RPC handler: the wallet of each chain served.
#[derive(Debug, Clone)]
pub struct WalletRpc {
    wallets: BTreeMap<u64, Arc<Wallet>>,
}

impl WalletRpc {
    /// Serves `wallets`, each under the chain id it serves.
    pub fn new(wallets: BTreeMap<u64, Arc<Wallet>>) -> Self {
        Self { wallets }
    }

    /// Serves one wallet (one chain).
    pub fn single(wallet: Arc<Wallet>) -> Self {
        Self::new([(wallet.chain_id(), wallet)].into_iter().collect())
    }

    /// The JSON-RPC module of the Wallet API, to merge into a server.
    pub fn into_module(self) -> jsonrpsee::RpcModule<Self> {
        WalletApiServer::into_rpc(self)
    }

    /// The wallet of `chain_id`; a chain not served is refused as a wallet refuses it (5710).
    fn wallet(&self, chain_id: u64) -> WalletResult<&Wallet> {
        self.wallets.get(&chain_id).map(|w| w.as_ref()).ok_or_else(|| WalletError::UnsupportedChain {
            requested: chain_id,
            served: self.wallets.keys().copied().collect(),
        })
    }

    /// The wallet of a request that names no chain (accounts are the same on every chain).
    fn any_wallet(&self) -> WalletResult<&Wallet> {
        self.wallets
            .values()
            .next()
            .map(|w| w.as_ref())
            .ok_or_else(|| WalletError::Internal("no wallet is served".into()))
    }
}

fn log<T>(method: &str, r: WalletResult<T>) -> RpcResult<T> {
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
        let answer = async {
            let request = convert::accounts::request(params)?;
            convert::accounts::info(self.any_wallet()?.request_account(request).await?)
        };
        log("wallet_requestAccount", answer.await)
    }

    async fn list_accounts(&self, params: ListAccountsParams) -> RpcResult<ListAccountsResult> {
        let answer = async {
            let page = self.any_wallet()?.list_accounts(convert::accounts::list(params)).await?;
            convert::accounts::page(page)
        };
        log("wallet_listAccounts", answer.await)
    }

    async fn create_session(&self, params: CreateSessionParams) -> RpcResult<CreateSessionResult> {
        let answer = async {
            let wallet = self.wallet(params.chain_id.into())?;
            let created = wallet.create_session(convert::sessions::request(params)?).await?;
            convert::sessions::created(created)
        };
        log("wallet_createSession", answer.await)
    }

    async fn prepare_calls(&self, params: PrepareCallsParams) -> RpcResult<PrepareCallsResult> {
        let answer = async {
            let wallet = self.wallet(params.chain_id.into())?;
            let prepared = wallet.prepare_calls(convert::prepare::request(params)?).await?;
            convert::prepare::prepared(prepared)
        };
        log("wallet_prepareCalls", answer.await)
    }

    async fn send_prepared_calls(&self, params: SendPreparedCallsParams) -> RpcResult<SendPreparedCallsResult> {
        let answer = async {
            let signed = convert::send::signed(params)?;
            let wallet = self.wallet(signed.chain_id())?;
            let sent = wallet.send_prepared_calls(signed.request()?).await?;
            convert::send::sent(sent)
        };
        log("wallet_sendPreparedCalls", answer.await)
    }

    async fn get_calls_status(&self, id: Bytes) -> RpcResult<CallsStatus> {
        let answer = async {
            let unknown = || WalletError::UnknownCallId(id.to_string());
            let call = CallId::parse(&id).ok_or_else(unknown)?;
            let wallet = self.wallets.get(&call.chain_id).ok_or_else(unknown)?;
            convert::status::status(wallet.get_calls_status(call).await?)
        };
        log("wallet_getCallsStatus", answer.await)
    }

    async fn prepare_sign(&self, params: PrepareSignParams) -> RpcResult<PrepareSignResult> {
        let answer = async {
            let wallet = self.wallet(params.chain_id.into())?;
            let chain_id = params.chain_id;
            let data = wallet.prepare_sign(convert::sign::prepare(params)?).await?;
            convert::sign::prepared(chain_id, &data)
        };
        log("wallet_prepareSign", answer.await)
    }

    async fn format_sign(&self, params: FormatSignParams) -> RpcResult<FormatSignResult> {
        let answer = async {
            let wallet = self.wallet(params.chain_id.into())?;
            let signature = wallet.format_sign(convert::sign::format(params)?).await?;
            Ok(FormatSignResult { signature })
        };
        log("wallet_formatSign", answer.await)
    }

    async fn get_capabilities(
        &self,
        _address: Address,
        chain_ids: Option<Vec<HexNumber>>,
    ) -> RpcResult<WalletCapabilities> {
        let answer = || {
            let mut all = WalletCapabilities::new();
            for wallet in self.wallets.values() {
                let (chain, capabilities) = convert::capabilities::capabilities(wallet.capabilities())?;
                if chain_ids.as_ref().is_none_or(|ids| ids.contains(&chain)) {
                    all.insert(chain, capabilities);
                }
            }
            Ok(all)
        };
        log("wallet_getCapabilities", answer())
    }

    async fn list_sessions(&self, params: ListSessionsParams) -> RpcResult<ListSessionsResult> {
        let answer = async {
            let wallet = self.wallet(params.chain_id.into())?;
            let views = wallet.list_sessions(params.account, params.chain_id.into()).await?;
            let sessions = views.into_iter().map(convert::manage::session).collect::<WalletResult<_>>()?;
            Ok(ListSessionsResult { sessions })
        };
        log("wallet_listSessions", answer.await)
    }

    async fn get_session(&self, params: GetSessionParams) -> RpcResult<SessionInfo> {
        let answer = async {
            let wallet = self.wallet(params.chain_id.into())?;
            let view = wallet.get_session(params.account, params.chain_id.into(), params.session_id.0.0).await?;
            convert::manage::session(view)
        };
        log("wallet_getSession", answer.await)
    }

    async fn revoke_sessions(&self, params: RevokeSessionsParams) -> RpcResult<RevokeSessionsResult> {
        let answer = async {
            let wallet = self.wallet(params.chain_id.into())?;
            let revocation = wallet.revoke_sessions(convert::manage::revoke(params)?).await?;
            convert::manage::revocation(revocation)
        };
        log("wallet_revokeSessions", answer.await)
    }
}
