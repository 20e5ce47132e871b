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
//! A call that fails may be tried again through [`Upstream::tries`]
//! (src/upstream/retry.rs), within the upstream's retry budget.
//!
//! Targets never learn how an endpoint was chosen.

mod balance;
mod breaker;
mod endpoint;
mod failure;
mod health;
mod outlier;
mod picked;
mod retry;
mod settings;
mod snapshot;
mod tls;

use std::{sync::Arc, time::Instant};

use http::{StatusCode, Uri};

pub use balance::Balancing;
pub use breaker::{BreakerSettings, BreakerState};
pub use endpoint::{Endpoint, EndpointState};
pub use failure::{FailureCodes, code_named, code_names};
use health::HealthGuard;
pub use health::{HealthCheckKind, HealthCheckSettings};
pub use outlier::OutlierSettings;
pub use picked::Picked;
pub use retry::{RetrySettings, Tries, TryFailure, is_idempotent_method, never_sent};
pub use settings::{UpstreamError, UpstreamProtocol, UpstreamSettings, endpoint_uri};
pub use snapshot::{EndpointSnapshot, UpstreamSnapshot};
pub use tls::{ClientIdentity, TlsFileError, TlsSettings};

use balance::Balancer;
use breaker::Breaker;
use endpoint::InFlight;
use outlier::OutlierDetector;
use retry::RetryPolicy;

/// An upstream that cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// It has no endpoint.
    #[error("no endpoints")]
    NoEndpoints,
    /// A TLS file cannot be read.
    #[error(transparent)]
    TlsFile(#[from] TlsFileError),
    /// The TLS settings were refused (a malformed certificate or key).
    #[error("TLS settings refused for {uri}: {source}")]
    Tls {
        /// The endpoint.
        uri: Uri,
        /// tonic's reason.
        #[source]
        source: tonic::transport::Error,
    },
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
    gzip_requests: bool,
    /// TLS towards its `https://` endpoints, for clients built outside this room.
    tls: Option<TlsSettings>,
    /// Stops the health checks when the upstream is dropped.
    _health: Option<HealthGuard>,
}

/// What picks and outcomes share: the endpoints and everything that
/// decides which one gets a call.
#[derive(Debug)]
struct Pool {
    name: String,
    endpoints: Vec<Arc<Endpoint>>,
    balancer: Balancer,
    outlier: OutlierDetector,
    breaker: Breaker,
    failure_codes: FailureCodes,
    retry: RetryPolicy,
}

impl Upstream {
    /// Prepares every endpoint (reading TLS files) and starts their health
    /// checks, if any; only the checks connect before the first call. Must
    /// run inside a Tokio runtime.
    pub fn new(name: &str, settings: &UpstreamSettings) -> Result<Self, BuildError> {
        if settings.endpoints.is_empty() {
            return Err(BuildError::NoEndpoints);
        }
        let tls = match (settings.protocol, &settings.tls) {
            (UpstreamProtocol::Http, _) => None,
            (UpstreamProtocol::Grpc, tls) => Some(tls.clone().unwrap_or_default().grpc_config()?),
        };
        let endpoints = settings
            .endpoints
            .iter()
            .map(|uri| {
                Endpoint::new(uri.clone(), settings, tls.as_ref())
                    .map(Arc::new)
                    .map_err(|source| BuildError::Tls { uri: uri.clone(), source })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let pool = Pool {
            name: name.to_owned(),
            endpoints,
            balancer: Balancer::new(settings.balancing),
            outlier: OutlierDetector::new(settings.outlier),
            breaker: Breaker::new(settings.breaker),
            failure_codes: settings.failure_codes,
            retry: RetryPolicy::new(settings.retry),
        };
        let health =
            settings.health_check.as_ref().map(|checks| health::start(name, &pool.endpoints, checks));
        Ok(Self {
            pool: Arc::new(pool),
            max_response_bytes: settings.max_response_bytes,
            gzip_requests: settings.gzip_requests,
            tls: settings.tls.clone(),
            _health: health,
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

    /// gRPC: whether requests are sent gzip'd.
    pub fn gzip_requests(&self) -> bool {
        self.gzip_requests
    }

    /// The endpoints, in config order.
    pub fn endpoints(&self) -> &[Arc<Endpoint>] {
        &self.pool.endpoints
    }

    /// Whether any endpoint is healthy (for readiness).
    pub fn has_healthy_endpoint(&self) -> bool {
        self.pool.endpoints.iter().any(|endpoint| endpoint.state().is_healthy())
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
    /// and in rotation, or the breaker is open. Never waits.
    pub fn pick(&self) -> Result<Picked, Unavailable> {
        self.pick_at(Instant::now())
    }

    fn pick_at(&self, now: Instant) -> Result<Picked, Unavailable> {
        self.pick_avoiding(0, now)
    }

    /// Like [`Upstream::pick`], but the endpoints whose bit is set in
    /// `avoid` are chosen only when no other is a candidate.
    fn pick_avoiding(&self, avoid: u64, now: Instant) -> Result<Picked, Unavailable> {
        let pool = &self.pool;
        let avoided = |index: usize| {
            u32::try_from(index).ok().and_then(|i| 1u64.checked_shl(i)).is_some_and(|bit| avoid & bit != 0)
        };
        let candidate = |_: usize, endpoint: &Endpoint| endpoint.state().is_candidate(now);
        let endpoint = (avoid != 0)
            .then(|| pool.balancer.choose(&pool.endpoints, |i, e| candidate(i, e) && !avoided(i)))
            .flatten()
            .or_else(|| pool.balancer.choose(&pool.endpoints, candidate))
            .and_then(|index| Some((index, pool.endpoints.get(index)?.clone())));
        let Some((index, endpoint)) = endpoint else {
            return Err(Unavailable::NoHealthyEndpoint { upstream: pool.name.clone() });
        };
        let permit = pool
            .breaker
            .admit(now)
            .ok_or_else(|| Unavailable::BreakerOpen { upstream: pool.name.clone() })?;
        Ok(Picked {
            pool: pool.clone(),
            index,
            in_flight: InFlight::start(endpoint),
            permit,
            reported: false,
        })
    }

    /// The state of the breaker and of every endpoint, for operators.
    pub fn snapshot(&self) -> UpstreamSnapshot {
        self.snapshot_at(Instant::now())
    }

    fn snapshot_at(&self, now: Instant) -> UpstreamSnapshot {
        let endpoints = self.pool.endpoints.iter().map(|e| EndpointSnapshot::of(e, now)).collect();
        UpstreamSnapshot { name: self.pool.name.clone(), breaker: self.pool.breaker.state(now), endpoints }
    }
}

/// Settings for unit tests: `size` gRPC endpoints on ports nothing listens on.
#[cfg(test)]
fn test_settings(size: usize) -> UpstreamSettings {
    UpstreamSettings {
        protocol: UpstreamProtocol::Grpc,
        endpoints: (0..size)
            .map(|i| Uri::from_maybe_shared(format!("http://127.0.0.1:{}", i + 1)).unwrap())
            .collect(),
        connect_timeout: std::time::Duration::from_secs(1),
        max_response_bytes: 1 << 20,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests;
