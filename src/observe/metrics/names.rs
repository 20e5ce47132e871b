//! The name and help text of every metric, in one place.

use metrics::{KeyName, Level, Metadata, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::PrometheusRecorder;

/// What every handle is registered with (the exporter ignores it).
pub(super) const METADATA: Metadata<'static> = Metadata::new("protogate", Level::INFO, Some(module_path!()));

pub(super) const REQUESTS: &str = "protogate_requests_total";
pub(super) const REQUEST_DURATION: &str = "protogate_request_duration_seconds";
pub(super) const IN_FLIGHT: &str = "protogate_requests_in_flight";
pub(super) const UPSTREAM_REQUESTS: &str = "protogate_upstream_requests_total";
pub(super) const UPSTREAM_DURATION: &str = "protogate_upstream_duration_seconds";
pub(super) const RETRIES: &str = "protogate_upstream_retries_total";
pub(super) const ENDPOINT_HEALTHY: &str = "protogate_upstream_endpoint_healthy";
pub(super) const BREAKER_STATE: &str = "protogate_upstream_breaker_state";
pub(super) const RATE_LIMIT: &str = "protogate_rate_limit_decisions_total";
pub(super) const AUTHENTICATION_FAILURES: &str = "protogate_authentication_failures_total";
pub(super) const RELOADS: &str = "protogate_config_reloads_total";
pub(super) const GENERATION: &str = "protogate_config_generation";
pub(super) const TLS_HANDSHAKE_FAILURES: &str = "protogate_tls_handshake_failures_total";
pub(super) const TLS_CERTIFICATE_RELOADS: &str = "protogate_tls_certificate_reloads_total";
pub(super) const CONNECTIONS_OPEN: &str = "protogate_connections_open";
pub(super) const CONNECTIONS_REFUSED: &str = "protogate_connections_refused_total";
pub(super) const BUILD_INFO: &str = "protogate_build_info";
pub(super) const STREAMS: &str = "protogate_streams_total";
pub(super) const STREAM_MESSAGES: &str = "protogate_stream_messages_total";
pub(super) const IN_FLIGHT_REFUSED: &str = "protogate_in_flight_refused_total";

/// Gives each metric its `# HELP` line (and unit).
pub(super) fn describe(recorder: &PrometheusRecorder) {
    let counters: [(&'static str, &'static str); 12] = [
        (
            REQUESTS,
            "Requests answered, by route id, method, status and gRPC code (and gRPC service and method for transcoded routes).",
        ),
        (
            UPSTREAM_REQUESTS,
            "Upstream tries, by upstream, endpoint address, outcome and the gRPC code they ended with (empty without one).",
        ),
        (RETRIES, "Upstream tries beyond each call's first, by upstream."),
        (STREAMS, "Streams ended, by route id, framing and how they ended."),
        (
            STREAM_MESSAGES,
            "Stream messages, by route id, framing and direction (sent to the client, received from it).",
        ),
        (RATE_LIMIT, "Rate-limit decisions, by policy and result (allowed, limited)."),
        (
            AUTHENTICATION_FAILURES,
            "Authentication refusals, by policy and reason (missing, invalid, forbidden, unavailable).",
        ),
        (RELOADS, "Config reloads, by result (success, failure)."),
        (TLS_HANDSHAKE_FAILURES, "TLS handshakes that failed, timed out or were plain HTTP, by listener."),
        (TLS_CERTIFICATE_RELOADS, "Certificate reloads, by listener and result (success, failure)."),
        (
            CONNECTIONS_REFUSED,
            "Connections closed as soon as accepted, past limits.max_connections, by listener.",
        ),
        (
            IN_FLIGHT_REFUSED,
            "Requests refused with 503 because their route had max_in_flight in flight, by route id.",
        ),
    ];
    for (name, help) in counters {
        recorder.describe_counter(KeyName::from_const_str(name), None, SharedString::const_str(help));
    }
    let gauges: [(&'static str, &'static str); 6] = [
        (IN_FLIGHT, "Requests received whose response has not ended yet."),
        (ENDPOINT_HEALTHY, "1 when the endpoint's health checks pass, else 0, by upstream and endpoint."),
        (
            BREAKER_STATE,
            "1 for the circuit breaker's current state (closed, open, half_open), else 0, by upstream.",
        ),
        (GENERATION, "The generation of the config serving now (1 at start, +1 per reload)."),
        (BUILD_INFO, "Always 1, labelled with the gateway's version."),
        (CONNECTIONS_OPEN, "Connections a listener holds open now (TLS handshakes included), by listener."),
    ];
    for (name, help) in gauges {
        recorder.describe_gauge(KeyName::from_const_str(name), None, SharedString::const_str(help));
    }
    for (name, help) in [
        (REQUEST_DURATION, "From the request's arrival to the end of its response, by route id and method."),
        (
            UPSTREAM_DURATION,
            "One upstream try, from picking its endpoint to its end, by upstream and endpoint.",
        ),
    ] {
        recorder.describe_histogram(
            KeyName::from_const_str(name),
            Some(Unit::Seconds),
            SharedString::const_str(help),
        );
    }
}
