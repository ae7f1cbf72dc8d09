//! `wallet_getCallsStatus` as domain values.

use std::fmt;

use alloy::primitives::{B256, Bytes};
use keyward_bundler::pool::OpState;

use super::Call;

/// A call id: `chainId (32 bytes, big-endian) ‖ userOpHash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallId {
    /// The chain of the operation.
    pub chain_id: u64,
    /// The userOpHash.
    pub hash: B256,
}

impl CallId {
    /// The 64 bytes of the id.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = [0u8; 64];
        out[24..32].copy_from_slice(&self.chain_id.to_be_bytes());
        out[32..].copy_from_slice(self.hash.as_slice());
        Bytes::copy_from_slice(&out)
    }

    /// The id in 64 bytes, if they are one.
    pub fn parse(id: &[u8]) -> Option<Self> {
        if id.len() != 64 || id[..24].iter().any(|b| *b != 0) {
            return None;
        }
        let chain_id = u64::from_be_bytes(id[24..32].try_into().ok()?);
        Some(Self { chain_id, hash: B256::from_slice(&id[32..]) })
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_bytes(), f)
    }
}

/// Where a sent call is.
#[derive(Debug, Clone, PartialEq)]
pub struct CallStatus {
    /// The call id.
    pub id: CallId,
    /// The userOpHash.
    pub hash: B256,
    /// The calls it makes.
    pub calls: Vec<Call>,
    /// The pool's record of its operation; `None` once the pool no longer knows it (it failed
    /// offchain).
    pub state: Option<OpState>,
    /// Why it failed, in words, when it did (a revoked session is named).
    pub failure: Option<String>,
}
