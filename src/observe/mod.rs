//! The per-request context and the observer that sees each request's named
//! phases, in the manner of pingora's `logging` phase.
//!
//! One [`RequestContext`] travels with each request from the server down to
//! the targets: the connection it came on (peer, local address, scheme,
//! the TLS session's `TlsInfo`), its arrival, its request id, its trace context and, once the
//! router decided, its route's id. The gateway's one [`Observer`] hears the
//! phases of every request ([`Phase`]) through it: received, route matched,
//! policy decided, upstream picked and finished (told by the upstream room
//! through [`crate::upstream::TryListener`]), response finished (when the
//! body has been sent or dropped, not when the handler returns) and, for
//! every stream (server, client, bidirectional, WebSocket, a tunnelled
//! upgrade), stream ended with its [`StreamSummary`].
//!
//! Metrics, the access log and spans hang off the observer; no other room
//! knows about them. A phase allocates nothing; the default observer
//! ([`TracingObserver`]) writes one `tracing` debug event per phase.

mod context;
mod finished;
mod log;
mod request_id;
mod sessions;
mod stream_summary;

use std::net::SocketAddr;

use http::{StatusCode, Uri, request::Parts};

pub use context::{Connection, RequestContext, Scheme, TraceContext};
pub use finished::observed_body;
pub use log::TracingObserver;
pub use request_id::X_REQUEST_ID;
pub use sessions::{ConnectionState, HeldSession, OpenStream};
pub use stream_summary::{StreamEnd, StreamFraming, StreamKind, StreamSummary};

use crate::upstream::Outcome;

/// Hears the phases of every request. Called on the request path: keep it
/// cheap, never block.
pub trait Observer: Send + Sync + 'static {
    /// One phase of the request whose context is `context`.
    fn on_phase(&self, context: &RequestContext, phase: Phase<'_>);
}

/// The named phases of a request, in the order they happen. A request
/// refused before a route matched sees only `RequestReceived` and
/// `ResponseFinished`; a call retried sees one `UpstreamPicked` /
/// `UpstreamFinished` pair per try.
#[derive(Debug, Clone, Copy)]
pub enum Phase<'a> {
    /// The request head arrived.
    RequestReceived {
        /// Its head.
        head: &'a Parts,
    },
    /// The router decided its route ([`RequestContext::route`] is set).
    RouteMatched {
        /// What kind of route.
        kind: RouteKind,
    },
    /// The route's policies admitted it, or refused it with `refused`.
    PolicyDecided {
        /// The refusal's status, `None` when admitted.
        refused: Option<StatusCode>,
    },
    /// A try of the call went to an endpoint.
    UpstreamPicked {
        /// The upstream's name.
        upstream: &'a str,
        /// The endpoint as configured.
        endpoint: &'a Uri,
        /// The address its connections go to.
        address: SocketAddr,
    },
    /// That try ended (for a streamed answer: when its body ended).
    UpstreamFinished {
        /// The upstream's name.
        upstream: &'a str,
        /// The endpoint as configured.
        endpoint: &'a Uri,
        /// The address its connections go to.
        address: SocketAddr,
        /// What it says about the endpoint.
        outcome: Outcome,
    },
    /// The response's body was sent whole, failed, or was dropped.
    ResponseFinished {
        /// The response's status.
        status: StatusCode,
        /// How its body ended.
        end: BodyEnd,
    },
    /// A stream ended: a server, client or bidirectional stream (over
    /// HTTP or WebSocket), or a tunnelled upgrade through a pass-through
    /// route; with its framing, message counts and end.
    StreamEnded(StreamSummary),
}

/// The kind of route a request matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteKind {
    /// A native gRPC call passed through.
    NativeGrpc,
    /// A CORS preflight, answered by the gateway.
    Preflight,
    /// A transcoded binding.
    Transcoded,
    /// A WebSocket stream on a transcoded (streaming) binding.
    WebSocket,
    /// A pass-through route.
    Proxied,
}

/// How a response body ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyEnd {
    /// Sent to its end.
    Complete,
    /// It failed while being sent.
    Failed,
    /// Dropped before its end (the client went away).
    Dropped,
}
