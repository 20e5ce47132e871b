//! Headers ↔ metadata through the gateway: what the backend receives, and
//! what comes back as `Grpc-Metadata-*` and `Grpc-Trailer-*` headers.

use serde_json::json;

use crate::support::{gateway::Harness, gateway::start_gateway, raw_grpc::start_raw_grpc};

#[tokio::test]
async fn request_headers_reach_the_backend_as_metadata() {
    let config = crate::support::gateway::DEMO_CONFIG.to_owned()
        + "transcoding: { forward_headers: [x-request-id] }\n";
    let gateway = Harness::with_config(&config).await;
    let response = gateway
        .client
        .get(gateway.url("/v1/metadata"))
        .header("authorization", "Bearer abc")
        .header("grpc-metadata-tenant", "acme")
        .header("x-request-id", "r-1")
        .header("x-not-forwarded", "no")
        .header("grpc-metadata-grpc-timeout", "1S")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["grpc-metadata-x-echo-header"], "hello");
    let body: serde_json::Value = response.json().await.unwrap();
    let received = &body["received"];
    assert_eq!(received["authorization"], "Bearer abc");
    assert_eq!(received["tenant"], "acme");
    assert_eq!(received["x-request-id"], "r-1");
    assert_eq!(received["x-forwarded-for"], "127.0.0.1");
    assert!(received["x-forwarded-host"].as_str().unwrap().starts_with("127.0.0.1:"), "{received}");
    assert_eq!(received.get("x-not-forwarded"), None);
    assert_ne!(received.get("grpc-timeout"), Some(&json!("1S")));
}

#[tokio::test]
async fn reply_headers_and_trailers_come_back_apart() {
    // An encoded demo.v1.Kitchen with id "raw".
    let raw = start_raw_grpc(bytes::Bytes::from_static(b"\x0a\x03raw")).await;
    let yaml = r#"
listen: 127.0.0.1:0
descriptors: [{ file: descriptors/demo.pb }]
upstreams: { raw: { endpoints: ["http://{backend}"] } }
routes:
  - grpc: { service: demo.v1.Echo, upstream: raw }
"#
    .replace("{backend}", &raw.to_string());
    let gateway = start_gateway(&yaml).await;
    let response = reqwest::get(format!("http://{}/v1/echo/ignored", gateway.addr())).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["grpc-metadata-x-raw-header"], "from-headers");
    assert_eq!(response.headers()["grpc-trailer-x-raw-trailer"], "from-trailers");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["id"], "raw");
}
