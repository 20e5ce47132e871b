//! Upstreams: the named groups of backend endpoints that targets call, and
//! everything that decides which endpoint gets a call.
//!
//! Each endpoint of a gRPC upstream has one HTTP/2 connection
//! ([`GrpcChannel`], src/upstream/connection/: hyper's client connection,
//! called without a buffer task), its channel created once at compile
//! time, connected on first use, opened again when it closed, and shared
//! by every request. A target makes its
//! call through [`Upstream::call_with_retries`] (src/upstream/call.rs), the
//! one retry loop: it picks an endpoint per try, reports how each failed
//! try went, and tries again when src/upstream/retry.rs allows it, within
//! the upstream's retry budget; the target reports the answer's outcome
//! with [`Picked::finish`]. Balancing, health, outlier ejection and the
//! circuit breaker live behind those calls.
//!
//! Targets never learn how an endpoint was chosen.
//!
//! An endpoint URI with a host name stands for every address the name
//! resolves to, resolved when the upstream is built and again every
//! `dns_refresh` ([`resolve`], [`members`]); the pool's list of endpoints is
//! swapped whole when it changes, while calls are in flight.

mod balance;
mod breaker;
mod call;
mod connection;
mod endpoint;
mod failure;
mod health;
mod members;
mod outlier;
mod picked;
mod resolve;
mod retry;
mod settings;
mod snapshot;
mod tls;
mod unreachable;

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Instant,
};

use arc_swap::ArcSwap;

pub use balance::Balancing;
pub use breaker::{BreakerSettings, BreakerState};
pub use call::{Attempt, CallError, Tried, TryError, TryStatus};
pub use connection::{GrpcChannel, GrpcConnection};
pub use endpoint::{Endpoint, EndpointState};
pub use failure::{FailureCodes, code_name, code_named, code_names};
pub use health::{HealthCheckKind, HealthCheckSettings};
pub use outlier::OutlierSettings;
pub use picked::{Picked, TryListener};
pub use retry::{RetrySettings, TryFailure, is_idempotent_method, never_sent};
pub use settings::{UpstreamError, UpstreamProtocol, UpstreamSettings, endpoint_uri};
pub use snapshot::{EndpointSnapshot, UpstreamSnapshot};
pub use tls::{ClientIdentity, TlsConfigError, TlsSettings, client_config};
use unreachable::LogLimiter;
pub use unreachable::Unreachable;

use crate::task::TaskGuard;
use balance::Balancer;
use breaker::Breaker;
use endpoint::InFlight;
use members::Membership;
use outlier::OutlierDetector;
use retry::RetryPolicy;

/// An upstream that cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// It has no endpoint.
    #[error("no endpoints")]
    NoEndpoints,
    /// An endpoint cannot be used.
    #[error(transparent)]
    Endpoint(#[from] UpstreamError),
    /// The TLS settings cannot be used (a file that cannot be read, a
    /// malformed certificate or key).
    #[error(transparent)]
    Tls(#[from] TlsConfigError),
}

/// No endpoint can take a call now: a 503 UNAVAILABLE at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    /// Every endpoint is unhealthy or ejected (or a host name has no
    /// addresses yet).
    #[error("upstream {upstream:?} has no healthy endpoint")]
    NoHealthyEndpoint {
        /// The upstream's name.
        upstream: String,
    },
    /// The circuit breaker is open.
    #[error("upstream {upstream:?} is failing: its circuit breaker is open")]
    BreakerOpen {
        /// The upstream's name.
        upstream: String,
    },
}

/// How a call on a picked endpoint went, for the breaker and outlier detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The endpoint answered, and not with a failure.
    Success,
    /// The endpoint failed (a failure code, a 5xx, a reset, a timeout it caused).
    Failure,
    /// The connection could not be opened: the request never reached the endpoint.
    ConnectFailure,
    /// Says nothing about the endpoint (the client went away, or its own short deadline passed).
    Ignored,
}

/// A named group of endpoints.
#[derive(Debug)]
pub struct Upstream {
    pool: Arc<Pool>,
    max_response_bytes: usize,
    max_request_bytes: usize,
    gzip: bool,
    /// TLS towards its `https://` endpoints, for clients built outside this room.
    tls: Option<TlsSettings>,
    /// Stops the re-resolution of host names when the upstream is dropped.
    _resolver: Option<TaskGuard>,
    /// The endpoints with their health checks, stopped when the last owner
    /// (this, or the resolution task) lets go.
    _members: Arc<Mutex<Membership>>,
}

/// What picks and outcomes share: the endpoints and everything that
/// decides which one gets a call.
#[derive(Debug)]
struct Pool {
    name: String,
    /// The current endpoints, in config order; replaced whole by a DNS refresh.
    endpoints: ArcSwap<Vec<Arc<Endpoint>>>,
    balancer: Balancer,
    outlier: OutlierDetector,
    breaker: Breaker,
    failure_codes: FailureCodes,
    retry: RetryPolicy,
    /// Warnings of endpoints that cannot be reached, rate-limited.
    unreachable_log: LogLimiter,
}

impl Upstream {
    /// Prepares every endpoint (reading TLS files) and starts their health
    /// checks, if any; only the checks connect before the first call. Host
    /// names are resolved now (waiting a moment at most; a name without
    /// addresses yet gives no endpoints until a refresh finds some) and
    /// every `dns_refresh` after. Must run inside a Tokio runtime.
    pub fn new(name: &str, settings: &UpstreamSettings) -> Result<Self, BuildError> {
        if settings.endpoints.is_empty() {
            return Err(BuildError::NoEndpoints);
        }
        // gRPC over TLS trusts the system's roots without settings; they
        // are loaded only when an endpoint is `https://`.
        let https = settings.endpoints.iter().any(|uri| uri.scheme_str() == Some("https"));
        let tls = match settings.protocol {
            UpstreamProtocol::Grpc if https => {
                Some(connection::offering_h2(client_config(Some(&settings.tls.clone().unwrap_or_default()))?))
            }
            _ => None,
        };
        let pool = Arc::new(Pool {
            name: name.to_owned(),
            endpoints: ArcSwap::default(),
            balancer: Balancer::new(settings.balancing),
            outlier: OutlierDetector::new(settings.outlier),
            breaker: Breaker::new(settings.breaker),
            failure_codes: settings.failure_codes,
            retry: RetryPolicy::new(settings.retry),
            unreachable_log: LogLimiter::new(std::time::Instant::now()),
        });
        let mut members = Membership::new(pool.clone(), settings, tls)?;
        let names = members.names();
        for (name, result) in names.iter().zip(resolve::resolve_now(&names)) {
            members.resolved(name.group, result, settings.dns_refresh);
        }
        let members = Arc::new(Mutex::new(members));
        let resolver =
            (!names.is_empty()).then(|| resolve::start(members.clone(), names, settings.dns_refresh));
        Ok(Self {
            pool,
            max_response_bytes: settings.max_response_bytes,
            max_request_bytes: settings.max_request_bytes,
            gzip: settings.gzip,
            tls: settings.tls.clone(),
            _resolver: resolver,
            _members: members,
        })
    }

    /// TLS towards its `https://` endpoints, as configured.
    pub fn tls(&self) -> Option<&TlsSettings> {
        self.tls.as_ref()
    }

    /// The upstream's name in the config.
    pub fn name(&self) -> &str {
        &self.pool.name
    }

    /// The largest reply message accepted from it.
    pub fn max_response_bytes(&self) -> usize {
        self.max_response_bytes
    }

    /// The largest request message sent to it (gRPC, as protobuf).
    pub fn max_request_bytes(&self) -> usize {
        self.max_request_bytes
    }

    /// gRPC: whether calls use gzip both ways (requests sent and replies accepted gzip'd).
    pub fn gzip(&self) -> bool {
        self.gzip
    }

    /// The current endpoints, in config order (a host name's in address order).
    pub fn endpoints(&self) -> Arc<Vec<Arc<Endpoint>>> {
        self.pool.endpoints.load_full()
    }

    /// Whether any endpoint is healthy (for readiness).
    pub fn has_healthy_endpoint(&self) -> bool {
        self.pool.endpoints.load().iter().any(|endpoint| endpoint.state().is_healthy())
    }

    /// Whether a gRPC status with `code` counts as a failure of the upstream.
    pub fn is_failure_code(&self, code: tonic::Code) -> bool {
        self.pool.failure_codes.contains(code)
    }

    /// The gRPC codes that count as failures of the upstream.
    pub fn failure_codes(&self) -> FailureCodes {
        self.pool.failure_codes
    }

    /// An endpoint for one call, or why none can take it: none is healthy
    /// and in rotation (or a host name has no addresses yet), or the
    /// breaker is open. Never waits.
    pub fn pick(&self) -> Result<Picked, Unavailable> {
        self.pick_at(Instant::now())
    }

    fn pick_at(&self, now: Instant) -> Result<Picked, Unavailable> {
        self.pick_avoiding(&[], now)
    }

    /// Like [`Upstream::pick`], but the endpoints at the addresses in
    /// `avoid` are chosen only when no other is a candidate. Endpoints in
    /// their connect backoff come last: they are tried only when no other
    /// candidate is left, rather than refusing the call untried.
    fn pick_avoiding(&self, avoid: &[SocketAddr], now: Instant) -> Result<Picked, Unavailable> {
        let pool = &self.pool;
        let endpoints = pool.endpoints.load();
        let candidate = |endpoint: &Endpoint| endpoint.state().is_candidate(now);
        let reachable =
            |endpoint: &Endpoint| candidate(endpoint) && endpoint.state().unreachable_for(now).is_none();
        let untried = |endpoint: &Endpoint| !avoid.contains(&endpoint.address());
        let avoiding = !avoid.is_empty();
        let endpoint = avoiding
            .then(|| pool.balancer.choose(&endpoints, |e| reachable(e) && untried(e)))
            .flatten()
            .or_else(|| pool.balancer.choose(&endpoints, reachable))
            .or_else(|| {
                avoiding.then(|| pool.balancer.choose(&endpoints, |e| candidate(e) && untried(e))).flatten()
            })
            .or_else(|| pool.balancer.choose(&endpoints, candidate))
            .and_then(|index| endpoints.get(index).cloned());
        let Some(endpoint) = endpoint else {
            return Err(Unavailable::NoHealthyEndpoint { upstream: pool.name.clone() });
        };
        let permit = pool
            .breaker
            .admit(now)
            .ok_or_else(|| Unavailable::BreakerOpen { upstream: pool.name.clone() })?;
        Ok(Picked::new(pool.clone(), InFlight::start(endpoint), permit))
    }

    /// The state of the breaker and of every current endpoint, for operators.
    pub fn snapshot(&self) -> UpstreamSnapshot {
        self.snapshot_at(Instant::now())
    }

    fn snapshot_at(&self, now: Instant) -> UpstreamSnapshot {
        let endpoints = self.pool.endpoints.load().iter().map(|e| EndpointSnapshot::of(e, now)).collect();
        UpstreamSnapshot { name: self.pool.name.clone(), breaker: self.pool.breaker.state(now), endpoints }
    }
}

#[cfg(test)]
mod tests;
