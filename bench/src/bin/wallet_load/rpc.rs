//! A minimal JSON-RPC 2.0 client over plain HTTP to loopback (no TLS, no proxy).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

/// Requests one client has in flight at most (a connection pool's limit). keyward's JSON-RPC
/// server answers HTTP 429 beyond 100 requests in flight (jsonrpsee's default connection guard).
pub(crate) const MAX_IN_FLIGHT: usize = 64;

/// Retries of a request answered HTTP 429, as viem's HTTP transport does (3, after 150 ms × 2^n).
const RETRIES_429: u32 = 3;

/// Why a JSON-RPC call failed.
#[derive(Debug)]
pub(crate) enum CallError {
    /// The request did not get a JSON-RPC answer (connection, timeout, not JSON).
    Transport(String),
    /// The server answered with a JSON-RPC error.
    Rpc {
        /// The error code.
        code: i64,
        /// The error message.
        message: String,
    },
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Transport(m) => write!(f, "transport: {m}"),
            CallError::Rpc { code, message } => write!(f, "rpc error {code}: {message}"),
        }
    }
}

impl std::error::Error for CallError {}

/// A JSON-RPC endpoint.
pub(crate) struct Rpc {
    http: reqwest::Client,
    url: String,
    next_id: AtomicU64,
    gate: Semaphore,
}

impl Rpc {
    /// A client of `url` (requests time out after 30 s; at most [`MAX_IN_FLIGHT`] in flight,
    /// the others wait for a slot).
    pub(crate) fn new(url: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(MAX_IN_FLIGHT)
            .build()
            .context("building the HTTP client")?;
        Ok(Self { http, url: url.to_string(), next_id: AtomicU64::new(1), gate: Semaphore::new(MAX_IN_FLIGHT) })
    }

    /// Calls `method` with `params`; the `result`, or why there is none.
    pub(crate) async fn call(&self, method: &str, params: Value) -> Result<Value, CallError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        let mut attempt = 0;
        let v: Value = loop {
            // The slot is held until the whole answer is read: the connection is busy until then.
            let slot = self.gate.acquire().await.map_err(|e| CallError::Transport(e.to_string()))?;
            let resp =
                self.http.post(&self.url).json(&body).send().await.map_err(|e| CallError::Transport(e.to_string()))?;
            let status = resp.status();
            if status.as_u16() == 429 && attempt < RETRIES_429 {
                drop(slot);
                tokio::time::sleep(Duration::from_millis(150 << attempt)).await;
                attempt += 1;
                continue;
            }
            let v = resp
                .json()
                .await
                .map_err(|e| CallError::Transport(format!("HTTP {status}, body is not JSON-RPC: {e}")))?;
            drop(slot);
            break v;
        };
        if let Some(err) = v.get("error") {
            return Err(CallError::Rpc {
                code: err.get("code").and_then(Value::as_i64).unwrap_or_default(),
                message: err.get("message").and_then(Value::as_str).unwrap_or_default().to_string(),
            });
        }
        Ok(v.get("result").cloned().unwrap_or(Value::Null))
    }

    /// `GET path` on the same host; the HTTP status (for `/ready`).
    pub(crate) async fn get_status(&self, url: &str) -> Result<u16, CallError> {
        let resp = self.http.get(url).send().await.map_err(|e| CallError::Transport(e.to_string()))?;
        Ok(resp.status().as_u16())
    }
}

/// A field of a JSON answer as a string, or an error naming it.
pub(crate) fn str_field<'a>(v: &'a Value, pointer: &str) -> anyhow::Result<&'a str> {
    v.pointer(pointer).and_then(Value::as_str).with_context(|| format!("no string at {pointer} in {v}"))
}
