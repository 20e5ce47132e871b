//! [`Pulled`]: what the metrics read when scraped rather than per request:
//! each upstream's endpoints and breaker, the reload counters, each TLS
//! listener's counters, each listener's connections. The admin API gathers it from the rooms that own
//! it; this file only names it.

use std::net::SocketAddr;

use metrics::{Key, Label, Recorder};
use metrics_exporter_prometheus::PrometheusRecorder;

use super::names;
use crate::upstream::{BreakerState, UpstreamSnapshot};

/// The state the metrics take in at a scrape.
#[derive(Debug, Default)]
pub struct Pulled {
    /// Every upstream of the running config.
    pub upstreams: Vec<UpstreamSnapshot>,
    /// Reloads swapped in and refused so far, and the generation serving,
    /// when the config reloads.
    pub reloads: Option<(u64, u64, u64)>,
    /// Every TLS listener's counters.
    pub tls: Vec<TlsListenerStats>,
    /// Every listener's connections.
    pub connections: Vec<ListenerConnections>,
}

/// One listener's connections.
#[derive(Debug, Clone, Copy)]
pub struct ListenerConnections {
    /// Its address.
    pub listener: SocketAddr,
    /// Connections open now.
    pub open: usize,
    /// Connections refused past `limits.max_connections`.
    pub refused: u64,
}

/// One TLS listener's counters.
#[derive(Debug, Clone, Copy)]
pub struct TlsListenerStats {
    /// Its address.
    pub listener: SocketAddr,
    /// Handshakes that failed.
    pub handshake_failures: u64,
    /// Certificate reloads that took effect.
    pub reloads: u64,
    /// Certificate reloads refused.
    pub failed_reloads: u64,
}

impl Pulled {
    /// Sets the gauges and counters it stands for.
    pub(super) fn record(&self, recorder: &PrometheusRecorder) {
        let gauge = |name, labels: Vec<Label>, value: f64| {
            recorder.register_gauge(&Key::from_parts(name, labels), &names::METADATA).set(value);
        };
        let counter = |name, labels: Vec<Label>, value: u64| {
            recorder.register_counter(&Key::from_parts(name, labels), &names::METADATA).absolute(value);
        };
        for upstream in &self.upstreams {
            for endpoint in &upstream.endpoints {
                let labels = vec![
                    Label::new("upstream", upstream.name.clone()),
                    Label::new("endpoint", endpoint.address.clone()),
                ];
                gauge(names::ENDPOINT_HEALTHY, labels, f64::from(u8::from(endpoint.healthy)));
            }
            for (state, label) in [
                (BreakerState::Closed, "closed"),
                (BreakerState::Open, "open"),
                (BreakerState::HalfOpen, "half_open"),
            ] {
                let labels = vec![Label::new("upstream", upstream.name.clone()), Label::new("state", label)];
                gauge(names::BREAKER_STATE, labels, f64::from(u8::from(upstream.breaker == state)));
            }
        }
        if let Some((succeeded, failed, generation)) = self.reloads {
            counter(names::RELOADS, vec![Label::new("result", "success")], succeeded);
            counter(names::RELOADS, vec![Label::new("result", "failure")], failed);
            gauge(names::GENERATION, Vec::new(), generation as f64);
        }
        for tls in &self.tls {
            let listener = Label::new("listener", tls.listener.to_string());
            counter(names::TLS_HANDSHAKE_FAILURES, vec![listener.clone()], tls.handshake_failures);
            let result = |result| vec![listener.clone(), Label::new("result", result)];
            counter(names::TLS_CERTIFICATE_RELOADS, result("success"), tls.reloads);
            counter(names::TLS_CERTIFICATE_RELOADS, result("failure"), tls.failed_reloads);
        }
        for connections in &self.connections {
            let listener = vec![Label::new("listener", connections.listener.to_string())];
            gauge(names::CONNECTIONS_OPEN, listener.clone(), connections.open as f64);
            counter(names::CONNECTIONS_REFUSED, listener, connections.refused);
        }
    }
}
