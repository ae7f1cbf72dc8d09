//! Keyward's edge: one HTTP endpoint serving every JSON-RPC namespace Keyward offers. It is the
//! only crate that knows jsonrpsee and the wire: requests come in as `keyward-api` types, are
//! converted to the domain's types, answered by the domain services, and their typed errors are
//! mapped here to codes and messages.
//!
//! ```text
//!   HTTP ─▶ envelope (ids) ─▶ CORS ─▶ params_errors ─▶ RpcModule (services::Services)
//!                                                        ├─ eth      → keyward_chain::Chain
//!                                                        ├─ bundler  → keyward_bundler::Bundler
//!                                                        ├─ pm       → keyward_paymaster::Sponsor
//!                                                        └─ wallet   → keyward_wallet::Wallet
//! ```
//!
//! - [`services`]: the one module of an endpoint, built from the services a process runs.
//! - [`eth`], [`bundler`], [`paymaster`], [`wallet`]: each namespace over its domain service,
//!   with its error-to-code mapping ([`bundler::reject_code`], [`wallet::error_code`]).
//! - [`envelope`], [`params_errors`]: the JSON-RPC envelope and precise parameter errors.

pub mod bundler;
pub mod envelope;
pub mod errors;
pub mod eth;
pub mod params_errors;
pub mod paymaster;
pub mod services;
pub mod wallet;

use std::net::SocketAddr;

use jsonrpsee::RpcModule;
use jsonrpsee::server::{Server, ServerHandle};
use tower_http::cors::CorsLayer;

/// Starts serving `module` on `addr` over HTTP, with permissive CORS for browser clients and the
/// request ids jsonrpsee does not read handled by [`envelope::IdEnvelope`].
pub async fn serve(addr: SocketAddr, module: RpcModule<()>) -> std::io::Result<(SocketAddr, ServerHandle)> {
    let middleware = tower::ServiceBuilder::new().layer(CorsLayer::permissive()).layer(envelope::IdEnvelopeLayer);
    let rpc_middleware =
        jsonrpsee::server::middleware::rpc::RpcServiceBuilder::new().layer_fn(params_errors::PreciseParamsErrors);
    let server =
        Server::builder().set_http_middleware(middleware).set_rpc_middleware(rpc_middleware).build(addr).await?;
    let bound = server.local_addr()?;
    Ok((bound, server.start(module)))
}
