//! [`RequestContext`]: what the gateway knows about one request besides its
//! head, from its arrival to the end of its response; and [`Connection`],
//! what the server knows about the connection it came on. The context
//! hears the policy chain ([`PolicyListener`]) and the upstream's tries
//! ([`TryListener`]) for the observer, keeps their word in its
//! [`Record`], and tells the observer that the request ended when it is
//! dropped.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use http::{HeaderMap, HeaderName, HeaderValue, request::Parts};
use tonic::Code;

use super::{Observer, Phase, Record, TraceContext, X_REQUEST_ID, request_id, sessions::ConnectionState};
use crate::{
    policy::{PolicyListener, auth::Principal},
    tls_info::TlsInfo,
    upstream::{Outcome, Picked, TryListener},
};

const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// How the client reached the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Cleartext HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

/// The connection a request came on, as the server accepted it.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The client's address.
    pub peer: SocketAddr,
    /// The gateway's address it reached.
    pub local: Option<SocketAddr>,
    /// Cleartext or TLS.
    pub scheme: Scheme,
    /// The TLS session (version, SNI, ALPN, the verified client
    /// certificate), over TLS.
    pub tls: Option<Arc<TlsInfo>>,
    /// What its requests share: open streams, sessions, the drain signal.
    pub state: Arc<ConnectionState>,
}

impl Connection {
    /// A cleartext connection from `peer`.
    pub fn plain(peer: SocketAddr, local: Option<SocketAddr>) -> Self {
        Self { peer, local, scheme: Scheme::Http, tls: None, state: Arc::default() }
    }

    /// A connection from `peer` over the TLS session `tls`.
    pub fn tls(peer: SocketAddr, local: Option<SocketAddr>, tls: Arc<TlsInfo>) -> Self {
        Self { peer, local, scheme: Scheme::Https, tls: Some(tls), state: Arc::default() }
    }

    /// The same connection, its shared state `state` (the server's drain signal in it).
    pub fn with_state(self, state: ConnectionState) -> Self {
        Self { state: Arc::new(state), ..self }
    }
}

/// One request's context. Built by the gateway when the head arrives,
/// shared (`Arc`) once routed with the targets, the upstream's tries and
/// the response body, each of which reports its phases through it.
pub struct RequestContext {
    connection: Connection,
    received_at: Instant,
    request_id: HeaderValue,
    trace: TraceContext,
    route: Option<Arc<str>>,
    observer: Arc<dyn Observer>,
    record: Mutex<Record>,
    bytes_in: AtomicU64,
}

impl std::fmt::Debug for RequestContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestContext")
            .field("connection", &self.connection)
            .field("request_id", &self.request_id)
            .field("route", &self.route)
            .finish_non_exhaustive()
    }
}

impl RequestContext {
    /// The context of a request with head `head` that arrived now on
    /// `connection`, observed by `observer`.
    pub fn new(connection: Connection, head: &Parts, observer: Arc<dyn Observer>) -> Self {
        let trace = TraceContext::of(&head.headers, observer.samples_new_traces());
        Self {
            connection,
            received_at: Instant::now(),
            request_id: request_id::of(&head.headers),
            trace,
            route: None,
            observer,
            record: Mutex::new(Record::default()),
            bytes_in: AtomicU64::new(0),
        }
    }

    /// The client's address.
    pub fn peer(&self) -> SocketAddr {
        self.connection.peer
    }

    /// The connection the request came on.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// When the request arrived: deadlines and durations run from here.
    pub fn received_at(&self) -> Instant {
        self.received_at
    }

    /// The request id (the client's `X-Request-Id`, or a fresh one): sent to
    /// backends and returned on the response.
    pub fn request_id(&self) -> &HeaderValue {
        &self.request_id
    }

    /// The request's trace: the client's continued, or one the gateway started.
    pub fn trace(&self) -> &TraceContext {
        &self.trace
    }

    /// Puts what backends are told of the request into `headers` (request
    /// headers or gRPC metadata): its id, and its trace with the gateway's
    /// span as the parent (the client's `tracestate` passed on).
    pub fn propagate(&self, headers: &mut HeaderMap) {
        headers.insert(X_REQUEST_ID, self.request_id.clone());
        headers.insert(TRACEPARENT, self.trace.traceparent());
        match self.trace.tracestate() {
            Some(state) => headers.insert(TRACESTATE, state.clone()),
            None => headers.remove(TRACESTATE),
        };
    }

    /// The id of the route the router chose (a template, prefix or
    /// service), once it chose one.
    pub fn route(&self) -> Option<&str> {
        self.route.as_deref()
    }

    /// The same, shared.
    pub fn route_id(&self) -> Option<&Arc<str>> {
        self.route.as_ref()
    }

    /// Records the route the router chose.
    pub fn set_route(&mut self, id: &Arc<str>) {
        self.route = Some(id.clone());
    }

    /// Records the gRPC method a transcoded route calls.
    pub fn set_grpc_method(&mut self, path: &http::uri::PathAndQuery) {
        self.record_mut().grpc_method = Some(path.clone());
    }

    /// Records the gRPC code the answer carries (a status in its headers or
    /// trailers, a refusal's code).
    pub fn set_grpc_code(&self, code: Code) {
        self.record().grpc_code = Some(code);
    }

    /// Counts `bytes` more of request body read.
    pub fn count_bytes_in(&self, bytes: usize) {
        self.bytes_in.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Bytes of request body read so far.
    pub fn bytes_in(&self) -> u64 {
        self.bytes_in.load(Ordering::Relaxed)
    }

    /// What the phases established so far (held briefly: never across an
    /// await).
    pub fn record(&self) -> MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn record_mut(&mut self) -> &mut Record {
        self.record.get_mut().unwrap_or_else(PoisonError::into_inner)
    }

    /// Tells the observer of `phase`, after keeping its word in the record.
    pub fn observe(&self, phase: Phase<'_>) {
        self.record().note(&phase, self.received_at);
        self.observer.on_phase(self, phase);
    }
}

impl Drop for RequestContext {
    fn drop(&mut self) {
        self.observer.on_phase(self, Phase::RequestEnded);
    }
}

/// The policy chain tells what its named policies decided.
impl PolicyListener for RequestContext {
    fn rate_limit_decided(&self, policy: &Arc<str>, allowed: bool) {
        self.observe(Phase::RateLimitDecided { policy, allowed });
    }

    fn authenticated(&self, _policy: &Arc<str>, principal: &Principal) {
        let name = principal.consumer.as_ref().or(principal.subject.as_ref());
        self.record().principal = name.cloned();
    }

    fn authentication_failed(&self, policy: &Arc<str>, reason: &'static str) {
        self.observe(Phase::AuthenticationFailed { policy, reason });
    }

    fn in_flight_refused(&self, max: usize) {
        self.observe(Phase::InFlightRefused { max });
    }
}

/// The upstream room tells each try of the request's call.
impl TryListener for RequestContext {
    fn picked(&self, picked: &Picked) {
        let (upstream, endpoint, address) = (picked.upstream(), picked.uri(), picked.address());
        self.observe(Phase::UpstreamPicked { upstream, endpoint, address });
    }

    fn finished(&self, picked: &Picked, outcome: Outcome) {
        let (upstream, endpoint, address) = (picked.upstream(), picked.uri(), picked.address());
        let status = picked.status();
        self.observe(Phase::UpstreamFinished { upstream, endpoint, address, outcome, status });
    }
}
