//! A minimal JSON-RPC 2.0 client over plain HTTP to loopback (no TLS, no proxy).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use serde_json::{Value, json};

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
}

impl Rpc {
    /// A client of `url` (requests time out after 30 s).
    pub(crate) fn new(url: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .context("building the HTTP client")?;
        Ok(Self { http, url: url.to_string(), next_id: AtomicU64::new(1) })
    }

    /// Calls `method` with `params`; the `result`, or why there is none.
    pub(crate) async fn call(&self, method: &str, params: Value) -> Result<Value, CallError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        let resp =
            self.http.post(&self.url).json(&body).send().await.map_err(|e| CallError::Transport(e.to_string()))?;
        let status = resp.status();
        let v: Value =
            resp.json().await.map_err(|e| CallError::Transport(format!("HTTP {status}, body is not JSON-RPC: {e}")))?;
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
