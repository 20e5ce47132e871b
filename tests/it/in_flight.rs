//! `max_in_flight` per route (issue 12, "Limits with safe defaults"), with a
//! real backend that holds its calls: N in flight pass, the next gets 503
//! with `Retry-After` (a gRPC or gRPC-Web client: UNAVAILABLE, trailers
//! only) before any upstream sees it, and a place frees when a response
//! ends: a streamed response holds its place until its stream ends, and a
//! client that goes away gives its place back.

use std::sync::Arc;

use protogate::{
    compile,
    config::Config,
    gateway::Gateway,
    observe::metrics::{Metrics, Pulled},
    proto::demo::v1::{Kitchen, echo_client::EchoClient},
    server::{self, RunningServer},
};
use tonic::Code;

use crate::support::held_backend::{HeldBackend, HeldCall};

const CONFIG: &str = r#"
listen: 127.0.0.1:0
descriptors: [{ file: descriptors/demo.pb }]
upstreams:
  held: { endpoints: ["http://{backend}"] }
  legacy: { protocol: http, endpoints: ["http://{backend}"] }
routes:
  - grpc: { service: demo.v1.Echo, upstream: held }
    max_in_flight: 2
  - grpc: { service: demo.v1.Stream, upstream: held }
    max_in_flight: 1
  - http: { prefix: /legacy/, upstream: legacy }
    max_in_flight: 1
"#;

/// The gateway in front of a [`HeldBackend`], its requests counted by real metrics.
struct Held {
    backend: HeldBackend,
    gateway: RunningServer,
    metrics: Arc<Metrics>,
    client: reqwest::Client,
}

impl Held {
    async fn start() -> Self {
        let backend = HeldBackend::start().await;
        let yaml = CONFIG.replace("{backend}", &backend.addr().to_string());
        let config = Config::from_yaml(&yaml, "test config").unwrap();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let compiled = compile::compile(&config, root, &[]).await.unwrap_or_else(|errors| panic!("{errors}"));
        let metrics = Metrics::new();
        let gateway = Arc::new(Gateway::with_observer(compiled.runtime, metrics.clone()));
        let listen = "127.0.0.1:0".parse().unwrap();
        let gateway = server::start(listen, compiled.listeners.head, gateway).await.unwrap();
        Self { backend, gateway, metrics, client: reqwest::Client::new() }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.gateway.addr())
    }

    /// Sends `GET path` in a task of its own, and waits for the backend to hold it.
    async fn hold(&mut self, path: &str) -> (tokio::task::JoinHandle<reqwest::Response>, HeldCall) {
        let request = self.client.get(self.url(path)).send();
        let pending = tokio::spawn(async move { request.await.unwrap() });
        (pending, self.backend.next_call().await)
    }

    /// Asserts that `GET path` is refused at once: 503, `Retry-After: 1`, UNAVAILABLE.
    async fn assert_refused(&self, path: &str) {
        let seen = self.backend.seen();
        let response = self.client.get(self.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["retry-after"], "1");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["code"], Code::Unavailable as i32, "{body}");
        assert!(body["message"].as_str().unwrap().contains("max_in_flight"), "{body}");
        assert_eq!(self.backend.seen(), seen, "a refused request reaches no backend");
    }

    /// The count of refusals past `max_in_flight` for the route `route`.
    fn refusals(&self, route: &str) -> f64 {
        let text = self.metrics.render(&Pulled::default());
        let series = format!("protogate_in_flight_refused_total{{route=\"{route}\"}} ");
        text.lines().find_map(|line| line.strip_prefix(&series)).map_or(0.0, |value| value.parse().unwrap())
    }
}

#[tokio::test]
async fn the_request_past_the_limit_is_refused_until_one_in_flight_finishes() {
    let mut held = Held::start().await;
    let (first, first_call) = held.hold("/v1/echo/1").await;
    let (second, second_call) = held.hold("/v1/echo/2").await;
    // Another binding of the same route shares its count.
    held.assert_refused("/v1/nested/3").await;
    held.assert_refused("/v1/echo/3").await;
    assert_eq!(held.refusals("GET /v1/echo/{id}"), 1.0);
    assert_eq!(held.refusals("GET /v1/nested/{id}"), 1.0);

    first_call.finish(true).await;
    assert_eq!(first.await.unwrap().status(), 200);
    let (third, third_call) = held.hold("/v1/echo/3").await;
    assert_eq!(held.backend.seen(), 3);
    for (pending, call) in [(second, second_call), (third, third_call)] {
        call.finish(true).await;
        assert_eq!(pending.await.unwrap().status(), 200);
    }
}

#[tokio::test]
async fn native_grpc_and_grpc_web_calls_past_the_limit_get_unavailable_trailers_only() {
    let mut held = Held::start().await;
    let _first = held.hold("/v1/echo/1").await;
    let _second = held.hold("/v1/echo/2").await;
    let seen = held.backend.seen();

    let mut client = EchoClient::connect(held.url("")).await.unwrap();
    let refused = client.echo(Kitchen::default()).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    assert!(refused.message().contains("max_in_flight"), "{refused:?}");

    let response = held
        .client
        .post(held.url("/demo.v1.Echo/Echo"))
        .header("content-type", "application/grpc-web+proto")
        .body(vec![0u8, 0, 0, 0, 0])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["grpc-status"], "14");
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(held.backend.seen(), seen, "neither reached the backend");
}

#[tokio::test]
async fn a_streamed_response_holds_its_place_until_the_stream_ends() {
    let mut held = Held::start().await;
    let (pending, call) = held.hold("/v1/stream/count/2").await;
    call.send_message().await;
    let mut stream = pending.await.unwrap();
    assert_eq!(stream.status(), 200);
    assert!(stream.chunk().await.unwrap().is_some(), "the first message arrives");
    // The handler has returned long ago; the body still streams.
    held.assert_refused("/v1/stream/count/2").await;

    call.finish(true).await;
    while stream.chunk().await.unwrap().is_some() {}
    let (pending, call) = held.hold("/v1/stream/count/2").await;
    call.finish(false).await;
    assert_eq!(pending.await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_client_that_goes_away_gives_its_place_back() {
    let mut held = Held::start().await;
    // Gone while the response streams.
    let (pending, call) = held.hold("/v1/stream/count/2").await;
    call.send_message().await;
    let mut stream = pending.await.unwrap();
    assert!(stream.chunk().await.unwrap().is_some());
    drop(stream);
    call.cancelled().await;
    let (pending, call) = held.hold("/v1/stream/count/2").await;

    // Gone before the response began.
    pending.abort();
    call.cancelled().await;
    let (pending, call) = held.hold("/v1/stream/count/2").await;
    call.finish(false).await;
    assert_eq!(pending.await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_pass_through_route_has_its_limit_too() {
    let mut held = Held::start().await;
    let (pending, call) = held.hold("/legacy/slow").await;
    assert_eq!(call.path, "/legacy/slow");
    held.assert_refused("/legacy/other").await;
    assert_eq!(held.refusals("/legacy/"), 1.0);
    call.finish(true).await;
    assert_eq!(pending.await.unwrap().status(), 200);
    let (pending, call) = held.hold("/legacy/again").await;
    call.finish(true).await;
    assert_eq!(pending.await.unwrap().status(), 200);
}

#[test]
fn a_zero_limit_is_refused_naming_its_key() {
    for (yaml, key) in [
        ("limits: { max_in_flight: 0 }\nroutes: []\n", "limits.max_in_flight"),
        (
            "upstreams: { l: { protocol: http, endpoints: [\"http://127.0.0.1:1\"] } }\n\
             routes: [{ http: { prefix: /l/, upstream: l }, max_in_flight: 0 }]\n",
            "routes[0].max_in_flight",
        ),
    ] {
        let config = Config::from_yaml(&format!("listen: 127.0.0.1:0\n{yaml}"), "test config").unwrap();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let compiled = tokio::runtime::Runtime::new().unwrap().block_on(compile::compile(&config, root, &[]));
        let Err(errors) = compiled else { panic!("max_in_flight: 0 compiled") };
        let errors = errors.to_string();
        assert!(errors.contains(key) && errors.contains("at least 1"), "{errors}");
    }
}
