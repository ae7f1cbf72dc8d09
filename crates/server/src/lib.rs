//! Keyward's edge: one HTTP endpoint serving every JSON-RPC namespace Keyward offers. Of the
//! service crates it is the only one that knows jsonrpsee and the wire (the `keyward` binary only
//! assembles its modules into routes; the SDK is a client): requests come in as `keyward-api`
//! types, are converted to the domain's types, answered by the domain services, and their typed
//! errors are mapped here to codes and messages. The suites that go through the wire live in its
//! `tests/`.
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

// The unit-test build also sees the dev-dependencies of the integration tests.
#![cfg_attr(test, allow(unused_crate_dependencies))]

pub mod bundler;
pub mod envelope;
pub mod errors;
pub mod eth;
pub mod http;
pub mod params_errors;
pub mod paymaster;
pub mod services;
pub mod wallet;

use std::net::SocketAddr;

use jsonrpsee::RpcModule;
use jsonrpsee::server::ServerHandle;

/// Starts serving `module` on `addr` at `/` with no API keys (`keyward dev`): the same edge as
/// production ([`http::serve_edge`]), any origin allowed, bodies up to
/// [`envelope::MAX_REQUEST_BODY`]; every answer waits for `store`'s writes to be durable.
pub async fn serve(
    addr: SocketAddr,
    module: RpcModule<()>,
    store: Option<keyward_store::Store>,
) -> std::io::Result<(SocketAddr, ServerHandle)> {
    let mut config = http::HttpConfig::new(addr);
    config.max_body_bytes = envelope::MAX_REQUEST_BODY;
    let routes = http::Routes { root: module.into(), chains: Default::default() };
    http::serve_edge(http::Edge { config, routes, gate: None, readiness: None, durable: store }).await
}
