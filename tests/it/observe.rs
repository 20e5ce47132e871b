//! The observer sees every request's named phases, in order, through the
//! request's context: for a transcoded call, a pass-through call, and
//! requests refused before (404) or by (401) a route's policies; and the
//! response finishes when its body has been sent, not when the handler
//! returned.

use std::{
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

use protogate::{
    compile,
    config::Config,
    demo::DemoBackend,
    gateway::Gateway,
    observe::{Observer, Phase, RequestContext},
    server::{self, RunningServer},
};
use tokio::sync::Notify;

use crate::support::http_backends::start_echo;

const CONFIG: &str = r#"
listen: 127.0.0.1:0
descriptors: [{ file: descriptors/demo.pb }]
upstreams:
  demo: { endpoints: ["http://{backend}"] }
  legacy: { protocol: http, endpoints: ["http://{legacy}"] }
policies:
  partners:
    api_key: { keys: [{ consumer: acme, sha256: "0000000000000000000000000000000000000000000000000000000000000000" }] }
routes:
  - grpc: { service: demo.v1.Library, upstream: demo }
  - grpc: { service: demo.v1.Stream, upstream: demo }
  - http: { prefix: /legacy/, upstream: legacy, strip_prefix: true }
  - http: { prefix: /partner/, upstream: legacy }
    policies: [partners]
"#;

/// Every phase as one line: the request id, the phase and what matters of it.
#[derive(Default)]
struct Recorder {
    lines: Mutex<Vec<(String, String)>>,
    changed: Notify,
}

impl Observer for Recorder {
    fn on_phase(&self, context: &RequestContext, phase: Phase<'_>) {
        let line = match phase {
            Phase::RequestReceived { head } => format!("received {} {}", head.method, head.uri.path()),
            Phase::RouteMatched { kind } => format!("matched {kind:?} {}", context.route().unwrap_or("-")),
            Phase::InFlightRefused { max } => format!("in flight {max}"),
            Phase::PolicyDecided { refused } => format!("policy {refused:?}"),
            Phase::UpstreamPicked { upstream, .. } => format!("picked {upstream}"),
            Phase::UpstreamFinished { upstream, outcome, .. } => format!("finished {upstream} {outcome:?}"),
            Phase::ResponseFinished { status, end, .. } => format!("response {} {end:?}", status.as_u16()),
            Phase::StreamEnded => "stream ended".to_owned(),
            Phase::StreamFinished { report } => {
                format!("stream finished {} {} {}", report.framing, report.messages, report.end)
            }
            // Told after the response, or not phases of the flow this test follows.
            Phase::RateLimitDecided { .. } | Phase::AuthenticationFailed { .. } | Phase::RequestEnded => {
                return;
            }
        };
        let id = context.request_id().to_str().unwrap_or("?").to_owned();
        self.lines.lock().unwrap().push((id, line));
        self.changed.notify_waiters();
    }
}

impl Recorder {
    /// The phases of request `id` once its response finished (5 s at most).
    async fn phases_of(&self, id: &str) -> Vec<String> {
        let wait = async {
            loop {
                let changed = self.changed.notified();
                let lines = self.of(id);
                if lines.last().is_some_and(|line| line.starts_with("response ")) {
                    return lines;
                }
                changed.await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), wait)
            .await
            .unwrap_or_else(|_| panic!("request {id} never finished: {:?}", self.of(id)))
    }

    /// The `stream finished` line of request `id`, once there is one (5 s at most).
    async fn stream_end_of(&self, id: &str) -> String {
        for _ in 0..500 {
            if let Some(line) = self.of(id).into_iter().find(|line| line.starts_with("stream finished")) {
                return line;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("request {id} never finished a stream: {:?}", self.of(id))
    }

    fn of(&self, id: &str) -> Vec<String> {
        let lines = self.lines.lock().unwrap();
        lines.iter().filter(|(of, _)| of == id).map(|(_, line)| line.clone()).collect()
    }
}

struct Setup {
    _backend: DemoBackend,
    gateway: RunningServer,
    recorder: Arc<Recorder>,
    client: reqwest::Client,
}

impl Setup {
    async fn start() -> Self {
        let backend = DemoBackend::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let legacy = start_echo().await;
        let yaml =
            CONFIG.replace("{backend}", &backend.addr().to_string()).replace("{legacy}", &legacy.to_string());
        let config = Config::from_yaml(&yaml, "test config").unwrap();
        let compiled = compile::compile(&config, Path::new(env!("CARGO_MANIFEST_DIR")), &[]).await.unwrap();
        let recorder = Arc::new(Recorder::default());
        let gateway = Arc::new(Gateway::with_observer(compiled.runtime, recorder.clone()));
        let listen = "127.0.0.1:0".parse().unwrap();
        let gateway = server::start(listen, compiled.listeners.head, gateway).await.unwrap();
        Self { _backend: backend, gateway, recorder, client: reqwest::Client::new() }
    }

    /// GETs `path` with request id `id`, reads the whole body, and returns
    /// the status and the phases the observer saw.
    async fn get(&self, path: &str, id: &str) -> (u16, Vec<String>) {
        let url = format!("http://{}{path}", self.gateway.addr());
        let response = self.client.get(url).header("x-request-id", id).send().await.unwrap();
        assert_eq!(response.headers()["x-request-id"], id, "the response carries the request id");
        let status = response.status().as_u16();
        response.bytes().await.unwrap();
        (status, self.recorder.phases_of(id).await)
    }
}

#[tokio::test]
async fn a_transcoded_call_goes_through_every_phase_in_order() {
    let setup = Setup::start().await;
    let (status, phases) = setup.get("/v1/shelves/1", "transcoded-1").await;
    assert_eq!(status, 200);
    assert_eq!(
        phases,
        [
            "received GET /v1/shelves/1",
            "matched Transcoded GET /v1/shelves/{shelf}",
            "policy None",
            "picked demo",
            "finished demo Success",
            "response 200 Complete",
        ]
    );
}

#[tokio::test]
async fn a_pass_through_call_goes_through_every_phase_in_order() {
    let setup = Setup::start().await;
    let (status, phases) = setup.get("/legacy/a?b=1", "proxied-1").await;
    assert_eq!(status, 200);
    assert_eq!(
        phases,
        [
            "received GET /legacy/a",
            "matched Proxied /legacy/",
            "policy None",
            "picked legacy",
            "finished legacy Success",
            "response 200 Complete",
        ]
    );
}

#[tokio::test]
async fn refused_requests_end_without_an_upstream() {
    let setup = Setup::start().await;
    let (status, phases) = setup.get("/nowhere", "not-found-1").await;
    assert_eq!(status, 404);
    assert_eq!(phases, ["received GET /nowhere", "response 404 Complete"]);
    let (status, phases) = setup.get("/partner/orders", "unauthenticated-1").await;
    assert_eq!(status, 401);
    assert_eq!(
        phases,
        [
            "received GET /partner/orders",
            "matched Proxied /partner/",
            "policy Some(401)",
            "response 401 Complete",
        ]
    );
}

#[tokio::test]
async fn the_response_finishes_when_its_body_has_been_sent() {
    let setup = Setup::start().await;
    // More than the sockets between the gateway and this client can hold.
    let url = format!("http://{}/legacy/download?bytes={}", setup.gateway.addr(), 64 << 20);
    let mut response = setup.client.get(url).header("x-request-id", "download-1").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let first = response.chunk().await.unwrap().expect("a first chunk");
    let seen = setup.recorder.of("download-1");
    assert!(
        !seen.iter().any(|line| line.starts_with("response")),
        "finished before its body was sent: {seen:?}"
    );
    let mut received = first.len();
    while let Some(chunk) = response.chunk().await.unwrap() {
        received += chunk.len();
    }
    assert_eq!(received, 64 << 20);
    let phases = setup.recorder.phases_of("download-1").await;
    assert_eq!(phases[phases.len() - 2..], ["finished legacy Success", "response 200 Complete"]);

    // A client that goes away mid-body: the body is dropped.
    let url = format!("http://{}/legacy/download?bytes={}", setup.gateway.addr(), 64 << 20);
    let mut response = setup.client.get(url).header("x-request-id", "download-2").send().await.unwrap();
    response.chunk().await.unwrap();
    drop(response);
    let phases = setup.recorder.phases_of("download-2").await;
    assert_eq!(phases[phases.len() - 2..], ["finished legacy Ignored", "response 200 Dropped"]);
}

#[tokio::test]
async fn a_fresh_request_id_is_sent_to_the_backend_and_returned() {
    let setup = Setup::start().await;
    let url = format!("http://{}/legacy/echo", setup.gateway.addr());
    let response = setup.client.get(url).header("x-request-id", "not a token").send().await.unwrap();
    let id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 32, "{id}");
    let echoed: serde_json::Value = response.json().await.unwrap();
    assert_eq!(echoed["headers"]["x-request-id"], serde_json::json!([id]));
}

#[tokio::test]
async fn client_streams_and_websockets_tell_how_they_went_too() {
    let setup = Setup::start().await;
    let url = format!("http://{}/v1/stream/sum", setup.gateway.addr());
    let body = "{\"index\":1}\n{\"index\":2}\n";
    let sent = setup.client.post(url).header("x-request-id", "client-1").body(body).send().await.unwrap();
    assert_eq!(sent.status(), 200);
    sent.bytes().await.unwrap();
    assert_eq!(setup.recorder.stream_end_of("client-1").await, "stream finished json 1 complete");
    // A WebSocket bidirectional stream, half-closed by the client.
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};
    let mut request = format!("ws://{}/v1/stream/chat", setup.gateway.addr()).into_client_request().unwrap();
    request.headers_mut().insert("x-request-id", "ws-1".parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    socket.send(Message::text("{}")).await.unwrap();
    socket.send(Message::text("")).await.unwrap();
    while let Ok(Some(Ok(_))) = tokio::time::timeout(Duration::from_secs(10), socket.next()).await {}
    assert_eq!(setup.recorder.stream_end_of("ws-1").await, "stream finished websocket 1 complete");
}
