//! Client and bidirectional streams over HTTP against the demo backend's
//! Stream service: NDJSON and JSON-array request bodies, each message sent
//! to the backend as it arrives, HTTP/2 full duplex, a malformed message in
//! the middle, and the per-message, per-stream, per-route and
//! per-connection limits.

use std::{convert::Infallible, time::Duration};

use bytes::Bytes;
use http::Request;
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody};
use hyper::client::conn::http2::SendRequest;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::support::gateway::{DEMO_CONFIG, Harness};

/// A request body the test writes as it goes.
type OpenBody = StreamBody<ReceiverStream<Result<Frame<Bytes>, Infallible>>>;

fn config(stream: &str) -> String {
    format!("{DEMO_CONFIG}  - grpc: {{ service: demo.v1.Stream, upstream: demo, stream: {{ {stream} }} }}\n")
}

/// An open request body and the sender of its chunks.
fn open_body() -> (mpsc::Sender<Result<Frame<Bytes>, Infallible>>, OpenBody) {
    let (tx, rx) = mpsc::channel(4);
    (tx, StreamBody::new(ReceiverStream::new(rx)))
}

async fn send(tx: &mpsc::Sender<Result<Frame<Bytes>, Infallible>>, text: &str) {
    tx.send(Ok(Frame::data(Bytes::from(text.to_owned())))).await.unwrap();
}

/// An HTTP/2 connection to the gateway.
async fn http2(harness: &Harness) -> SendRequest<OpenBody> {
    let tcp = tokio::net::TcpStream::connect(harness.addr()).await.unwrap();
    let (sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    sender
}

fn post(harness: &Harness, path: &str, body: OpenBody) -> Request<OpenBody> {
    Request::post(harness.url(path)).header("content-type", "application/x-ndjson").body(body).unwrap()
}

/// Waits (10 s at most) until `done`.
async fn eventually(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..1000 {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    done()
}

async fn post_text(harness: &Harness, content_type: &str, body: &str) -> (u16, Value) {
    let response = harness
        .client
        .post(harness.url("/v1/stream/sum"))
        .header("content-type", content_type)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    crate::support::gateway::json_of(response).await
}

#[tokio::test]
async fn a_client_stream_reads_ndjson_and_json_arrays_and_answers_one_json_reply() {
    let harness = Harness::with_config(&config("")).await;
    let ndjson = "{\"index\": 1}\n\n{\"index\": 2}\n{\"index\": 4}";
    let (status, body) = post_text(&harness, "application/x-ndjson", ndjson).await;
    assert_eq!((status, body["index"].clone()), (200, json!(7)), "{body}");
    let (status, body) = post_text(&harness, "application/json", "[{\"index\":5}, {\"index\":6}]").await;
    assert_eq!((status, body["index"].clone()), (200, json!(11)), "{body}");
    let (status, body) = post_text(&harness, "application/json", "[]").await;
    assert_eq!((status, body["index"].clone()), (200, json!(0)), "{body}");
    let (status, body) = post_text(&harness, "text/plain", "{}").await;
    assert_eq!(status, 415, "{body}");
    assert_eq!(harness.backend().stream_probe().received(), 5);
}

#[tokio::test]
async fn each_message_reaches_the_backend_before_the_client_sends_the_next() {
    let harness = Harness::with_config(&config("")).await;
    let mut sender = http2(&harness).await;
    let (tx, body) = open_body();
    let response = tokio::spawn(sender.send_request(post(&harness, "/v1/stream/sum", body)));
    let probe = harness.backend().stream_probe();
    send(&tx, "{\"index\": 10}\n{\"ind").await;
    assert!(eventually(|| probe.received() == 1).await, "the first message never reached the backend");
    send(&tx, "ex\": 20}\n").await;
    assert!(eventually(|| probe.received() == 2).await, "the second message never reached the backend");
    drop(tx);
    let response = response.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    let body: Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(body["index"], 30, "{body}");
}

#[tokio::test]
async fn a_bidirectional_stream_is_full_duplex_over_http2() {
    let harness = Harness::with_config(&config("")).await;
    let mut sender = http2(&harness).await;
    let (tx, body) = open_body();
    let response = sender.send_request(post(&harness, "/v1/stream/chat?ignored=1", body)).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let mut body = response.into_body();
    for index in 0..3 {
        // Each reply comes while the request body is still open.
        send(&tx, &format!("{{\"index\": {index}, \"cursor\": \"c{index}\"}}\n")).await;
        let frame =
            tokio::time::timeout(Duration::from_secs(10), body.frame()).await.unwrap().unwrap().unwrap();
        let line: Value = serde_json::from_slice(&frame.into_data().unwrap()).unwrap();
        assert_eq!(line["result"]["index"], index, "{line}");
        assert_eq!(line["result"]["cursor"], format!("c{index}"), "{line}");
    }
    drop(tx);
    let rest = body.collect().await.unwrap();
    assert_eq!(rest.trailers().unwrap()["grpc-status"], "0");
    assert!(rest.to_bytes().is_empty());
}

#[tokio::test]
async fn a_malformed_message_mid_stream_is_a_400_naming_it_and_the_backend_sees_the_stream_broken() {
    let harness = Harness::with_config(&config("")).await;
    let (status, body) =
        post_text(&harness, "application/x-ndjson", "{\"index\":1}\n{\"index\":\"x\"}\n").await;
    assert_eq!((status, body["code"].clone()), (400, json!(3)), "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.starts_with("request message 1: ") && message.contains("index"), "{message}");
    let probe = harness.backend().stream_probe();
    assert!(eventually(|| probe.aborted() == 1).await, "the backend never saw the stream broken off");
    // tonic may send the first message with the reset, or not at all; never the second.
    assert!(probe.received() <= 1, "{}", probe.received());
}

#[tokio::test]
async fn a_bidirectional_stream_ends_a_bad_message_with_its_error_frame() {
    let harness = Harness::with_config(&config("")).await;
    let mut sender = http2(&harness).await;
    let (tx, body) = open_body();
    let response = sender.send_request(post(&harness, "/v1/stream/chat", body)).await.unwrap();
    let mut body = response.into_body();
    send(&tx, "{\"index\": 1}\n").await;
    let first = tokio::time::timeout(Duration::from_secs(10), body.frame()).await.unwrap().unwrap().unwrap();
    assert!(first.is_data());
    send(&tx, "[1,\n").await;
    let rest = tokio::time::timeout(Duration::from_secs(10), body.collect()).await.unwrap().unwrap();
    let trailers = rest.trailers().cloned().unwrap();
    let text = String::from_utf8(rest.to_bytes().to_vec()).unwrap();
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["error"]["code"], 3, "{text}");
    assert!(last["error"]["message"].as_str().unwrap().starts_with("request message 1: "), "{text}");
    assert_eq!(trailers["grpc-status"], "3");
    let probe = harness.backend().stream_probe();
    assert!(eventually(|| probe.aborted() == 1).await, "the backend never saw the stream broken off");
}

#[tokio::test]
async fn message_size_and_count_limits_name_their_keys() {
    let harness = Harness::with_config(&config("max_message_bytes: 32, max_messages: 2")).await;
    let long = format!("{{\"index\":1,\"payload\":\"{}\"}}\n", "x".repeat(40));
    let (status, body) = post_text(&harness, "application/x-ndjson", &long).await;
    assert_eq!((status, body["code"].clone()), (413, json!(8)), "{body}");
    assert!(body["message"].as_str().unwrap().contains("grpc.stream.max_message_bytes"), "{body}");
    let (status, body) = post_text(&harness, "application/json", "[{},{},{}]").await;
    assert_eq!((status, body["code"].clone()), (413, json!(8)), "{body}");
    assert!(body["message"].as_str().unwrap().contains("grpc.stream.max_messages"), "{body}");
}

#[tokio::test]
async fn the_route_and_the_connection_cap_open_streams() {
    let harness = Harness::with_config(&format!(
        "{}limits: {{ max_streams_per_connection: 1 }}\n",
        config("max_concurrent: 2")
    ))
    .await;
    let mut first = http2(&harness).await;
    let (_tx1, body) = open_body();
    let open = first.send_request(post(&harness, "/v1/stream/chat", body)).await.unwrap();
    assert_eq!(open.status(), 200);
    // The same connection may not open a second one.
    let (_tx2, body) = open_body();
    let refused = first.send_request(post(&harness, "/v1/stream/chat", body)).await.unwrap();
    assert_eq!(refused.status(), 429);
    let text = refused.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&text).contains("limits.max_streams_per_connection"));
    // Another connection may, up to the route's cap of two.
    let mut second = http2(&harness).await;
    let (_tx3, body) = open_body();
    assert_eq!(second.send_request(post(&harness, "/v1/stream/chat", body)).await.unwrap().status(), 200);
    let mut third = http2(&harness).await;
    let (_tx4, body) = open_body();
    let refused = third.send_request(post(&harness, "/v1/stream/chat", body)).await.unwrap();
    assert_eq!(refused.status(), 429);
    let text = refused.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&text).contains("grpc.stream.max_concurrent"));
}
