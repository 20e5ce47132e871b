//! HTTP/1 protocol hygiene at the edge (issue 12, holes 3 and 8): a request
//! with both `Content-Length` and `Transfer-Encoding` (a smuggling shape) is
//! refused with 400 and its connection closed, whichever header comes first,
//! and no request hidden after its body is answered, while requests before
//! it on the same connection are served; and a pass-through answer from an HTTP/1.0 backend reaches an HTTP/1.1
//! client as HTTP/1.1, its keep-alive connection kept.

use std::net::SocketAddr;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

use crate::support::{
    gateway::{Harness, start_gateway},
    raw_http::{RawConnection, ReadFailure, chunked, get, with_length},
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

/// A request with both framing headers, `content-length` first or last.
fn both_framings(path: &str, te: &str, cl: &str, length_first: bool) -> String {
    let (first, second) = if length_first {
        (format!("content-length: {cl}"), format!("transfer-encoding: {te}"))
    } else {
        (format!("transfer-encoding: {te}"), format!("content-length: {cl}"))
    };
    format!(
        "POST {path} HTTP/1.1\r\nhost: gateway\r\n{first}\r\n{second}\r\n\r\n0\r\n\r\nGET /legacy/smuggled HTTP/1.1\r\nhost: gateway\r\n\r\n"
    )
}

#[tokio::test]
async fn content_length_with_transfer_encoding_is_refused_and_the_connection_closed() {
    let gateway = Harness::with_echo_backend(CONFIG).await;
    for path in ["/legacy/smuggle", "/v1/echo", "/nowhere"] {
        for (te, cl) in [("chunked", "5"), ("chunked", "0"), ("gzip, chunked", "3")] {
            for length_first in [true, false] {
                let what =
                    format!("{path} with transfer-encoding: {te} and content-length: {cl} ({length_first})");
                let request = both_framings(path, te, cl, length_first);
                let mut connection = RawConnection::connect(gateway.addr()).await;
                let response =
                    connection.exchange(request.as_bytes()).await.unwrap_or_else(|f| panic!("{what}: {f:?}"));
                assert_eq!(response.status, 400, "{what}: {}", response.text());
                assert!(response.text().contains("Transfer-Encoding"), "{what}: {}", response.text());
                assert!(response.closes(), "{what}: {:?}", response.headers);
                // Nothing more is read from the connection: no smuggled request is answered.
                match connection.read_response().await {
                    Err(ReadFailure::Closed | ReadFailure::Broken(_)) => {}
                    other => panic!("{what}: the connection went on: {other:?}"),
                }
            }
        }
    }
}

#[tokio::test]
async fn requests_before_a_smuggling_shape_on_one_connection_are_served() {
    let gateway = Harness::with_echo_backend(CONFIG).await;
    // Bodies framed each way (and looking like heads), chunk extensions and
    // trailers, a request with no body, then the smuggling shape: all sent
    // at once. (The trailers go to a transcoded route, which reads its body
    // whole: a pass-through backend that leaves a body unread closes the
    // connection.)
    let mut pipelined = with_length("POST", "/legacy/a", "", b"transfer-encoding: chunked\r\n\r\n");
    pipelined.extend(chunked("POST", "/legacy/b", "", b"content-length: 3\r\n\r\n"));
    pipelined.extend_from_slice(
        b"POST /v1/echo HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\na;ext=1\r\n{\"id\":\"c\"}\r\n0\r\nx-trailer: 1\r\n\r\n",
    );
    pipelined.extend(get("/legacy/d"));
    pipelined.extend(both_framings("/legacy/e", "chunked", "5", true).into_bytes());
    let mut connection = RawConnection::connect(gateway.addr()).await;
    connection.send(&pipelined).await.unwrap();
    for expected in ["/legacy/a", "/legacy/b", "\"c\"", "/legacy/d"] {
        let response = connection.read_response().await.unwrap_or_else(|f| panic!("{expected}: {f:?}"));
        assert_eq!(response.status, 200, "{expected}: {}", response.text());
        assert!(response.text().contains(expected), "{expected}: {}", response.text());
        assert!(!response.closes(), "{expected}: {:?}", response.headers);
    }
    let refused = connection.read_response().await.unwrap();
    assert_eq!(refused.status, 400, "{}", refused.text());
    connection.expect_end().await.unwrap();
    // Another connection is served as ever.
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
