//! The Wallet API JSON-RPC trait (server and client) and its error codes (wallet-api.md §3, §9).

use alloy::primitives::{Address, Bytes};
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;

use super::account::{ListAccountsParams, ListAccountsResult, RequestAccountParams, RequestAccountResult};
use super::calls::{PrepareCallsParams, PrepareCallsResult, SendPreparedCallsParams, SendPreparedCallsResult};
use super::capabilities::WalletCapabilities;
use super::hex::HexNumber;
use super::manage::{
    GetSessionParams, ListSessionsParams, ListSessionsResult, RevokeSessionsParams, RevokeSessionsResult, SessionInfo,
};
use super::session::{CreateSessionParams, CreateSessionResult};
use super::sign::{FormatSignParams, FormatSignResult, PrepareSignParams, PrepareSignResult};
use super::status::CallsStatus;

/// JSON-RPC error codes of the Wallet API (§9.1).
pub mod codes {
    /// Bad params (schema, values).
    pub const INVALID_PARAMS: i32 = -32602;
    /// Transient internal failure (clients retry it: never after a side effect).
    pub const INTERNAL: i32 = -32603;
    /// Simulation revert or policy rejection.
    pub const INVALID_INPUT: i32 = -32000;
    /// Unknown / unsupported non-optional capability value.
    pub const UNSUPPORTED_CAPABILITY: i32 = 5700;
    /// Chain not served.
    pub const UNSUPPORTED_CHAIN: i32 = 5710;
    /// Unknown call id.
    pub const UNKNOWN_BUNDLE_ID: i32 = 5730;
}

/// The Wallet API: every EVM method the official SDK can call.
#[rpc(server, client)]
pub trait WalletApi {
    /// Returns (creating if needed) the smart account of a signer, or looks one up by address.
    #[method(name = "wallet_requestAccount")]
    async fn request_account(&self, params: RequestAccountParams) -> RpcResult<RequestAccountResult>;
    /// Lists a signer's accounts, paged.
    #[method(name = "wallet_listAccounts")]
    async fn list_accounts(&self, params: ListAccountsParams) -> RpcResult<ListAccountsResult>;
    /// Registers a session key and returns the typed data the owner signs.
    #[method(name = "wallet_createSession")]
    async fn create_session(&self, params: CreateSessionParams) -> RpcResult<CreateSessionResult>;
    /// Builds (without signing or sending) what executes the calls.
    #[method(name = "wallet_prepareCalls")]
    async fn prepare_calls(&self, params: PrepareCallsParams) -> RpcResult<PrepareCallsResult>;
    /// Submits signed prepared calls; idempotent.
    #[method(name = "wallet_sendPreparedCalls")]
    async fn send_prepared_calls(&self, params: SendPreparedCallsParams) -> RpcResult<SendPreparedCallsResult>;
    /// The status of submitted calls, by the bare id.
    #[method(name = "wallet_getCallsStatus")]
    async fn get_calls_status(&self, id: Bytes) -> RpcResult<CallsStatus>;
    /// Turns a message or typed data for the account into what its key signs.
    #[method(name = "wallet_prepareSign")]
    async fn prepare_sign(&self, params: PrepareSignParams) -> RpcResult<PrepareSignResult>;
    /// Wraps the key's signature into one the account's `isValidSignature` accepts.
    #[method(name = "wallet_formatSign")]
    async fn format_sign(&self, params: FormatSignParams) -> RpcResult<FormatSignResult>;
    /// Capabilities per chain: `[address]` or `[address, chainIds]`.
    #[method(name = "wallet_getCapabilities")]
    async fn get_capabilities(
        &self,
        address: Address,
        chain_ids: Option<Vec<HexNumber>>,
    ) -> RpcResult<WalletCapabilities>;
    /// Keyward extension: an account's sessions, their state and what is left of each budget.
    #[method(name = "wallet_listSessions")]
    async fn list_sessions(&self, params: ListSessionsParams) -> RpcResult<ListSessionsResult>;
    /// Keyward extension: one session of an account.
    #[method(name = "wallet_getSession")]
    async fn get_session(&self, params: GetSessionParams) -> RpcResult<SessionInfo>;
    /// Keyward extension: prepares the owner operation revoking sessions (idempotent).
    #[method(name = "wallet_revokeSessions")]
    async fn revoke_sessions(&self, params: RevokeSessionsParams) -> RpcResult<RevokeSessionsResult>;
}
