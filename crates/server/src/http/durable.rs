//! Answers that wait for the store: every JSON-RPC answer goes out only once the writes finished
//! before it are durable ([`Store::durable`]), so what the API accepted survives a power loss, and
//! concurrent answers share one sync. An answer whose writes could not be synced becomes an
//! internal error (`-32603`): the client retries, and writes are idempotent.
//!
//! The status reads a client polls ([`STATUS_READS`]) answer at once: they accept nothing, and a
//! status a power loss would take back (an inclusion recorded but not yet synced) is found again
//! from the chain by the tracker and the watcher. Waiting would put an fsync on every poll. A final
//! failure cannot be found again that way: the pool syncs before it reports one
//! (`OperationPool::state`).

use std::future::Future;

use jsonrpsee::core::middleware::{Batch, Notification, RpcServiceT};
use jsonrpsee::server::MethodResponse;
use jsonrpsee::types::{ErrorObjectOwned, Id, Request};
use keyward_store::Store;

/// Methods that only report the progress of what was accepted before: they do not wait.
pub const STATUS_READS: &[&str] =
    &["wallet_getCallsStatus", "eth_getUserOperationReceipt", "eth_getUserOperationByHash"];

/// RPC middleware: each answer (single or batch) waits for [`Store::durable`] of `store`.
#[derive(Clone, Debug)]
pub struct DurableAnswers<S> {
    /// The next service.
    pub inner: S,
    /// The store whose writes an answer waits for; `None` answers at once.
    pub store: Option<Store>,
}

impl<S> RpcServiceT for DurableAnswers<S>
where
    S: RpcServiceT<MethodResponse = MethodResponse, BatchResponse = MethodResponse> + Send + Sync + Clone + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = S::NotificationResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(&self, request: Request<'a>) -> impl Future<Output = Self::MethodResponse> + Send + 'a {
        let service = self.inner.clone();
        let store = self.store.clone().filter(|_| !STATUS_READS.contains(&request.method_name()));
        async move {
            let id = request.id().into_owned();
            let response = service.call(request).await;
            settle(store.as_ref(), response, id).await
        }
    }

    fn batch<'a>(&self, requests: Batch<'a>) -> impl Future<Output = Self::BatchResponse> + Send + 'a {
        let (service, store) = (self.inner.clone(), self.store.clone());
        async move {
            let response = service.batch(requests).await;
            settle(store.as_ref(), response, Id::Null).await
        }
    }

    fn notification<'a>(&self, n: Notification<'a>) -> impl Future<Output = Self::NotificationResponse> + Send + 'a {
        self.inner.notification(n)
    }
}

/// `response` once `store`'s writes are durable, or an internal error under `id` if they cannot be.
async fn settle(store: Option<&Store>, response: MethodResponse, id: Id<'static>) -> MethodResponse {
    let Some(store) = store else { return response };
    match store.durable().await {
        Ok(()) => response,
        Err(e) => {
            tracing::error!(error = %e, "an answer's writes could not be made durable; answering an internal error");
            MethodResponse::error(
                id,
                ErrorObjectOwned::owned(
                    jsonrpsee::types::error::INTERNAL_ERROR_CODE,
                    format!("the server could not make its writes durable: {e}"),
                    None::<()>,
                ),
            )
        }
    }
}
