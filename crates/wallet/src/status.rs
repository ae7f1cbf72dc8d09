//! `wallet_getCallsStatus`: a call id resolved through the pool's record of its user operation
//! (pending, in a bundle in flight, included with its outcome, or failed).

use crate::error::{WalletError, WalletResult};
use crate::records;
use crate::service::Wallet;
use crate::types::{CallId, CallStatus};

impl Wallet {
    /// `wallet_getCallsStatus`.
    pub async fn get_calls_status(&self, id: CallId) -> WalletResult<CallStatus> {
        let unknown = || WalletError::UnknownCallId(id.to_string());
        if id.chain_id != self.chain_id {
            return Err(unknown());
        }
        let record = self.store.call(&id.to_string()).await?.ok_or_else(unknown)?;
        let calls = records::calls(&record.calls_json)?;
        let state = self.pool.state(id.hash).await?;
        Ok(CallStatus { id, hash: id.hash, calls, state })
    }
}
