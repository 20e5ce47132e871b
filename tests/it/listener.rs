//! The listener itself: telling HTTP/2 from HTTP/1.1 by the first bytes,
//! closing connections that send nothing, and draining on shutdown.

use std::time::{Duration, Instant};

use protogate::demo::DemoBackend;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{
    gateway::{DEMO_CONFIG, Harness, start_gateway},
    poll::eventually,
};

/// An empty SETTINGS frame: length 0, type 4, no flags, stream 0.
const EMPTY_SETTINGS: [u8; 9] = [0, 0, 0, 4, 0, 0, 0, 0, 0];

fn addr_of(harness: &Harness) -> String {
    harness.url("").trim_start_matches("http://").to_owned()
}

#[tokio::test]
async fn an_http2_preface_sent_in_pieces_is_still_http2() {
    let gateway = Harness::start().await;
    let mut stream = TcpStream::connect(addr_of(&gateway)).await.unwrap();
    stream.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    stream.write_all(b"\r\nSM\r\n\r\n").await.unwrap();
    stream.write_all(&EMPTY_SETTINGS).await.unwrap();
    let mut frame_head = [0u8; 9];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut frame_head)).await.unwrap().unwrap();
    assert_eq!(frame_head[3], 4, "the server's first frame is its SETTINGS: {frame_head:?}");
}

#[tokio::test]
async fn an_http1_request_that_starts_like_the_preface_is_http1() {
    let gateway = Harness::start().await;
    let mut stream = TcpStream::connect(addr_of(&gateway)).await.unwrap();
    // "PRI" would begin the preface; " /" no longer does.
    stream.write_all(b"PRI /v1/shelves HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut reply)).await.unwrap().unwrap();
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 4"), "{reply}");
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_header_read_timeout() {
    let gateway =
        Harness::with_config(&format!("{DEMO_CONFIG}limits: {{ header_read_timeout: 200ms }}\n")).await;
    let mut stream = TcpStream::connect(addr_of(&gateway)).await.unwrap();
    let started = Instant::now();
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut byte)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "the connection was not closed: {read:?}");
    assert!(started.elapsed() >= Duration::from_millis(150), "closed too early: {:?}", started.elapsed());
}

#[tokio::test]
async fn shutdown_lets_a_request_in_flight_finish() {
    let backend = DemoBackend::start("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let gateway = start_gateway(&DEMO_CONFIG.replace("{backend}", &backend.addr().to_string())).await;
    let url = format!("http://{}/v1/sleep/300", gateway.addr());
    let in_flight =
        tokio::spawn(async move { reqwest::get(url).await.map(|response| response.status().as_u16()) });
    eventually("the request to reach the backend", async || backend.calls() == 1).await;
    let addr = gateway.addr();
    tokio::time::timeout(Duration::from_secs(10), gateway.shutdown(Duration::from_secs(10))).await.unwrap();
    assert_eq!(in_flight.await.unwrap().unwrap(), 200);
    assert!(TcpStream::connect(addr).await.is_err(), "still accepting after shutdown");
}
