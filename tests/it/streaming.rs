//! Server streams over REST against the demo backend's Stream service:
//! NDJSON, SSE and the JSON array, mid-stream errors and errors before the
//! first message, Last-Event-ID, a client disconnect cancelling the backend,
//! a slow reader holding the backend back, HttpBody downloads and HTTP/2
//! trailers.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use serde_json::{Value, json};

use crate::support::gateway::{DEMO_CONFIG, Harness};

/// The demo config with the Stream service routed, SSE ids from a counter.
fn config(stream: &str) -> String {
    format!("{DEMO_CONFIG}  - grpc: {{ service: demo.v1.Stream, upstream: demo, stream: {{ {stream} }} }}\n")
}

async fn harness() -> Harness {
    Harness::with_config(&config("sse_id: counter, sse_keepalive: 50ms")).await
}

/// Polls `done` every 10 ms, for at most 10 s.
async fn eventually(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..1000 {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    done()
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line:?}")))
        .collect()
}

fn counted(index: i32) -> Value {
    json!({"index": index, "cursor": format!("cursor-{index}"), "lastEventId": "", "payload": ""})
}

/// The events of an SSE body: (event, id, data), comments skipped.
fn events(text: &str) -> Vec<(String, Option<String>, String)> {
    let mut events = Vec::new();
    for block in text.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let (mut event, mut id, mut data) = ("message".to_owned(), None, Vec::new());
        for line in block.lines() {
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = line.split_once(": ").unwrap_or((line, ""));
            match field {
                "event" => event = value.to_owned(),
                "id" => id = Some(value.to_owned()),
                "data" => data.push(value),
                other => panic!("unexpected SSE field {other:?} in {block:?}"),
            }
        }
        if !data.is_empty() {
            events.push((event, id, data.join("\n")));
        }
    }
    events
}

#[tokio::test]
async fn ndjson_is_the_default_one_enveloped_message_a_line() {
    let harness = harness().await;
    let response = harness.client.get(harness.url("/v1/stream/count/3")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let body = response.text().await.unwrap();
    assert!(body.ends_with('\n'), "{body:?}");
    assert_eq!(lines(&body), (0..3).map(|i| json!({"result": counted(i)})).collect::<Vec<_>>());
}

#[tokio::test]
async fn without_the_envelope_each_line_is_the_message() {
    let harness = Harness::with_config(&config("envelope: false")).await;
    let body =
        harness.client.get(harness.url("/v1/stream/count/2")).send().await.unwrap().text().await.unwrap();
    assert_eq!(lines(&body), vec![counted(0), counted(1)]);
}

#[tokio::test]
async fn each_line_arrives_as_its_message_is_sent() {
    let harness = harness().await;
    let url = harness.url("/v1/stream/count/2?delayMillis=60000");
    let mut response = harness.client.get(url).send().await.unwrap();
    // The second message is a minute away: the first line comes alone.
    let chunk =
        tokio::time::timeout(Duration::from_secs(10), response.chunk()).await.unwrap().unwrap().unwrap();
    assert_eq!(lines(std::str::from_utf8(&chunk).unwrap()), vec![json!({"result": counted(0)})]);
}

#[tokio::test]
async fn sse_sends_one_data_event_per_message_with_counter_ids() {
    let harness = harness().await;
    let response = harness
        .client
        .get(harness.url("/v1/stream/count/3"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert_eq!(response.headers()["cache-control"], "no-cache");
    let body = response.text().await.unwrap();
    let expected: Vec<_> =
        (0..3).map(|i| ("message".to_owned(), Some(i.to_string()), counted(i).to_string())).collect();
    assert_eq!(events(&body), expected, "{body}");
}

#[tokio::test]
async fn sse_ids_may_come_from_a_reply_field_and_keep_alives_fill_the_gaps() {
    let harness = Harness::with_config(&config("sse_id: { field: cursor }, sse_keepalive: 20ms")).await;
    let url = harness.url("/v1/stream/count/2?delayMillis=300");
    let response = harness.client.get(url).header("accept", "text/event-stream").send().await.unwrap();
    let body = response.text().await.unwrap();
    let ids: Vec<_> = events(&body).into_iter().map(|(_, id, _)| id).collect();
    assert_eq!(ids, vec![Some("cursor-0".to_owned()), Some("cursor-1".to_owned())]);
    assert!(body.contains(": keep-alive\n\n"), "no keep-alive in a 300 ms gap at 20 ms: {body:?}");
}

#[tokio::test]
async fn a_reconnecting_clients_last_event_id_reaches_the_backend() {
    let harness = harness().await;
    let response = harness
        .client
        .get(harness.url("/v1/stream/count/1"))
        .header("accept", "text/event-stream")
        .header("last-event-id", "41")
        .send()
        .await
        .unwrap();
    let events = events(&response.text().await.unwrap());
    let data: Value = serde_json::from_str(&events[0].2).unwrap();
    assert_eq!(data["lastEventId"], "41");
}

#[tokio::test]
async fn accept_application_json_streams_one_array() {
    let harness = harness().await;
    let get = |path: &str| harness.client.get(harness.url(path)).header("accept", "application/json").send();
    let response = get("/v1/stream/count/3").await.unwrap();
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(body, Value::Array((0..3).map(|i| json!({"result": counted(i)})).collect()));
    let empty = get("/v1/stream/count/0").await.unwrap().text().await.unwrap();
    assert_eq!(empty, "[]");
}

#[tokio::test]
async fn a_route_option_sets_the_default_framing() {
    let harness = Harness::with_config(&config("framing: json")).await;
    let body =
        harness.client.get(harness.url("/v1/stream/count/1")).send().await.unwrap().text().await.unwrap();
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), json!([{"result": counted(0)}]));
}

#[tokio::test]
async fn a_failure_after_the_first_message_ends_each_framing_with_its_error_frame() {
    let harness = harness().await;
    let get = |accept: &'static str| {
        harness.client.get(harness.url("/v1/stream/fail/9")).header("accept", accept).send()
    };
    let error = json!({"code": 9, "message": "failed after two messages", "details": []});

    let ndjson = get("application/x-ndjson").await.unwrap();
    assert_eq!(ndjson.status(), 200);
    let ndjson = lines(&ndjson.text().await.unwrap());
    assert_eq!(ndjson.len(), 3);
    assert_eq!(ndjson[2], json!({ "error": error }));

    let sse = events(&get("text/event-stream").await.unwrap().text().await.unwrap());
    assert_eq!(sse.len(), 3);
    assert_eq!(
        (sse[2].0.as_str(), serde_json::from_str::<Value>(&sse[2].2).unwrap()),
        ("error", error.clone())
    );

    let array: Value =
        serde_json::from_str(&get("application/json").await.unwrap().text().await.unwrap()).unwrap();
    assert_eq!(array.as_array().unwrap().len(), 3);
    assert_eq!(array[2], json!({ "error": error }));
}

#[tokio::test]
async fn a_failure_before_the_first_message_is_an_ordinary_error_response() {
    let harness = harness().await;
    let (status, body) = harness.get_json("/v1/stream/fail/5?beforeFirst=true").await;
    assert_eq!((status, body["code"].clone()), (404, json!(5)), "{body}");
    assert_eq!(body["message"], "failed before the first message");
}

#[tokio::test]
async fn a_client_that_goes_away_cancels_the_backends_stream() {
    let harness = harness().await;
    let url = harness.url("/v1/stream/count/1000?delayMillis=20");
    let mut response = harness.client.get(url).send().await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(10), response.chunk()).await.unwrap().unwrap();
    assert!(first.is_some());
    assert_eq!(harness.backend().stream_probe().cancelled(), 0);
    drop(response);
    let probe = harness.backend().stream_probe();
    assert!(eventually(|| probe.cancelled() == 1).await, "the backend never saw the stream cancelled");
    assert!(probe.sent() < 1000, "the backend sent the whole stream: {}", probe.sent());
}

#[tokio::test]
async fn a_slow_reader_holds_the_backend_back() {
    const PAYLOAD: usize = 16 * 1024;
    let harness = harness().await;
    let url = harness.url(&format!("/v1/stream/count/100000?payloadBytes={PAYLOAD}"));
    let mut response = harness.client.get(url).send().await.unwrap();
    let mut read = 0usize;
    while read < 5 * PAYLOAD {
        read += response.chunk().await.unwrap().unwrap().len();
    }
    // The reader stops; the backend runs until the windows and buffers
    // between them are full, and then waits.
    let probe = harness.backend().stream_probe();
    let mut last = probe.sent();
    let mut stable = 0;
    for _ in 0..500 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let now = probe.sent();
        stable = if now == last { stable + 1 } else { 0 };
        last = now;
        if stable == 10 {
            break;
        }
    }
    assert_eq!(stable, 10, "the backend never stopped sending to a reader that stopped: {last} sent");
    let read_messages = (read / PAYLOAD) as u64;
    // Flow-control windows (2 MiB to the gateway, the sockets' buffers to
    // the client) hold a few hundred of these messages; a gateway that
    // buffered would have taken the 100 000.
    assert!(last - read_messages < 1000, "{last} sent, {read_messages} read");
    eprintln!("slow reader: {last} messages sent by the backend, {read_messages} read by the client");
}

#[tokio::test]
async fn an_http_body_stream_downloads_as_raw_bytes_with_the_first_content_type() {
    let harness = harness().await;
    let response =
        harness.client.get(harness.url("/v1/stream/download/notes?chunks=3")).send().await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/plain");
    assert_eq!(response.text().await.unwrap(), "notes part 0\nnotes part 1\nnotes part 2\n");
}

#[tokio::test]
async fn http2_clients_get_grpc_status_trailers_at_the_end_of_every_stream() {
    let harness = harness().await;
    let addr = harness.url("").trim_start_matches("http://").to_owned();
    let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    for (path, status, message) in
        [("/v1/stream/count/2", "0", ""), ("/v1/stream/fail/9", "9", "failed after two messages")]
    {
        let request = http::Request::get(format!("http://{addr}{path}")).body(Empty::<Bytes>::new()).unwrap();
        let response = sender.send_request(request).await.unwrap();
        let collected = response.into_body().collect().await.unwrap();
        let trailers = collected.trailers().cloned().expect("no trailers");
        assert_eq!(trailers["grpc-status"], status, "{path}");
        assert_eq!(trailers["grpc-message"], message, "{path}");
        assert!(collected.to_bytes().ends_with(b"\n"), "{path}");
    }
}

/// The NDJSON lines of `path` on a route with `limit`, ending with the
/// limit's DEADLINE_EXCEEDED naming `key`; and the harness.
async fn ended_by_limit(limit: &str, path: &str, key: &str) -> (Vec<Value>, Harness) {
    let harness = Harness::with_config(&config(limit)).await;
    let body = harness.client.get(harness.url(path)).send().await.unwrap().text().await.unwrap();
    let frames = lines(&body);
    let last = &frames.last().unwrap()["error"];
    assert_eq!(last["code"], 4, "{body}");
    assert!(last["message"].as_str().unwrap().contains(key), "{body}");
    (frames, harness)
}

#[tokio::test]
async fn idle_timeout_ends_the_stream_with_its_status_and_cancels_the_backend() {
    let (frames, harness) =
        ended_by_limit("idle_timeout: 100ms", "/v1/stream/count/3?delayMillis=2000", "idle_timeout").await;
    assert_eq!(frames.len(), 2, "{frames:?}");
    let probe = harness.backend().stream_probe();
    assert!(eventually(|| probe.cancelled() == 1).await, "the backend's stream was not cancelled");
}

#[tokio::test]
async fn max_duration_ends_the_stream_with_its_status() {
    let (frames, _harness) =
        ended_by_limit("max_duration: 300ms", "/v1/stream/count/1000?delayMillis=50", "max_duration").await;
    assert!(frames.len() < 100, "{frames:?}");
}
