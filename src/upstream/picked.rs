//! [`Picked`]: the endpoint chosen for one call. It counts in the
//! endpoint's calls in flight and holds the breaker's admission until the
//! call's outcome is reported to outlier detection and the breaker, and to
//! the call's [`TryListener`] if it has one, with the gRPC status the try
//! ended with when it had one.

use std::{net::SocketAddr, sync::Arc, time::Instant};

use http::{HeaderValue, Uri};
use tonic::Code;

use super::{Endpoint, GrpcChannel, Outcome, Pool, Unreachable, breaker::Permit, endpoint::InFlight};

/// Hears the tries of one call: which endpoint each went to, and how it
/// ended. This room does not know who listens (the request's context).
pub trait TryListener: Send + Sync {
    /// A try goes to `picked`.
    fn picked(&self, picked: &Picked);
    /// The try on `picked` ended so (a dropped `Picked`: `Ignored`).
    fn finished(&self, picked: &Picked, outcome: Outcome);
}

/// An endpoint chosen for one call, counted in its in-flight calls until
/// dropped. Dropping it without [`Picked::finish`] counts as
/// [`Outcome::Ignored`].
///
/// It holds the endpoint itself: if a DNS refresh removes the endpoint
/// from its upstream meanwhile, the call and its outcome still go to it.
#[derive(Debug)]
pub struct Picked {
    pool: Arc<Pool>,
    in_flight: InFlight,
    permit: Permit,
    reported: bool,
    status: Option<Code>,
    listener: Option<Arc<dyn TryListener>>,
}

impl std::fmt::Debug for dyn TryListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TryListener")
    }
}

impl Picked {
    pub(super) fn new(pool: Arc<Pool>, in_flight: InFlight, permit: Permit) -> Self {
        Self { pool, in_flight, permit, reported: false, status: None, listener: None }
    }

    /// Tells `listener` of this try, now and when it ends.
    pub(super) fn listened_by(&mut self, listener: Arc<dyn TryListener>) {
        listener.picked(self);
        self.listener = Some(listener);
    }

    /// Notes the gRPC status this try ended with: the backend's, or the
    /// gateway's own when it ended the call (a deadline, a stream's limit, a
    /// drain); told with its outcome. A try without one (an HTTP
    /// pass-through's, one the client abandoned) reports none.
    pub fn ended_with(&mut self, code: Code) {
        self.status = Some(code);
    }

    /// The gRPC status this try ended with, once noted.
    pub fn status(&self) -> Option<Code> {
        self.status
    }

    /// The upstream's name.
    pub fn upstream(&self) -> &str {
        &self.pool.name
    }

    /// The endpoint itself, for a try that outlives this borrow.
    pub fn endpoint(&self) -> &Arc<Endpoint> {
        self.in_flight.endpoint()
    }

    /// The endpoint's gRPC channel (`None` for an HTTP upstream).
    pub fn channel(&self) -> Option<GrpcChannel> {
        self.in_flight.endpoint().channel().cloned()
    }

    /// The endpoint's URI as configured (with its host name, if it has one).
    pub fn uri(&self) -> &Uri {
        self.in_flight.endpoint().uri()
    }

    /// The socket address the endpoint's connections go to.
    pub fn address(&self) -> SocketAddr {
        self.in_flight.endpoint().address()
    }

    /// The URI to connect to: [`Picked::uri`] for an IP literal, the
    /// resolved address for a host name.
    pub fn connect_uri(&self) -> &Uri {
        self.in_flight.endpoint().connect_uri()
    }

    /// For an endpoint resolved from a host name, the configured
    /// `host:port` as a `Host` header (connections go to the address);
    /// `None` for an IP literal.
    pub fn host_header(&self) -> Option<&HeaderValue> {
        self.in_flight.endpoint().host_header()
    }

    /// Reports a connection to this endpoint that could not be opened
    /// (`cause` says why): a [`Outcome::ConnectFailure`], a warning naming
    /// the upstream and the endpoint (at most one a second per upstream),
    /// and the error the client is told.
    pub fn unreachable(self, cause: &dyn std::fmt::Display) -> Unreachable {
        let now = Instant::now();
        if let Some(suppressed) = self.pool.unreachable_log.allow(now) {
            tracing::warn!(
                upstream = %self.pool.name,
                endpoint = %self.uri(),
                address = %self.address(),
                error = %cause,
                similar_warnings_left_out = suppressed,
                "upstream is unreachable"
            );
        }
        let upstream = self.pool.name.clone();
        self.finish_at(Outcome::ConnectFailure, now);
        Unreachable { upstream }
    }

    /// Reports how the call went, to outlier detection and the breaker.
    pub fn finish(self, outcome: Outcome) {
        self.finish_at(outcome, Instant::now());
    }

    pub(super) fn finish_at(mut self, outcome: Outcome, now: Instant) {
        self.report(outcome, now);
    }

    fn report(&mut self, outcome: Outcome, now: Instant) {
        self.reported = true;
        let endpoints = self.pool.endpoints.load();
        self.pool.outlier.record(&endpoints, self.in_flight.endpoint(), outcome, now);
        self.pool.breaker.record(self.permit, outcome, now);
        if let Some(listener) = self.listener.take() {
            listener.finished(self, outcome);
        }
    }
}

impl Drop for Picked {
    fn drop(&mut self) {
        if !self.reported {
            self.report(Outcome::Ignored, Instant::now());
        }
    }
}
