//! Pass-through bodies within `limits.max_body_bytes` (or the route's
//! `http.max_body_bytes`): a declared `Content-Length` over it is a 413
//! before anything is forwarded; a chunked body that grows past it has its
//! upstream request aborted and the client gets a 413. The backend records
//! what it received, and how its request body ended.

use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, body::Incoming, service::service_fn};
use hyper_util::rt::TokioIo;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

use crate::support::gateway::Harness;

/// One request as the backend saw it: the bytes of its body, and whether
/// the body ended cleanly.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Received {
    bytes: usize,
    complete: bool,
}

type Log = Arc<Mutex<Vec<Received>>>;

/// An HTTP/1.1 backend that reads every request body to its end, records
/// it, then answers `{"received": N}`.
async fn start_recorder() -> (SocketAddr, Log) {
    let log: Log = Arc::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shared = log.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let log = shared.clone();
            let service = service_fn(move |request: Request<Incoming>| {
                let log = log.clone();
                async move {
                    let mut body = request.into_body();
                    let mut received = Received { bytes: 0, complete: true };
                    while let Some(frame) = body.frame().await {
                        match frame {
                            Ok(frame) => received.bytes += frame.data_ref().map_or(0, Bytes::len),
                            Err(_) => {
                                received.complete = false;
                                break;
                            }
                        }
                    }
                    log.lock().unwrap().push(received.clone());
                    let text = format!("{{\"received\":{}}}", received.bytes);
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(text))))
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    (addr, log)
}

const CONFIG: &str = r#"
listen: 127.0.0.1:0
descriptors: [{ file: descriptors/demo.pb }]
limits: { max_body_bytes: 1KiB }
upstreams:
  recorder: { protocol: http, endpoints: ["http://{recorder}"] }
routes:
  - http: { prefix: /small/, upstream: recorder }
  - http: { prefix: /large/, upstream: recorder, max_body_bytes: 8KiB }
"#;

async fn start() -> (Harness, Log) {
    let (recorder, log) = start_recorder().await;
    (Harness::with_config(&CONFIG.replace("{recorder}", &recorder.to_string())).await, log)
}

/// Sends a POST of `path` over raw HTTP/1.1: with `Content-Length` when
/// `declared`, else chunked, `chunks` chunks of 512 bytes; returns the
/// response's status and text (the gateway may close the connection).
async fn post(gateway: &Harness, path: &str, chunks: usize, declared: bool) -> (u16, String) {
    let addr = gateway.url("").trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let chunk = [b'x'; 512];
    let framing = if declared {
        format!("content-length: {}", chunks * chunk.len())
    } else {
        "transfer-encoding: chunked".to_owned()
    };
    let head = format!("POST {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n{framing}\r\n\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    for _ in 0..chunks {
        let sent = if declared {
            stream.write_all(&chunk).await
        } else {
            stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await.unwrap();
            stream.write_all(&chunk).await.unwrap();
            stream.write_all(b"\r\n").await
        };
        // The gateway may refuse (and close) before the body is all sent.
        if sent.is_err() {
            break;
        }
    }
    if !declared {
        let _ = stream.write_all(b"0\r\n\r\n").await;
    }
    let mut text = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut text)).await;
    assert!(read.is_ok(), "no answer within 10s");
    let text = String::from_utf8_lossy(&text).into_owned();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_a_413_before_forwarding() {
    let (gateway, log) = start().await;
    let (status, text) = post(&gateway, "/small/upload", 4, true).await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("1024 bytes"), "{text}");
    assert!(log.lock().unwrap().is_empty(), "the backend saw {:?}", log.lock().unwrap());

    let (status, text) = post(&gateway, "/small/upload", 2, true).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(*log.lock().unwrap(), [Received { bytes: 1024, complete: true }]);
}

#[tokio::test]
async fn a_chunked_body_past_the_limit_aborts_the_upstream_request_with_a_413() {
    let (gateway, log) = start().await;
    let (status, text) = post(&gateway, "/small/upload", 2, false).await;
    assert_eq!(status, 200, "{text}");
    let (status, text) = post(&gateway, "/small/upload", 8, false).await;
    assert_eq!(status, 413, "{text}");
    // Bounded polling: the backend records the aborted body once it notices.
    let mut seen = Vec::new();
    for _ in 0..200 {
        seen = log.lock().unwrap().clone();
        if seen.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(seen.first(), Some(&Received { bytes: 1024, complete: true }));
    match seen.get(1) {
        Some(aborted) => assert!(!aborted.complete && aborted.bytes <= 1024, "{seen:?}"),
        None => panic!("the backend never saw the aborted request: {seen:?}"),
    }
}

#[tokio::test]
async fn a_route_may_raise_the_limit() {
    let (gateway, log) = start().await;
    let (status, text) = post(&gateway, "/large/upload", 12, false).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("{\"received\":6144}"), "{text}");
    let (status, text) = post(&gateway, "/large/upload", 20, true).await;
    assert_eq!(status, 413, "{text}");
    assert_eq!(log.lock().unwrap().len(), 1);
}
