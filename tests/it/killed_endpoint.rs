//! A killed endpoint fails no request (issue 12, hole 6): with three
//! endpoints and no `retry` configured, a call that never reached a backend
//! (its connection refused) goes to another endpoint, whatever its method,
//! and the endpoint leaves the pick at once. Counted at the backends: no
//! call is duplicated. No health checks: they would count as calls.

use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use http::Response;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use protogate::demo::DemoBackend;
use tokio::{net::TcpListener, task::JoinSet};

use protogate::server::RunningServer;

use crate::support::gateway::{json_of, start_gateway};

const REQUESTS: u64 = 30;

/// An HTTP/1.1 backend that counts the requests it reads whole; killed
/// (listener and connections closed at once) by [`HttpBackend::kill`].
struct HttpBackend {
    addr: SocketAddr,
    calls: Arc<AtomicU64>,
    /// Connections not closed yet.
    open: Arc<AtomicU64>,
    server: tokio::task::JoinHandle<()>,
}

/// Counts a connection open until dropped.
struct Open(Arc<AtomicU64>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl HttpBackend {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (calls, open) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (counter, opened) = (calls.clone(), open.clone());
        // The connections belong to the accept task: aborting it closes them all.
        let server = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((socket, _)) = listener.accept().await {
                while connections.try_join_next().is_some() {}
                let counter = counter.clone();
                let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
                    let counter = counter.clone();
                    async move {
                        let body =
                            request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                        counter.fetch_add(1, Ordering::Relaxed);
                        Ok::<_, Infallible>(Response::new(Full::new(body)))
                    }
                });
                opened.fetch_add(1, Ordering::Relaxed);
                let open = Open(opened.clone());
                let connection = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(socket), service);
                connections.spawn(async move {
                    let _open = open;
                    let _ = connection.await;
                });
            }
        });
        Self { addr, calls, open, server }
    }

    fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Closes its port and its connections, and waits (a bounded poll)
    /// until they are closed.
    async fn kill(&mut self) {
        self.server.abort();
        let _ = (&mut self.server).await;
        for _ in 0..500 {
            if self.open.load(Ordering::Relaxed) == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the killed backend at {} still has connections open", self.addr);
    }
}

/// Stops `backend` and waits (a bounded poll) until its port refuses connections.
async fn kill_grpc(backend: DemoBackend) {
    let addr = backend.addr();
    drop(backend);
    for _ in 0..500 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the stopped backend at {addr} still accepts connections");
}

fn list(addresses: impl Iterator<Item = SocketAddr>) -> String {
    addresses.map(|addr| format!("\"http://{addr}\"")).collect::<Vec<_>>().join(", ")
}

/// The gateway config: a transcoded route and a pass-through route, each
/// upstream with three endpoints and no `retry`.
fn config(grpc: &[DemoBackend], http: &[HttpBackend]) -> String {
    format!(
        "listen: 127.0.0.1:0\n\
         descriptors: [{{ file: descriptors/demo.pb }}]\n\
         upstreams:\n  \
           demo: {{ endpoints: [{}] }}\n  \
           legacy: {{ endpoints: [{}], protocol: http }}\n\
         routes:\n  \
           - grpc: {{ service: demo.v1.Echo, upstream: demo }}\n  \
           - http: {{ prefix: /legacy/, upstream: legacy }}\n",
        list(grpc.iter().map(DemoBackend::addr)),
        list(http.iter().map(|backend| backend.addr)),
    )
}

/// A gateway whose endpoints all served one call of each route (so it
/// holds a connection to each).
async fn warm_gateway(yaml: &str, client: &reqwest::Client) -> RunningServer {
    let gateway = start_gateway(yaml).await;
    for i in 0..3 {
        let url = format!("http://{}/v1/echo/warm{i}", gateway.addr());
        let (status, body) = json_of(client.get(url).send().await.unwrap()).await;
        assert_eq!(status, 200, "{body}");
        let response = client.get(format!("http://{}/legacy/warm", gateway.addr())).send().await.unwrap();
        assert_eq!(response.status(), 200);
    }
    gateway
}

/// `REQUESTS` transcoded and pass-through calls with `method` (GET or POST)
/// through `gateway`, each of which must succeed.
async fn calls(gateway: &RunningServer, client: &reqwest::Client, method: reqwest::Method) {
    let url = |path: &str| format!("http://{}{path}", gateway.addr());
    for i in 0..REQUESTS {
        let id = format!("{method}{i}");
        let request = match method {
            reqwest::Method::GET => client.get(url(&format!("/v1/echo/{id}"))),
            _ => client.post(url("/v1/echo")).body(format!(r#"{{"id":"{id}"}}"#)),
        };
        let (status, body) = json_of(request.send().await.unwrap()).await;
        assert_eq!((status, body["id"].as_str()), (200, Some(id.as_str())), "transcoded {id}: {body}");

        // A pass-through GET has no body; a POST's streams to the backend.
        let (request, sent) = match method {
            reqwest::Method::GET => (client.get(url("/legacy/x")), Bytes::new()),
            _ => (client.post(url("/legacy/x")).body(id.clone()), Bytes::from(id.clone())),
        };
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "pass-through {id}");
        assert_eq!(response.bytes().await.unwrap(), sent, "pass-through {id}: the body went whole");
    }
}

#[tokio::test]
async fn a_killed_endpoint_fails_no_call_and_duplicates_none() {
    let mut grpc = Vec::new();
    for _ in 0..3 {
        grpc.push(DemoBackend::start("127.0.0.1:0".parse().unwrap()).await.unwrap());
    }
    let mut http = vec![HttpBackend::start().await, HttpBackend::start().await, HttpBackend::start().await];
    let yaml = config(&grpc, &http);
    let client = reqwest::Client::new();
    // One gateway per method: after the kill, each one's round robin gives
    // the killed endpoint one of its first three calls, a GET in one, a POST
    // in the other.
    let (gets, posts) = (warm_gateway(&yaml, &client).await, warm_gateway(&yaml, &client).await);
    assert!(grpc.iter().all(|backend| backend.calls() == 2), "every gRPC endpoint served");
    assert!(http.iter().all(|backend| backend.calls() == 2), "every HTTP endpoint served");

    kill_grpc(grpc.remove(1)).await;
    http[1].kill().await;
    calls(&gets, &client, reqwest::Method::GET).await;
    calls(&posts, &client, reqwest::Method::POST).await;

    // Each call reached one live backend once; the killed ones saw none.
    let served: u64 = grpc.iter().map(DemoBackend::calls).sum();
    assert_eq!(served, 4 + 2 * REQUESTS, "transcoded calls, each once");
    let served: u64 = [&http[0], &http[2]].iter().map(|backend| backend.calls()).sum();
    assert_eq!(served, 4 + 2 * REQUESTS, "pass-through calls, each once");
    assert_eq!(http[1].calls(), 2, "the killed HTTP endpoint saw only the warm-up");
}
