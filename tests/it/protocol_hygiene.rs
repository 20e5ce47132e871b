//! HTTP/1 protocol hygiene at the edge (issue 12, holes 3 and 8): a request
//! with both `Content-Length` and `Transfer-Encoding` (a smuggling shape) is
//! never smuggled: hyper drops the `Content-Length` before the gateway sees
//! the request, frames the body as chunked, and closes the connection after
//! the response, so no backend sees the length and no request hidden after
//! the body is answered (hole 3 asks for a 400 as well: not yet); and
//! a pass-through answer from an HTTP/1.0 backend reaches an HTTP/1.1
//! client as HTTP/1.1, its keep-alive connection kept.

use std::net::SocketAddr;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

use crate::support::{
    gateway::{Harness, start_gateway},
    raw_http::{RawConnection, ReadFailure, get},
};

const CONFIG: &str = r#"
listen: 127.0.0.1:0
descriptors:
  - file: descriptors/demo.pb
upstreams:
  demo: { endpoints: ["http://{backend}"] }
  legacy: { protocol: http, endpoints: ["http://{legacy}"] }
routes:
  - grpc: { service: demo.v1.Echo, upstream: demo }
  - http: { prefix: /legacy/, upstream: legacy }
"#;

#[tokio::test]
async fn content_length_with_transfer_encoding_is_never_smuggled() {
    let gateway = Harness::with_echo_backend(CONFIG).await;
    for path in ["/legacy/smuggle", "/v1/echo", "/nowhere"] {
        for (te, cl) in [("chunked", "5"), ("chunked", "0"), ("gzip, chunked", "3")] {
            let what = format!("{path} with transfer-encoding: {te} and content-length: {cl}");
            let request = format!(
                "POST {path} HTTP/1.1\r\nhost: gateway\r\ncontent-length: {cl}\r\ntransfer-encoding: {te}\r\n\r\n0\r\n\r\nGET /legacy/smuggled HTTP/1.1\r\nhost: gateway\r\n\r\n"
            );
            let mut connection = RawConnection::connect(gateway.addr()).await;
            let response =
                connection.exchange(request.as_bytes()).await.unwrap_or_else(|f| panic!("{what}: {f:?}"));
            assert!(!response.text().contains("content-length"), "{what}: forwarded: {}", response.text());
            assert!(!response.text().contains("smuggled"), "{what}: {}", response.text());
            // Nothing more is read from the connection: no smuggled request is answered.
            match connection.read_response().await {
                Err(ReadFailure::Closed | ReadFailure::Broken(_)) => {}
                other => panic!("{what}: the connection went on: {other:?}"),
            }
        }
    }
    let mut connection = RawConnection::connect(gateway.addr()).await;
    assert_eq!(connection.exchange(&get("/v1/echo/alive")).await.unwrap().status, 200);
}

/// A backend that speaks HTTP/1.0 only: it reads one request head per
/// connection, answers `HTTP/1.0 200` with a body delimited by closing (or,
/// every other time, by Content-Length), and closes.
async fn start_http10_backend() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut served = 0u32;
        while let Ok((mut stream, _)) = listener.accept().await {
            served += 1;
            let with_length = served.is_multiple_of(2);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
                    match stream.read(&mut byte).await {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let answer: &[u8] = if with_length {
                    b"HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 6\r\n\r\nold ok"
                } else {
                    b"HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\nold ok"
                };
                let _ = stream.write_all(answer).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn an_http10_backend_answers_the_http11_client_in_http11() {
    let old = start_http10_backend().await;
    let gateway = start_gateway(
        &r#"
listen: 127.0.0.1:0
descriptors: [{ file: descriptors/demo.pb }]
upstreams: { old: { protocol: http, endpoints: ["http://{old}"] } }
routes:
  - http: { prefix: /old/, upstream: old }
"#
        .replace("{old}", &old.to_string()),
    )
    .await;
    let mut connection = RawConnection::connect(gateway.addr()).await;
    for round in 0..4 {
        let response =
            connection.exchange(&get("/old/page")).await.unwrap_or_else(|f| panic!("round {round}: {f:?}"));
        assert_eq!(response.status, 200, "round {round}");
        assert_eq!(response.version, "HTTP/1.1", "round {round}: {:?}", response.headers);
        assert!(!response.closes(), "round {round}: {:?}", response.headers);
        assert_eq!(response.text(), "old ok", "round {round}");
    }
}
