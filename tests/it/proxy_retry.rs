//! Pass-through retries, counted at the backend: a body-less idempotent
//! request is sent again after a 503; a request with a body, or a POST
//! that reached the backend, never is; a refused connection is retried on
//! the other endpoint.

use std::{
    convert::Infallible,
    net::SocketAddr,
    num::NonZeroU32,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use protogate::{
    proxy::{ClientSettings, HttpClient, ProxySettings, ProxyTarget},
    upstream::{RetrySettings, Upstream, UpstreamProtocol, UpstreamSettings},
};
use tokio::net::TcpListener;

use crate::support::http_backends::start_proxy;

/// An HTTP/1.1 backend that answers 503 to its first `failures` requests
/// and 200 after; counts the requests.
async fn flaky(failures: u64) -> (SocketAddr, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(AtomicU64::new(0));
    let counter = seen.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let counter = counter.clone();
            let service = service_fn(move |_request| {
                let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
                let status = if n <= failures { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
                let response = Response::builder().status(status).body(Full::new(Bytes::from_static(b"x")));
                async move { Ok::<_, Infallible>(response.unwrap()) }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(socket), service),
            );
        }
    });
    (addr, seen)
}

/// A proxy to `endpoints` whose upstream tries each call 3 times at most.
async fn proxy(endpoints: &[SocketAddr]) -> String {
    let settings = UpstreamSettings {
        protocol: UpstreamProtocol::Http,
        endpoints: endpoints.iter().map(|addr| format!("http://{addr}").parse().unwrap()).collect(),
        connect_timeout: Duration::from_secs(1),
        max_response_bytes: 1 << 20,
        retry: RetrySettings { attempts: NonZeroU32::new(3).unwrap(), ..RetrySettings::default() },
        ..Default::default()
    };
    let upstream = Arc::new(Upstream::new("legacy", &settings).unwrap());
    let route = ProxySettings::whole(Duration::from_secs(5), false);
    let client = HttpClient::new(&ClientSettings::default(), &upstream).unwrap();
    format!("http://{}/x", start_proxy(ProxyTarget::new(route, upstream, client)).await)
}

#[tokio::test]
async fn a_bodyless_get_is_retried_after_a_503() {
    let (backend, seen) = flaky(2).await;
    let url = proxy(&[backend]).await;
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(seen.load(Ordering::Relaxed), 3);
}

#[tokio::test]
async fn a_post_or_a_request_with_a_body_is_sent_once() {
    let (backend, seen) = flaky(100).await;
    let url = proxy(&[backend]).await;
    let client = reqwest::Client::new();
    assert_eq!(client.post(&url).send().await.unwrap().status(), 503);
    assert_eq!(seen.load(Ordering::Relaxed), 1, "a POST that reached the backend");
    assert_eq!(client.put(&url).body("data").send().await.unwrap().status(), 503);
    assert_eq!(seen.load(Ordering::Relaxed), 2, "its body was consumed by the first try");
    assert_eq!(client.delete(&url).send().await.unwrap().status(), 503);
    assert_eq!(seen.load(Ordering::Relaxed), 5, "an idempotent body-less request: 3 tries");
}

#[tokio::test]
async fn a_refused_connection_is_retried_on_the_other_endpoint() {
    let dead = crate::support::closed_port::ClosedPort::new();
    let (backend, seen) = flaky(0).await;
    let url = proxy(&[dead.addr(), backend]).await;
    let client = reqwest::Client::new();
    for _ in 0..4 {
        assert_eq!(client.post(&url).send().await.unwrap().status(), 200, "a body-less POST never sent");
    }
    assert_eq!(seen.load(Ordering::Relaxed), 4);
}
