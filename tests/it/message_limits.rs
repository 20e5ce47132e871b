//! Protobuf message sizes both ways (issue 12, "Limits with safe
//! defaults"), against real backends: a request message built from JSON
//! over the upstream's `max_request_bytes` is refused with 413 before any
//! call (a unary body, one message of a client stream); a reply over its
//! `max_response_bytes` is the backend's fault, 502 RESOURCE_EXHAUSTED
//! naming the limit, never a truncated answer; and a reply that claims
//! 1 GiB and never ends is refused from its prefix, read no further.

use std::time::Duration;

use serde_json::json;

use crate::support::{
    gateway::{Harness, start_gateway},
    raw_grpc::start_endless_reply,
};

const LIMITED: &str = r#"
listen: 127.0.0.1:0
descriptors: [{ file: descriptors/demo.pb }]
upstreams:
  demo: { endpoints: ["http://{backend}"], max_request_bytes: 1KiB, max_response_bytes: 64KiB }
routes:
  - grpc: { service: demo.v1.Echo, upstream: demo }
  - grpc: { service: demo.v1.Stream, upstream: demo }
"#;

#[tokio::test]
async fn a_request_message_over_the_upstream_limit_is_refused_before_any_call() {
    let gateway = Harness::with_config(LIMITED).await;
    let calls = gateway.backend().calls();
    let body = json!({ "id": "x".repeat(2000) }).to_string();
    let (status, error) = gateway.send_json("POST", "/v1/echo", &body).await;
    assert_eq!((status, error["code"].clone()), (413, json!(8)), "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("max_request_bytes") && message.contains("1024"), "{error}");
    assert_eq!(gateway.backend().calls(), calls, "the backend saw nothing");

    let body = json!({ "id": "x".repeat(900) }).to_string();
    let (status, reply) = gateway.send_json("POST", "/v1/echo", &body).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["id"].as_str().map(str::len), Some(900));
}

#[tokio::test]
async fn a_client_stream_message_over_the_upstream_limit_ends_the_call_naming_its_index() {
    let gateway = Harness::with_config(LIMITED).await;
    let small = json!({ "index": 1, "payload": "a" }).to_string();
    let large = json!({ "index": 2, "payload": "x".repeat(2000) }).to_string();
    let response = gateway
        .client
        .post(gateway.url("/v1/stream/sum"))
        .header("content-type", "application/x-ndjson")
        .body(format!("{small}\n{large}\n"))
        .send()
        .await
        .unwrap();
    let (status, error) = crate::support::gateway::json_of(response).await;
    assert_eq!((status, error["code"].clone()), (413, json!(8)), "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("request message 1") && message.contains("max_request_bytes"), "{error}");
}

#[tokio::test]
async fn a_reply_over_the_upstream_limit_is_a_bad_gateway_naming_the_limit() {
    let gateway =
        Harness::with_config(&LIMITED.replace("max_request_bytes: 1KiB", "max_request_bytes: 1MiB")).await;
    // The demo backend echoes it: a 512 KiB reply.
    let body = json!({ "id": "x".repeat(512 << 10) }).to_string();
    let (status, error) = gateway.send_json("POST", "/v1/echo", &body).await;
    assert_eq!((status, error["code"].clone()), (502, json!(8)), "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("max_response_bytes") && message.contains("65536"), "{error}");
    let (status, _) = gateway.get_json("/v1/echo/small").await;
    assert_eq!(status, 200, "the next call is served");
}

#[tokio::test]
async fn an_endless_reply_is_refused_from_its_prefix_and_read_no_further() {
    let (backend, handed_over) = start_endless_reply().await;
    let yaml = LIMITED.replace("{backend}", &backend.to_string());
    let gateway = start_gateway(&yaml).await;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let url = format!("http://{}/v1/echo/1", gateway.addr());
    let (status, error) = crate::support::gateway::json_of(client.get(url).send().await.unwrap()).await;
    assert_eq!((status, error["code"].clone()), (502, json!(8)), "{error}");
    assert!(error["message"].as_str().unwrap().contains("max_response_bytes"), "{error}");
    // Flow control lets the backend hand over a window or two, no more:
    // nothing reads the claimed gigabyte.
    let sent = handed_over.load(std::sync::atomic::Ordering::SeqCst);
    assert!(sent < 16 << 20, "the gateway read {sent} bytes of the reply");
}
