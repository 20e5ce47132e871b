//! Forwarded metadata within bounds (issue 16 §2): what the gateway would
//! forward past `transcoding.max_metadata_bytes` is refused with 431 before
//! any backend sees it; a backend that still refuses a call with an HTTP
//! status (its own header limit, a proxy's 404 or 503) is named by that
//! status, with the code of gRPC's HTTP-to-gRPC table, never as a missing
//! `grpc-status`.

use crate::support::{
    gateway::{DEMO_CONFIG, Harness, json_of, start_gateway},
    raw_grpc::start_http_refuser,
};

async fn get_with(gateway: &Harness, headers: &[(&str, String)]) -> (u16, serde_json::Value) {
    let mut request = gateway.client.get(gateway.url("/v1/echo/x"));
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    json_of(request.send().await.unwrap()).await
}

#[tokio::test]
async fn metadata_over_the_limit_is_a_431_before_the_backend() {
    let gateway = Harness::start().await;
    let before = gateway.backend().calls();
    let cases = [
        vec![("grpc-metadata-a", "a".repeat(17_000))],
        vec![("authorization", "b".repeat(9_000))],
        vec![
            ("grpc-metadata-a", "a".repeat(3_000)),
            ("grpc-metadata-b", "b".repeat(3_000)),
            ("x-forwarded-for", "10.0.0.1, ".repeat(300)),
        ],
    ];
    for headers in &cases {
        let (status, body) = get_with(&gateway, headers).await;
        assert_eq!(status, 431, "{body}");
        assert_eq!(body["code"], 8, "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains("transcoding.max_metadata_bytes"), "{message}");
        assert!(message.contains("limit of 8192 bytes"), "{message}");
    }
    assert_eq!(gateway.backend().calls(), before, "a refused call reached the backend");
    // Under the limit, the same headers go through.
    let (status, body) = get_with(&gateway, &[("grpc-metadata-a", "a".repeat(7_000))]).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn the_limit_is_configurable_and_checked() {
    let config = DEMO_CONFIG.to_owned() + "transcoding: { max_metadata_bytes: 2KiB }\n";
    let gateway = Harness::with_config(&config).await;
    let (status, body) = get_with(&gateway, &[("grpc-metadata-a", "a".repeat(2_100))]).await;
    assert_eq!(status, 431, "{body}");
    assert!(body["message"].as_str().unwrap().contains("limit of 2048 bytes"), "{body}");
    let zero = DEMO_CONFIG.to_owned() + "transcoding: { max_metadata_bytes: 0 }\n";
    let config = protogate::config::Config::from_yaml(&zero, "t").unwrap();
    let errors = protogate::compile::compile(&config, std::path::Path::new(env!("CARGO_MANIFEST_DIR")), &[])
        .await
        .unwrap_err();
    assert!(
        errors.to_string().contains("transcoding.max_metadata_bytes: must be at least 1 byte"),
        "{errors}"
    );
}

#[tokio::test]
async fn a_tonic_backend_refusing_the_head_is_named_by_its_http_status() {
    // The gateway's limit above the backend's 16 KiB: the backend refuses.
    let config = DEMO_CONFIG.to_owned() + "transcoding: { max_metadata_bytes: 1MiB }\n";
    let gateway = Harness::with_config(&config).await;
    let (status, body) = get_with(&gateway, &[("grpc-metadata-a", "a".repeat(17_000))]).await;
    let message = body["message"].as_str().unwrap();
    assert!(!message.contains("grpc-status header missing"), "{message}");
    assert!(message.contains("HTTP status 431"), "{message}");
    assert_eq!((status, body["code"].as_i64()), (500, Some(2)), "{body}");
    let (status, _) = get_with(&gateway, &[]).await;
    assert_eq!(status, 200, "the gateway stopped serving");
}

#[tokio::test]
async fn http_refusals_map_by_the_grpc_table() {
    let refuser = start_http_refuser().await;
    let config = format!(
        r#"
listen: 127.0.0.1:0
descriptors: [{{ file: descriptors/demo.pb }}]
upstreams: {{ refuser: {{ endpoints: ["http://{refuser}"] }} }}
transcoding: {{ forward_headers: [want-status] }}
routes:
  - grpc: {{ service: demo.v1.Echo, upstream: refuser }}
"#
    );
    let gateway = start_gateway(&config).await;
    let client = reqwest::Client::new();
    // HTTP status from the backend → gRPC code → the gateway's HTTP status.
    let table = [
        (400, 13, 500),
        (401, 16, 401),
        (403, 7, 403),
        (404, 12, 501),
        (429, 14, 503),
        (502, 14, 503),
        (503, 14, 503),
        (504, 14, 503),
        (431, 2, 500),
        (418, 2, 500),
    ];
    for (backend, code, status) in table {
        let response = client
            .get(format!("http://{}/v1/echo/x", gateway.addr()))
            .header("want-status", backend.to_string())
            .send()
            .await
            .unwrap();
        let (got, body) = json_of(response).await;
        assert_eq!((got, body["code"].as_i64()), (status, Some(code)), "backend {backend}: {body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(&format!("HTTP status {backend}")), "backend {backend}: {message}");
    }
}
