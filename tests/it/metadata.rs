//! Headers ↔ metadata through the gateway: what the backend receives, and
//! what comes back as `Grpc-Metadata-*` and `Grpc-Trailer-*` headers.

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
        .header("grpc-metadata-grpc-custom", "sneaky")
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
    assert_eq!(received.get("grpc-custom"), None, "a client set protocol metadata: {received}");
}

#[tokio::test]
async fn reply_headers_and_trailers_come_back_apart() {
    // An encoded demo.v1.Kitchen with id "raw".
    let raw = start_raw_grpc(Some(bytes::Bytes::from_static(b"\x0a\x03raw")), "0").await;
    let gateway = start_gateway(&raw_config(raw)).await;
    let response = reqwest::get(format!("http://{}/v1/echo/ignored", gateway.addr())).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["grpc-metadata-x-raw-header"], "from-headers");
    assert_eq!(response.headers()["grpc-trailer-x-raw-trailer"], "from-trailers");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["id"], "raw");
}

#[tokio::test]
async fn trailers_of_an_error_after_headers_come_back_as_trailers() {
    let raw = start_raw_grpc(None, "9").await;
    let gateway = start_gateway(&raw_config(raw)).await;
    let response = reqwest::get(format!("http://{}/v1/echo/ignored", gateway.addr())).await.unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.headers()["grpc-metadata-x-raw-header"], "from-headers");
    assert_eq!(response.headers()["grpc-trailer-x-raw-trailer"], "from-trailers");
    assert!(response.headers().get("grpc-metadata-x-raw-trailer").is_none());
}

fn raw_config(raw: std::net::SocketAddr) -> String {
    r#"
listen: 127.0.0.1:0
descriptors: [{ file: descriptors/demo.pb }]
upstreams: { raw: { endpoints: ["http://{backend}"] } }
routes:
  - grpc: { service: demo.v1.Echo, upstream: raw }
"#
    .replace("{backend}", &raw.to_string())
}
