//! Every error class through the gateway: the backend's statuses (with
//! details and metadata), the gateway's own refusals, an unreachable
//! upstream, deadlines and bad input, all in the one JSON shape.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::gateway::{Harness, json_of, start_gateway};

#[tokio::test]
async fn backend_codes_map_to_the_house_table() {
    let gateway = Harness::start().await;
    let table = [
        (1, 499),
        (2, 500),
        (3, 400),
        (4, 504),
        (5, 404),
        (6, 409),
        (7, 403),
        (8, 429),
        (9, 400),
        (10, 409),
        (11, 400),
        (12, 501),
        (13, 500),
        (14, 503),
        (15, 500),
        (16, 401),
    ];
    for (code, http) in table {
        let request = format!(r#"{{"code":{code},"message":"failed with {code}"}}"#);
        let (status, body) = gateway.send_json("POST", "/v1/fail", &request).await;
        assert_eq!(status, http, "code {code}: {body}");
        assert_eq!(body, json!({"code": code, "message": format!("failed with {code}"), "details": []}));
    }
}

#[tokio::test]
async fn details_are_expanded_when_known_and_kept_when_not() {
    let gateway = Harness::start().await;
    let (status, body) = gateway
        .send_json(
            "POST",
            "/v1/fail",
            r#"{"code":3,"message":"bad name","withDetails":true,"metadata":{"x-why":"because"}}"#,
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["details"],
        json!([
            {"@type": "type.googleapis.com/demo.v1.FieldViolation", "field": "name", "description": "must not be empty"},
            {"@type": "type.googleapis.com/unknown.v1.Mystery", "value": "CAE="}
        ])
    );
}

#[tokio::test]
async fn error_metadata_comes_back_as_headers() {
    let gateway = Harness::start().await;
    let response = gateway
        .client
        .post(gateway.url("/v1/fail"))
        .body(r#"{"code":9,"metadata":{"x-why":"because"},"trailers":{"x-after":"later"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.headers()["grpc-metadata-x-why"], "because");
    assert_eq!(response.headers()["grpc-metadata-x-after"], "later");
}

#[tokio::test]
async fn no_route_is_404_saying_so_and_wrong_method_is_405_with_allow() {
    let gateway = Harness::start().await;
    let (status, body) = gateway.get_json("/v2/nothing/here").await;
    assert_eq!(status, 404);
    assert_eq!(body["code"], 5);
    assert_eq!(body["message"], "no route matches GET /v2/nothing/here");

    let response = gateway.client.post(gateway.url("/v1/shelves/1")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "DELETE, GET, HEAD");
    let (_, body) = json_of(response).await;
    assert_eq!(body["code"], 12);
}

#[tokio::test]
async fn bad_input_is_400_naming_the_field_and_value_before_any_call() {
    let gateway = Harness::start().await;
    for (path, field, value) in [
        ("/v1/echo/x?i64=abc", "i64", "abc"),
        ("/v1/echo/x?flag=true1", "flag", "true1"),
        ("/v1/echo/x?color=Green", "color", "Green"),
        ("/v1/shelves/notanumber", "shelf", "notanumber"),
    ] {
        let (status, body) = gateway.get_json(path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["code"], 3);
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(field) && message.contains(value), "{path}: {message}");
    }
    let (status, body) = gateway.send_json("POST", "/v1/echo", "{not json").await;
    assert_eq!((status, body["code"].clone()), (400, json!(3)));
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let config = crate::support::gateway::DEMO_CONFIG.to_owned() + "limits: { max_body_bytes: 1KiB }\n";
    let gateway = Harness::with_config(&config).await;
    let big = format!(r#"{{"id":"{}"}}"#, "x".repeat(2000));
    let (status, body) = gateway.send_json("POST", "/v1/echo", &big).await;
    assert_eq!((status, body["code"].clone()), (413, json!(8)));
    let (status, _) = gateway.send_json("POST", "/v1/echo", r#"{"id":"small"}"#).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn an_unreachable_upstream_is_a_fast_503() {
    let closed = crate::support::closed_port::ClosedPort::new();
    let yaml = crate::support::gateway::DEMO_CONFIG.replace("{backend}", &closed.addr().to_string());
    let gateway = start_gateway(&yaml).await;
    let started = Instant::now();
    let response = reqwest::get(format!("http://{}/v1/shelves/1", gateway.addr())).await.unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!((status, body["code"].clone()), (503, json!(14)), "{body}");
    // The route's deadline is 30 s; refusing must not wait for it (a fifth
    // of it, as a bound).
    assert!(started.elapsed() < Duration::from_secs(6), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn the_route_deadline_gives_504() {
    let config = crate::support::gateway::DEMO_CONFIG.replace(
        "- grpc: { service: demo.v1.Echo, upstream: demo }",
        "- grpc: { service: demo.v1.Echo, upstream: demo }\n    timeout: 200ms",
    );
    let gateway = Harness::with_config(&config).await;
    let started = Instant::now();
    let (status, body) = gateway.get_json("/v1/sleep/5000").await;
    assert_eq!((status, body["code"].clone()), (504, json!(4)), "{body}");
    assert!(started.elapsed() < Duration::from_secs(4), "took {:?}", started.elapsed());
    let (status, _) = gateway.get_json("/v1/sleep/10").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_shorter_client_deadline_wins_and_a_malformed_one_is_400() {
    let gateway = Harness::start().await;
    let started = Instant::now();
    let response = gateway
        .client
        .get(gateway.url("/v1/sleep/5000"))
        .header("grpc-timeout", "100m")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 504);
    assert!(started.elapsed() < Duration::from_secs(4), "took {:?}", started.elapsed());

    let response =
        gateway.client.get(gateway.url("/v1/sleep/0")).header("grpc-timeout", "soon").send().await.unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("Grpc-Timeout"), "{body}");
}

#[tokio::test]
async fn a_reply_over_the_upstream_limit_is_the_backends_fault() {
    let config = crate::support::gateway::DEMO_CONFIG.replace(
        r#"demo: { endpoints: ["http://{backend}"] }"#,
        r#"demo: { endpoints: ["http://{backend}"], max_response_bytes: 100 }"#,
    );
    let gateway = Harness::with_config(&config).await;
    let (status, body) = gateway.get_json(&format!("/v1/echo/{}", "x".repeat(200))).await;
    assert_eq!((status, body["code"].clone()), (502, json!(8)), "{body}");
    assert!(body["message"].as_str().unwrap().contains("max_response_bytes"), "{body}");
    let (status, _) = gateway.get_json("/v1/echo/small").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_body_that_trickles_in_too_slowly_is_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let config = crate::support::gateway::DEMO_CONFIG.to_owned() + "limits: { body_read_timeout: 300ms }\n";
    let gateway = Harness::with_config(&config).await;
    let addr = gateway.url("").trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!("POST /v1/echo HTTP/1.1\r\nhost: {addr}\r\ncontent-length: 100\r\n\r\n{{");
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let mut reply = Vec::new();
    // The gateway answers and closes; a bounded wait in case it does not.
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut reply)).await;
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn the_upstream_deadline_applies_to_routes_without_their_own() {
    let config = crate::support::gateway::DEMO_CONFIG.replace(
        r#"demo: { endpoints: ["http://{backend}"] }"#,
        r#"demo: { endpoints: ["http://{backend}"], timeout: 200ms }"#,
    );
    let gateway = Harness::with_config(&config).await;
    let started = Instant::now();
    let (status, body) = gateway.get_json("/v1/sleep/5000").await;
    assert_eq!((status, body["code"].clone()), (504, json!(4)), "{body}");
    assert!(started.elapsed() < Duration::from_secs(4), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn an_unreachable_upstream_reads_the_same_for_every_kind_of_route() {
    let yaml = r#"
listen: 127.0.0.1:0
descriptors: [{ file: descriptors/demo.pb }]
upstreams:
  notes: { endpoints: ["http://127.0.0.1:1"] }
  legacy: { protocol: http, endpoints: ["http://127.0.0.1:1"] }
routes:
  - grpc: { service: demo.v1.Library, upstream: notes }
  - http: { prefix: /legacy/, upstream: legacy }
"#;
    let gateway = start_gateway(yaml).await;
    let expected = |upstream: &str| format!("upstream {upstream:?} is unreachable");
    let (status, body) =
        json_of(reqwest::get(format!("http://{}/v1/shelves/1", gateway.addr())).await.unwrap()).await;
    assert_eq!(
        (status, body["message"].as_str().unwrap()),
        (503, expected("notes").as_str()),
        "REST: {body}"
    );
    let (status, body) =
        json_of(reqwest::get(format!("http://{}/legacy/x", gateway.addr())).await.unwrap()).await;
    assert_eq!(
        (status, body["message"].as_str().unwrap()),
        (503, expected("legacy").as_str()),
        "HTTP: {body}"
    );
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", gateway.addr()))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut library = protogate::proto::demo::v1::library_client::LibraryClient::new(channel);
    let status =
        library.get_shelf(protogate::proto::demo::v1::GetShelfRequest { shelf: 1 }).await.unwrap_err();
    assert_eq!(
        (status.code(), status.message()),
        (tonic::Code::Unavailable, expected("notes").as_str()),
        "gRPC"
    );
}
