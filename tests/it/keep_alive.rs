//! Early answers on keep-alive connections (issue 16 §1): when the gateway
//! answers before reading a request's body (no route, wrong method, auth
//! refused, rate limited, too large, bad JSON), a body of known length
//! under the drain limit is read and discarded so the connection stays
//! usable; anything larger is answered with `Connection: close`. Either way
//! no client sees a reset on a request sent after a complete response.
//! Over HTTP/1.1 with a raw client, and over HTTP/2 where an early answer
//! ends its stream alone.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use protogate::policy::auth::hash_key;

use crate::support::{
    gateway::Harness,
    raw_http::{RawConnection, RawResponse, chunked, get, with_length},
};

/// Echo open; Library behind an API key; `/limited/` behind a rate limit
/// that the first request spends; bodies up to 100 KiB (so the drain limit
/// is the built-in 64 KiB).
fn config() -> String {
    format!(
        r#"
listen: 127.0.0.1:0
descriptors:
  - file: descriptors/demo.pb
upstreams:
  demo: {{ endpoints: ["http://{{backend}}"] }}
  legacy: {{ protocol: http, endpoints: ["http://{{legacy}}"] }}
limits: {{ max_body_bytes: 100KiB }}
policies:
  keyed: {{ api_key: {{ keys: [{{ consumer: acme, sha256: {} }}] }} }}
  scarce: {{ rate_limit: {{ key: route, rate: 1/h, burst: 1 }} }}
routes:
  - grpc: {{ service: demo.v1.Echo, upstream: demo }}
  - grpc: {{ service: demo.v1.Library, upstream: demo }}
    policies: [keyed]
  - http: {{ prefix: /limited/, upstream: legacy }}
    policies: [scarce]
"#,
        hash_key("the-key")
    )
}

/// An early-answer path: how to reach it and the status it answers.
struct Path {
    name: &'static str,
    method: &'static str,
    path: &'static str,
    status: u16,
}

const PATHS: [Path; 5] = [
    Path { name: "unknown route", method: "POST", path: "/nowhere", status: 404 },
    Path { name: "wrong method", method: "TRACE", path: "/v1/echo/x", status: 405 },
    Path { name: "auth refused", method: "POST", path: "/v1/shelves", status: 401 },
    Path { name: "rate limited", method: "POST", path: "/limited/x", status: 429 },
    Path { name: "bad JSON", method: "POST", path: "/v1/echo", status: 400 },
];

/// Bodies under the drain limit (or read whole, for bad JSON), and over it.
const SMALL: &[u8] = b"{bad";
const LARGE: usize = 70_000;

async fn started() -> Harness {
    let gateway = Harness::with_echo_backend(&config()).await;
    // The rate limit's one request.
    let mut warm = RawConnection::connect(gateway.addr()).await;
    let response = warm.exchange(&get("/limited/warm")).await.unwrap();
    assert_eq!(response.status, 200, "{}", response.text());
    gateway
}

/// The next request on a connection that stayed open is answered.
async fn still_answers(connection: &mut RawConnection, after: &str) {
    let response = connection
        .exchange(&get("/v1/echo/next"))
        .await
        .unwrap_or_else(|failure| panic!("after {after}: the next request failed: {failure:?}"));
    assert_eq!(response.status, 200, "after {after}: {}", response.text());
}

/// A closing response is followed by the end of the connection, nothing else.
async fn ends_after(connection: &mut RawConnection, response: &RawResponse, what: &str) {
    assert!(response.closes(), "{what}: {:?}", response.headers);
    // A reset here would come after a complete response to the last
    // request the client sent: the client has nothing to resend.
    if let Err(failure) = connection.expect_end().await
        && !matches!(failure, crate::support::raw_http::ReadFailure::Broken(_))
    {
        panic!("{what}: the connection did not end: {failure:?}");
    }
}

#[tokio::test]
async fn small_bodies_are_drained_and_the_connection_stays_open() {
    let gateway = started().await;
    for path in &PATHS {
        let mut connection = RawConnection::connect(gateway.addr()).await;
        for round in 0..3 {
            let what = |shape: &str| format!("{} ({shape}, round {round})", path.name);
            let request = with_length(path.method, path.path, "", SMALL);
            let mut shapes = vec![("whole", request.clone(), SMALL.len()), ("empty", get_with(path), 0)];
            // The head alone, answered before the body is sent (as a client
            // writing head and body apart may see); not for bad JSON, which
            // is answered only after its body.
            if path.status != 400 {
                shapes.push(("head first", request, SMALL.len()));
            }
            for (shape, request, body_len) in shapes {
                let what = what(shape);
                let response = if shape == "head first" {
                    let (head, body) = request.split_at(request.len() - body_len);
                    let response = connection.exchange(head).await;
                    connection.send(body).await.unwrap_or_else(|e| panic!("{what}: sending the body: {e}"));
                    response
                } else {
                    connection.exchange(&request).await
                };
                let response = response.unwrap_or_else(|f| panic!("{what}: {f:?}"));
                let expected = if shape == "empty" && path.status == 400 { 200 } else { path.status };
                assert_eq!(response.status, expected, "{what}: {}", response.text());
                assert!(!response.closes(), "{what}: closes: {:?}", response.headers);
                still_answers(&mut connection, &what).await;
            }
        }
    }
}

/// The path's request with an empty body.
fn get_with(path: &Path) -> Vec<u8> {
    with_length(path.method, path.path, "", b"")
}

#[tokio::test]
async fn a_chunked_body_is_read_whole_or_closes_the_connection() {
    let gateway = started().await;
    for path in &PATHS {
        let what = format!("{} (chunked)", path.name);
        let mut connection = RawConnection::connect(gateway.addr()).await;
        let response = connection
            .exchange(&chunked(path.method, path.path, "", SMALL))
            .await
            .unwrap_or_else(|f| panic!("{what}: {f:?}"));
        assert_eq!(response.status, path.status, "{what}: {}", response.text());
        if response.closes() {
            ends_after(&mut connection, &response, &what).await;
        } else {
            still_answers(&mut connection, &what).await;
        }
    }
}

#[tokio::test]
async fn a_client_awaiting_continue_is_told_the_connection_closes() {
    let gateway = started().await;
    let mut connection = RawConnection::connect(gateway.addr()).await;
    let head = "POST /nowhere HTTP/1.1\r\nhost: gateway\r\nexpect: 100-continue\r\ncontent-length: 4\r\n\r\n";
    let response = connection.exchange(head.as_bytes()).await.unwrap();
    assert_eq!(response.status, 404);
    ends_after(&mut connection, &response, "expect: 100-continue").await;
}

#[tokio::test]
async fn large_bodies_are_answered_with_connection_close() {
    let gateway = started().await;
    let large = vec![b'x'; LARGE];
    for path in PATHS.iter().filter(|path| path.status != 400) {
        for (shape, request) in [
            ("content-length", with_length(path.method, path.path, "", &large)),
            ("chunked", chunked(path.method, path.path, "", &large)),
        ] {
            let what = format!("{} ({shape}, {LARGE} bytes)", path.name);
            let mut connection = RawConnection::connect(gateway.addr()).await;
            let response = connection.exchange(&request).await.unwrap_or_else(|f| panic!("{what}: {f:?}"));
            assert_eq!(response.status, path.status, "{what}: {}", response.text());
            ends_after(&mut connection, &response, &what).await;
        }
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413_that_closes() {
    let gateway = started().await;
    let too_large = vec![b'x'; 101 * 1024];
    for (shape, request) in [
        ("content-length", with_length("POST", "/v1/echo", "", &too_large)),
        ("chunked", chunked("POST", "/v1/echo", "", &too_large)),
    ] {
        let mut connection = RawConnection::connect(gateway.addr()).await;
        let response = connection.exchange(&request).await.unwrap_or_else(|f| panic!("{shape}: {f:?}"));
        assert_eq!(response.status, 413, "{shape}: {}", response.text());
        ends_after(&mut connection, &response, shape).await;
    }
}

#[tokio::test]
async fn a_large_body_read_whole_keeps_the_connection_open() {
    let gateway = started().await;
    let mut connection = RawConnection::connect(gateway.addr()).await;
    let mut body = vec![b' '; LARGE];
    body[0] = b'{';
    let response = connection.exchange(&with_length("POST", "/v1/echo", "", &body)).await.unwrap();
    assert_eq!(response.status, 400, "{}", response.text());
    assert!(!response.closes());
    still_answers(&mut connection, "a large bad JSON body").await;
}

#[tokio::test]
async fn over_http2_early_answers_end_their_stream_and_nothing_else() {
    let gateway = started().await;
    let stream = tokio::net::TcpStream::connect(gateway.addr()).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await.unwrap();
    let connection = tokio::spawn(connection);
    let uri = |path: &str| format!("http://{}{path}", gateway.addr());
    for round in 0..3 {
        for path in &PATHS {
            for body in [Bytes::from_static(SMALL), Bytes::from(vec![b'x'; LARGE])] {
                let what = format!("{} ({} bytes, round {round})", path.name, body.len());
                let request = http::Request::builder()
                    .method(path.method)
                    .uri(uri(path.path))
                    .body(Full::new(body))
                    .unwrap();
                let response = sender.send_request(request).await.unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(response.status(), path.status, "{what}");
                response.into_body().collect().await.unwrap_or_else(|e| panic!("{what}: body: {e}"));
                let next = http::Request::get(uri("/v1/echo/next")).body(Full::new(Bytes::new())).unwrap();
                let next = sender.send_request(next).await.unwrap_or_else(|e| panic!("after {what}: {e}"));
                assert_eq!(next.status(), 200, "after {what}");
            }
        }
    }
    assert!(!connection.is_finished(), "the HTTP/2 connection ended");
}
