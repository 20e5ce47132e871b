//! Upstreams: the named groups of backend endpoints that targets call, and
//! everything that decides which endpoint gets a call.
//!
//! Each endpoint of a gRPC upstream has one HTTP/2 channel (tonic's
//! `Channel`), created once at compile time, connected lazily, reconnected
//! by tonic when it drops, and shared by every request. A target asks
//! [`Upstream::pick`] for an endpoint and reports how the call went with
//! [`Picked::finish`]; balancing, health, outlier ejection and the circuit
//! breaker live behind those two calls.
//!
//! Targets never learn how an endpoint was chosen.
//!
//! An endpoint URI with a host name stands for every address the name
//! resolves to, resolved when the upstream is built and again every
//! `dns_refresh` ([`resolve`], [`members`]); the pool's list of endpoints is
//! swapped whole when it changes, while calls are in flight.

mod balance;
mod breaker;
mod endpoint;
mod failure;
mod health;
mod members;
mod outlier;
mod picked;
mod resolve;
mod snapshot;
mod task;

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use arc_swap::ArcSwap;
use http::{StatusCode, Uri};

pub use balance::Balancing;
pub use breaker::{BreakerSettings, BreakerState};
pub use endpoint::{Endpoint, EndpointState};
pub use failure::{FailureCodes, code_named, code_names};
pub use health::{HealthCheckKind, HealthCheckSettings};
pub use outlier::OutlierSettings;
pub use picked::Picked;
pub use snapshot::{EndpointSnapshot, UpstreamSnapshot};

use balance::Balancer;
use breaker::Breaker;
use endpoint::InFlight;
use members::Membership;
use outlier::OutlierDetector;
use task::TaskGuard;

/// What an upstream speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UpstreamProtocol {
    /// gRPC over HTTP/2: transcoded routes and native gRPC pass-through.
    #[default]
    Grpc,
    /// Plain HTTP/1.1 or HTTP/2: pass-through routes.
    Http,
}

/// How an upstream is reached. (`Default` is for tests: no endpoints, no
/// timeouts.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamSettings {
    /// What it speaks.
    pub protocol: UpstreamProtocol,
    /// Endpoint URIs, checked by [`endpoint_uri`].
    pub endpoints: Vec<Uri>,
    /// How often the host names among `endpoints` are resolved again.
    pub dns_refresh: Duration,
    /// The time allowed to open a TCP connection.
    pub connect_timeout: Duration,
    /// The largest reply message accepted from it.
    pub max_response_bytes: usize,
    /// Active health checks of its endpoints, if any.
    pub health_check: Option<HealthCheckSettings>,
    /// How calls spread over the endpoints.
    pub balancing: Balancing,
    /// When endpoints are ejected.
    pub outlier: OutlierSettings,
    /// When the breaker opens and closes.
    pub breaker: BreakerSettings,
    /// The gRPC codes that count as failures.
    pub failure_codes: FailureCodes,
}

impl UpstreamSettings {
    /// The default `dns_refresh`.
    pub const DEFAULT_DNS_REFRESH: Duration = Duration::from_secs(30);
}

impl Default for UpstreamSettings {
    fn default() -> Self {
        Self {
            protocol: UpstreamProtocol::default(),
            endpoints: Vec::new(),
            dns_refresh: Self::DEFAULT_DNS_REFRESH,
            connect_timeout: Duration::ZERO,
            max_response_bytes: 0,
            health_check: None,
            balancing: Balancing::default(),
            outlier: OutlierSettings::default(),
            breaker: BreakerSettings::default(),
            failure_codes: FailureCodes::default(),
        }
    }
}

/// An endpoint that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid endpoint {endpoint:?}: {reason}")]
pub struct UpstreamError {
    /// The endpoint as configured.
    pub endpoint: String,
    /// Why it cannot be used.
    pub reason: String,
}

/// No endpoint can take a call now: a 503 UNAVAILABLE at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    /// Every endpoint is unhealthy or ejected.
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
}

/// Checks an endpoint as written in the config: `http://host:port`, or
/// `https://host:port` for an HTTP upstream.
pub fn endpoint_uri(endpoint: &str, protocol: UpstreamProtocol) -> Result<Uri, UpstreamError> {
    let invalid = |reason: String| UpstreamError { endpoint: endpoint.to_owned(), reason };
    let uri: Uri = endpoint.parse().map_err(|e: http::uri::InvalidUri| invalid(e.to_string()))?;
    match (uri.scheme_str(), protocol) {
        (Some("http"), _) | (Some("https"), UpstreamProtocol::Http) => {}
        (Some("https"), UpstreamProtocol::Grpc) => {
            return Err(invalid("TLS to gRPC upstreams is not supported yet (use http://)".into()));
        }
        (Some(other), _) => return Err(invalid(format!("scheme {other:?} is not supported (use http://)"))),
        (None, _) => return Err(invalid("no scheme (write http://host:port)".into())),
    }
    if uri.host().is_none() {
        return Err(invalid("no host".into()));
    }
    Ok(uri)
}

impl Upstream {
    /// Prepares every endpoint and starts their health checks, if any; only
    /// the checks connect before the first call. Host names are resolved
    /// now (waiting a moment at most; a name without addresses yet gives
    /// no endpoints until a refresh finds some) and every `dns_refresh`
    /// after. `None` without endpoints. Must run inside a Tokio runtime.
    pub fn new(name: &str, settings: &UpstreamSettings) -> Option<Self> {
        if settings.endpoints.is_empty() {
            return None;
        }
        let pool = Arc::new(Pool {
            name: name.to_owned(),
            endpoints: ArcSwap::default(),
            balancer: Balancer::new(settings.balancing),
            outlier: OutlierDetector::new(settings.outlier),
            breaker: Breaker::new(settings.breaker),
            failure_codes: settings.failure_codes,
        });
        let mut members = Membership::new(pool.clone(), settings);
        let names = members.names();
        for (name, result) in names.iter().zip(resolve::resolve_now(&names)) {
            members.resolved(name.group, result, settings.dns_refresh);
        }
        let members = Arc::new(Mutex::new(members));
        let resolver =
            (!names.is_empty()).then(|| resolve::start(members.clone(), names, settings.dns_refresh));
        Some(Self {
            pool,
            max_response_bytes: settings.max_response_bytes,
            _resolver: resolver,
            _members: members,
        })
    }

    /// The upstream's name in the config.
    pub fn name(&self) -> &str {
        &self.pool.name
    }

    /// The largest reply message accepted from it.
    pub fn max_response_bytes(&self) -> usize {
        self.max_response_bytes
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

    /// Whether an HTTP status counts as a failure of the upstream: any 5xx.
    pub fn is_failure_status(&self, status: StatusCode) -> bool {
        failure::is_failure_status(status)
    }

    /// An endpoint for one call, or why none can take it: none is healthy
    /// and in rotation (or a host name has no addresses yet), or the
    /// breaker is open. Never waits.
    pub fn pick(&self) -> Result<Picked, Unavailable> {
        self.pick_at(Instant::now())
    }

    fn pick_at(&self, now: Instant) -> Result<Picked, Unavailable> {
        let pool = &self.pool;
        let endpoints = pool.endpoints.load();
        let endpoint = pool
            .balancer
            .choose(&endpoints, |endpoint| endpoint.state().is_candidate(now))
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
