//! `wallet_getCallsStatus`: a call id resolved through the pool's record of its user operation
//! (pending, in a bundle in flight, included with its outcome, or failed).

use crate::error::{WalletError, WalletResult};
use crate::records;
use crate::service::Wallet;
use crate::types::{CallId, CallStatus};
use keyward_bundler::pool::OpState;

impl Wallet {
    /// `wallet_getCallsStatus`.
    pub async fn get_calls_status(&self, id: CallId) -> WalletResult<CallStatus> {
        let unknown = || WalletError::UnknownCallId(id.to_string());
        if id.chain_id != self.chain_id {
            return Err(unknown());
        }
        let record = self.call_record(id.hash).await?.ok_or_else(unknown)?;
        let calls = records::calls(&record.calls_json)?;
        let state = self.pool.state(id.hash).await?;
        let failure = match &state {
            Some(OpState::Failed { reason }) => Some(self.failure_of(record.session_id, reason).await?),
            None => Some("the operation is no longer known to the bundler".to_string()),
            _ => None,
        };
        Ok(CallStatus { id, hash: id.hash, calls, state, failure })
    }

    /// The reason a call failed, naming its session when that session has been revoked since.
    async fn failure_of(&self, session_id: Option<[u8; 16]>, reason: &str) -> WalletResult<String> {
        if let Some(session_id) = session_id
            && let Some(session) = self.session(&session_id).await?
            && self.session_revoked(&session).await?
        {
            return Ok(format!(
                "session {} was revoked ({reason})",
                alloy::primitives::Bytes::from(session_id.to_vec())
            ));
        }
        Ok(reason.to_string())
    }
}
