//! Active health checks: two demo backends behind one upstream; a backend
//! set NOT_SERVING through its health service stops getting traffic and
//! gets it back when SERVING again; none serving is a fast 503.
//!
//! Echo's Metadata call (GET /v1/metadata) tells which backend served it in
//! `Grpc-Metadata-X-Demo-Backend`.

use std::{path::Path, time::Duration};

use protogate::{compile, config::Config, demo::DemoBackend, server::RunningServer};
use tokio::time::Instant;
use tonic_health::ServingStatus;

use crate::support::gateway::{json_of, start_gateway};

/// Two check intervals of 100ms, with a margin of ×5.
const DEADLINE: Duration = Duration::from_secs(1);
/// Calls in a row that must all avoid a backend before it counts as drained.
const CALLS_IN_A_ROW: usize = 10;
const ECHO: &str = "demo.v1.Echo";
const POLLING: &str = "{ interval: 100ms, timeout: 200ms, unhealthy_threshold: 1, healthy_threshold: 1, service: demo.v1.Echo }";

/// Two backends, one upstream `demo` over both, and the gateway.
struct Pair {
    a: DemoBackend,
    b: DemoBackend,
    gateway: RunningServer,
    client: reqwest::Client,
}

impl Pair {
    async fn start(health_check: &str) -> Self {
        let a = DemoBackend::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let b = DemoBackend::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let yaml = format!(
            r#"
listen: 127.0.0.1:0
descriptors:
  - file: descriptors/demo.pb
upstreams:
  demo:
    endpoints: ["http://{}", "http://{}"]
    health_check: {health_check}
routes:
  - grpc: {{ service: demo.v1.Echo, upstream: demo }}
"#,
            a.addr(),
            b.addr()
        );
        let gateway = start_gateway(&yaml).await;
        Self { a, b, gateway, client: reqwest::Client::new() }
    }

    /// One call: the address of the backend that served it, or the refusal.
    async fn call(&self) -> Result<String, (u16, serde_json::Value)> {
        let url = format!("http://{}/v1/metadata", self.gateway.addr());
        let response = self.client.get(url).send().await.unwrap();
        match response.headers().get("grpc-metadata-x-demo-backend") {
            Some(backend) if response.status() == 200 => Ok(backend.to_str().unwrap().to_owned()),
            _ => Err(json_of(response).await),
        }
    }

    /// Calls until `CALLS_IN_A_ROW` calls in a row satisfy `wanted`; panics
    /// at the deadline with the last outcome.
    async fn until(&self, what: &str, wanted: impl Fn(&Result<String, (u16, serde_json::Value)>) -> bool) {
        let deadline = Instant::now() + DEADLINE;
        let mut in_a_row = 0;
        loop {
            let outcome = self.call().await;
            in_a_row = if wanted(&outcome) { in_a_row + 1 } else { 0 };
            if in_a_row == CALLS_IN_A_ROW {
                return;
            }
            assert!(Instant::now() < deadline, "not within {DEADLINE:?}: {what}; last call: {outcome:?}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Calls until one is served by `backend`; panics at the deadline.
    async fn until_served_by(&self, backend: &DemoBackend) {
        let wanted = backend.addr().to_string();
        let deadline = Instant::now() + DEADLINE;
        loop {
            let outcome = self.call().await;
            if outcome.as_ref().is_ok_and(|served| *served == wanted) {
                return;
            }
            assert!(Instant::now() < deadline, "{wanted} got no call within {DEADLINE:?}; last: {outcome:?}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn served_by(outcome: &Result<String, (u16, serde_json::Value)>, backend: &DemoBackend) -> bool {
        outcome.as_ref().is_ok_and(|served| *served == backend.addr().to_string())
    }
}

async fn set(backend: &DemoBackend, status: ServingStatus) {
    backend.health_reporter().set_service_status(ECHO, status).await;
}

#[tokio::test]
async fn a_backend_not_serving_gets_no_traffic_until_it_serves_again() {
    let pair = Pair::start(POLLING).await;
    pair.until_served_by(&pair.a).await;
    pair.until_served_by(&pair.b).await;

    set(&pair.a, ServingStatus::NotServing).await;
    pair.until("only b serves", |outcome| Pair::served_by(outcome, &pair.b)).await;
    for _ in 0..20 {
        assert_eq!(pair.call().await, Ok(pair.b.addr().to_string()), "a is NOT_SERVING");
    }

    set(&pair.a, ServingStatus::Serving).await;
    pair.until_served_by(&pair.a).await;
}

#[tokio::test]
async fn watch_notices_changes_without_polling() {
    // Polls a minute apart: only the Watch stream can notice in time.
    let pair = Pair::start("{ interval: 60s, service: demo.v1.Echo, watch: true }").await;
    set(&pair.b, ServingStatus::NotServing).await;
    pair.until("only a serves", |outcome| Pair::served_by(outcome, &pair.a)).await;

    set(&pair.b, ServingStatus::Serving).await;
    pair.until_served_by(&pair.b).await;
}

#[tokio::test]
async fn no_serving_backend_is_a_503_naming_the_upstream() {
    let pair = Pair::start(POLLING).await;
    set(&pair.a, ServingStatus::NotServing).await;
    set(&pair.b, ServingStatus::NotServing).await;
    pair.until("503 for every call", |outcome| matches!(outcome, Err((503, _)))).await;
    let Err((_, body)) = pair.call().await else { panic!("no backend is serving") };
    assert_eq!(body["code"], 14, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains(r#"upstream "demo" has no healthy endpoint"#), "{message}");

    set(&pair.b, ServingStatus::Serving).await;
    pair.until_served_by(&pair.b).await;
}

#[tokio::test]
async fn health_check_settings_are_checked_with_their_places() {
    let yaml = r#"
descriptors:
  - file: descriptors/demo.pb
upstreams:
  grpc:
    endpoints: ["http://127.0.0.1:1"]
    health_check: { interval: 0s, healthy_threshold: 0, path: /healthz }
  web:
    protocol: http
    endpoints: ["https://127.0.0.1:1"]
    health_check: { service: demo.v1.Echo, watch: true, unhealthy_threshold: 0 }
routes:
  - grpc: { service: demo.v1.Echo, upstream: grpc }
"#;
    let config = Config::from_yaml(yaml, "test config").unwrap();
    let errors = compile::compile(&config, Path::new(env!("CARGO_MANIFEST_DIR")), &[]).await.unwrap_err();
    let places: Vec<&str> = errors.issues.iter().map(|issue| issue.place.as_str()).collect();
    assert_eq!(
        places,
        [
            "upstreams.grpc.health_check.interval",
            "upstreams.grpc.health_check.healthy_threshold",
            "upstreams.grpc.health_check.path",
            "upstreams.web.health_check.unhealthy_threshold",
            "upstreams.web.health_check.service",
            "upstreams.web.health_check.watch",
            "upstreams.web.health_check",
            "upstreams.web.health_check.path",
        ],
        "{errors}"
    );
    let text = errors.to_string();
    assert!(text.contains("health checks over TLS not supported yet"), "{text}");
    assert!(text.contains("must be at least 1"), "{text}");
}
