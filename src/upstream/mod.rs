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

mod endpoint;
mod health;

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use http::Uri;
use tonic::transport::Channel;

pub use endpoint::{Endpoint, EndpointState};
use health::HealthGuard;
pub use health::{HealthCheckKind, HealthCheckSettings};

/// What an upstream speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UpstreamProtocol {
    /// gRPC over HTTP/2: transcoded routes and native gRPC pass-through.
    #[default]
    Grpc,
    /// Plain HTTP/1.1 or HTTP/2: pass-through routes.
    Http,
}

/// How an upstream is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamSettings {
    /// What it speaks.
    pub protocol: UpstreamProtocol,
    /// Endpoint URIs, checked by [`endpoint_uri`].
    pub endpoints: Vec<Uri>,
    /// The time allowed to open a TCP connection.
    pub connect_timeout: Duration,
    /// The largest reply message accepted from it.
    pub max_response_bytes: usize,
    /// Active health checks of its endpoints, if any.
    pub health_check: Option<HealthCheckSettings>,
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
    name: String,
    endpoints: Vec<Arc<Endpoint>>,
    next: AtomicUsize,
    max_response_bytes: usize,
    /// Stops the health checks when the upstream is dropped.
    _health: Option<HealthGuard>,
}

/// An endpoint chosen for one call. Dropping it without
/// [`Picked::finish`] counts as [`Outcome::Ignored`].
#[derive(Debug)]
pub struct Picked {
    endpoint: Arc<Endpoint>,
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
    /// the checks connect before the first call. `None` without endpoints.
    /// Must run inside a Tokio runtime.
    pub fn new(name: &str, settings: &UpstreamSettings) -> Option<Self> {
        if settings.endpoints.is_empty() {
            return None;
        }
        let endpoints: Vec<_> =
            settings.endpoints.iter().map(|uri| Arc::new(Endpoint::new(uri.clone(), settings))).collect();
        let health = settings.health_check.as_ref().map(|checks| health::start(name, &endpoints, checks));
        Some(Self {
            name: name.to_owned(),
            endpoints,
            next: AtomicUsize::new(0),
            max_response_bytes: settings.max_response_bytes,
            _health: health,
        })
    }

    /// The upstream's name in the config.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The largest reply message accepted from it.
    pub fn max_response_bytes(&self) -> usize {
        self.max_response_bytes
    }

    /// The endpoints, in config order.
    pub fn endpoints(&self) -> &[Arc<Endpoint>] {
        &self.endpoints
    }

    /// Whether any endpoint is healthy (for readiness).
    pub fn has_healthy_endpoint(&self) -> bool {
        self.endpoints.iter().any(|endpoint| endpoint.state().is_healthy())
    }

    /// An endpoint for one call, or why none can take it: the next healthy
    /// endpoint in turn.
    pub fn pick(&self) -> Result<Picked, Unavailable> {
        let turn = self.next.fetch_add(1, Ordering::Relaxed);
        let count = self.endpoints.len();
        (0..count)
            .map(|offset| &self.endpoints[turn.wrapping_add(offset) % count])
            .find(|endpoint| endpoint.state().is_healthy())
            .map(|endpoint| Picked { endpoint: endpoint.clone() })
            .ok_or_else(|| Unavailable::NoHealthyEndpoint { upstream: self.name.clone() })
    }
}

impl Picked {
    /// The endpoint's gRPC channel (`None` for an HTTP upstream).
    pub fn channel(&self) -> Option<Channel> {
        self.endpoint.channel().cloned()
    }

    /// The endpoint's URI.
    pub fn uri(&self) -> &Uri {
        self.endpoint.uri()
    }

    /// Reports how the call went.
    pub fn finish(self, outcome: Outcome) {
        let _ = outcome;
    }
}
