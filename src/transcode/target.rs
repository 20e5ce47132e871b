//! The transcoding target of one binding: bind the request, call the method
//! on the upstream, render the reply.
//!
//! Everything a call needs was resolved when the route was compiled: the
//! gRPC path, the binder, the renderer, the codec, the upstream and whether
//! the method is idempotent. A failed try is sent again when the upstream's
//! retry policy allows it (src/upstream/retry.rs), on an endpoint picked
//! again, within the call's deadline.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode, header, uri::PathAndQuery};
use prost_reflect::{DescriptorPool, DynamicMessage, MethodDescriptor};
use tonic::{codec::CompressionEncoding, codec::Streaming, metadata::MetadataMap, transport::Channel};

use super::{
    bind::RequestBinder,
    codec::DynamicCodec,
    failure::{self, StatusArrival, UpstreamFailure},
    metadata::{self, MetadataRules, ReplyOverrides},
    outcome,
    render::{RenderError, ResponseRenderer},
    stream::{self, StreamSettings},
};
pub use super::{
    error::TranscodeError,
    parts::{TargetParts, TranscodeRequest},
};
use crate::{
    body::{ResponseBody, full},
    observe::RequestContext,
    upstream::{CallError, Outcome, Picked, Tried, TryError, TryFailure, Upstream, never_sent},
};

/// How tonic's message starts when a reply frame is over the decoding limit
/// (OUT_OF_RANGE), and when a gzip'd one grows over it (RESOURCE_EXHAUSTED).
const TONIC_TOO_LARGE: [(tonic::Code, &str); 2] = [
    (tonic::Code::OutOfRange, "Error, decoded message length too large"),
    (tonic::Code::ResourceExhausted, "Error decompressing: size limit"),
];

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

/// A request ready to be sent: its deadline, message and metadata.
pub(super) struct Prepared {
    deadline: Deadline,
    message: DynamicMessage,
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
    binder: RequestBinder,
    pub(super) renderer: ResponseRenderer,
    codec: DynamicCodec,
    pub(super) upstream: Arc<Upstream>,
    timeout: Duration,
    metadata: Arc<MetadataRules>,
    pub(super) pool: DescriptorPool,
    idempotent: bool,
    pub(super) success_status: StatusCode,
    streaming: bool,
    server_stream: Option<StreamSettings>,
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
            binder: parts.binder,
            renderer: parts.renderer,
            upstream: parts.upstream,
            timeout: parts.timeout,
            metadata: parts.metadata,
            idempotent: parts.idempotent,
            success_status: parts.success_status,
            streaming: parts.streaming,
            server_stream: parts.server_stream,
        }
    }

    /// The method called.
    pub fn method(&self) -> &MethodDescriptor {
        &self.method
    }

    /// Serves one request: a unary call's reply whole, a server stream's
    /// as it comes (src/transcode/stream/).
    pub async fn call(
        &self,
        request: TranscodeRequest<'_>,
    ) -> Result<Response<ResponseBody>, TranscodeError> {
        if self.streaming {
            return Err(TranscodeError::StreamingNotServed(self.method.full_name().to_owned()));
        }
        let prepared = self.prepare(&request)?;
        if let Some(settings) = &self.server_stream {
            return stream::serve(self, settings, prepared, request.parts).await;
        }
        let (response, picked) =
            self.call_tries(prepared, |channel, call| self.invoke(channel, call)).await?;
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
        let message =
            self.binder.bind(request.captures, request.parts.uri.query(), &request.body, content_type)?;
        let mut metadata =
            self.metadata.request_metadata(headers, context.peer().ip(), request.host)?.into_headers();
        context.propagate(&mut metadata);
        let metadata = MetadataMap::from_headers(metadata);
        Ok(Prepared { deadline, message, metadata, context: context.clone() })
    }

    /// Calls the method with the upstream's retries: `once` makes one try
    /// on an endpoint's channel (the request's `grpc-timeout` set to what is
    /// left of the deadline), within the deadline. The endpoint of the
    /// answer is returned for its outcome to be reported.
    pub(super) async fn call_tries<T, F, Fut>(
        &self,
        prepared: Prepared,
        once: F,
    ) -> Result<(T, Picked), TranscodeError>
    where
        F: Fn(Option<Channel>, tonic::Request<DynamicMessage>) -> Fut,
        Fut: Future<Output = Result<T, Failed>>,
    {
        let Prepared { deadline, message, metadata, context } = prepared;
        let mut call = Some((message, metadata));
        let answered = self
            .upstream
            .call_with_retries(self.idempotent, deadline.at, context.clone(), |picked, attempt| {
                // The request is kept (cloned) only while another try may follow.
                let call = if attempt.last { call.take() } else { call.clone() };
                let channel = picked.channel();
                let once = &once;
                async move {
                    let Some((message, metadata)) = call else {
                        let error = TranscodeError::Internal("a call was tried after its last try".into());
                        return Tried::Failed(Failed {
                            error,
                            outcome: Outcome::Ignored,
                            retry: TryFailure::Final,
                        });
                    };
                    let mut request = tonic::Request::new(message);
                    *request.metadata_mut() = metadata;
                    request.set_timeout(deadline.at.saturating_duration_since(Instant::now()));
                    match self.attempt(once(channel, request), deadline).await {
                        Ok(response) => Tried::Answer(response),
                        Err(failed) => Tried::Failed(failed),
                    }
                }
            })
            .await;
        match answered {
            Ok(answer) => Ok(answer),
            Err(CallError::Failed(error)) => Err(error),
            Err(CallError::Expired) => Err(TranscodeError::DeadlineExceeded(deadline.budget)),
            Err(CallError::Unavailable(unavailable)) => {
                Err(self.failed(tonic::Status::unavailable(unavailable.to_string()), None))
            }
        }
    }

    /// One try, within the deadline.
    async fn attempt<T>(
        &self,
        once: impl Future<Output = Result<T, Failed>>,
        deadline: Deadline,
    ) -> Result<T, Failed> {
        let expired = || Failed {
            error: TranscodeError::DeadlineExceeded(deadline.budget),
            outcome: deadline.outcome,
            retry: TryFailure::Final,
        };
        match tokio::time::timeout_at(deadline.at.into(), once).await {
            Ok(Ok(response)) => Ok(response),
            // tonic's channel enforces the grpc-timeout it sends, and reports
            // its own expiry as CANCELLED; a deadline that passed is a 504.
            Ok(Err(Failed { error: TranscodeError::Upstream(failure), .. }))
                if failure.code == tonic::Code::Cancelled && Instant::now() >= deadline.at =>
            {
                Err(expired())
            }
            // The backend gave up on the deadline it was sent.
            Ok(Err(Failed { error: TranscodeError::Upstream(failure), .. }))
                if failure.code == tonic::Code::DeadlineExceeded =>
            {
                Err(Failed {
                    error: TranscodeError::Upstream(failure),
                    outcome: deadline.outcome,
                    retry: TryFailure::Final,
                })
            }
            Ok(Err(failed)) => Err(failed),
            Err(_) => Err(expired()),
        }
    }

    /// Opens the call on `channel`: the reply's header metadata as
    /// `Grpc-Metadata-*` headers, what the backend chose for the HTTP
    /// answer, and the reply stream.
    pub(super) async fn open(
        &self,
        channel: Option<Channel>,
        call: tonic::Request<DynamicMessage>,
    ) -> Result<(HeaderMap, ReplyOverrides, Streaming<DynamicMessage>), Failed> {
        // Compile gives transcoded routes gRPC upstreams only.
        let channel = channel.ok_or_else(|| Failed {
            error: TranscodeError::Internal("a transcoded route has an HTTP upstream".into()),
            outcome: Outcome::Ignored,
            retry: TryFailure::Final,
        })?;
        let mut grpc =
            tonic::client::Grpc::new(channel).max_decoding_message_size(self.upstream.max_response_bytes());
        if self.upstream.gzip() {
            grpc =
                grpc.send_compressed(CompressionEncoding::Gzip).accept_compressed(CompressionEncoding::Gzip);
        }
        // A channel that cannot take requests never sent this one.
        grpc.ready().await.map_err(|e| Failed {
            error: self.failed(tonic::Status::unavailable(e.to_string()), None),
            outcome: Outcome::ConnectFailure,
            retry: TryFailure::NotSent,
        })?;
        // A unary method is called as server-streaming too: the same frames
        // on the wire, but headers and trailers stay apart.
        let reply = grpc
            .server_streaming(call, self.path.clone(), self.codec.clone())
            .await
            .map_err(|status| self.call_failed(status, None))?;
        let (header_metadata, stream, _) = reply.into_parts();
        let mut reply_metadata = header_metadata.into_headers();
        let overrides = metadata::take_reply_overrides(&mut reply_metadata, self.method.full_name());
        let mut headers = HeaderMap::new();
        metadata::add_header_metadata(
            tonic::metadata::MetadataMap::from_headers(reply_metadata),
            &mut headers,
        );
        Ok((headers, overrides, stream))
    }

    /// One try of a unary call: its one reply, rendered.
    async fn invoke(
        &self,
        channel: Option<Channel>,
        call: tonic::Request<DynamicMessage>,
    ) -> Result<Response<Bytes>, Failed> {
        let (mut headers, overrides, mut stream) = self.open(channel, call).await?;
        let message = match stream.message().await {
            Ok(Some(message)) => message,
            // The endpoint answered, if not by the protocol.
            Ok(None) => {
                let (error, outcome, retry) = (TranscodeError::NoReply, Outcome::Success, TryFailure::Final);
                return Err(Failed { error, outcome, retry });
            }
            Err(status) => return Err(self.call_failed(status, Some(headers))),
        };
        // A status after the reply still fails the call.
        match stream.trailers().await {
            Ok(Some(trailers)) => metadata::add_trailer_metadata(trailers, &mut headers),
            Ok(None) => {}
            Err(status) => return Err(self.call_failed(status, Some(headers))),
        }
        let status = overrides.status.unwrap_or(self.success_status);
        headers.extend(overrides.headers);
        // A status whose response has no content gets no body.
        if matches!(status, StatusCode::NO_CONTENT | StatusCode::NOT_MODIFIED) {
            let mut response = Response::new(Bytes::new());
            *response.status_mut() = status;
            *response.headers_mut() = headers;
            return Ok(response);
        }
        let rendered = self.renderer.render(&message)?;
        headers.insert(header::CONTENT_TYPE, rendered.content_type);
        let mut response = Response::new(rendered.body);
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        Ok(response)
    }

    /// A failed call, with what its status says about the endpoint.
    pub(super) fn call_failed(&self, status: tonic::Status, reply_headers: Option<HeaderMap>) -> Failed {
        let outcome = outcome::of_status(&status, &self.upstream);
        let retry = TryFailure::of(outcome, never_sent(&status));
        // hyper cancels the requests of a connection that closes under them,
        // and tonic calls that CANCELLED; but no client cancelled anything:
        // the backend went away. A connection that failed otherwise (a TLS
        // alert after the handshake) is UNKNOWN to tonic: unavailable too.
        // A backend refusing with an HTTP status is named by it.
        let status = if let Some(refusal) = failure::http_refusal(&status) {
            refusal
        } else {
            match status.code() {
                // Told to the client as `Unreachable`; the causes go to the log.
                _ if outcome == Outcome::ConnectFailure => {
                    tonic::Status::unavailable(outcome::causes(&status))
                }
                tonic::Code::Cancelled if outcome::is_transport_error(&status) => tonic::Status::unavailable(
                    format!("the connection to the backend closed: {}", status.message()),
                ),
                tonic::Code::Unknown if outcome::is_transport_error(&status) => tonic::Status::unavailable(
                    format!("the connection to the backend failed: {}", outcome::causes(&status)),
                ),
                _ => status,
            }
        };
        Failed { error: self.failed(status, reply_headers), outcome, retry }
    }

    /// A failed call. `reply_headers` are the `Grpc-Metadata-*` headers of a
    /// reply whose status came in trailers after them; without them, the
    /// status came alone (a trailers-only response, or no response at all).
    pub(super) fn failed(&self, status: tonic::Status, reply_headers: Option<HeaderMap>) -> TranscodeError {
        failure_of(status, &self.upstream, &self.pool, reply_headers)
    }
}

/// A failed call's error, its details expanded against `pool`; see
/// [`TranscodeTarget::failed`].
pub(super) fn failure_of(
    status: tonic::Status,
    upstream: &Upstream,
    pool: &DescriptorPool,
    reply_headers: Option<HeaderMap>,
) -> TranscodeError {
    // tonic refuses an oversized frame before reading it (or while
    // inflating it), with a status of its own; it is the backend's
    // fault, not the client's.
    if TONIC_TOO_LARGE
        .iter()
        .any(|(code, start)| status.code() == *code && status.message().starts_with(start))
    {
        return TranscodeError::ReplyTooLarge {
            upstream: upstream.name().to_owned(),
            limit: upstream.max_response_bytes(),
        };
    }
    let failure = match reply_headers {
        None => UpstreamFailure::from_status(status, pool, StatusArrival::Alone),
        Some(headers) => {
            let mut failure = UpstreamFailure::from_status(status, pool, StatusArrival::InTrailers);
            failure.headers.extend(headers);
            failure
        }
    };
    TranscodeError::Upstream(Box::new(failure))
}
