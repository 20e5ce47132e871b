//! The state of an upstream as operators see it, serialisable as JSON for
//! the admin API.

use std::time::Instant;

use serde::Serialize;

use super::{BreakerState, Endpoint};

/// An upstream's breaker and endpoints at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UpstreamSnapshot {
    /// The upstream's name in the config.
    pub name: String,
    /// Its circuit breaker.
    pub breaker: BreakerState,
    /// Its current endpoints, in config order (a host name's in address order).
    pub endpoints: Vec<EndpointSnapshot>,
}

/// One endpoint at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EndpointSnapshot {
    /// Its URI as configured (with the host name, if it has one).
    pub uri: String,
    /// The socket address it connects to (the name's resolution, for a host name).
    pub address: String,
    /// The verdict of active health checks.
    pub healthy: bool,
    /// Seconds until its ejection ends; `null` when it is not ejected.
    pub ejected_seconds: Option<f64>,
    /// Seconds until it may be tried again after a connection to it could
    /// not be opened; `null` when it may be tried.
    pub unreachable_seconds: Option<f64>,
    /// Calls in flight on it.
    pub in_flight: usize,
    /// Failures since its last success.
    pub consecutive_failures: u32,
}

impl EndpointSnapshot {
    pub(super) fn of(endpoint: &Endpoint, now: Instant) -> Self {
        let state = endpoint.state();
        Self {
            uri: endpoint.uri().to_string(),
            address: endpoint.address().to_string(),
            healthy: state.is_healthy(),
            ejected_seconds: state.ejected_for(now).map(|left| left.as_secs_f64()),
            unreachable_seconds: state.unreachable_for(now).map(|left| left.as_secs_f64()),
            in_flight: state.in_flight(),
            consecutive_failures: state.consecutive_failures(),
        }
    }
}
