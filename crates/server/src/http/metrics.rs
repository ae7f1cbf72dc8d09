//! Prometheus metrics of the edge: every JSON-RPC call counted by method and code and timed, and
//! the exporter's text for `GET /metrics`. Domain services record their own series with the
//! `metrics` macros (mempool depth, bundles, sponsor spend, key balances); the one process-wide
//! recorder installed here renders them all.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Instant;

use jsonrpsee::core::middleware::{Batch, Notification, RpcServiceT};
use jsonrpsee::server::MethodResponse;
use jsonrpsee::types::Request;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Counter: JSON-RPC calls by `method` and `code` (0 = success).
pub const RPC_REQUESTS: &str = "keyward_rpc_requests_total";
/// Histogram: JSON-RPC call latency in seconds by `method`.
pub const RPC_LATENCY: &str = "keyward_rpc_request_duration_seconds";
/// Counter: requests refused at the edge by HTTP `status` (401, 403, 429, …).
pub const HTTP_REFUSED: &str = "keyward_http_refused_total";

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's Prometheus recorder, installed on first use; `None` when another recorder was
/// installed first (metrics then go there and `/metrics` says so).
pub fn prometheus() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Suffix("_seconds".into()),
                    &[0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0],
                )
                .ok()?;
            match builder.install_recorder() {
                Ok(handle) => Some(handle),
                Err(e) => {
                    tracing::warn!(error = %e, "no Prometheus recorder");
                    None
                }
            }
        })
        .clone()
}

/// RPC middleware counting and timing every call (unknown methods under `method="unknown"`, so a
/// client cannot grow the label set).
#[derive(Clone, Debug)]
pub struct RpcMetrics<S>(pub S);

impl<S> RpcServiceT for RpcMetrics<S>
where
    S: RpcServiceT<MethodResponse = MethodResponse> + Send + Sync + Clone + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = S::NotificationResponse;
    type BatchResponse = S::BatchResponse;

    fn call<'a>(&self, request: Request<'a>) -> impl Future<Output = Self::MethodResponse> + Send + 'a {
        let service = self.0.clone();
        async move {
            let method = request.method_name().to_owned();
            let started = Instant::now();
            let response = service.call(request).await;
            let code = response.as_error_code().unwrap_or(0);
            let method = if code == jsonrpsee::types::error::METHOD_NOT_FOUND_CODE { "unknown".into() } else { method };
            metrics::counter!(RPC_REQUESTS, "method" => method.clone(), "code" => code.to_string()).increment(1);
            metrics::histogram!(RPC_LATENCY, "method" => method).record(started.elapsed().as_secs_f64());
            response
        }
    }

    fn batch<'a>(&self, requests: Batch<'a>) -> impl Future<Output = Self::BatchResponse> + Send + 'a {
        self.0.batch(requests)
    }

    fn notification<'a>(&self, n: Notification<'a>) -> impl Future<Output = Self::NotificationResponse> + Send + 'a {
        self.0.notification(n)
    }
}
