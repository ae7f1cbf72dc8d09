//! JSON-RPC 2.0 request ids that jsonrpsee does not read itself (it reads integers that fit 64
//! bits, strings and `null`), fixed at the HTTP level for single requests and inside batches:
//!
//! * an id that is an object, array or boolean makes an invalid request: it is answered `-32600
//!   Invalid request` with `id: null` (jsonrpsee answers a bare `null`, and drops the entry of a
//!   batch);
//! * any other number (`1.5`, `-1`, `1e3`, above 64 bits) is a valid id: it is swapped for a string
//!   placeholder on the way in, and the answer carries the id exactly as the client wrote it.
//!
//! A batch answer keeps an entry for each request that has an id, in the order of the requests.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use jsonrpsee::core::BoxError;
use jsonrpsee::core::http_helpers::{HttpError, read_body};
use jsonrpsee::server::http::{content_type_is_json, response};
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use jsonrpsee::types::{ErrorCode, Id, Response, ResponsePayload};
use serde_json::value::RawValue;

/// Largest request body read, as jsonrpsee's default.
pub const MAX_REQUEST_BODY: u32 = 10 * 1024 * 1024;
/// Largest response body read back for restoring ids (jsonrpsee's default response limit).
const MAX_RESPONSE_BODY: u32 = 10 * 1024 * 1024;
/// Prefix of the placeholder ids; the control character keeps it apart from any id a client uses.
const PLACEHOLDER: &str = "\u{1}keyward-id-";

/// Tower layer adding [`IdEnvelope`] to jsonrpsee's HTTP service.
#[derive(Debug, Clone, Copy, Default)]
pub struct IdEnvelopeLayer;

impl<S> tower::Layer<S> for IdEnvelopeLayer {
    type Service = IdEnvelope<S>;

    fn layer(&self, inner: S) -> Self::Service {
        IdEnvelope { inner }
    }
}

/// HTTP middleware answering or rewriting the requests whose `id` jsonrpsee cannot read.
#[derive(Debug, Clone)]
pub struct IdEnvelope<S> {
    inner: S,
}

/// How a request's `id` is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdKind {
    /// Absent, `null`, a string, or an integer of 64 bits: jsonrpsee reads it.
    Readable,
    /// An object, array or boolean: an invalid request.
    Invalid,
    /// Another number: valid, but jsonrpsee cannot hold it.
    Foreign,
}

fn classify(id: Option<&RawValue>) -> IdKind {
    let Some(id) = id else { return IdKind::Readable };
    let text = id.get();
    match text.as_bytes().first() {
        Some(b'{' | b'[' | b't' | b'f') => IdKind::Invalid,
        Some(b'-' | b'0'..=b'9') if serde_json::from_str::<u64>(text).is_err() => IdKind::Foreign,
        _ => IdKind::Readable,
    }
}

/// The id of a raw request or answer (`None` when absent or not an object).
fn id_of(raw: &RawValue) -> Option<&RawValue> {
    serde_json::from_str::<BTreeMap<String, &RawValue>>(raw.get()).ok()?.remove("id")
}

/// The answer to a request with an invalid id: `-32600` with `id: null`.
pub fn invalid_request() -> String {
    let answer = Response::new(ResponsePayload::<()>::error(ErrorCode::InvalidRequest), Id::Null);
    serde_json::to_string(&answer).unwrap_or_default()
}

fn placeholder(index: usize) -> String {
    format!("{PLACEHOLDER}{index}")
}

/// `request` (a JSON object) with its id replaced by `id`; `None` when it is not an object.
fn with_id(request: &RawValue, id: &str) -> Option<String> {
    let mut fields: BTreeMap<String, Box<RawValue>> = serde_json::from_str(request.get()).ok()?;
    fields.insert("id".into(), RawValue::from_string(serde_json::to_string(id).ok()?).ok()?);
    serde_json::to_string(&fields).ok()
}

/// What to do with a request body.
#[derive(Debug, PartialEq, Eq)]
enum Plan {
    /// Forward it as it is.
    Forward,
    /// Answer it without calling jsonrpsee.
    Answer(String),
    /// Forward `body`, then restore the client's ids in the answer.
    Rewrite(Rewrite),
}

/// A rewritten request body and what the answer needs restored.
#[derive(Debug, PartialEq, Eq)]
struct Rewrite {
    /// The body jsonrpsee reads.
    body: String,
    /// For a batch, one slot per request: the invalid-request answer, or the client's id text of a
    /// forwarded request (`None` when it had none). For a single request, the one id.
    slots: Vec<Slot>,
    /// Whether the request was a batch.
    batch: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Slot {
    /// Answered here: `-32600`.
    Invalid,
    /// Forwarded under a placeholder; the client's id text.
    Forwarded(String),
    /// Forwarded as it was (no id, or not an object).
    Untouched,
}

fn plan(body: &[u8]) -> Plan {
    let Ok(text) = std::str::from_utf8(body) else { return Plan::Forward };
    if let Ok(request) = serde_json::from_str::<&RawValue>(text)
        && request.get().starts_with('{')
    {
        return match classify(id_of(request)) {
            IdKind::Readable => Plan::Forward,
            IdKind::Invalid => Plan::Answer(invalid_request()),
            IdKind::Foreign => match (with_id(request, &placeholder(0)), id_of(request)) {
                (Some(body), Some(id)) => {
                    Plan::Rewrite(Rewrite { body, slots: vec![Slot::Forwarded(id.get().to_string())], batch: false })
                }
                _ => Plan::Forward,
            },
        };
    }
    let Ok(batch) = serde_json::from_str::<Vec<&RawValue>>(text) else { return Plan::Forward };
    if batch.iter().all(|r| classify(id_of(r)) == IdKind::Readable) {
        return Plan::Forward;
    }
    let mut slots = Vec::with_capacity(batch.len());
    let mut forwarded = Vec::new();
    for (index, request) in batch.iter().enumerate() {
        let id = id_of(request);
        match (classify(id), id) {
            (IdKind::Invalid, _) => slots.push(Slot::Invalid),
            (_, Some(id)) => match with_id(request, &placeholder(index)) {
                Some(rewritten) => {
                    slots.push(Slot::Forwarded(id.get().to_string()));
                    forwarded.push(rewritten);
                }
                None => {
                    slots.push(Slot::Untouched);
                    forwarded.push(request.get().to_string());
                }
            },
            (_, None) => {
                slots.push(Slot::Untouched);
                forwarded.push(request.get().to_string());
            }
        }
    }
    if forwarded.is_empty() {
        return Plan::Answer(format!("[{}]", vec![invalid_request(); slots.len()].join(",")));
    }
    Plan::Rewrite(Rewrite { body: format!("[{}]", forwarded.join(",")), slots, batch: true })
}

/// `answer` with the placeholder id `index` (JSON text) replaced by the client's `id`.
fn restore_id(answer: &str, index: usize, id: &str) -> String {
    let quoted = serde_json::to_string(&placeholder(index)).unwrap_or_default();
    answer.replacen(&quoted, id, 1)
}

/// The answer to the client, from jsonrpsee's answer to the rewritten body.
fn restore(rewrite: &Rewrite, answer: &str) -> String {
    if !rewrite.batch {
        return match rewrite.slots.first() {
            Some(Slot::Forwarded(id)) => restore_id(answer, 0, id),
            _ => answer.to_string(),
        };
    }
    // A batch answer is an array; anything else (a refusal of the whole batch) is passed on.
    let Ok(entries) = serde_json::from_str::<Vec<&RawValue>>(answer) else { return answer.to_string() };
    let mut by_index: BTreeMap<usize, &RawValue> = BTreeMap::new();
    let mut others = Vec::new();
    for entry in entries {
        let index = id_of(entry)
            .and_then(|id| serde_json::from_str::<String>(id.get()).ok())
            .and_then(|id| id.strip_prefix(PLACEHOLDER).and_then(|i| i.parse::<usize>().ok()));
        match index {
            Some(i) => {
                by_index.insert(i, entry);
            }
            None => others.push(entry.get().to_string()),
        }
    }
    let mut out = Vec::with_capacity(rewrite.slots.len());
    for (index, slot) in rewrite.slots.iter().enumerate() {
        match slot {
            Slot::Invalid => out.push(invalid_request()),
            Slot::Forwarded(id) => {
                if let Some(entry) = by_index.get(&index) {
                    out.push(restore_id(entry.get(), index, id));
                }
            }
            Slot::Untouched => {}
        }
    }
    out.extend(others);
    format!("[{}]", out.join(","))
}

/// The body jsonrpsee's read of `error` would answer (the same responses it gives).
fn read_error(error: HttpError) -> HttpResponse {
    match error {
        HttpError::TooLarge => response::too_large(MAX_REQUEST_BODY),
        HttpError::Malformed => response::malformed(),
        HttpError::Stream(e) => {
            tracing::warn!(error = %e, "reading a request body failed");
            response::internal_error()
        }
    }
}

impl<S> tower::Service<HttpRequest> for IdEnvelope<S>
where
    S: tower::Service<HttpRequest, Response = HttpResponse, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequest) -> Self::Future {
        // The clone serves this request; the instance polled ready stays for the next one.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        if request.method().as_str() != "POST" || !content_type_is_json(&request) {
            return Box::pin(inner.call(request));
        }
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let body = match read_body(&parts.headers, body, MAX_REQUEST_BODY).await {
                Ok((body, _)) => body,
                Err(e) => return Ok(read_error(e)),
            };
            let rewrite = match plan(&body) {
                Plan::Forward => return inner.call(HttpRequest::from_parts(parts, HttpBody::from(body))).await,
                Plan::Answer(answer) => return Ok(response::ok_response(answer)),
                Plan::Rewrite(rewrite) => rewrite,
            };
            parts.headers.remove("content-length");
            let forwarded = HttpRequest::from_parts(parts, HttpBody::from(rewrite.body.clone()));
            let answer = inner.call(forwarded).await?;
            let (mut parts, body) = answer.into_parts();
            let text = match read_body(&parts.headers, body, MAX_RESPONSE_BODY).await {
                Ok((bytes, _)) => String::from_utf8_lossy(&bytes).into_owned(),
                // Not JSON (an empty notification ACK, a plain-text refusal): nothing to restore.
                Err(_) => String::new(),
            };
            parts.headers.remove("content-length");
            Ok(HttpResponse::from_parts(parts, HttpBody::from(restore(&rewrite, &text))))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVALID: &str = r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid request"}}"#;

    #[test]
    fn invalid_request_answer_is_exact() {
        assert_eq!(invalid_request(), INVALID);
    }

    #[test]
    fn ids_are_classified_as_jsonrpsee_reads_them() {
        let kind = |id: &str| classify(Some(&serde_json::from_str::<Box<RawValue>>(id).unwrap()));
        for id in ["1", "0", "18446744073709551615", "\"a\"", "null"] {
            assert_eq!(kind(id), IdKind::Readable, "{id}");
        }
        for id in ["{}", "{\"a\":1}", "[]", "[1]", "true", "false"] {
            assert_eq!(kind(id), IdKind::Invalid, "{id}");
        }
        for id in ["1.5", "-1", "1e3", "18446744073709551616"] {
            assert_eq!(kind(id), IdKind::Foreign, "{id}");
        }
        assert_eq!(classify(None), IdKind::Readable);
    }

    #[test]
    fn readable_requests_are_forwarded_untouched() {
        for body in [
            r#"{"jsonrpc":"2.0","id":1,"method":"m"}"#,
            r#"{"jsonrpc":"2.0","method":"m"}"#,
            r#"[{"jsonrpc":"2.0","id":"x","method":"m"},{"jsonrpc":"2.0","id":null,"method":"m"}]"#,
            "not json",
            "[]",
        ] {
            assert_eq!(plan(body.as_bytes()), Plan::Forward, "{body}");
        }
    }

    #[test]
    fn an_invalid_id_is_answered_here() {
        for id in ["{}", "[1]", "true"] {
            let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"eth_chainId"}}"#);
            assert_eq!(plan(body.as_bytes()), Plan::Answer(INVALID.to_string()), "{body}");
        }
        let batch = r#"[{"jsonrpc":"2.0","id":{},"method":"m"},{"jsonrpc":"2.0","id":false,"method":"m"}]"#;
        assert_eq!(plan(batch.as_bytes()), Plan::Answer(format!("[{INVALID},{INVALID}]")));
    }

    #[test]
    fn a_fractional_id_is_forwarded_under_a_placeholder_and_restored() {
        let Plan::Rewrite(rewrite) = plan(br#"{"jsonrpc":"2.0","id":1.5,"method":"eth_chainId","params":[]}"#) else {
            panic!("expected a rewrite")
        };
        assert_eq!(rewrite.body, r#"{"id":"\u0001keyward-id-0","jsonrpc":"2.0","method":"eth_chainId","params":[]}"#);
        let answer = r#"{"jsonrpc":"2.0","id":"\u0001keyward-id-0","result":"0x7a69"}"#;
        assert_eq!(restore(&rewrite, answer), r#"{"jsonrpc":"2.0","id":1.5,"result":"0x7a69"}"#);
    }

    #[test]
    fn a_batch_keeps_one_entry_per_request_in_order() {
        let batch = r#"[{"jsonrpc":"2.0","id":"a","method":"m"},{"jsonrpc":"2.0","id":[],"method":"m"},
            {"jsonrpc":"2.0","id":-2.25,"method":"m"},{"jsonrpc":"2.0","method":"notify"},
            {"jsonrpc":"2.0","id":7,"method":"m"}]"#;
        let Plan::Rewrite(rewrite) = plan(batch.as_bytes()) else { panic!("expected a rewrite") };
        assert_eq!(
            rewrite.slots,
            vec![
                Slot::Forwarded("\"a\"".into()),
                Slot::Invalid,
                Slot::Forwarded("-2.25".into()),
                Slot::Untouched,
                Slot::Forwarded("7".into()),
            ]
        );
        // jsonrpsee may answer out of order; the notification gets no answer.
        let answer = r#"[{"jsonrpc":"2.0","id":"\u0001keyward-id-4","result":7},
            {"jsonrpc":"2.0","id":"\u0001keyward-id-0","result":0},
            {"jsonrpc":"2.0","id":"\u0001keyward-id-2","result":2}]"#;
        assert_eq!(
            restore(&rewrite, answer),
            format!(
                r#"[{{"jsonrpc":"2.0","id":"a","result":0}},{INVALID},{{"jsonrpc":"2.0","id":-2.25,"result":2}},{{"jsonrpc":"2.0","id":7,"result":7}}]"#
            )
        );
    }
}
