//! `/metrics` on the admin listener: scraped and parsed as Prometheus text,
//! the request, upstream, retry, policy, reload, health and build metrics
//! are there and move after requests; labels are route ids, so a thousand
//! distinct paths make no new series.

use std::{collections::BTreeMap, path::PathBuf, sync::Arc, time::Duration};

use protogate::{
    admin::{self, AdminOptions, AdminServer},
    config::Config,
    demo::DemoBackend,
    proto::demo::v1::{FailRequest, Kitchen, echo_client::EchoClient},
    reload::{ConfigSource, ReloadResult, Reloader, Trigger},
    server::{self, RunningServer},
};

const CONFIG: &str = r#"
listen: 127.0.0.1:0
admin: { listen: 127.0.0.1:0 }
descriptors: [{ file: descriptors/demo.pb }]
upstreams:
  demo: { endpoints: ["http://{backend}"], retry: { attempts: 3 } }
  legacy: { protocol: http, endpoints: ["http://{legacy}"] }
policies:
  partners:
    api_key: { keys: [{ consumer: acme, sha256: "0000000000000000000000000000000000000000000000000000000000000000" }] }
  one-per-minute:
    rate_limit: { key: route, rate: 1/m, burst: 1 }
routes:
  - grpc: { service: demo.v1.Echo, upstream: demo }
  - grpc: { service: demo.v1.Stream, upstream: demo }
  - http: { prefix: /partner/, upstream: legacy }
    policies: [partners]
  - http: { prefix: /limited/, upstream: legacy }
    policies: [one-per-minute]
"#;

/// One sample: its labels and value.
type Samples = Vec<(BTreeMap<String, String>, f64)>;

/// The gateway with its admin listener, as `protogate run` starts them.
struct Running {
    _backend: DemoBackend,
    reloader: Arc<Reloader>,
    gateway: RunningServer,
    admin: AdminServer,
    client: reqwest::Client,
}

impl Running {
    async fn start() -> Self {
        let backend = DemoBackend::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let legacy = crate::support::http_backends::start_echo().await;
        let yaml =
            CONFIG.replace("{backend}", &backend.addr().to_string()).replace("{legacy}", &legacy.to_string());
        let config = Config::from_yaml(&yaml, "test config").unwrap();
        let source = ConfigSource::Fixed {
            config: Box::new(config),
            base_dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        };
        let reloader = Reloader::start(source, Vec::new()).await.unwrap_or_else(|error| panic!("{error}"));
        let head = reloader.listeners().head;
        let gateway =
            server::start("127.0.0.1:0".parse().unwrap(), head, reloader.gateway().clone()).await.unwrap();
        let options = AdminOptions {
            reloader: Some(reloader.clone()),
            metrics: reloader.metrics().cloned(),
            connections: vec![(gateway.addr(), gateway.connection_stats().clone())],
            ..AdminOptions::default()
        };
        let admin =
            admin::start("127.0.0.1:0".parse().unwrap(), reloader.gateway().clone(), options).await.unwrap();
        Self { _backend: backend, reloader, gateway, admin, client: reqwest::Client::new() }
    }

    async fn get(&self, path: &str) -> u16 {
        let url = format!("http://{}{path}", self.gateway.addr());
        let response = self.client.get(url).send().await.unwrap();
        let status = response.status().as_u16();
        response.bytes().await.unwrap();
        status
    }

    async fn scrape(&self) -> String {
        let response = self.client.get(format!("http://{}/metrics", self.admin.addr())).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
        response.text().await.unwrap()
    }

    /// A scrape once no request is in flight (a request ends when its
    /// response body is let go, just after the client has read it).
    async fn settled(&self) -> BTreeMap<String, Samples> {
        for _ in 0..100 {
            let metrics = parse(&self.scrape().await);
            if value(&metrics, "protogate_requests_in_flight", &[]) == 0.0 {
                return metrics;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("requests stay in flight:\n{}", self.scrape().await);
    }
}

/// Prometheus text → samples by metric name (panics on a line that is not
/// `name{label="value",...} number`).
fn parse(text: &str) -> BTreeMap<String, Samples> {
    let mut metrics: BTreeMap<String, Samples> = BTreeMap::new();
    for line in text.lines().filter(|line| !line.is_empty() && !line.starts_with('#')) {
        let (series, number) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {line}"));
        let number: f64 = number.parse().unwrap_or_else(|_| panic!("not a number: {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => {
                (name, rest.strip_suffix('}').unwrap_or_else(|| panic!("unclosed: {line}")))
            }
            None => (series, ""),
        };
        let mut parsed = BTreeMap::new();
        let mut rest = labels;
        while !rest.is_empty() {
            let (key, after) = rest.split_once("=\"").unwrap_or_else(|| panic!("bad label in {line}"));
            let end = after.find('"').unwrap_or_else(|| panic!("unterminated label in {line}"));
            parsed.insert(key.to_owned(), after[..end].to_owned());
            rest = after[end + 1..].trim_start_matches(',');
        }
        metrics.entry(name.to_owned()).or_default().push((parsed, number));
    }
    metrics
}

/// The sum of `name`'s samples whose labels include `labels`.
fn value(metrics: &BTreeMap<String, Samples>, name: &str, labels: &[(&str, &str)]) -> f64 {
    let samples = metrics.get(name).unwrap_or_else(|| panic!("no {name} among {:?}", metrics.keys()));
    samples
        .iter()
        .filter(|(have, _)| {
            labels.iter().all(|(key, value)| have.get(*key).map(String::as_str) == Some(*value))
        })
        .map(|(_, value)| value)
        .sum()
}

#[tokio::test]
async fn every_metric_is_there_and_moves_after_requests() {
    let running = Running::start().await;
    let before = running.settled().await;
    assert_eq!(value(&before, "protogate_build_info", &[("version", env!("CARGO_PKG_VERSION"))]), 1.0);
    assert_eq!(value(&before, "protogate_config_generation", &[]), 1.0);
    assert_eq!(value(&before, "protogate_config_reloads_total", &[("result", "success")]), 0.0);
    assert_eq!(
        value(&before, "protogate_upstream_breaker_state", &[("upstream", "demo"), ("state", "closed")]),
        1.0
    );
    assert_eq!(
        value(&before, "protogate_upstream_breaker_state", &[("upstream", "demo"), ("state", "open")]),
        0.0
    );
    assert_eq!(value(&before, "protogate_upstream_endpoint_healthy", &[("upstream", "demo")]), 1.0);

    for id in 0..3 {
        assert_eq!(running.get(&format!("/v1/echo/{id}")).await, 200);
    }
    assert_eq!(running.get("/v1/fail/14").await, 503, "UNAVAILABLE, tried 3 times");
    assert_eq!(running.get("/partner/x").await, 401);
    // Native gRPC through the pass-through: the status in the trailers, and
    // in a trailers-only head.
    let mut native = EchoClient::connect(format!("http://{}", running.gateway.addr())).await.unwrap();
    native.echo(Kitchen::default()).await.unwrap();
    let missing = FailRequest { code: 5, ..FailRequest::default() };
    assert_eq!(native.fail(missing).await.unwrap_err().code(), tonic::Code::NotFound);
    assert_eq!(running.get("/v1/stream/count/3").await, 200);
    let sum = running.client.post(format!("http://{}/v1/stream/sum", running.gateway.addr()));
    let sum = sum.header("content-type", "application/x-ndjson").body("{\"index\": 1}\n{\"index\": 2}\n");
    assert_eq!(sum.send().await.unwrap().status(), 200);
    assert_eq!((running.get("/limited/a").await, running.get("/limited/b").await), (200, 429));
    assert_eq!(running.reloader.reload(Trigger::Admin).await.result, ReloadResult::Ok);

    let after = running.settled().await;
    let echo = [
        ("route", "GET /v1/echo/{id}"),
        ("method", "GET"),
        ("status", "200"),
        ("grpc_code", "OK"),
        ("grpc_service", "demo.v1.Echo"),
        ("grpc_method", "Echo"),
    ];
    assert_eq!(value(&after, "protogate_requests_total", &echo), 3.0);
    let fail = [("route", "GET /v1/fail/{code}"), ("status", "503"), ("grpc_code", "UNAVAILABLE")];
    assert_eq!(value(&after, "protogate_requests_total", &fail), 1.0);
    let echo_route = [("route", "GET /v1/echo/{id}"), ("method", "GET")];
    assert_eq!(value(&after, "protogate_request_duration_seconds_count", &echo_route), 3.0);
    assert!(value(&after, "protogate_request_duration_seconds_sum", &echo_route) > 0.0);
    let buckets = &after["protogate_request_duration_seconds_bucket"];
    assert!(buckets.iter().any(|(labels, count)| labels["le"] == "+Inf" && *count == 3.0), "{buckets:?}");
    assert_eq!(
        value(&after, "protogate_upstream_requests_total", &[("upstream", "demo"), ("outcome", "success")]),
        7.0,
        "3 REST calls, 2 native ones (NOT_FOUND is not a failure code) and 2 streams"
    );
    assert_eq!(
        value(&after, "protogate_upstream_requests_total", &[("upstream", "demo"), ("outcome", "failure")]),
        3.0
    );
    // Each try is counted with the gRPC code it ended with; an HTTP
    // pass-through's tries have none.
    let tries = |code| [("upstream", "demo"), ("grpc_code", code)];
    assert_eq!(value(&after, "protogate_upstream_requests_total", &tries("OK")), 6.0);
    assert_eq!(value(&after, "protogate_upstream_requests_total", &tries("NOT_FOUND")), 1.0);
    assert_eq!(value(&after, "protogate_upstream_requests_total", &tries("UNAVAILABLE")), 3.0);
    let legacy = [("upstream", "legacy"), ("outcome", "success"), ("grpc_code", "")];
    assert_eq!(value(&after, "protogate_upstream_requests_total", &legacy), 1.0);
    assert_eq!(value(&after, "protogate_upstream_duration_seconds_count", &[("upstream", "demo")]), 10.0);
    assert_eq!(value(&after, "protogate_upstream_retries_total", &[("upstream", "demo")]), 2.0);
    let (count, sum) = (("route", "GET /v1/stream/count/{count}"), ("route", "POST /v1/stream/sum"));
    let ended = [count, ("framing", "ndjson"), ("end", "complete")];
    assert_eq!(value(&after, "protogate_streams_total", &ended), 1.0);
    assert_eq!(value(&after, "protogate_stream_messages_total", &[count, ("direction", "sent")]), 3.0);
    let ended = [sum, ("framing", "json"), ("end", "complete")];
    assert_eq!(value(&after, "protogate_streams_total", &ended), 1.0);
    assert_eq!(value(&after, "protogate_stream_messages_total", &[sum, ("direction", "received")]), 2.0);
    assert_eq!(value(&after, "protogate_stream_messages_total", &[sum, ("direction", "sent")]), 1.0);
    let refused = [("route", "/partner/"), ("status", "401"), ("grpc_code", "UNAUTHENTICATED")];
    assert_eq!(value(&after, "protogate_requests_total", &refused), 1.0);
    let missing = [("policy", "partners"), ("reason", "missing")];
    assert_eq!(value(&after, "protogate_authentication_failures_total", &missing), 1.0);
    let limit = |result| [("policy", "one-per-minute"), ("result", result)];
    assert_eq!(value(&after, "protogate_rate_limit_decisions_total", &limit("allowed")), 1.0);
    assert_eq!(value(&after, "protogate_rate_limit_decisions_total", &limit("limited")), 1.0);
    assert_eq!(value(&after, "protogate_config_reloads_total", &[("result", "success")]), 1.0);
    assert_eq!(value(&after, "protogate_config_generation", &[]), 2.0);
    // The client's pooled keep-alive connection is still open.
    assert!(value(&after, "protogate_connections_open", &[]) >= 1.0);
    assert_eq!(value(&after, "protogate_connections_refused_total", &[]), 0.0);
    running.admin.shutdown().await;
}

#[tokio::test]
async fn a_thousand_distinct_paths_make_no_new_series() {
    let running = Running::start().await;
    for n in 0..10 {
        assert_eq!(running.get(&format!("/nothing/{n}")).await, 404);
        assert_eq!(running.get(&format!("/v1/echo/{n}?q={n}")).await, 200);
    }
    let series = |text: &str| text.lines().filter(|line| !line.starts_with('#')).count();
    let first = running.settled().await;
    let lines = series(&running.scrape().await);
    for n in 10..500 {
        assert_eq!(running.get(&format!("/nothing/{n}")).await, 404);
        assert_eq!(running.get(&format!("/v1/echo/{n}?q={n}")).await, 200);
    }
    let text = running.scrape().await;
    assert_eq!(series(&text), lines, "no new series:\n{text}");
    assert!(!text.contains("/nothing/"), "no raw path in a label:\n{text}");
    let no_route = [("route", "none"), ("status", "404"), ("grpc_code", "NOT_FOUND")];
    assert_eq!(value(&first, "protogate_requests_total", &no_route), 10.0);
    assert_eq!(value(&running.settled().await, "protogate_requests_total", &no_route), 500.0);
    running.admin.shutdown().await;
}
