//! The transcoding target of one binding: bind the request, call the method
//! on the upstream, render the reply.
//!
//! Everything a call needs was resolved when the route was compiled: the
//! gRPC path, the binder, the renderer, the codec, the upstream and whether
//! the method is idempotent. A failed try is sent again when the upstream's
//! retry policy allows it (src/upstream/retry.rs), on an endpoint picked
//! again, within the call's deadline ([`tries`]); a try opens the call
//! ([`open`]) and a failed one is judged ([`failed`]).

mod failed;
mod open;
mod tries;

pub(in crate::transcode) use failed::failure_of;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode, header, uri::PathAndQuery};
use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor};
use tonic::{codec::Streaming, metadata::MetadataMap};

use super::{
    bind::RequestBinder,
    codec::{DynamicCodec, Outgoing},
    metadata::{self, MetadataRules, ReplyOverrides},
    render::{RenderError, ResponseRenderer},
    stream::{self, StreamSettings},
};
pub use super::{
    error::TranscodeError,
    parts::{TargetParts, TranscodeRequest},
    stream::{StreamingRequest, WebSocketRequest, WebSocketSession},
};
use crate::{
    body::{ResponseBody, full},
    observe::RequestContext,
    upstream::{Outcome, TryError, TryFailure, Upstream},
};

/// A failed try, what it says about the endpoint, and whether it may be
/// sent again.
pub(super) type Failed = TryError<TranscodeError>;

impl From<RenderError> for Failed {
    /// The endpoint answered; the gateway could not render the answer.
    fn from(error: RenderError) -> Self {
        Self { error: error.into(), outcome: Outcome::Success, retry: TryFailure::Final }
    }
}

/// The deadline of a call and what its expiry says about the endpoint.
#[derive(Clone, Copy)]
pub(super) struct Deadline {
    at: Instant,
    budget: Duration,
    outcome: Outcome,
}

/// An opened call: the reply's headers, what the backend chose for the
/// HTTP answer, and the reply stream (of decoded messages, or of wire bytes).
pub(super) type Opened<T = DynamicMessage> = (HeaderMap, ReplyOverrides, Streaming<T>);

/// A request ready to be sent: its deadline, message and metadata.
pub(super) struct Prepared {
    deadline: Deadline,
    message: Outgoing,
    metadata: MetadataMap,
    /// The request's context: it hears the tries.
    context: Arc<RequestContext>,
}

impl Prepared {
    /// The request's context.
    pub(super) fn context(&self) -> &Arc<RequestContext> {
        &self.context
    }

    /// The metadata sent with the call.
    pub(super) fn metadata_mut(&mut self) -> &mut MetadataMap {
        &mut self.metadata
    }
}

/// One compiled transcoding target.
#[derive(Debug)]
pub struct TranscodeTarget {
    method: MethodDescriptor,
    path: PathAndQuery,
    pub(super) binder: Arc<RequestBinder>,
    pub(super) renderer: ResponseRenderer,
    codec: DynamicCodec,
    pub(super) upstream: Arc<Upstream>,
    pub(super) timeout: Duration,
    metadata: Arc<MetadataRules>,
    pub(super) pool: DescriptorPool,
    idempotent: bool,
    pub(super) success_status: StatusCode,
    stream: Option<StreamSettings>,
}

impl TranscodeTarget {
    /// The gRPC method it calls, as a request path (`/pkg.Service/Method`).
    pub fn grpc_path(&self) -> &PathAndQuery {
        &self.path
    }

    /// Wires a target.
    pub fn new(parts: TargetParts) -> Self {
        let path = format!("/{}/{}", parts.method.parent_service().full_name(), parts.method.name());
        Self {
            path: PathAndQuery::from_maybe_shared(Bytes::from(path))
                .unwrap_or_else(|_| PathAndQuery::from_static("/")),
            codec: DynamicCodec::new(parts.method.output()),
            pool: parts.method.parent_pool().clone(),
            method: parts.method,
            binder: Arc::new(parts.binder),
            renderer: parts.renderer,
            upstream: parts.upstream,
            timeout: parts.timeout,
            metadata: parts.metadata,
            idempotent: parts.idempotent,
            success_status: parts.success_status,
            stream: parts.stream,
        }
    }

    /// The method called.
    pub fn method(&self) -> &MethodDescriptor {
        &self.method
    }

    /// Whether the method reads a stream of request messages (client or
    /// bidirectional streaming): its body is handed over unread
    /// ([`TranscodeTarget::call_streaming`]).
    pub fn streams_requests(&self) -> bool {
        self.method.is_client_streaming()
    }

    /// The stream settings of a streaming method, and whether it streams
    /// its requests.
    pub(super) fn client_stream(&self) -> Option<&StreamSettings> {
        self.stream.as_ref().filter(|_| self.streams_requests())
    }

    /// Serves a client or bidirectional stream over HTTP: the body's
    /// messages sent as they arrive (src/transcode/stream/duplex.rs).
    pub async fn call_streaming(
        &self,
        request: StreamingRequest<'_>,
    ) -> Result<Response<ResponseBody>, TranscodeError> {
        let Some(settings) = self.client_stream() else {
            return Err(TranscodeError::Internal(format!(
                "{} reads no request stream",
                self.method.full_name()
            )));
        };
        stream::duplex::serve(self, settings, request).await
    }

    /// Answers a WebSocket upgrade on a client or bidirectional streaming
    /// binding: the `101` response and the session to run
    /// ([`TranscodeTarget::run_websocket`]) once the connection is taken over.
    pub fn accept_websocket(
        &self,
        request: WebSocketRequest<'_>,
    ) -> Result<(Response<ResponseBody>, WebSocketSession), TranscodeError> {
        let Some(settings) = self.client_stream() else {
            return Err(TranscodeError::Internal(format!(
                "{} reads no request stream",
                self.method.full_name()
            )));
        };
        stream::websocket::accept(self, settings, request)
    }

    /// Runs an accepted WebSocket session on the connection `upgrade` hands over.
    pub async fn run_websocket(&self, session: WebSocketSession, upgrade: hyper::upgrade::OnUpgrade) {
        if let Some(settings) = self.client_stream() {
            stream::websocket::run(self, settings, session, upgrade).await;
        }
    }

    /// Serves one request: a unary call's reply whole, a server stream's
    /// as it comes (src/transcode/stream/).
    pub async fn call(
        &self,
        request: TranscodeRequest<'_>,
    ) -> Result<Response<ResponseBody>, TranscodeError> {
        if self.streams_requests() {
            return Err(TranscodeError::Internal(format!(
                "{} reads a request stream",
                self.method.full_name()
            )));
        }
        let prepared = self.prepare(&request)?;
        if let Some(settings) = &self.stream {
            return stream::serve(self, settings, prepared, request.parts, request.context).await;
        }
        let (response, mut picked) =
            self.call_tries(prepared, |channel, call| self.invoke(channel, call)).await?;
        picked.ended_with(tonic::Code::Ok);
        picked.finish(Outcome::Success);
        Ok(response.map(full))
    }

    /// The deadline, the bound message and the metadata of a request.
    fn prepare(&self, request: &TranscodeRequest<'_>) -> Result<Prepared, TranscodeError> {
        let headers = &request.parts.headers;
        let client_timeout = metadata::client_timeout(headers)?;
        let budget = client_timeout.map_or(self.timeout, |client| client.min(self.timeout));
        // A deadline the client chose says nothing about the endpoint.
        let outcome = match client_timeout {
            Some(client) if client < self.timeout => Outcome::Ignored,
            _ if self.upstream.is_failure_code(tonic::Code::DeadlineExceeded) => Outcome::Failure,
            _ => Outcome::Success,
        };
        // The deadline runs from the request's arrival: reading and binding
        // the body count against it.
        let context = request.context;
        let deadline = Deadline { at: context.received_at() + budget, budget, outcome };
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        let message = self.binder.bind_wire(
            request.captures,
            request.parts.uri.query(),
            &request.body,
            content_type,
        )?;
        check_request_size(&self.upstream, message.encoded_len(), || "the request message".to_owned())?;
        let metadata = self.call_metadata(headers, context, request.host)?;
        Ok(Prepared { deadline, message, metadata, context: context.clone() })
    }

    /// The metadata a call sends: the forwarded headers, the request id and
    /// the trace context.
    pub(super) fn call_metadata(
        &self,
        headers: &HeaderMap,
        context: &RequestContext,
        host: Option<&str>,
    ) -> Result<MetadataMap, TranscodeError> {
        let mut metadata = self.metadata.request_metadata(headers, context.peer().ip(), host)?.into_headers();
        context.propagate(&mut metadata);
        Ok(MetadataMap::from_headers(metadata))
    }
}

/// Refuses a request message of `size` bytes (as protobuf) larger than
/// `upstream` takes (its `max_request_bytes`), before it is sent; `which`
/// names the message.
pub(in crate::transcode) fn check_request_size(
    upstream: &Upstream,
    size: usize,
    which: impl FnOnce() -> String,
) -> Result<(), TranscodeError> {
    let limit = upstream.max_request_bytes();
    if size <= limit {
        return Ok(());
    }
    Err(TranscodeError::RequestTooLarge { which: which(), size, limit, upstream: upstream.name().to_owned() })
}
