//! Limits on the request head (issue 12, "Limits with safe defaults"):
//! header names with underscores dropped on the way to backends by
//! default, refused or kept by option; the header count bounded on HTTP/1
//! and HTTP/2 alike.

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::support::{
    gateway::Harness,
    raw_http::{RawConnection, get},
};

fn config(limits: &str) -> String {
    format!(
        r#"
listen: 127.0.0.1:0
descriptors:
  - file: descriptors/demo.pb
upstreams:
  demo: {{ endpoints: ["http://{{backend}}"] }}
  legacy: {{ protocol: http, endpoints: ["http://{{legacy}}"] }}
transcoding: {{ forward_headers: [x-user] }}
limits: {{ {limits} }}
routes:
  - grpc: {{ service: demo.v1.Echo, upstream: demo }}
  - http: {{ prefix: /legacy/, upstream: legacy }}
"#
    )
}

/// What the echo backend and the gRPC backend received of `x_user` / `x-user`.
async fn send_underscored(gateway: &Harness) -> (u16, serde_json::Value, u16, serde_json::Value) {
    let legacy = gateway
        .client
        .get(gateway.url("/legacy/who"))
        .header("x_user", "admin")
        .header("x-user", "guest")
        .send()
        .await
        .unwrap();
    let (legacy_status, legacy) = crate::support::gateway::json_of(legacy).await;
    let grpc = gateway
        .client
        .get(gateway.url("/v1/metadata"))
        .header("x_user", "admin")
        .header("grpc-metadata-x_role", "root")
        .header("x-user", "guest")
        .send()
        .await
        .unwrap();
    let (grpc_status, grpc) = crate::support::gateway::json_of(grpc).await;
    (legacy_status, legacy, grpc_status, grpc)
}

#[tokio::test]
async fn underscored_headers_are_dropped_by_default() {
    let gateway = Harness::with_echo_backend(&config("")).await;
    let (status, legacy, grpc_status, grpc) = send_underscored(&gateway).await;
    assert_eq!((status, grpc_status), (200, 200), "{legacy} {grpc}");
    assert_eq!(legacy["headers"]["x-user"], serde_json::json!(["guest"]), "{legacy}");
    assert!(legacy["headers"].get("x_user").is_none(), "{legacy}");
    assert_eq!(grpc["received"]["x-user"], "guest", "{grpc}");
    assert!(grpc["received"].get("x_user").is_none(), "{grpc}");
    assert!(grpc["received"].get("x_role").is_none(), "{grpc}");
}

#[tokio::test]
async fn underscored_headers_can_be_refused_or_kept() {
    let refusing = Harness::with_echo_backend(&config("headers_with_underscores: refuse")).await;
    let (status, body, grpc_status, _) = send_underscored(&refusing).await;
    assert_eq!((status, grpc_status), (400, 400), "{body}");
    assert!(body["message"].as_str().unwrap().contains("limits.headers_with_underscores"), "{body}");
    let keeping = Harness::with_echo_backend(&config("headers_with_underscores: allow")).await;
    let (status, legacy, _, _) = send_underscored(&keeping).await;
    assert_eq!(status, 200);
    assert_eq!(legacy["headers"]["x_user"], serde_json::json!(["admin"]), "{legacy}");
}

fn many_headers(count: usize) -> Vec<u8> {
    let mut request = String::from("GET /v1/echo/x HTTP/1.1\r\nhost: gateway\r\n");
    for index in 1..count {
        request.push_str(&format!("x-h{index}: v\r\n"));
    }
    request.push_str("\r\n");
    request.into_bytes()
}

#[tokio::test]
async fn the_header_count_is_bounded_on_http1() {
    let gateway = Harness::with_echo_backend(&config("max_headers: 10")).await;
    let mut connection = RawConnection::connect(gateway.addr()).await;
    assert_eq!(connection.exchange(&many_headers(10)).await.unwrap().status, 200);
    let refused = connection.exchange(&many_headers(11)).await.unwrap();
    assert_eq!(refused.status, 431, "{}", refused.text());
    assert!(refused.text().contains("limits.max_headers"), "{}", refused.text());
    // The default (100) holds too, and a higher limit lets more through.
    let default = Harness::with_echo_backend(&config("")).await;
    let mut connection = RawConnection::connect(default.addr()).await;
    assert_eq!(connection.exchange(&many_headers(101)).await.unwrap().status, 431);
    let raised = Harness::with_echo_backend(&config("max_headers: 150")).await;
    let mut connection = RawConnection::connect(raised.addr()).await;
    assert_eq!(connection.exchange(&many_headers(140)).await.unwrap().status, 200);
    assert_eq!(connection.exchange(&get("/v1/echo/y")).await.unwrap().status, 200);
}

#[tokio::test]
async fn the_header_count_is_bounded_on_http2() {
    let gateway = Harness::with_echo_backend(&config("max_headers: 10")).await;
    let stream = tokio::net::TcpStream::connect(gateway.addr()).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    let request = |count: usize| {
        let mut builder = http::Request::get(format!("http://{}/v1/echo/x", gateway.addr()));
        for index in 0..count {
            builder = builder.header(format!("x-h{index}"), "v");
        }
        builder.body(Empty::<Bytes>::new()).unwrap()
    };
    assert_eq!(sender.send_request(request(10)).await.unwrap().status(), 200);
    assert_eq!(sender.send_request(request(11)).await.unwrap().status(), 431);
}
