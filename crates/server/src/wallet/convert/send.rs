//! `wallet_sendPreparedCalls`.

use alloy::primitives::Bytes;
use keyward_api::wallet::SigType;
use keyward_api::wallet::{
    SendDetails, SendPreparedCallsParams, SendPreparedCallsResult, SignedAuthorization, SignedCallItem, SignedCalls,
    SignedUserOpV07, UserOperationDetails,
};
use keyward_wallet::types::{SendPrepared, Sent, SignedDelegation, UserOpSignature};
use keyward_wallet::{WalletError, WalletResult};

use super::wire_call;

/// The signed operation of a send, and the authorization it carries, before their fields are read.
pub(in crate::wallet) struct Signed {
    op: SignedUserOpV07,
    authorization: Option<SignedAuthorization>,
    sponsored: bool,
}

const V060: &str = "user-operation-v060: EntryPoint v0.6 operations are not served here";

/// The parts of a send: one v0.7 operation, alone or in an array with at most one authorization.
pub(in crate::wallet) fn signed(p: SendPreparedCallsParams) -> WalletResult<Signed> {
    let sponsored = p
        .capabilities
        .as_ref()
        .and_then(|c| c.paymaster_service.as_ref())
        .is_some_and(|pm| pm.only_estimation != Some(true));
    let (op, authorization) = match p.calls {
        SignedCalls::UserOperationV070(op) => (op, None),
        SignedCalls::Array { data } => {
            let mut op = None;
            let mut auth = None;
            for item in data {
                match item {
                    SignedCallItem::UserOperationV070(o) if op.is_none() => op = Some(o),
                    SignedCallItem::Authorization(a) if auth.is_none() => auth = Some(a),
                    SignedCallItem::UserOperationV060(_) => return Err(WalletError::params(V060)),
                    _ => {
                        return Err(WalletError::params(
                            "an array must hold one user-operation-v070 and at most one authorization",
                        ));
                    }
                }
            }
            (op.ok_or_else(|| WalletError::params("the array holds no user-operation-v070"))?, auth)
        }
        SignedCalls::UserOperationV060(_) => return Err(WalletError::params(V060)),
        SignedCalls::Authorization(_) => {
            return Err(WalletError::UnsupportedCapability(
                "an authorization alone (undelegation) is not supported by this server".into(),
            ));
        }
    };
    Ok(Signed { op, authorization, sponsored })
}

impl Signed {
    /// The operation's chain.
    pub(in crate::wallet) fn chain_id(&self) -> u64 {
        self.op.chain_id.into()
    }

    /// The send as the wallet takes it: the operation, its signature, the signed authorization.
    pub(in crate::wallet) fn request(self) -> WalletResult<SendPrepared> {
        let chain_id = self.chain_id();
        let op = self.op.data.to_user_operation(Bytes::new()).map_err(|e| WalletError::params(format!("data: {e}")))?;
        let signature = match self.op.signature.ty {
            SigType::P256 => UserOpSignature::P256(
                self.op.signature.p256_bytes().map_err(|e| WalletError::params(format!("signature: {e}")))?.clone(),
            ),
            SigType::Secp256k1 | SigType::Ecdsa => {
                UserOpSignature::Secp256k1(super::ecdsa_signature(&self.op.signature, "signature")?)
            }
        };
        let authorization = self
            .authorization
            .map(|a| {
                let signature = super::ecdsa_signature(&a.signature, "authorization signature")?;
                Ok::<_, WalletError>(SignedDelegation {
                    chain_id: a.chain_id.into(),
                    address: a.data.address,
                    nonce: u64::from(a.data.nonce),
                    signature,
                })
            })
            .transpose()?;
        Ok(SendPrepared { chain_id, op, signature, authorization, sponsored: self.sponsored })
    }
}

/// The `wallet_sendPreparedCalls` answer.
pub(in crate::wallet) fn sent(s: Sent) -> WalletResult<SendPreparedCallsResult> {
    let id = s.id.to_bytes();
    Ok(SendPreparedCallsResult {
        prepared_call_ids: vec![id.clone()],
        id,
        details: SendDetails::UserOperation {
            data: UserOperationDetails { hash: s.id.hash, calls: Some(s.calls.into_iter().map(wire_call).collect()) },
        },
    })
}
