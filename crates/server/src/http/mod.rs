//! The HTTP edge of `keyward serve` (and `keyward dev`): one listener, the path scheme of
//! [`routes`], API keys ([`auth`]) checked before any handler runs, CORS, body and time limits,
//! `/health`, `/ready`, `/metrics`, and a graceful stop that lets requests in flight finish.
//!
//! ```text
//!   TCP ─▶ hyper ─▶ CORS ─▶ timeout ─▶ Router ─┬─ GET /health | /ready | /metrics
//!                                             └─ path → Route ─▶ API key (who, rate, scope)
//!                                                  ─▶ jsonrpsee service of the route
//!                                                     (envelope ─▶ params errors ─▶ metrics ─▶ methods)
//! ```

pub mod auth;
pub mod durable;
pub mod metrics;
pub mod routes;
pub mod scope;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use jsonrpsee::Methods;
use jsonrpsee::core::BoxError;
use jsonrpsee::core::http_helpers::{HttpError, read_body};
use jsonrpsee::server::middleware::rpc::RpcServiceBuilder;
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse, Server, ServerConfig, ServerHandle, stop_channel};
use serde_json::Value;
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::envelope::IdEnvelopeLayer;
use crate::params_errors::PreciseParamsErrors;
use auth::{ApiKeyGate, Refusal};
use routes::{Route, Target, parse_path};

/// Default of [`HttpConfig::max_connections`] (jsonrpsee's own default, 100, refuses a few hundred
/// concurrent clients with 429).
pub const DEFAULT_MAX_CONNECTIONS: u32 = 1024;

/// Limits and browser access of the edge.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Origins allowed by CORS; `["*"]` allows any, empty allows none.
    pub cors_origins: Vec<String>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: u32,
    /// Longest a request may take before it is answered 408.
    pub request_timeout: Duration,
    /// Most connections served at once on each route (HTTP/1.1: requests in flight); beyond it
    /// jsonrpsee answers 429.
    pub max_connections: u32,
}

impl HttpConfig {
    /// The defaults on `listen`: any origin, 1 MiB bodies, 60 s per request, 1,024 connections.
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            cors_origins: vec!["*".into()],
            max_body_bytes: 1 << 20,
            request_timeout: Duration::from_secs(60),
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// The JSON-RPC methods behind each path.
#[derive(Clone, Debug, Default)]
pub struct Routes {
    /// `/` (and `/v2/KEY`).
    pub root: Methods,
    /// `/chain/ID` (and `/v2/KEY/chain/ID`).
    pub chains: BTreeMap<u64, Methods>,
}

/// What `GET /ready` asks: whether the store and every node answer.
#[async_trait]
pub trait Readiness: Send + Sync {
    /// `Err` names what does not answer.
    async fn ready(&self) -> Result<(), String>;
}

/// Everything the edge serves.
pub struct Edge {
    /// Listener, CORS and limits.
    pub config: HttpConfig,
    /// The methods by path.
    pub routes: Routes,
    /// API keys; `None` serves without keys (`keyward dev`).
    pub gate: Option<Arc<ApiKeyGate>>,
    /// Readiness probe; `None` answers ready whenever the process is up.
    pub readiness: Option<Arc<dyn Readiness>>,
    /// The store whose writes every answer waits to be durable ([`durable::DurableAnswers`]);
    /// `None` answers at once (a store whose commits are durable by themselves, or none).
    pub durable: Option<keyward_store::Store>,
}

type RpcService = BoxCloneSyncService<HttpRequest, HttpResponse, BoxError>;

/// Starts serving `edge`; the bound address and the handle that stops it (requests in flight
/// finish first: await `handle.stopped()`).
pub async fn serve_edge(edge: Edge) -> std::io::Result<(SocketAddr, ServerHandle)> {
    let listener = tokio::net::TcpListener::bind(edge.config.listen).await?;
    // Installed before the first request, so every call is recorded.
    if let Some(handle) = metrics::prometheus() {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                handle.run_upkeep();
            }
        });
    }
    let bound = listener.local_addr()?;
    let (stop, handle) = stop_channel();
    let rpc_config = ServerConfig::builder()
        .max_request_body_size(edge.config.max_body_bytes)
        .max_connections(edge.config.max_connections)
        .build();
    let durable_store = edge.durable.clone();
    let rpc_builder = Server::builder()
        .set_config(rpc_config)
        .set_http_middleware(ServiceBuilder::new().layer(IdEnvelopeLayer))
        .set_rpc_middleware(
            RpcServiceBuilder::new()
                .layer_fn(PreciseParamsErrors)
                .layer_fn(metrics::RpcMetrics)
                .layer_fn(move |inner| durable::DurableAnswers { inner, store: durable_store.clone() }),
        )
        .to_service_builder();
    let mut rpc: HashMap<Route, RpcService> = HashMap::new();
    let mut add = |route, methods: Methods| {
        rpc.insert(route, BoxCloneSyncService::new(rpc_builder.clone().build(methods, stop.clone())));
    };
    add(Route::Root, edge.routes.root);
    for (chain, methods) in edge.routes.chains {
        add(Route::Chain(chain), methods);
    }
    let router = Router {
        inner: Arc::new(RouterInner {
            rpc,
            gate: edge.gate,
            readiness: edge.readiness,
            max_body: edge.config.max_body_bytes,
        }),
    };
    let service = ServiceBuilder::new()
        .layer(cors(&edge.config.cors_origins))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            http::StatusCode::REQUEST_TIMEOUT,
            edge.config.request_timeout,
        ))
        .service(router);
    let accept_stop = stop.clone();
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = accept_stop.clone().shutdown() => break,
            };
            let socket = match accepted {
                Ok((socket, _)) => socket,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection");
                    continue;
                }
            };
            let service = service.clone();
            let stop = accept_stop.clone();
            tokio::spawn(async move {
                if let Err(e) = jsonrpsee::server::serve_with_graceful_shutdown(socket, service, stop.shutdown()).await
                {
                    tracing::debug!(error = %e, "connection ended");
                }
            });
        }
    });
    drop(stop);
    Ok((bound, handle))
}

/// CORS for browser clients: the SDK's headers allowed, preflights answered.
fn cors(origins: &[String]) -> CorsLayer {
    use http::{HeaderName, Method, header};
    let layer =
        CorsLayer::new().allow_methods([Method::POST, Method::GET, Method::OPTIONS]).max_age(Duration::from_secs(3600));
    if origins.iter().any(|o| o == "*") {
        // Any origin: no credentials are involved (keys travel in headers), so any header too.
        return layer.allow_origin(AllowOrigin::any()).allow_headers(tower_http::cors::Any);
    }
    layer.allow_origin(AllowOrigin::list(origins.iter().filter_map(|o| o.parse().ok()))).allow_headers([
        header::CONTENT_TYPE,
        header::AUTHORIZATION,
        HeaderName::from_static("alchemy-aa-sdk-version"),
    ])
}

/// Dispatches a request by its path.
#[derive(Clone)]
struct Router {
    inner: Arc<RouterInner>,
}

struct RouterInner {
    rpc: HashMap<Route, RpcService>,
    gate: Option<Arc<ApiKeyGate>>,
    readiness: Option<Arc<dyn Readiness>>,
    max_body: u32,
}

impl<B> Service<http::Request<B>> for Router
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let inner = self.inner.clone();
        Box::pin(async move { inner.handle(request.map(HttpBody::new)).await })
    }
}

impl RouterInner {
    async fn handle(&self, request: HttpRequest) -> Result<HttpResponse, BoxError> {
        let path = request.uri().path().to_string();
        let target = match parse_path(&path) {
            Ok(target) => target,
            Err(e) => return Ok(rpc_error(404, -32601, &e.to_string(), None)),
        };
        match target {
            Target::Health => Ok(text(200, "ok\n")),
            Target::Ready => Ok(match &self.readiness {
                None => text(200, "ready\n"),
                Some(probe) => match probe.ready().await {
                    Ok(()) => text(200, "ready\n"),
                    Err(reason) => text(503, &format!("not ready: {reason}\n")),
                },
            }),
            Target::Metrics => Ok(match metrics::prometheus() {
                Some(handle) => text(200, &handle.render()),
                None => text(503, "metrics are recorded elsewhere in this process\n"),
            }),
            Target::Rpc { key, route } => {
                let Some(service) = self.rpc.get(&route).cloned() else {
                    let message = match route {
                        Route::Chain(id) => format!("chain {id} is not served here"),
                        Route::Root => "no Wallet API here".to_string(),
                    };
                    return Ok(rpc_error(404, 5710, &message, None));
                };
                let request = match &self.gate {
                    Some(gate) => match self.admit(gate, key, route, request).await {
                        Ok(request) => request,
                        Err(response) => return Ok(response),
                    },
                    None => request,
                };
                service.oneshot(request).await
            }
        }
    }

    /// The request again (its body read) if its key admits it, else the refusal's answer.
    async fn admit(
        &self,
        gate: &ApiKeyGate,
        path_key: Option<&str>,
        route: Route,
        request: HttpRequest,
    ) -> Result<HttpRequest, HttpResponse> {
        let bearer = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let admitted = gate.admit(path_key.or(bearer)).await.map_err(|r| refusal(&r))?;
        let (parts, body) = request.into_parts();
        let bytes = match read_body(&parts.headers, body, self.max_body).await {
            Ok((bytes, _)) => bytes,
            Err(HttpError::TooLarge) => {
                return Err(rpc_error(413, -32600, &format!("request body over {} bytes", self.max_body), None));
            }
            Err(e) => return Err(rpc_error(400, -32700, &format!("reading the request: {e}"), None)),
        };
        if let Ok(value) = serde_json::from_slice::<Value>(&bytes) {
            let chain = match route {
                Route::Chain(id) => Some(id),
                Route::Root => None,
            };
            let requests = match &value {
                Value::Array(items) => items.iter().collect(),
                single => vec![single],
            };
            for r in requests {
                admitted.check_scope(&scope::requested(r, chain)).map_err(|r| refusal(&r))?;
            }
        }
        Ok(http::Request::from_parts(parts, HttpBody::from(bytes)))
    }
}

/// The answer to a refused request: its HTTP status, `Retry-After` when over the rate, and a
/// JSON-RPC error body naming the reason.
fn refusal(r: &Refusal) -> HttpResponse {
    ::metrics::counter!(metrics::HTTP_REFUSED, "status" => r.status().to_string()).increment(1);
    let retry = match r {
        Refusal::Rate { retry_after_secs, .. } => Some(*retry_after_secs),
        _ => None,
    };
    rpc_error(r.status(), r.code(), &r.to_string(), retry)
}

/// A JSON-RPC error answer (`id: null`) with an HTTP status.
fn rpc_error(status: u16, code: i32, message: &str, retry_after: Option<u64>) -> HttpResponse {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": null, "error": {"code": code, "message": message}});
    let mut response = http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(HttpBody::from(body.to_string()))
        .unwrap_or_default();
    if let Some(secs) = retry_after
        && let Ok(v) = http::HeaderValue::from_str(&secs.to_string())
    {
        response.headers_mut().insert(http::header::RETRY_AFTER, v);
    }
    response
}

/// A plain-text answer.
fn text(status: u16, body: &str) -> HttpResponse {
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(HttpBody::from(body.to_string()))
        .unwrap_or_default()
}
