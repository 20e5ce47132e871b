//! Graceful shutdown of the real binary: on SIGTERM `/readyz` answers 503
//! at once, the listener keeps accepting for `shutdown.delay`, then
//! refuses; what is in flight finishes within `shutdown.drain` (HTTP/1.1
//! answers with `Connection: close`, HTTP/2 connections get a GOAWAY that
//! refuses new streams) and the process exits 0. A second
//! signal exits at once; a drain that expires closes what is left.

use std::{
    convert::Infallible,
    io::{Read, Write},
    net::{SocketAddr, TcpStream},
    time::{Duration, Instant},
};

use bytes::Bytes;
use http::Response;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::{
    net::TcpListener,
    sync::{mpsc, watch},
};

use crate::support::binary::Protogate;

/// A backend whose `/slow` answers only once released, telling when a
/// request arrives; anything else answers at once.
struct SlowBackend {
    addr: SocketAddr,
    arrived: mpsc::UnboundedReceiver<()>,
    release: watch::Sender<bool>,
}

impl SlowBackend {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (arrived_tx, arrived) = mpsc::unbounded_channel();
        let (release, released) = watch::channel(false);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (arrived, released) = (arrived_tx.clone(), released.clone());
                let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
                    let (arrived, mut released) = (arrived.clone(), released.clone());
                    async move {
                        if request.uri().path() == "/slow" {
                            let _ = arrived.send(());
                            let _ = released.wait_for(|released| *released).await;
                        }
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"done"))))
                    }
                });
                tokio::spawn(async move {
                    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        Self { addr, arrived, release }
    }

    /// Waits (bounded) until a `/slow` request has reached the backend.
    async fn wait_arrival(&mut self) {
        let arrived = tokio::time::timeout(Duration::from_secs(10), self.arrived.recv()).await;
        assert!(matches!(arrived, Ok(Some(()))), "the slow request never reached the backend");
    }
}

fn config(backend: SocketAddr, delay: &str, drain: &str) -> String {
    format!(
        r#"
listen: 127.0.0.1:0
admin: {{ listen: 127.0.0.1:0 }}
shutdown: {{ delay: {delay}, drain: {drain} }}
descriptors: [{{ file: {demo_pb} }}]
upstreams: {{ slow: {{ protocol: http, endpoints: ["http://{backend}"] }} }}
routes: [{{ http: {{ prefix: /, upstream: slow }} }}]
"#,
        demo_pb = concat!(env!("CARGO_MANIFEST_DIR"), "/descriptors/demo.pb"),
    )
}

/// Starts the binary and returns it with the gateway's and the admin's addresses.
fn start(yaml: &str) -> (Protogate, SocketAddr, SocketAddr) {
    let mut protogate = Protogate::run(yaml);
    let admin = protogate.addr_logged("the admin API is serving");
    let gateway = protogate.addr_logged("protogate is serving");
    (protogate, gateway, admin)
}

/// Sends a raw HTTP/1.1 GET (keep-alive, unless `close`) on `stream` and
/// reads the answer until the server closes.
fn raw_get(mut stream: TcpStream, path: &str, close: bool) -> std::io::Result<String> {
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let connection = if close { "Connection: close\r\n" } else { "" };
    write!(stream, "GET {path} HTTP/1.1\r\nHost: gateway\r\n{connection}\r\n")?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// The status of `GET /readyz` on the admin listener (a new connection);
/// 0 when it cannot be asked.
fn readyz(admin: SocketAddr) -> u16 {
    let answer = TcpStream::connect(admin).and_then(|stream| raw_get(stream, "/readyz", true));
    let answer = answer.unwrap_or_default();
    answer.split_whitespace().nth(1).and_then(|status| status.parse().ok()).unwrap_or(0)
}

/// Polls `condition` every 20 ms until it holds, for `within` at most.
fn eventually(within: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    condition()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_request_in_flight_finish_then_exits_0() {
    let mut backend = SlowBackend::start().await;
    let delay = Duration::from_secs(2);
    let drain = Duration::from_secs(10);
    let (mut protogate, gateway, admin) = start(&config(backend.addr, "2s", "10s"));
    assert_eq!(readyz(admin), 200);
    let in_flight = std::thread::spawn(move || raw_get(TcpStream::connect(gateway).unwrap(), "/slow", false));
    backend.wait_arrival().await;

    let asked = Instant::now();
    protogate.signal("TERM");
    assert!(eventually(delay, || readyz(admin) == 503), "/readyz did not turn 503 during the delay");
    let accepted = TcpStream::connect(gateway);
    if asked.elapsed() < delay {
        let answer = raw_get(accepted.unwrap(), "/quick", true).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "not served during the delay: {answer}");
    }
    assert!(
        eventually(delay * 5, || TcpStream::connect(gateway).is_err()),
        "the listener still accepts {:?} after SIGTERM",
        asked.elapsed()
    );
    assert!(protogate.exit_within(Duration::ZERO).is_none(), "exited before the request in flight finished");

    backend.release.send(true).unwrap();
    let answer = tokio::task::spawn_blocking(move || in_flight.join().unwrap()).await.unwrap().unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("\r\nconnection: close\r\n"), "{answer}");
    assert!(answer.ends_with("done"), "{answer}");

    let status = protogate.exit_within((delay + drain) * 5).expect("still running after the drain");
    assert_eq!(status.code(), Some(0), "{}", protogate.log.join("\n"));
    for step in ["SIGTERM received", "stop accepting", "connections drained", "stopped"] {
        assert!(
            protogate.log.iter().any(|line| line.contains(step)),
            "no {step:?} in the log:\n{}",
            protogate.log.join("\n")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_exits_at_once() {
    let backend = SlowBackend::start().await;
    let (mut protogate, _, admin) = start(&config(backend.addr, "60s", "60s"));
    protogate.signal("TERM");
    assert!(eventually(Duration::from_secs(10), || readyz(admin) == 503), "the first SIGTERM was not seen");
    protogate.signal("INT");
    // "At once": well before the 60 s delay (a ×5 margin over a second).
    let status = protogate.exit_within(Duration::from_secs(5)).expect("still running after a second signal");
    assert_eq!(status.code(), Some(130), "{}", protogate.log.join("\n"));
    assert!(
        protogate.log.iter().any(|line| line.contains("SIGINT received again")),
        "{}",
        protogate.log.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_that_expires_closes_what_is_left_and_exits_0() {
    let mut backend = SlowBackend::start().await;
    let drain = Duration::from_secs(1);
    let (mut protogate, gateway, _) = start(&config(backend.addr, "0s", "1s"));
    let in_flight = std::thread::spawn(move || raw_get(TcpStream::connect(gateway).unwrap(), "/slow", false));
    backend.wait_arrival().await;
    protogate.signal("TERM");
    let status = protogate.exit_within(drain * 5).expect("still running after the drain expired");
    assert_eq!(status.code(), Some(0), "{}", protogate.log.join("\n"));
    let answer = tokio::task::spawn_blocking(move || in_flight.join().unwrap()).await.unwrap();
    assert!(
        !answer.is_ok_and(|answer| answer.starts_with("HTTP/1.1 200")),
        "answered after the drain expired"
    );
    assert!(protogate.log.iter().any(|line| line.contains("drain expired")), "{}", protogate.log.join("\n"));
    drop(backend.release);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_connection_gets_goaway_and_its_stream_in_flight_finishes() {
    let mut backend = SlowBackend::start().await;
    let (mut protogate, gateway, _) = start(&config(backend.addr, "0s", "10s"));
    let tcp = tokio::net::TcpStream::connect(gateway).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    let connection = tokio::spawn(connection);
    let get = |path: &str| http::Request::get(format!("http://gateway{path}")).body(()).unwrap();
    let mut client = client.ready().await.unwrap();
    let (in_flight, _) = client.send_request(get("/slow"), true).unwrap();
    backend.wait_arrival().await;

    protogate.signal("TERM");
    // Until the GOAWAY arrives a new stream is still served; after it, the
    // client may open none (bounded: the drain is 10 s, this waits 5 s at most).
    let deadline = Instant::now() + Duration::from_secs(5);
    let refused = loop {
        assert!(Instant::now() < deadline, "no GOAWAY within 5 s of SIGTERM");
        let sent = client.clone().ready().await.and_then(|mut ready| ready.send_request(get("/quick"), true));
        match sent {
            Err(error) => break error,
            Ok((quick, _)) => {
                let _ = quick.await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    assert!(refused.is_go_away() && refused.is_remote(), "not the gateway's GOAWAY: {refused:?}");
    assert_eq!(refused.reason(), Some(h2::Reason::NO_ERROR), "{refused:?}");
    assert!(protogate.exit_within(Duration::ZERO).is_none(), "exited before the stream in flight finished");

    backend.release.send(true).unwrap();
    let response = tokio::time::timeout(Duration::from_secs(10), in_flight).await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut answer = Vec::new();
    while let Some(chunk) = body.data().await {
        answer.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(answer, b"done");
    let closed = tokio::time::timeout(Duration::from_secs(10), connection).await;
    assert!(closed.is_ok(), "the gateway kept the drained connection open");
    let status = protogate.exit_within(Duration::from_secs(50)).expect("still running after the drain");
    assert_eq!(status.code(), Some(0), "{}", protogate.log.join("\n"));
}
