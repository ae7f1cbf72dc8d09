//! The path scheme of `keyward serve`: which namespace a request is for, and the API key it
//! carries in its path (provider style, `/v2/KEY`).
//!
//! | Path | Serves |
//! |---|---|
//! | `/`, `/v2/KEY` | the Wallet API (`wallet_*`) of every chain; the chain comes from the request |
//! | `/chain/ID`, `/v2/KEY/chain/ID` | chain ID's ERC-4337 bundler methods, `pm_*`, and the node's read methods |
//! | `GET /health`, `GET /ready`, `GET /metrics` | liveness, readiness, Prometheus metrics |

/// Where a JSON-RPC request goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    /// The root: the Wallet API (or, for `keyward dev`, everything).
    Root,
    /// One chain's bundler, paymaster and node methods.
    Chain(u64),
}

/// What a request path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target<'a> {
    /// A JSON-RPC endpoint, with the API key of the path if any.
    Rpc {
        /// The key given as `/v2/KEY`.
        key: Option<&'a str>,
        /// The namespace.
        route: Route,
    },
    /// `GET /health`: the process is up.
    Health,
    /// `GET /ready`: the store and every node answer.
    Ready,
    /// `GET /metrics`: Prometheus text.
    Metrics,
}

/// Why a path names nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// No such path.
    #[error("no endpoint at {0}: use /, /v2/KEY, /chain/CHAIN_ID or /v2/KEY/chain/CHAIN_ID")]
    Unknown(String),
    /// `/chain/ID` with an ID that is not a decimal chain id.
    #[error("{0:?} is not a chain id (decimal, as in /chain/11155111)")]
    BadChainId(String),
}

/// Reads a request path (without its query).
pub fn parse_path(path: &str) -> Result<Target<'_>, PathError> {
    let trimmed = path.trim_end_matches('/');
    match trimmed {
        "/health" => return Ok(Target::Health),
        "/ready" => return Ok(Target::Ready),
        "/metrics" => return Ok(Target::Metrics),
        _ => {}
    }
    let segments: Vec<&str> = trimmed.split('/').skip(1).collect();
    let (key, rest) = match segments.as_slice() {
        ["v2", key, rest @ ..] if !key.is_empty() => (Some(*key), rest),
        rest => (None, rest),
    };
    let route = match rest {
        [] => Route::Root,
        ["chain", id] => Route::Chain(id.parse().map_err(|_| PathError::BadChainId((*id).to_string()))?),
        _ => return Err(PathError::Unknown(path.to_string())),
    };
    Ok(Target::Rpc { key, route })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(parse_path("/"), Ok(Target::Rpc { key: None, route: Route::Root }));
        assert_eq!(parse_path(""), Ok(Target::Rpc { key: None, route: Route::Root }));
        assert_eq!(parse_path("/v2/abc"), Ok(Target::Rpc { key: Some("abc"), route: Route::Root }));
        assert_eq!(parse_path("/v2/abc/"), Ok(Target::Rpc { key: Some("abc"), route: Route::Root }));
        assert_eq!(parse_path("/chain/5"), Ok(Target::Rpc { key: None, route: Route::Chain(5) }));
        assert_eq!(parse_path("/v2/k/chain/10"), Ok(Target::Rpc { key: Some("k"), route: Route::Chain(10) }));
        assert_eq!(parse_path("/health"), Ok(Target::Health));
        assert_eq!(parse_path("/ready/"), Ok(Target::Ready));
        assert_eq!(parse_path("/metrics"), Ok(Target::Metrics));
        assert_eq!(parse_path("/chain/0x5"), Err(PathError::BadChainId("0x5".into())));
        assert_eq!(parse_path("/v2"), Err(PathError::Unknown("/v2".into())));
        assert_eq!(parse_path("/other"), Err(PathError::Unknown("/other".into())));
        assert_eq!(parse_path("/v2/k/chain/1/x"), Err(PathError::Unknown("/v2/k/chain/1/x".into())));
    }
}
