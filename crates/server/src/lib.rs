//! Keyward's JSON-RPC server: one HTTP endpoint serving every namespace Keyward offers.
//!
//! Today: the `eth_*`, `net_*` and `web3_*` methods of a chain, and the anvil-compatible dev
//! methods of the embedded chain.

#![warn(missing_docs)]

pub mod envelope;
pub mod errors;
pub mod eth;
pub mod params_errors;

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
