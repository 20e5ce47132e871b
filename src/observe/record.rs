//! [`Record`]: what the phases of one request established, kept in its
//! context for the observers that report on the request whole (metrics,
//! the access log) once it ended. The context fills it as the phases pass;
//! nothing here formats or allocates beyond cloning what the phases lend.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use http::{HeaderValue, Method, StatusCode, Uri, header, uri::PathAndQuery};
use tonic::Code;

use super::{BodyEnd, Phase, RouteKind, StreamReport};
use crate::upstream::Outcome;

/// What one request's phases established so far.
#[derive(Debug, Default)]
pub struct Record {
    /// The request's method.
    pub method: Method,
    /// The request's target as received (path and query).
    pub uri: Uri,
    /// The client's `User-Agent`.
    pub user_agent: Option<HeaderValue>,
    /// The kind of route it matched, if one did.
    pub kind: Option<RouteKind>,
    /// The gRPC method a transcoded route calls (`/pkg.Service/Method`).
    pub grpc_method: Option<PathAndQuery>,
    /// The response's status, once there is a response.
    pub status: Option<StatusCode>,
    /// The gRPC code of the answer, when it has one (a gRPC answer, a
    /// transcoded call, a refusal of the gateway).
    pub grpc_code: Option<Code>,
    /// How the response body ended, and when (from arrival).
    pub finished: Option<(BodyEnd, Duration)>,
    /// Bytes of response body sent.
    pub bytes_out: u64,
    /// The last try of the upstream call.
    pub upstream: Option<UpstreamTry>,
    /// How many tries the upstream call made.
    pub tries: u32,
    /// The time spent in upstream tries, summed.
    pub upstream_time: Duration,
    /// Who authenticated: the consumer, else the JWT subject.
    pub principal: Option<String>,
    /// How a server stream went, for a streamed answer.
    pub stream: Option<StreamReport>,
    /// When the policy chain started and when it decided, from arrival.
    pub policy: Option<(Duration, Duration)>,
}

/// One try of the upstream call.
#[derive(Debug, Clone)]
pub struct UpstreamTry {
    /// The upstream's name.
    pub upstream: Arc<str>,
    /// The endpoint as configured.
    pub endpoint: Uri,
    /// The address its connection went to.
    pub address: SocketAddr,
    /// When it was picked.
    pub started: Instant,
    /// How it went, once it finished.
    pub outcome: Option<Outcome>,
    /// The gRPC status it ended with, if it had one.
    pub status: Option<Code>,
    /// How long it took, once it finished.
    pub took: Option<Duration>,
}

impl Record {
    /// Takes in what `phase` says, for a request that arrived at `received_at`.
    pub(super) fn note(&mut self, phase: &Phase<'_>, received_at: Instant) {
        match *phase {
            Phase::RequestReceived { head } => {
                self.method = head.method.clone();
                self.uri = head.uri.clone();
                self.user_agent = head.headers.get(header::USER_AGENT).cloned();
            }
            Phase::RouteMatched { kind } => {
                self.kind = Some(kind);
                let now = received_at.elapsed();
                self.policy = Some((now, now));
            }
            Phase::PolicyDecided { .. } => {
                if let Some((_, decided)) = self.policy.as_mut() {
                    *decided = received_at.elapsed();
                }
            }
            Phase::UpstreamPicked { upstream, endpoint, address } => {
                self.tries += 1;
                let started = Instant::now();
                let (upstream, endpoint) = (Arc::from(upstream), endpoint.clone());
                self.upstream = Some(UpstreamTry {
                    upstream,
                    endpoint,
                    address,
                    started,
                    outcome: None,
                    status: None,
                    took: None,
                });
            }
            Phase::UpstreamFinished { outcome, status, .. } => {
                if let Some(last) = self.upstream.as_mut().filter(|last| last.outcome.is_none()) {
                    let took = last.started.elapsed();
                    (last.outcome, last.status, last.took) = (Some(outcome), status, Some(took));
                    self.upstream_time += took;
                }
            }
            Phase::ResponseFinished { status, end, bytes } => {
                self.status = Some(status);
                self.bytes_out = bytes;
                self.finished = Some((end, received_at.elapsed()));
            }
            Phase::StreamFinished { report } => self.stream = Some(report),
            Phase::RateLimitDecided { .. }
            | Phase::AuthenticationFailed { .. }
            | Phase::InFlightRefused { .. }
            | Phase::StreamEnded
            | Phase::RequestEnded => {}
        }
    }

    /// The gRPC code to report: the one the answer carried, else OK for a
    /// transcoded call that succeeded.
    pub fn grpc_code(&self) -> Option<Code> {
        self.grpc_code.or_else(|| {
            let success = self.status.is_some_and(|status| status.is_success() || status.is_redirection());
            (self.kind == Some(RouteKind::Transcoded) && success).then_some(Code::Ok)
        })
    }
}
