//! Parse errors of method parameters, stated in the error's `message`: jsonrpsee answers a bad
//! parameter with `-32602 "Invalid params"` and the reason only in `data`, which clients such as
//! viem do not show. This middleware appends the reason to the message (and keeps it in `data`).
//!
//! It also refuses the positional `Hex`/`Address` parameters sent without `0x`
//! ([`keyward_api::wallet::POSITIONAL_HEX_PARAMS`]; jsonrpsee would read them with alloy's lenient
//! serde), in single requests and inside batches.

use std::future::Future;

use jsonrpsee::core::middleware::{Batch, BatchEntry, BatchEntryErr, Notification, RpcServiceT};
use jsonrpsee::server::MethodResponse;
use jsonrpsee::types::{ErrorObjectOwned, Id, Request};

/// The `message` jsonrpsee gives every parameter parse error.
const GENERIC: &str = "Invalid params";

/// Methods whose only parameter is a userOpHash: a bad one is refused as the ERC-4337 bundlers
/// (and their test suite) word it.
const USER_OP_HASH_METHODS: &[&str] = &["eth_getUserOperationByHash", "eth_getUserOperationReceipt"];
/// The message of a missing or malformed userOpHash (then the reason).
const USER_OP_HASH_REFUSAL: &str = "Missing/invalid userOpHash";

/// RPC middleware: rewrites `-32602 "Invalid params"` answers to `"Invalid params: <reason>"`.
#[derive(Clone, Debug)]
pub struct PreciseParamsErrors<S>(pub S);

impl<S> RpcServiceT for PreciseParamsErrors<S>
where
    S: RpcServiceT<MethodResponse = MethodResponse> + Send + Sync + Clone + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = S::NotificationResponse;
    type BatchResponse = S::BatchResponse;

    fn call<'a>(&self, request: Request<'a>) -> impl Future<Output = Self::MethodResponse> + Send + 'a {
        let service = self.0.clone();
        let refusal = strict_hex_refusal(&request);
        let prefix = USER_OP_HASH_METHODS.contains(&request.method_name()).then_some(USER_OP_HASH_REFUSAL);
        async move {
            let id = request.id().into_owned();
            if let Some(error) = refusal {
                return MethodResponse::error(id, error);
            }
            let response = service.call(request).await;
            match precise(&response, id, prefix) {
                Some(rewritten) => rewritten.with_extensions(response.extensions().clone()),
                None => response,
            }
        }
    }

    fn batch<'a>(&self, mut requests: Batch<'a>) -> impl Future<Output = Self::BatchResponse> + Send + 'a {
        for entry in requests.iter_mut() {
            let refused = match entry {
                Ok(BatchEntry::Call(request)) => strict_hex_refusal(request).map(|e| (request.id().into_owned(), e)),
                _ => None,
            };
            if let Some((id, error)) = refused {
                *entry = Err(BatchEntryErr::new(id, error));
            }
        }
        self.0.batch(requests)
    }

    fn notification<'a>(&self, n: Notification<'a>) -> impl Future<Output = Self::NotificationResponse> + Send + 'a {
        self.0.notification(n)
    }
}

/// The refusal of a positional `Hex`/`Address` parameter of `request` sent without `0x`.
fn strict_hex_refusal(request: &Request<'_>) -> Option<ErrorObjectOwned> {
    let params = request.params.as_ref().map(|p| p.get());
    let reason = keyward_api::wallet::positional_hex_refusal(request.method_name(), params)?;
    let head = if USER_OP_HASH_METHODS.contains(&request.method_name()) { USER_OP_HASH_REFUSAL } else { GENERIC };
    Some(ErrorObjectOwned::owned(
        jsonrpsee::types::error::INVALID_PARAMS_CODE,
        format!("{head}: {reason}"),
        Some(reason),
    ))
}

/// The same error with the reason in its message (after `head` instead of "Invalid params" when
/// given), if `response` is a generic parse error.
fn precise(response: &MethodResponse, id: Id<'static>, head: Option<&str>) -> Option<MethodResponse> {
    if response.as_error_code() != Some(jsonrpsee::types::error::INVALID_PARAMS_CODE) {
        return None;
    }
    let body: serde_json::Value = serde_json::from_str(response.as_json().get()).ok()?;
    let error = body.get("error")?;
    let reason = error.get("data")?.as_str()?;
    if error.get("message")?.as_str()? != GENERIC {
        return None;
    }
    let message = format!("{}: {reason}", head.unwrap_or(GENERIC));
    Some(MethodResponse::error(
        id,
        ErrorObjectOwned::owned(jsonrpsee::types::error::INVALID_PARAMS_CODE, message, Some(reason)),
    ))
}
