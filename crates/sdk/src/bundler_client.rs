//! An ERC-4337 v0.7 bundler client over Keyward's bundler RPC (ERC-7769), plus the `eth_*` reads a
//! user operation needs (EntryPoint nonce, code, fees, balances) through an alloy provider on the
//! same URL (`keyward dev` serves both).

use std::time::{Duration, Instant};

use alloy::eips::BlockNumberOrTag;
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, B256, Bytes, U256, aliases::U192};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::SolCall;
use jsonrpsee::core::client::Error as RpcClientError;
use jsonrpsee_http_client::{HttpClient, HttpClientBuilder};
use keyward_api::bundler::{
    BundlerApiClient, GasEstimate, RpcUserOperation, UserOperationByHash, UserOperationReceipt, UserOperationRequest,
};
use keyward_primitives::UserOperation;
use keyward_primitives::entry_point::IEntryPoint;

/// How long [`BundlerClient::wait_for_receipt`] waits by default.
pub const DEFAULT_RECEIPT_TIMEOUT: Duration = Duration::from_secs(30);

/// How often [`BundlerClient::wait_for_receipt`] asks for the receipt by default.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Errors talking to the bundler or the node.
#[derive(Debug, thiserror::Error)]
pub enum BundlerClientError {
    /// The URL is not a valid http(s) URL.
    #[error("invalid RPC url {url:?}: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// The bundler answered with a JSON-RPC error (ERC-7769 codes: -32500 validation, -32507
    /// signature, -32602 bad params, …).
    #[error("bundler error {code}: {message}")]
    Rpc {
        /// JSON-RPC error code.
        code: i32,
        /// Error message.
        message: String,
        /// Error data, when present.
        data: Option<serde_json::Value>,
    },
    /// The request did not reach the bundler or its answer was unreadable.
    #[error("bundler transport: {0}")]
    Transport(String),
    /// An `eth_*` request to the node failed.
    #[error("node request {method} failed: {reason}")]
    Node {
        /// The method or call.
        method: &'static str,
        /// The error.
        reason: String,
    },
    /// No receipt within the timeout.
    #[error("no receipt for user operation {hash} after {waited:?}")]
    Timeout {
        /// The userOpHash.
        hash: B256,
        /// How long it waited.
        waited: Duration,
    },
}

impl BundlerClientError {
    /// The JSON-RPC error code, when the bundler answered with an error.
    pub fn code(&self) -> Option<i32> {
        match self {
            Self::Rpc { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// A JSON-RPC client error as `(code, message, data)` when the server answered with an error
/// (its `data` parsed as JSON, when present and valid), else the transport failure's text.
pub(crate) fn rpc_error_parts(e: RpcClientError) -> Result<(i32, String, Option<serde_json::Value>), String> {
    match e {
        RpcClientError::Call(obj) => {
            Ok((obj.code(), obj.message().to_string(), obj.data().and_then(|d| serde_json::from_str(d.get()).ok())))
        }
        other => Err(other.to_string()),
    }
}

impl From<RpcClientError> for BundlerClientError {
    fn from(e: RpcClientError) -> Self {
        match rpc_error_parts(e) {
            Ok((code, message, data)) => Self::Rpc { code, message, data },
            Err(transport) => Self::Transport(transport),
        }
    }
}

fn node_err(method: &'static str) -> impl FnOnce(alloy::transports::TransportError) -> BundlerClientError {
    move |e| BundlerClientError::Node { method, reason: e.to_string() }
}

/// Fees for a user operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeeSuggestion {
    /// `maxFeePerGas`.
    pub max_fee_per_gas: u128,
    /// `maxPriorityFeePerGas`.
    pub max_priority_fee_per_gas: u128,
}

/// A client of one bundler (and its node) for one EntryPoint.
#[derive(Clone, Debug)]
pub struct BundlerClient {
    rpc: HttpClient,
    provider: DynProvider,
    entry_point: Address,
    poll_interval: Duration,
    receipt_timeout: Duration,
}

impl BundlerClient {
    /// A client of the bundler and node at `url` (plain HTTP; `keyward dev` serves both on one URL)
    /// for `entry_point`.
    pub fn new(url: &str, entry_point: Address) -> Result<Self, BundlerClientError> {
        Self::with_node(url, url, entry_point)
    }

    /// A client with the bundler at `bundler_url` and the node at `node_url`.
    pub fn with_node(bundler_url: &str, node_url: &str, entry_point: Address) -> Result<Self, BundlerClientError> {
        let rpc = HttpClientBuilder::default()
            .build(bundler_url)
            .map_err(|e| BundlerClientError::InvalidUrl { url: bundler_url.to_string(), reason: e.to_string() })?;
        let parsed = node_url
            .parse()
            .map_err(|e| BundlerClientError::InvalidUrl { url: node_url.to_string(), reason: format!("{e}") })?;
        let provider = ProviderBuilder::new().connect_http(parsed).erased();
        Ok(Self {
            rpc,
            provider,
            entry_point,
            poll_interval: DEFAULT_POLL_INTERVAL,
            receipt_timeout: DEFAULT_RECEIPT_TIMEOUT,
        })
    }

    /// Changes the receipt polling interval and timeout.
    pub fn with_polling(mut self, interval: Duration, timeout: Duration) -> Self {
        self.poll_interval = interval;
        self.receipt_timeout = timeout;
        self
    }

    /// The EntryPoint the operations are for.
    pub fn entry_point(&self) -> Address {
        self.entry_point
    }

    /// The alloy provider of the node.
    pub fn provider(&self) -> &DynProvider {
        &self.provider
    }

    // ------------------------------------------------------------------ bundler

    /// `eth_supportedEntryPoints`.
    pub async fn supported_entry_points(&self) -> Result<Vec<Address>, BundlerClientError> {
        Ok(self.rpc.supported_entry_points().await?)
    }

    /// `eth_estimateUserOperationGas` (the signature may be a dummy of the right shape).
    pub async fn estimate_user_operation_gas(&self, op: &UserOperation) -> Result<GasEstimate, BundlerClientError> {
        Ok(self.rpc.estimate_user_operation_gas(estimation_request(op), self.entry_point).await?)
    }

    /// `eth_sendUserOperation`; returns the userOpHash.
    pub async fn send_user_operation(&self, op: &UserOperation) -> Result<B256, BundlerClientError> {
        let op = RpcUserOperation { op: op.clone(), eip7702_auth: None };
        Ok(self.rpc.send_user_operation(op, self.entry_point).await?)
    }

    /// `eth_getUserOperationReceipt` (None while pending).
    pub async fn user_operation_receipt(&self, hash: B256) -> Result<Option<UserOperationReceipt>, BundlerClientError> {
        Ok(self.rpc.user_operation_receipt(hash).await?)
    }

    /// `eth_getUserOperationByHash`.
    pub async fn user_operation_by_hash(&self, hash: B256) -> Result<Option<UserOperationByHash>, BundlerClientError> {
        Ok(self.rpc.user_operation_by_hash(hash).await?)
    }

    /// Polls `eth_getUserOperationReceipt` until the operation is included or the timeout passes.
    pub async fn wait_for_receipt(&self, hash: B256) -> Result<UserOperationReceipt, BundlerClientError> {
        let start = Instant::now();
        loop {
            if let Some(r) = self.user_operation_receipt(hash).await? {
                return Ok(r);
            }
            if start.elapsed() >= self.receipt_timeout {
                return Err(BundlerClientError::Timeout { hash, waited: start.elapsed() });
            }
            tokio::time::sleep(self.poll_interval).await;
        }
    }

    // ------------------------------------------------------------------ node

    /// `eth_chainId`.
    pub async fn chain_id(&self) -> Result<u64, BundlerClientError> {
        self.provider.get_chain_id().await.map_err(node_err("eth_chainId"))
    }

    /// `EntryPoint.getNonce(sender, key)`: the next full nonce of a 192-bit key.
    pub async fn entry_point_nonce(&self, sender: Address, key: U192) -> Result<U256, BundlerClientError> {
        let data = IEntryPoint::getNonceCall { sender, key }.abi_encode();
        let out = self.call(self.entry_point, data.into(), "EntryPoint.getNonce").await?;
        IEntryPoint::getNonceCall::abi_decode_returns(&out)
            .map_err(|e| BundlerClientError::Node { method: "EntryPoint.getNonce", reason: e.to_string() })
    }

    /// `eth_getCode` at the latest block.
    pub async fn code(&self, address: Address) -> Result<Bytes, BundlerClientError> {
        self.provider.get_code_at(address).await.map_err(node_err("eth_getCode"))
    }

    /// `eth_getBalance` at the latest block.
    pub async fn balance(&self, address: Address) -> Result<U256, BundlerClientError> {
        self.provider.get_balance(address).await.map_err(node_err("eth_getBalance"))
    }

    /// `eth_call` of `data` on `to` at the latest block.
    pub async fn call(&self, to: Address, data: Bytes, what: &'static str) -> Result<Bytes, BundlerClientError> {
        let tx = TransactionRequest::default().with_to(to).with_input(data);
        self.provider.call(tx).await.map_err(node_err(what))
    }

    /// Fees: the node's `eth_maxPriorityFeePerGas` as tip, and twice the latest base fee plus the tip
    /// as cap (room for the base fee to rise while the operation waits).
    pub async fn fee_suggestion(&self) -> Result<FeeSuggestion, BundlerClientError> {
        let tip = self.provider.get_max_priority_fee_per_gas().await.map_err(node_err("eth_maxPriorityFeePerGas"))?;
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .map_err(node_err("eth_getBlockByNumber"))?
            .ok_or(BundlerClientError::Node { method: "eth_getBlockByNumber", reason: "no latest block".into() })?;
        let base = u128::from(block.header.base_fee_per_gas.unwrap_or_default());
        Ok(FeeSuggestion { max_fee_per_gas: base.saturating_mul(2).saturating_add(tip), max_priority_fee_per_gas: tip })
    }
}

/// The estimation request for `op`: every field, gas included (the bundler treats them as hints).
fn estimation_request(op: &UserOperation) -> UserOperationRequest {
    UserOperationRequest {
        sender: op.sender,
        nonce: op.nonce,
        factory: op.factory.as_ref().map(|f| f.factory),
        factory_data: op.factory.as_ref().map(|f| f.factory_data.clone()),
        call_data: op.call_data.clone(),
        call_gas_limit: None,
        verification_gas_limit: None,
        pre_verification_gas: None,
        max_fee_per_gas: Some(U256::from(op.max_fee_per_gas)),
        max_priority_fee_per_gas: Some(U256::from(op.max_priority_fee_per_gas)),
        paymaster: op.paymaster.as_ref().map(|p| p.paymaster),
        paymaster_verification_gas_limit: None,
        paymaster_post_op_gas_limit: None,
        paymaster_data: op.paymaster.as_ref().map(|p| p.data.clone()),
        signature: op.signature.clone(),
        eip7702_auth: None,
    }
}
