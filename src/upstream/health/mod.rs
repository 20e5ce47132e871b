//! Active health checks: one background task per endpoint asks it, every
//! `interval`, whether it can serve, and turns the answers into a verdict
//! stored with [`EndpointState::set_healthy`](super::EndpointState::set_healthy).
//!
//! - gRPC upstreams: `grpc.health.v1.Health/Check` for a configured service
//!   name, over the endpoint's own channel (no connection per check). With
//!   `watch`, `Health/Watch` is followed instead: each message sets the
//!   verdict at once; when the stream ends or fails the task polls `Check`
//!   again and retries `Watch` a few intervals later, or never again if the
//!   server answers UNIMPLEMENTED.
//! - HTTP upstreams: a GET on a configured path (HTTP/1.1 cleartext); any
//!   2xx is a pass.
//!
//! A check passes only when the endpoint answers SERVING (or 2xx) within the
//! timeout; anything else is a failure. An endpoint starts healthy (a gateway
//! that just started can serve at once; the first check runs immediately),
//! turns unhealthy after `unhealthy_threshold` failures in a row and healthy
//! again after `healthy_threshold` passes in a row.
//!
//! [`HealthChecks::start`] starts the task of one endpoint and hands back
//! its guard, kept with the endpoint in the upstream's membership: dropping
//! it (when the endpoint's address vanishes from DNS, or with the upstream,
//! so with a replaced runtime) stops the task. This room only writes
//! verdicts; it does not choose endpoints.

mod checker;
mod grpc;
mod http;
#[cfg(test)]
mod tests;
mod verdict;

use std::{num::NonZeroU32, sync::Arc, time::Duration};

use ::http::{StatusCode, uri::PathAndQuery};

use super::Endpoint;
use crate::task::TaskGuard;
use checker::{Checker, Probe};

/// How an upstream's endpoints are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheckSettings {
    /// The time between two checks of an endpoint.
    pub interval: Duration,
    /// The time a check may take before it counts as failed.
    pub timeout: Duration,
    /// Consecutive passes that make an unhealthy endpoint healthy.
    pub healthy_threshold: NonZeroU32,
    /// Consecutive failures that make a healthy endpoint unhealthy.
    pub unhealthy_threshold: NonZeroU32,
    /// What a check asks.
    pub kind: HealthCheckKind,
}

impl HealthCheckSettings {
    /// The default `interval`.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
    /// The default `timeout`.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
    /// The default of both thresholds.
    pub const DEFAULT_THRESHOLD: NonZeroU32 = NonZeroU32::new(2).expect("2 is not zero");
}

/// What a check asks an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthCheckKind {
    /// `grpc.health.v1.Health` of a gRPC upstream.
    Grpc {
        /// The service name asked about ("" is the server as a whole).
        service: String,
        /// Follow `Health/Watch` rather than poll `Health/Check`.
        watch: bool,
    },
    /// A GET on an HTTP upstream.
    Http {
        /// The path (and query) requested.
        path: PathAndQuery,
    },
}

/// Why a check failed, as the log tells it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CheckFailure {
    /// No answer within the timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The health service answered, but not SERVING.
    #[error("the health service reports {0}")]
    NotServing(String),
    /// The health call failed.
    #[error("the health call failed: {code:?}: {message}")]
    Rpc {
        /// Its status code.
        code: tonic::Code,
        /// Its status message.
        message: String,
    },
    /// The HTTP check was answered with a status other than 2xx.
    #[error("GET answered {0}")]
    HttpStatus(StatusCode),
    /// The HTTP check could not be sent or answered.
    #[error("GET failed: {0}")]
    Request(String),
}

impl From<tonic::Status> for CheckFailure {
    fn from(status: tonic::Status) -> Self {
        Self::Rpc { code: status.code(), message: status.message().to_owned() }
    }
}

/// Starts the health checks of an upstream's endpoints, one task each.
#[derive(Debug)]
pub(super) struct HealthChecks {
    upstream: Arc<str>,
    settings: HealthCheckSettings,
    /// Shared by the upstream's HTTP checks (one connection pool).
    http_client: Option<http::HttpClient>,
}

impl HealthChecks {
    /// The checks of `upstream`'s endpoints, as `settings` say.
    pub(super) fn new(upstream: &str, settings: &HealthCheckSettings) -> Self {
        let http_client = matches!(settings.kind, HealthCheckKind::Http { .. }).then(http::client);
        Self { upstream: upstream.into(), settings: settings.clone(), http_client }
    }

    /// Starts checking `endpoint`; the check stops when the guard is
    /// dropped. `None` (logged) when the endpoint cannot be checked. Must
    /// run inside a Tokio runtime.
    pub(super) fn start(&self, endpoint: &Arc<Endpoint>) -> Option<TaskGuard> {
        let upstream = &self.upstream;
        let probe = match (&self.settings.kind, endpoint.channel(), &self.http_client) {
            (HealthCheckKind::Grpc { service, watch }, Some(channel), _) => {
                Probe::grpc(channel.clone(), service.clone(), *watch)
            }
            (HealthCheckKind::Http { path }, _, Some(client)) => {
                match http::HttpProbe::new(client.clone(), endpoint, path) {
                    Ok(probe) => Probe::Http(Box::new(probe)),
                    Err(error) => {
                        tracing::error!(%upstream, endpoint = %endpoint.uri(), "no health check: {error}");
                        return None;
                    }
                }
            }
            _ => {
                tracing::error!(
                    %upstream,
                    endpoint = %endpoint.uri(),
                    "no health check: the check's kind does not match the upstream's protocol"
                );
                return None;
            }
        };
        let checker = Checker::new(upstream.clone(), endpoint.clone(), &self.settings, probe);
        Some(TaskGuard::spawn(checker.run()))
    }
}
