//! Prometheus metrics, as an [`Observer`]: each request counted once it
//! ended, by its route's id (a template, prefix or service: never the raw
//! path), method, status and gRPC code; its duration, its upstream tries,
//! its retries, the rate-limit decisions and authentication failures of
//! its policies, its refusal past its route's `max_in_flight`, and for a
//! stream how it ended and its messages each way. What is not a request's
//! (endpoint health, breakers,
//! reloads, TLS handshakes, connections) is read when scraped ([`Pulled`]).
//!
//! The recorder belongs to the gateway ([`Metrics::new`] builds one with
//! `PrometheusBuilder::build_recorder`; nothing is installed as the
//! process's global recorder), so two gateways in one process (tests)
//! count apart. Handles are registered with the recorder directly, once
//! per label set ([`series`]), and kept.

mod names;
mod pulled;
mod series;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use http::Method;
use metrics::{Counter, Gauge, Histogram, Key, Label, Recorder};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use tonic::Code;

pub use pulled::{ListenerConnections, Pulled, TlsListenerStats};
use series::Series;

use super::{Observer, Phase, Record, RequestContext, StreamReport};
use crate::{task::TaskGuard, upstream::Outcome};

/// The bucket bounds of every duration histogram, in seconds.
const DURATION_BUCKETS: [f64; 14] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// How often histogram samples are folded into their buckets when nothing
/// scrapes (their memory is bounded by this).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The gateway's metrics: its own recorder and the handles it made.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    in_flight: Gauge,
    requests: Series<RequestKey, (Counter, Histogram)>,
    upstream: Series<UpstreamKey, (Counter, Histogram)>,
    retries: Series<Arc<str>, Counter>,
    rate_limits: Series<(Arc<str>, bool), Counter>,
    authentication_failures: Series<(Arc<str>, &'static str), Counter>,
    streams: Series<StreamKey, (Counter, Counter, Counter)>,
    in_flight_refusals: Series<Option<Arc<str>>, Counter>,
    _upkeep: TaskGuard,
}

/// The labels of `protogate_streams_total` (and, without `end`, of
/// `protogate_stream_messages_total`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct StreamKey {
    route: Option<Arc<str>>,
    framing: &'static str,
    end: &'static str,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// The labels of `protogate_requests_total` besides those the route fixes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct RequestKey {
    route: Option<Arc<str>>,
    method: &'static str,
    status: u16,
    code: Option<Code>,
}

/// The labels of `protogate_upstream_requests_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct UpstreamKey {
    upstream: Arc<str>,
    endpoint: SocketAddr,
    outcome: &'static str,
    code: Option<Code>,
}

impl Metrics {
    /// Metrics with a recorder of their own, and the task that keeps the
    /// histograms' memory bounded. Call within a Tokio runtime.
    pub fn new() -> Arc<Self> {
        let builder = PrometheusBuilder::new();
        // The bounds are constant and valid: this cannot fail.
        let builder = builder.set_buckets(&DURATION_BUCKETS).unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        names::describe(&recorder);
        let upkeep = handle.clone();
        let upkeep = TaskGuard::spawn(async move {
            let mut every = tokio::time::interval(UPKEEP_EVERY);
            loop {
                every.tick().await;
                upkeep.run_upkeep();
            }
        });
        let build_info = [Label::from_static_parts("version", env!("CARGO_PKG_VERSION"))];
        recorder
            .register_gauge(&Key::from_parts(names::BUILD_INFO, build_info.to_vec()), &names::METADATA)
            .set(1.0);
        let in_flight = recorder.register_gauge(&Key::from_static_name(names::IN_FLIGHT), &names::METADATA);
        Arc::new(Self {
            recorder,
            handle,
            in_flight,
            requests: Series::new(),
            upstream: Series::new(),
            retries: Series::new(),
            rate_limits: Series::new(),
            authentication_failures: Series::new(),
            streams: Series::new(),
            in_flight_refusals: Series::new(),
            _upkeep: upkeep,
        })
    }

    /// The Prometheus text of every metric, after taking in `pulled`.
    pub fn render(&self, pulled: &Pulled) -> String {
        pulled.record(&self.recorder);
        self.handle.render()
    }

    fn counter(&self, name: &'static str, labels: Vec<Label>) -> Counter {
        self.recorder.register_counter(&Key::from_parts(name, labels), &names::METADATA)
    }

    fn histogram(&self, name: &'static str, labels: Vec<Label>) -> Histogram {
        self.recorder.register_histogram(&Key::from_parts(name, labels), &names::METADATA)
    }

    /// Counts a request that ended, from its record.
    fn request_ended(&self, context: &RequestContext, record: &Record) {
        self.in_flight.decrement(1.0);
        let key = RequestKey {
            route: context.route_id().cloned(),
            method: method_label(&record.method),
            status: record.status.map_or(0, |status| status.as_u16()),
            code: record.grpc_code(),
        };
        let (count, duration) = self.requests.get(key, |key| {
            let route = route_label(key.route.as_ref());
            let (service, method) = record
                .grpc_method
                .as_ref()
                .and_then(|path| path.as_str().trim_start_matches('/').split_once('/'))
                .map_or((String::new(), String::new()), |(s, m)| (s.to_owned(), m.to_owned()));
            let grpc = [Label::new("grpc_service", service), Label::new("grpc_method", method)];
            let code = key.code.map_or("", crate::upstream::code_name);
            let mut labels = vec![
                route.clone(),
                Label::new("method", key.method),
                Label::new("status", key.status.to_string()),
                Label::new("grpc_code", code),
            ];
            labels.extend(grpc.iter().cloned());
            let mut timed = vec![route, Label::new("method", key.method)];
            timed.extend(grpc);
            (self.counter(names::REQUESTS, labels), self.histogram(names::REQUEST_DURATION, timed))
        });
        count.increment(1);
        let elapsed = record.finished.map_or_else(|| context.received_at().elapsed(), |(_, at)| at);
        duration.record(elapsed.as_secs_f64());
        if record.tries > 1
            && let Some(last) = &record.upstream
        {
            let retries = self.retries.get(last.upstream.clone(), |upstream| {
                self.counter(names::RETRIES, vec![Label::new("upstream", upstream.clone())])
            });
            retries.increment(u64::from(record.tries - 1));
        }
    }

    /// Counts a stream that ended, and its messages: `sent` to the client,
    /// `received` from it (a client or bidirectional stream's).
    fn stream_finished(&self, context: &RequestContext, report: StreamReport) {
        let key = StreamKey { route: context.route_id().cloned(), framing: report.framing, end: report.end };
        let (streams, sent, received) = self.streams.get(key, |key| {
            let route = route_label(key.route.as_ref());
            let framing = Label::new("framing", key.framing);
            let ended = vec![route.clone(), framing.clone(), Label::new("end", key.end)];
            let messages = |direction| {
                let labels = vec![route.clone(), framing.clone(), Label::new("direction", direction)];
                self.counter(names::STREAM_MESSAGES, labels)
            };
            (self.counter(names::STREAMS, ended), messages("sent"), messages("received"))
        });
        streams.increment(1);
        sent.increment(report.messages);
        received.increment(report.received.unwrap_or(0));
    }

    /// Counts an upstream try that finished.
    fn try_finished(&self, record: &Record) {
        let Some(last) = &record.upstream else { return };
        let Some(outcome) = last.outcome else { return };
        let key = UpstreamKey {
            upstream: last.upstream.clone(),
            endpoint: last.address,
            outcome: outcome_label(outcome),
            code: last.status,
        };
        let (count, duration) = self.upstream.get(key, |key| {
            let (upstream, endpoint) = (
                Label::new("upstream", key.upstream.clone()),
                Label::new("endpoint", key.endpoint.to_string()),
            );
            let code = key.code.map_or("", crate::upstream::code_name);
            let labels = vec![
                upstream.clone(),
                endpoint.clone(),
                Label::new("outcome", key.outcome),
                Label::new("grpc_code", code),
            ];
            (
                self.counter(names::UPSTREAM_REQUESTS, labels),
                self.histogram(names::UPSTREAM_DURATION, vec![upstream, endpoint]),
            )
        });
        count.increment(1);
        duration.record(last.started.elapsed().as_secs_f64());
    }
}

impl Observer for Metrics {
    fn on_phase(&self, context: &RequestContext, phase: Phase<'_>) {
        match phase {
            Phase::RequestReceived { .. } => self.in_flight.increment(1.0),
            Phase::UpstreamFinished { .. } => self.try_finished(&context.record()),
            Phase::RateLimitDecided { policy, allowed } => {
                let counter = self.rate_limits.get((policy.clone(), allowed), |(policy, allowed)| {
                    let result = if *allowed { "allowed" } else { "limited" };
                    self.counter(
                        names::RATE_LIMIT,
                        vec![Label::new("policy", policy.clone()), Label::new("result", result)],
                    )
                });
                counter.increment(1);
            }
            Phase::AuthenticationFailed { policy, reason } => {
                let counter =
                    self.authentication_failures.get((policy.clone(), reason), |(policy, reason)| {
                        let labels =
                            vec![Label::new("policy", policy.clone()), Label::new("reason", *reason)];
                        self.counter(names::AUTHENTICATION_FAILURES, labels)
                    });
                counter.increment(1);
            }
            Phase::StreamFinished { report } => self.stream_finished(context, report),
            Phase::InFlightRefused { .. } => {
                let counter = self.in_flight_refusals.get(context.route_id().cloned(), |route| {
                    self.counter(names::IN_FLIGHT_REFUSED, vec![route_label(route.as_ref())])
                });
                counter.increment(1);
            }
            Phase::RequestEnded => self.request_ended(context, &context.record()),
            _ => {}
        }
    }
}

/// The route's id as a label, `none` when no route matched.
fn route_label(route: Option<&Arc<str>>) -> Label {
    route.map_or_else(|| Label::new("route", "none"), |id| Label::new("route", id.clone()))
}

/// The method as a label: the standard ones by name, any other `OTHER`
/// (a client may send any token as a method).
fn method_label(method: &Method) -> &'static str {
    const KNOWN: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    const NAMES: [&str; 9] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"];
    KNOWN.iter().position(|known| known == method).map_or("OTHER", |index| NAMES[index])
}

/// What a try's outcome says, as a label.
fn outcome_label(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Success => "success",
        Outcome::Failure => "failure",
        Outcome::ConnectFailure => "connect_failure",
        Outcome::Ignored => "ignored",
    }
}
