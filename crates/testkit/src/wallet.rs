//! Signing Wallet API answers as the official SDK does, for tests that drive the API directly.

use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use keyward_api::wallet::{
    PrepareCallsResult, PreparedCallItem, PreparedCalls, SendPreparedCallsParams, SigEnvelope, SignatureRequest,
    SignedAuthorization, SignedCallItem, SignedCalls, SignedUserOpV07,
};

/// Signs a prepared user operation's request as the SDK does: personal_sign of the raw bytes.
fn sign_request(req: &SignatureRequest, key: &PrivateKeySigner) -> SigEnvelope {
    let digest = req.digest().unwrap();
    SigEnvelope::secp256k1(&key.sign_hash_sync(&digest).unwrap())
}

/// `wallet_sendPreparedCalls` params for `prepared`, every item signed by `key`.
pub fn sign_prepared(prepared: &PrepareCallsResult, key: &PrivateKeySigner) -> SendPreparedCallsParams {
    let calls = match &prepared.prepared {
        PreparedCalls::UserOperationV070(op) => SignedCalls::UserOperationV070(SignedUserOpV07 {
            data: op.data.clone(),
            chain_id: op.chain_id,
            signature: sign_request(op.signature_request.as_ref().unwrap(), key),
        }),
        PreparedCalls::Array { data } => SignedCalls::Array {
            data: data
                .iter()
                .map(|item| match item {
                    PreparedCallItem::UserOperationV070(op) => SignedCallItem::UserOperationV070(SignedUserOpV07 {
                        data: op.data.clone(),
                        chain_id: op.chain_id,
                        signature: sign_request(op.signature_request.as_ref().unwrap(), key),
                    }),
                    PreparedCallItem::Authorization(a) => {
                        // What viem's signAuthorization signs, from the prepared fields (not rawPayload).
                        let hash = a.data.authorization(a.chain_id).signature_hash();
                        SignedCallItem::Authorization(SignedAuthorization {
                            data: a.data.clone(),
                            chain_id: a.chain_id,
                            signature: SigEnvelope::secp256k1(&key.sign_hash_sync(&hash).unwrap()),
                        })
                    }
                    other => panic!("unexpected item {other:?}"),
                })
                .collect(),
        },
        other => panic!("unexpected prepared calls {other:?}"),
    };
    SendPreparedCallsParams { calls, capabilities: None, call_id: None }
}
