//! Retries through the gateway, counted at the backend: a call that may
//! have reached the backend is sent again only when idempotent; a call that
//! never reached it (a refused connection, a refused HTTP/2 stream) is sent
//! again even when it is a POST; the budget caps retries. No health checks
//! here: they would count as calls.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use protogate::demo::DemoBackend;
use tokio::net::TcpListener;

use crate::support::{
    closed_port::ClosedPort,
    gateway::{json_of, start_gateway},
};

/// A gateway for the Echo service in front of `endpoints`, the upstream
/// having `settings` (YAML flow keys).
async fn gateway(
    endpoints: &[String],
    settings: &str,
) -> (protogate::server::RunningServer, reqwest::Client) {
    let yaml = format!(
        "listen: 127.0.0.1:0\n\
         descriptors: [{{ file: descriptors/demo.pb }}]\n\
         upstreams:\n  demo: {{ endpoints: [{}], {settings} }}\n\
         routes: [{{ grpc: {{ service: demo.v1.Echo, upstream: demo }} }}]\n",
        endpoints.iter().map(|e| format!("\"{e}\"")).collect::<Vec<_>>().join(", "),
    );
    (start_gateway(&yaml).await, reqwest::Client::new())
}

async fn backend() -> DemoBackend {
    DemoBackend::start("127.0.0.1:0".parse().unwrap()).await.unwrap()
}

#[tokio::test]
async fn a_post_that_reached_the_backend_is_never_retried_an_idempotent_get_is() {
    let backend = backend().await;
    let (gateway, client) = gateway(&[format!("http://{}", backend.addr())], "retry: { attempts: 3 }").await;
    let url = |path: &str| format!("http://{}{path}", gateway.addr());

    let response = client.post(url("/v1/fail")).body(r#"{"code":14,"message":"down"}"#).send().await.unwrap();
    let (status, body) = json_of(response).await;
    assert_eq!((status, body["code"].as_i64()), (503, Some(14)), "{body}");
    assert_eq!(backend.calls(), 1, "UNAVAILABLE may come after the work was done: a POST is sent once");

    let (status, body) = json_of(client.get(url("/v1/fail/14")).send().await.unwrap()).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(backend.calls(), 1 + 3, "a GET is tried `attempts` times");

    // A code outside the failure set is an answer, not retried.
    let (status, _) = json_of(client.get(url("/v1/fail/5")).send().await.unwrap()).await;
    assert_eq!(status, 404);
    assert_eq!(backend.calls(), 1 + 3 + 1);
}

#[tokio::test]
async fn a_refused_connection_is_retried_on_the_other_endpoint_even_for_a_post() {
    let backend = backend().await;
    let dead = ClosedPort::new();
    let endpoints = [format!("http://{}", dead.addr()), format!("http://{}", backend.addr())];
    let (gateway, client) = gateway(&endpoints, "retry: { attempts: 2 }").await;
    for i in 0..10 {
        let response = client
            .post(format!("http://{}/v1/echo", gateway.addr()))
            .body(format!(r#"{{"id":"{i}"}}"#))
            .send()
            .await
            .unwrap();
        let (status, body) = json_of(response).await;
        assert_eq!((status, body["id"].as_str()), (200, Some(i.to_string().as_str())), "{body}");
    }
    assert_eq!(backend.calls(), 10, "each POST reached the live backend once");
}

/// An HTTP/2 server that refuses every stream (RST_STREAM REFUSED_STREAM)
/// and counts them.
async fn refusing_server() -> (SocketAddr, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let refused = Arc::new(AtomicU64::new(0));
    let counter = refused.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                let Ok(mut connection) = h2::server::handshake(socket).await else { return };
                while let Some(Ok((_, mut respond))) = connection.accept().await {
                    counter.fetch_add(1, Ordering::Relaxed);
                    respond.send_reset(h2::Reason::REFUSED_STREAM);
                }
            });
        }
    });
    (addr, refused)
}

#[tokio::test]
async fn a_refused_stream_is_retried_even_for_a_post() {
    let backend = backend().await;
    let (refuser, refused) = refusing_server().await;
    let endpoints = [format!("http://{refuser}"), format!("http://{}", backend.addr())];
    // The refusals must not eject the refusing endpoint during the test.
    let (gateway, client) =
        gateway(&endpoints, "retry: { attempts: 2 }, outlier: { consecutive_failures: 100 }").await;
    for _ in 0..6 {
        let response = client
            .post(format!("http://{}/v1/echo", gateway.addr()))
            .body(r#"{"id":"x"}"#)
            .send()
            .await
            .unwrap();
        let (status, body) = json_of(response).await;
        assert_eq!(status, 200, "{body}");
    }
    assert!(refused.load(Ordering::Relaxed) >= 1, "round robin sent some first tries to the refuser");
    assert_eq!(backend.calls(), 6);
}

#[tokio::test]
async fn the_budget_caps_retries() {
    let backend = backend().await;
    // No floor: retries are 20% of the calls at most. The breaker stays out of it.
    let settings = "retry: { attempts: 3, budget_percent: 20, min_per_second: 0 }, \
                    breaker: { minimum_calls: 1000 }";
    let (gateway, client) = gateway(&[format!("http://{}", backend.addr())], settings).await;
    let requests = 50;
    for _ in 0..requests {
        let response = client.get(format!("http://{}/v1/fail/14", gateway.addr())).send().await.unwrap();
        assert_eq!(response.status(), 503);
    }
    let calls = backend.calls();
    assert!(calls > requests, "some retries were allowed: {calls}");
    assert!(calls <= requests + requests / 5, "{calls} calls for {requests} requests with a 20% budget");
}
