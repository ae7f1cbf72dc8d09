//! The Wallet API's JSON and the wallet's domain values, each way. A conversion that can fail
//! (wire input the domain refuses, a value the wire cannot carry) fails with the [`WalletError`]
//! the wallet itself used to answer, so the code and message are unchanged.

pub(super) mod accounts;
pub(super) mod capabilities;
pub(super) mod manage;
pub(super) mod prepare;
pub(super) mod send;
pub(super) mod sessions;
pub(super) mod sign;
pub(super) mod status;

use keyward_api::wallet::{Call as WireCall, HexBigInt, HexNumber};
use keyward_wallet::types::Call;
use keyward_wallet::{WalletError, WalletResult};

/// A domain integer as the wire's uint32 `HexNumber`.
fn hex_number(v: u64) -> WalletResult<HexNumber> {
    HexNumber::try_from(v).map_err(|e| WalletError::Internal(e.to_string()))
}

/// A wire call as the wallet's.
fn call(c: WireCall) -> Call {
    Call { to: c.to, data: c.data, value: c.value.map(|v| v.0) }
}

/// A wallet call as the wire's.
fn wire_call(c: Call) -> WireCall {
    WireCall { to: c.to, data: c.data, value: c.value.map(HexBigInt) }
}

/// The secp256k1 signature of an envelope; a `p256` one is refused (a passkey signs only its
/// session's user operations).
fn ecdsa_signature(env: &keyward_api::wallet::SigEnvelope, what: &str) -> WalletResult<alloy::primitives::Signature> {
    if env.ty == keyward_api::wallet::SigType::P256 {
        return Err(WalletError::params(format!(
            "{what}: a p256 signature is only accepted for the user operation of a p256 session"
        )));
    }
    env.data.signature().map_err(|e| WalletError::params(format!("{what}: {e}")))
}
