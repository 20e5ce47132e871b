//! How an upstream keeps calls away from failing endpoints: balancing,
//! outlier ejection, the circuit breaker and retries, as written in the config.
//! Ranges are checked when the config is compiled.

use serde::Deserialize;

use super::units::{Duration, Ratio};

/// How calls spread over an upstream's endpoints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BalancingConfig {
    /// Each endpoint in turn (the default).
    #[default]
    RoundRobin,
    /// Two random endpoints; the one with fewer calls in flight.
    LeastRequest,
}

/// Passive outlier ejection.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutlierConfig {
    /// Failures in a row that eject an endpoint (default 5).
    pub consecutive_failures: Option<u32>,
    /// The first ejection's length; the n-th lasts n times as long (default 10s).
    pub base_ejection: Option<Duration>,
    /// The longest ejection (default 300s).
    pub max_ejection: Option<Duration>,
    /// The largest share of the endpoints ejected at once, in percent (default 50).
    pub max_ejected_percent: Option<u32>,
}

/// The circuit breaker.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerConfig {
    /// The share of failed calls in the window that opens it (default 0.5).
    pub failure_ratio: Option<Ratio>,
    /// The fewest calls in the window before it may open (default 20).
    pub minimum_calls: Option<u32>,
    /// The sliding window (default 10s).
    pub window: Option<Duration>,
    /// How long it stays open before letting probes through (default 5s).
    pub open_duration: Option<Duration>,
    /// The probes let through when half-open (default 3).
    pub half_open_calls: Option<u32>,
}

/// Retries of failed calls.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Tries per call, the first included (default 1: no retry of a call
    /// that may have reached the backend; one that did not goes to each
    /// endpoint in turn whatever this says).
    pub attempts: Option<u32>,
    /// Retries allowed as a percentage of the calls of the last 10s
    /// (default 20, at most 1000).
    pub budget_percent: Option<u32>,
    /// Retries allowed per second whatever the traffic (default 3).
    pub min_per_second: Option<u32>,
    /// The pause before the first retry, doubled for each next one, half of
    /// it random (default 25ms).
    pub backoff: Option<Duration>,
    /// The longest pause (default 250ms).
    pub max_backoff: Option<Duration>,
}
