//! The default observer: one `tracing` debug event per phase (nothing is
//! formatted unless debug events of `protogate::observe` are enabled).

use super::{Observer, Phase, RequestContext};

/// Writes each phase as a `tracing` debug event with the request id.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingObserver;

impl Observer for TracingObserver {
    fn on_phase(&self, context: &RequestContext, phase: Phase<'_>) {
        let id = context.request_id();
        match phase {
            Phase::RequestReceived { head } => {
                tracing::debug!(request_id = ?id, peer = %context.peer(), method = %head.method, path = head.uri.path(), "request received");
            }
            Phase::RouteMatched { kind } => {
                tracing::debug!(request_id = ?id, route = context.route(), ?kind, "route matched");
            }
            Phase::PolicyDecided { refused } => {
                tracing::debug!(request_id = ?id, refused = refused.map(|s| s.as_u16()), "policy decided");
            }
            Phase::UpstreamPicked { upstream, endpoint, address } => {
                tracing::debug!(request_id = ?id, upstream, %endpoint, %address, "upstream picked");
            }
            Phase::UpstreamFinished { upstream, endpoint, address, outcome, status } => {
                let grpc_code = status.map(crate::upstream::code_name);
                tracing::debug!(request_id = ?id, upstream, %endpoint, %address, ?outcome, grpc_code, "upstream finished");
            }
            Phase::RateLimitDecided { policy, allowed } => {
                tracing::debug!(request_id = ?id, policy = &**policy, allowed, "rate limit decided");
            }
            Phase::AuthenticationFailed { policy, reason } => {
                tracing::debug!(request_id = ?id, policy = &**policy, reason, "authentication failed");
            }
            Phase::InFlightRefused { max } => {
                tracing::debug!(request_id = ?id, route = context.route(), max, "refused: too many in flight");
            }
            Phase::ResponseFinished { status, end, bytes } => {
                let elapsed = context.received_at().elapsed();
                tracing::debug!(request_id = ?id, status = status.as_u16(), ?end, bytes, ?elapsed, "response finished");
            }
            Phase::StreamFinished { report } => tracing::debug!(request_id = ?id, ?report, "stream finished"),
            Phase::StreamEnded => tracing::debug!(request_id = ?id, "stream ended"),
            Phase::RequestEnded => tracing::debug!(request_id = ?id, "request ended"),
        }
    }
}
