//! Backends whose faults the harness controls: a bare gRPC server (hyper
//! HTTP/2) that echoes `demo.v1.Echo/Echo` and answers health checks, and
//! an HTTP/1.1 server for the pass-through routes. Each can be killed
//! (port closed, every connection dropped; [`Backend::kill`] returns once
//! they are all gone), restarted on the same port, made slow, made to fail,
//! or blackholed (connections accepted, nothing answered until the
//! blackhole ends, as a network partition that heals). Every POST that reaches any backend is counted
//! by its client-chosen id in one [`Ledger`], so a duplicate shows.

use std::{
    collections::HashMap,
    convert::Infallible,
    net::SocketAddr,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, Full, StreamBody, combinators::UnsyncBoxBody};
use hyper::{body::Incoming, service::service_fn};
use hyper_util::rt::{TokioExecutor, TokioIo};
use prost::Message;
use protogate::proto::demo::v1::Kitchen;
use tokio::{
    net::{TcpSocket, TcpStream},
    sync::{oneshot, watch},
    task::{JoinHandle, JoinSet},
};

/// What a backend does with what it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Normal,
    /// Answers calls after [`Backend::SLOW`] (health checks at once).
    Slow,
    /// Answers calls with UNAVAILABLE (gRPC) or 503 (HTTP), message "injected fault".
    Errors,
    /// Accepts connections and requests, never answers.
    Blackhole,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Grpc,
    Http,
}

/// POST ids seen by any backend, with how many times each arrived.
#[derive(Debug, Default)]
pub struct Ledger(Mutex<HashMap<String, u32>>);

impl Ledger {
    fn record(&self, id: &str) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner).entry(id.to_owned()).or_default() += 1;
    }

    /// The ids that arrived more than once.
    pub fn duplicates(&self) -> Vec<(String, u32)> {
        let seen = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        seen.iter().filter(|(_, n)| **n > 1).map(|(id, n)| (id.clone(), *n)).collect()
    }
}

struct Shared {
    protocol: Protocol,
    behaviour: watch::Sender<Behaviour>,
    /// Calls served (health checks excluded).
    calls: AtomicU64,
    ledger: Arc<Ledger>,
}

/// The accept loop of a running backend, and how to stop it.
struct Server {
    task: JoinHandle<()>,
    stop: oneshot::Sender<()>,
}

/// One backend on a fixed loopback port.
pub struct Backend {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: Option<Server>,
}

type Body = UnsyncBoxBody<Bytes, Infallible>;

impl Backend {
    /// How long a slow backend takes to answer a call.
    pub const SLOW: Duration = Duration::from_millis(150);

    pub async fn start(protocol: Protocol, ledger: Arc<Ledger>) -> Self {
        let shared = Arc::new(Shared {
            protocol,
            behaviour: watch::Sender::new(Behaviour::Normal),
            calls: AtomicU64::new(0),
            ledger,
        });
        let mut backend = Self { addr: SocketAddr::from(([127, 0, 0, 1], 0)), shared, server: None };
        backend.restart().await;
        backend
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Calls served so far (health checks excluded).
    pub fn calls(&self) -> u64 {
        self.shared.calls.load(Ordering::Relaxed)
    }

    pub fn set(&self, behaviour: Behaviour) {
        self.shared.behaviour.send_replace(behaviour);
    }

    /// Closes the port and drops every connection, as a crash would;
    /// returns once the port is closed and every connection is gone.
    pub async fn kill(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = server.stop.send(());
            let _ = server.task.await;
        }
    }

    /// Listens again on the same port (killing first if it runs).
    pub async fn restart(&mut self) {
        self.kill().await;
        let socket = TcpSocket::new_v4().expect("a socket");
        socket.set_reuseaddr(true).expect("SO_REUSEADDR");
        socket.bind(self.addr).expect("the backend's port is free again");
        let listener = socket.listen(128).expect("listen");
        self.addr = listener.local_addr().expect("an address");
        let shared = self.shared.clone();
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            // Owned by the accept loop: the connections end with it.
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    accepted = listener.accept() => {
                        if let Ok((stream, _)) = accepted {
                            connections.spawn(connection(stream, shared.clone()));
                        }
                    }
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
            drop(listener);
            // Aborts every connection and waits until each is dropped.
            connections.shutdown().await;
        });
        self.server = Some(Server { task, stop });
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.task.abort();
        }
    }
}

async fn connection(stream: TcpStream, shared: Arc<Shared>) {
    let mut behaviour = shared.behaviour.subscribe();
    // Accepted, not read while blackholed; served once the blackhole ends.
    let _ = behaviour.wait_for(|b| *b != Behaviour::Blackhole).await;
    let io = TokioIo::new(stream);
    let service = service_fn(|request| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(answer(request, &shared).await) }
    });
    let _ = match shared.protocol {
        Protocol::Grpc => {
            hyper::server::conn::http2::Builder::new(TokioExecutor::new()).serve_connection(io, service).await
        }
        Protocol::Http => hyper::server::conn::http1::Builder::new().serve_connection(io, service).await,
    };
}

async fn answer(request: Request<Incoming>, shared: &Shared) -> Response<Body> {
    let health = matches!(request.uri().path(), "/grpc.health.v1.Health/Check" | "/healthz");
    let id = request.headers().get("x-call-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let mut behaviour = shared.behaviour.subscribe();
    // Held while blackholed, then served as whatever the backend is by then.
    let now = behaviour.wait_for(|b| *b != Behaviour::Blackhole).await.map_or(Behaviour::Normal, |b| *b);
    if health {
        let serving = Bytes::from_static(&[0, 0, 0, 0, 2, 0x08, 0x01]);
        return reply(
            shared.protocol,
            Ok(()),
            if shared.protocol == Protocol::Grpc { serving } else { Bytes::new() },
        );
    }
    // The gRPC call's id is in the message; the HTTP call's in a header.
    let id = id.or_else(|| Kitchen::decode(body.get(5..).unwrap_or_default()).ok().map(|k| k.id));
    if let Some(id) = id.filter(|id| id.starts_with("post-")) {
        shared.ledger.record(&id);
    }
    match now {
        Behaviour::Errors => return reply(shared.protocol, Err("injected fault"), Bytes::new()),
        Behaviour::Slow => tokio::time::sleep(Backend::SLOW).await,
        Behaviour::Normal | Behaviour::Blackhole => {}
    }
    shared.calls.fetch_add(1, Ordering::Relaxed);
    // The Echo call replies with its request; the HTTP call with "ok".
    reply(
        shared.protocol,
        Ok(()),
        if shared.protocol == Protocol::Grpc { body } else { Bytes::from_static(b"ok") },
    )
}

/// A gRPC reply (the frame, then trailers) or an HTTP one.
fn reply(protocol: Protocol, outcome: Result<(), &'static str>, body: Bytes) -> Response<Body> {
    match protocol {
        Protocol::Http => {
            let (status, body) = match outcome {
                Ok(()) => (StatusCode::OK, body),
                Err(message) => (StatusCode::SERVICE_UNAVAILABLE, Bytes::from_static(message.as_bytes())),
            };
            let mut response = Response::new(Full::new(body).boxed_unsync());
            *response.status_mut() = status;
            response
        }
        Protocol::Grpc => {
            let mut trailers = HeaderMap::new();
            let (status, frames) = match outcome {
                Ok(()) => ("0", vec![Ok(Frame::data(body))]),
                Err(message) => {
                    trailers.insert("grpc-message", HeaderValue::from_static(message));
                    ("14", vec![])
                }
            };
            trailers.insert("grpc-status", HeaderValue::from_static(status));
            let mut frames = frames;
            frames.push(Ok(Frame::trailers(trailers)));
            let mut response =
                Response::new(StreamBody::new(futures_util::stream::iter(frames)).boxed_unsync());
            response.headers_mut().insert("content-type", HeaderValue::from_static("application/grpc"));
            response
        }
    }
}
