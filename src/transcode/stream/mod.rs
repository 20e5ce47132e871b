//! Streams over REST: a server-streaming method's replies framed as
//! NDJSON, Server-Sent Events or one JSON array (by the client's `Accept`,
//! else the route's default), or as raw bytes for `google.api.HttpBody`;
//! client and bidirectional streams over HTTP (duplex.rs: the request
//! body's messages sent as they arrive, requests.rs and split.rs) and over
//! WebSocket (websocket.rs).
//!
//! A server stream's call is made like a unary one (same retries, and the
//! route's `timeout` bounds the time to the first message); a failure
//! before the first message is an ordinary error response. After it, the
//! body (body.rs) streams each message as it arrives and ends with the
//! framing's own error frame on a failure. Every stream is admitted
//! within the route's and the connection's caps (caps.rs).

mod body;
mod caps;
pub(super) mod duplex;
mod framing;
mod requests;
mod split;
mod timer;
pub(super) mod websocket;

use std::{sync::Arc, time::Duration};

use http::{HeaderMap, HeaderValue, Response, header, request::Parts};
use http_body_util::BodyExt;
use tonic::metadata::AsciiMetadataValue;

use body::{StreamBody, StreamParts};
pub use caps::StreamCaps;
pub use duplex::StreamingRequest;
use framing::FrameWriter;
pub use framing::{ErrorFrame, Framing, SseId};
pub use requests::RequestBody;
pub use split::RequestFraming;
pub use websocket::{WebSocketRequest, WebSocketSession};

use super::{
    metadata::ReplyOverrides,
    target::{Prepared, TranscodeError, TranscodeTarget},
};
use crate::{body::ResponseBody, observe::RequestContext};

/// The request header a reconnecting `EventSource` sends, and the metadata key it becomes.
const LAST_EVENT_ID: &str = "last-event-id";

/// How a route serves its server streams, compiled.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    /// The framing when `Accept` names none.
    pub default_framing: Framing,
    /// NDJSON lines and array elements as `{"result": <message>}`.
    pub envelope: bool,
    /// The gap between SSE keep-alive comments.
    pub sse_keepalive: Duration,
    /// Where SSE `id:` lines come from, if they are sent.
    pub sse_id: Option<SseId>,
    /// The longest a stream may last.
    pub max_duration: Option<Duration>,
    /// The longest gap between two messages (each direction on its own).
    pub idle_timeout: Option<Duration>,
    /// The largest request message of a client or bidirectional stream.
    pub max_message_bytes: usize,
    /// The most request messages of one client or bidirectional stream.
    pub max_messages: Option<u64>,
    /// The gap between WebSocket pings.
    pub ping_interval: Duration,
    /// The caps on open streams (the route's, the connection's).
    pub caps: StreamCaps,
}

/// Serves a server-streaming call.
pub(super) async fn serve(
    target: &TranscodeTarget,
    settings: &StreamSettings,
    mut prepared: Prepared,
    parts: &Parts,
    context: &Arc<RequestContext>,
) -> Result<Response<ResponseBody>, TranscodeError> {
    let framing = match target.renderer.is_raw() {
        true => Framing::Raw,
        false => Framing::negotiate(parts.headers.get(header::ACCEPT), settings.default_framing),
    };
    // The body tells how the stream went.
    let mut permit = settings.caps.admit(context, None)?;
    if let Some(id) = parts.headers.get(LAST_EVENT_ID)
        && let Ok(id) = AsciiMetadataValue::try_from(id.as_bytes())
    {
        prepared.metadata_mut().insert(LAST_EVENT_ID, id);
    }
    let max_duration = settings.max_duration;
    let context = prepared.context().clone();
    let ((headers, overrides, stream, first), picked) = target
        .call_tries(prepared, |channel, mut call| async move {
            // The route's timeout bounds the wait for the first message; the
            // backend is told the stream's own limit, if any.
            match max_duration {
                Some(limit) => call.set_timeout(limit),
                None => drop(call.metadata_mut().remove("grpc-timeout")),
            }
            let (headers, overrides, mut stream) = target.open(channel, call).await?;
            match stream.message().await {
                Ok(first) => Ok((headers, overrides, stream, first)),
                Err(status) => Err(target.call_failed(status, Some(headers))),
            }
        })
        .await
        .map_err(|error| permit.failed(error))?;
    let content_type = match (&first, framing) {
        (Some(first), Framing::Raw) => {
            target.renderer.render(first).map_err(|error| permit.failed(error.into()))?.content_type
        }
        _ => framing.content_type(),
    };
    let body = StreamBody::new(StreamParts {
        stream,
        first,
        writer: FrameWriter::new(
            framing,
            settings.envelope,
            settings.sse_id.clone(),
            target.renderer.clone(),
        ),
        picked,
        upstream: target.upstream.clone(),
        pool: target.pool.clone(),
        trailers: parts.version == http::Version::HTTP_2,
        max_duration,
        idle_timeout: settings.idle_timeout,
        keepalive: (framing == Framing::Sse).then_some(settings.sse_keepalive),
        context,
        request: None,
        permit,
    });
    Ok(stream_response(target, (headers, overrides), (framing, content_type), body))
}

/// A stream's response: the reply's headers with what the backend chose
/// for the HTTP answer, the framing's content type (SSE never cached), and
/// the body that frames the replies.
fn stream_response(
    target: &TranscodeTarget,
    (mut headers, overrides): (HeaderMap, ReplyOverrides),
    (framing, content_type): (Framing, HeaderValue),
    body: StreamBody,
) -> Response<ResponseBody> {
    headers.extend(overrides.headers);
    headers.insert(header::CONTENT_TYPE, content_type);
    if framing == Framing::Sse {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    let mut response = Response::new(body.boxed_unsync());
    *response.status_mut() = overrides.status.unwrap_or(target.success_status);
    *response.headers_mut() = headers;
    response
}
