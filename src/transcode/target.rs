//! The transcoding target of one binding: bind the request, call the method
//! on the upstream, render the reply.
//!
//! Everything a call needs was resolved when the route was compiled: the
//! gRPC path, the binder, the renderer, the codec and the upstream.

use std::{
    net::IpAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode, header, request::Parts, uri::PathAndQuery};
use prost_reflect::{DescriptorPool, MethodDescriptor};

use super::{
    bind::{BindError, BindFailure, RequestBinder},
    codec::DynamicCodec,
    failure::{StatusArrival, UpstreamFailure},
    metadata::{self, InvalidTimeout, MetadataRules},
    outcome,
    render::{RenderError, ResponseRenderer},
};
use crate::upstream::{Outcome, Picked, Upstream};

/// How tonic's message starts when a reply frame is over the decoding limit.
const TONIC_TOO_LARGE: &str = "Error, decoded message length too large";

/// Why a transcoded call failed.
#[derive(Debug, thiserror::Error)]
pub enum TranscodeError {
    /// The request does not fit the method's input.
    #[error(transparent)]
    Bind(#[from] BindError),
    /// A malformed `Grpc-Timeout` header.
    #[error(transparent)]
    Timeout(#[from] InvalidTimeout),
    /// The deadline passed before the backend replied.
    #[error("the backend did not reply within {0:?}")]
    DeadlineExceeded(Duration),
    /// The backend answered with an error status (or could not be reached).
    #[error("{}", .0.message)]
    Upstream(Box<UpstreamFailure>),
    /// The backend ended the call without a reply.
    #[error("the backend ended the call without a reply")]
    NoReply,
    /// The reply is larger than the upstream accepts.
    #[error(
        "the backend's reply is larger than the limit of {limit} bytes (max_response_bytes of upstream {upstream:?})"
    )]
    ReplyTooLarge {
        /// The upstream's name.
        upstream: String,
        /// Its `max_response_bytes`.
        limit: usize,
    },
    /// The reply could not be rendered.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The gateway's own binding does not fit the method's input (a bug).
    #[error("{0}")]
    Internal(String),
}

/// A failed call, and what it says about the endpoint.
struct Failed {
    error: TranscodeError,
    outcome: Outcome,
}

impl From<RenderError> for Failed {
    /// The endpoint answered; the gateway could not render the answer.
    fn from(error: RenderError) -> Self {
        Self { error: error.into(), outcome: Outcome::Success }
    }
}

impl From<BindFailure> for TranscodeError {
    fn from(failure: BindFailure) -> Self {
        match failure {
            BindFailure::Invalid(error) => Self::Bind(error),
            BindFailure::Internal(_) => Self::Internal(failure.to_string()),
        }
    }
}

/// One compiled transcoding target.
#[derive(Debug)]
pub struct TranscodeTarget {
    method: MethodDescriptor,
    path: PathAndQuery,
    binder: RequestBinder,
    renderer: ResponseRenderer,
    codec: DynamicCodec,
    upstream: Arc<Upstream>,
    timeout: Duration,
    metadata: Arc<MetadataRules>,
    pool: DescriptorPool,
}

/// What the gateway hands a target: the request head, the router's
/// captures, the whole body and the client's address.
#[derive(Debug)]
pub struct TranscodeRequest<'a> {
    /// Method, URI and headers.
    pub parts: &'a Parts,
    /// The path variables, in template order.
    pub captures: &'a [String],
    /// The request body.
    pub body: Bytes,
    /// The client's address.
    pub peer: IpAddr,
    /// When the request arrived: its deadline runs from here.
    pub received_at: Instant,
}

/// How one target is wired, for [`TranscodeTarget::new`].
#[derive(Debug)]
pub struct TargetParts {
    /// The method called.
    pub method: MethodDescriptor,
    /// The compiled request binding.
    pub binder: RequestBinder,
    /// The compiled reply rendering.
    pub renderer: ResponseRenderer,
    /// The upstream called.
    pub upstream: Arc<Upstream>,
    /// The route's deadline (a client's `Grpc-Timeout` may shorten it).
    pub timeout: Duration,
    /// Which headers become metadata.
    pub metadata: Arc<MetadataRules>,
}

impl TranscodeTarget {
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
        }
    }

    /// The method called.
    pub fn method(&self) -> &MethodDescriptor {
        &self.method
    }

    /// Serves one request.
    pub async fn call(&self, request: TranscodeRequest<'_>) -> Result<Response<Bytes>, TranscodeError> {
        let headers = &request.parts.headers;
        let client_timeout = metadata::client_timeout(headers)?;
        let budget = client_timeout.map_or(self.timeout, |client| client.min(self.timeout));
        // A deadline the client chose says nothing about the endpoint.
        let deadline_outcome = match client_timeout {
            Some(client) if client < self.timeout => Outcome::Ignored,
            _ if self.upstream.is_failure_code(tonic::Code::DeadlineExceeded) => Outcome::Failure,
            _ => Outcome::Success,
        };
        // The deadline runs from the request's arrival: reading and binding
        // the body count against it.
        let deadline = request.received_at + budget;
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        let message =
            self.binder.bind(request.captures, request.parts.uri.query(), &request.body, content_type)?;
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| request.parts.uri.authority().map(|a| a.as_str()));
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(TranscodeError::DeadlineExceeded(budget));
        }
        let mut call = tonic::Request::new(message);
        *call.metadata_mut() = self.metadata.request_metadata(headers, request.peer, host);
        call.set_timeout(remaining);

        let picked = self
            .upstream
            .pick()
            .map_err(|unavailable| self.failed(tonic::Status::unavailable(unavailable.to_string()), None))?;
        // Dropped with this future when the client goes away: Ignored.
        let (result, outcome) =
            match tokio::time::timeout_at(deadline.into(), self.invoke(&picked, call)).await {
                Ok(Ok(response)) => (Ok(response), Outcome::Success),
                // tonic's channel enforces the grpc-timeout it sends, and reports
                // its own expiry as CANCELLED; a deadline that passed is a 504.
                Ok(Err(Failed { error: TranscodeError::Upstream(failure), .. }))
                    if failure.code == tonic::Code::Cancelled && Instant::now() >= deadline =>
                {
                    (Err(TranscodeError::DeadlineExceeded(budget)), deadline_outcome)
                }
                // The backend gave up on the deadline it was sent.
                Ok(Err(Failed { error: TranscodeError::Upstream(failure), .. }))
                    if failure.code == tonic::Code::DeadlineExceeded =>
                {
                    (Err(TranscodeError::Upstream(failure)), deadline_outcome)
                }
                Ok(Err(Failed { error, outcome })) => (Err(error), outcome),
                Err(_) => (Err(TranscodeError::DeadlineExceeded(budget)), deadline_outcome),
            };
        picked.finish(outcome);
        result
    }

    async fn invoke(
        &self,
        picked: &Picked,
        call: tonic::Request<prost_reflect::DynamicMessage>,
    ) -> Result<Response<Bytes>, Failed> {
        // Compile gives transcoded routes gRPC upstreams only.
        let channel = picked.channel().ok_or_else(|| Failed {
            error: TranscodeError::Internal("a transcoded route has an HTTP upstream".into()),
            outcome: Outcome::Ignored,
        })?;
        let mut grpc =
            tonic::client::Grpc::new(channel).max_decoding_message_size(self.upstream.max_response_bytes());
        // A channel that cannot take requests never sent this one.
        grpc.ready().await.map_err(|e| Failed {
            error: self.failed(tonic::Status::unavailable(e.to_string()), None),
            outcome: Outcome::ConnectFailure,
        })?;
        // A unary method called as server-streaming: the same frames on the
        // wire, but headers and trailers stay apart.
        let reply = grpc
            .server_streaming(call, self.path.clone(), self.codec.clone())
            .await
            .map_err(|status| self.call_failed(status, None))?;
        let (header_metadata, mut stream, _) = reply.into_parts();
        let mut headers = HeaderMap::new();
        metadata::add_header_metadata(header_metadata, &mut headers);
        let message = match stream.message().await {
            Ok(Some(message)) => message,
            // The endpoint answered, if not by the protocol.
            Ok(None) => return Err(Failed { error: TranscodeError::NoReply, outcome: Outcome::Success }),
            Err(status) => return Err(self.call_failed(status, Some(headers))),
        };
        // A status after the reply still fails the call.
        match stream.trailers().await {
            Ok(Some(trailers)) => metadata::add_trailer_metadata(trailers, &mut headers),
            Ok(None) => {}
            Err(status) => return Err(self.call_failed(status, Some(headers))),
        }
        let rendered = self.renderer.render(&message)?;
        headers.insert(header::CONTENT_TYPE, rendered.content_type);
        let mut response = Response::new(rendered.body);
        *response.status_mut() = StatusCode::OK;
        *response.headers_mut() = headers;
        Ok(response)
    }

    /// A failed call, with what its status says about the endpoint.
    fn call_failed(&self, status: tonic::Status, reply_headers: Option<HeaderMap>) -> Failed {
        let outcome = outcome::of_status(&status, &self.upstream);
        // hyper cancels the requests of a connection that closes under them,
        // and tonic calls that CANCELLED; but no client cancelled anything:
        // the backend went away.
        let status = if status.code() == tonic::Code::Cancelled && outcome::is_transport_error(&status) {
            tonic::Status::unavailable(format!("the connection to the backend closed: {}", status.message()))
        } else {
            status
        };
        Failed { error: self.failed(status, reply_headers), outcome }
    }

    /// A failed call. `reply_headers` are the `Grpc-Metadata-*` headers of a
    /// reply whose status came in trailers after them; without them, the
    /// status came alone (a trailers-only response, or no response at all).
    fn failed(&self, status: tonic::Status, reply_headers: Option<HeaderMap>) -> TranscodeError {
        // tonic refuses an oversized frame before reading it, with a status
        // of its own; it is the backend's fault, not the client's.
        if status.code() == tonic::Code::OutOfRange && status.message().starts_with(TONIC_TOO_LARGE) {
            return TranscodeError::ReplyTooLarge {
                upstream: self.upstream.name().to_owned(),
                limit: self.upstream.max_response_bytes(),
            };
        }
        let failure = match reply_headers {
            None => UpstreamFailure::from_status(status, &self.pool, StatusArrival::Alone),
            Some(headers) => {
                let mut failure = UpstreamFailure::from_status(status, &self.pool, StatusArrival::InTrailers);
                failure.headers.extend(headers);
                failure
            }
        };
        TranscodeError::Upstream(Box::new(failure))
    }
}
