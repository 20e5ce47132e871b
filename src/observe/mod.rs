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
//! body has been sent or dropped, not when the handler returns) and, for a
//! tunnelled upgrade, stream ended; and, when the last holder of the
//! context lets it go, request ended. The context keeps a [`Record`] of
//! what the phases said, for observers that report on the request whole.
//!
//! Metrics ([`metrics`]), the access log ([`access_log`]) and spans hang off the observer;
//! no other room knows about them. A phase allocates nothing; the default
//! observer ([`TracingObserver`]) writes one `tracing` debug event per
//! phase, and [`Observers`] hands each phase to several.

pub mod access_log;
mod context;
mod counted;
mod fanout;
mod finished;
mod log;
pub mod metrics;
#[cfg(feature = "otlp")]
pub mod otlp;
mod random;
mod record;
mod request_id;
mod sessions;
mod settings;
mod trace;

use std::{net::SocketAddr, sync::Arc};

use http::{StatusCode, Uri, request::Parts};
use tonic::Code;

pub use context::{Connection, RequestContext, Scheme};
pub use counted::{Counted, counted};
pub use fanout::Observers;
pub use finished::observed;
pub use log::TracingObserver;
pub use record::{Record, UpstreamTry};
pub use request_id::X_REQUEST_ID;
pub use sessions::{ConnectionState, HeldSession, OpenStream};
pub use settings::{AccessLogSettings, ObserveSettings, OtlpSettings};
pub use trace::TraceContext;

use crate::upstream::Outcome;

/// Hears the phases of every request. Called on the request path: keep it
/// cheap, never block.
pub trait Observer: Send + Sync + 'static {
    /// One phase of the request whose context is `context`.
    fn on_phase(&self, context: &RequestContext, phase: Phase<'_>);

    /// Whether a trace the gateway starts (no `traceparent` came) is
    /// sampled: true for an observer that exports spans.
    fn samples_new_traces(&self) -> bool {
        false
    }
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
    /// A named rate limit of the route's chain decided.
    RateLimitDecided {
        /// The policy's name.
        policy: &'a Arc<str>,
        /// Whether it let the request through.
        allowed: bool,
    },
    /// A named authentication policy refused the request's credential.
    AuthenticationFailed {
        /// The policy's name.
        policy: &'a Arc<str>,
        /// Why: `missing`, `invalid`, `forbidden` or `unavailable`.
        reason: &'static str,
    },
    /// The route had `max` requests in flight already: this one is
    /// refused (before `PolicyDecided`).
    InFlightRefused {
        /// The route's `max_in_flight`.
        max: usize,
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
        /// The gRPC status it ended with, if it had one ([`Picked::status`]).
        status: Option<Code>,
    },
    /// The response's body was sent whole, failed, or was dropped.
    ResponseFinished {
        /// The response's status.
        status: StatusCode,
        /// How its body ended.
        end: BodyEnd,
        /// The bytes of body sent.
        bytes: u64,
    },
    /// A stream ended: a server or bidirectional stream's answer over HTTP
    /// (before its response finished), a client stream's reply, a
    /// WebSocket stream (after its `101` finished).
    StreamFinished {
        /// How it went.
        report: StreamReport,
    },
    /// A tunnelled upgrade (a WebSocket through a pass-through route) closed.
    StreamEnded,
    /// The last holder of the request's context let it go: everything
    /// about the request is in its [`Record`].
    RequestEnded,
}

/// How a stream went, as its answer's body (or, for a client stream's
/// reply and a WebSocket, its permit) tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamReport {
    /// The framing: `ndjson`, `sse`, `json_array`, `raw`, `json` (a client
    /// stream's reply over HTTP) or `websocket`.
    pub framing: &'static str,
    /// The messages the backend sent (and the gateway passed on).
    pub messages: u64,
    /// The messages of the client's request stream that the gateway bound
    /// (`None` when the request was one message: a server stream).
    pub received: Option<u64>,
    /// How it ended: `complete`, `error`, `request_error` (a bidirectional
    /// stream's request side failed), `idle_timeout`, `max_duration`,
    /// `client_gone`, `drained` (a WebSocket the gateway's drain closed).
    pub end: &'static str,
}

/// The kind of route a request matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteKind {
    /// A native gRPC call passed through.
    NativeGrpc,
    /// A gRPC-Web call, translated to a native gRPC one.
    GrpcWeb,
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
