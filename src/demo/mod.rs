//! The built-in demo backend: real tonic services for proto/demo/v1
//! (Library, a small bookstore; Echo, the test service; Stream, server
//! streams for the streaming tests) and the standard
//! gRPC health service, and the demo's web page (page.rs), which calls the
//! streams from a browser. Used by `protogate demo` and by the integration tests.
//!
//! It is a backend like any other: the gateway reaches it only over gRPC.
//!
//! It counts the requests it serves ([`DemoBackend::calls`]), so tests can
//! see where a balancer sent them, and the gzip'd requests it received and
//! replies it sent ([`DemoBackend::gzip_requests`],
//! [`DemoBackend::gzip_replies`]): like many backends, it compresses replies
//! for clients that accept gzip, and accepts gzip'd requests. It can serve
//! over TLS ([`DemoBackend::start_tls`]).
//!
//! Dropping a [`DemoBackend`] closes its port at once and then shuts the
//! server down gracefully: open connections get a GOAWAY and in-flight calls
//! may finish.

mod echo;
mod library;
mod page;
mod stream;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::codec::CompressionEncoding;
use tonic::transport::{Server, ServerTlsConfig};
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tower::ServiceBuilder;

use crate::proto::demo::v1::echo_server::EchoServer;
use crate::proto::demo::v1::library_server::LibraryServer;
use crate::proto::demo::v1::stream_server::StreamServer;
use echo::EchoService;
use library::LibraryService;
pub use page::{DemoPage, PAGE_PATH};
pub use stream::StreamProbe;
use stream::StreamService;

/// The gRPC server reflection a demo backend serves.
#[derive(Debug, Clone, Copy)]
pub enum DemoReflection {
    /// None.
    Off,
    /// `grpc.reflection.v1` and `v1alpha`, of this encoded `FileDescriptorSet`.
    Both(&'static [u8]),
    /// Only `grpc.reflection.v1alpha` (as older servers do), of this set.
    V1AlphaOnly(&'static [u8]),
}

impl Default for DemoReflection {
    /// Both versions, of the demo's own descriptors.
    fn default() -> Self {
        Self::Both(crate::proto::DEMO_DESCRIPTOR_SET)
    }
}

/// A running demo backend; stops when dropped.
#[derive(Debug)]
pub struct DemoBackend {
    addr: SocketAddr,
    health: HealthReporter,
    calls: Arc<AtomicU64>,
    gzip_requests: Arc<AtomicU64>,
    gzip_replies: Arc<AtomicU64>,
    stream_probe: Arc<StreamProbe>,
    /// Never sent on: dropping it is the shutdown signal.
    _shutdown: watch::Sender<()>,
}

impl DemoBackend {
    /// Binds `addr` (use port 0 for an ephemeral port) and serves the demo
    /// services and the health service in a background task.
    ///
    /// The health service reports SERVING for "demo.v1.Library",
    /// "demo.v1.Echo" and the server as a whole (""). Echo's Metadata
    /// replies carry the backend's address in `x-demo-backend` (through the
    /// gateway: `Grpc-Metadata-X-Demo-Backend`), so a test can tell which of
    /// several backends served a call.
    pub async fn start(addr: SocketAddr) -> io::Result<Self> {
        Self::serve(addr, None, DemoReflection::default()).await
    }

    /// The same, serving `reflection`.
    pub async fn start_with_reflection(addr: SocketAddr, reflection: DemoReflection) -> io::Result<Self> {
        Self::serve(addr, None, reflection).await
    }

    /// The same, over TLS (a client certificate may be required by `tls`).
    pub async fn start_tls(addr: SocketAddr, tls: ServerTlsConfig) -> io::Result<Self> {
        Self::serve(addr, Some(tls), DemoReflection::default()).await
    }

    async fn serve(
        addr: SocketAddr,
        tls: Option<ServerTlsConfig>,
        reflection: DemoReflection,
    ) -> io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;

        let (health, health_service) = tonic_health::server::health_reporter();
        health.set_serving::<LibraryServer<LibraryService>>().await;
        health.set_serving::<EchoServer<EchoService>>().await;
        health.set_service_status("", ServingStatus::Serving).await;

        let (shutdown, shutdown_rx) = watch::channel(());
        let (conn_tx, conn_rx) = mpsc::channel(16);
        tokio::spawn(accept_until_shutdown(listener, conn_tx, shutdown_rx.clone()));

        let calls = Arc::new(AtomicU64::new(0));
        let (gzip_requests, gzip_replies) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (counter, gzip_in, gzip_counter) = (calls.clone(), gzip_requests.clone(), gzip_replies.clone());
        let counting = ServiceBuilder::new()
            .map_request(move |request: http::Request<tonic::body::Body>| {
                counter.fetch_add(1, Ordering::Relaxed);
                if is_gzip(request.headers()) {
                    gzip_in.fetch_add(1, Ordering::Relaxed);
                }
                request
            })
            .map_response(move |response: http::Response<tonic::body::Body>| {
                if is_gzip(response.headers()) {
                    gzip_counter.fetch_add(1, Ordering::Relaxed);
                }
                response
            })
            .into_inner();
        let stream_probe = Arc::new(StreamProbe::default());
        let mut builder = Server::builder();
        if let Some(tls) = tls {
            builder = builder.tls_config(tls).map_err(io::Error::other)?;
        }
        let gzip = CompressionEncoding::Gzip;
        let reflecting =
            |set| tonic_reflection::server::Builder::configure().register_encoded_file_descriptor_set(set);
        let (v1, v1alpha) = match reflection {
            DemoReflection::Off => (None, None),
            DemoReflection::Both(set) => {
                (Some(reflecting(set).build_v1()), Some(reflecting(set).build_v1alpha()))
            }
            DemoReflection::V1AlphaOnly(set) => (None, Some(reflecting(set).build_v1alpha())),
        };
        let v1 = v1.transpose().map_err(io::Error::other)?;
        let v1alpha = v1alpha.transpose().map_err(io::Error::other)?;
        let server = builder
            .layer(counting)
            .add_service(health_service)
            .add_service(
                LibraryServer::new(LibraryService::seeded()).send_compressed(gzip).accept_compressed(gzip),
            )
            .add_service(
                EchoServer::new(EchoService::new(addr)).send_compressed(gzip).accept_compressed(gzip),
            )
            .add_service(StreamServer::new(StreamService::new(stream_probe.clone())))
            .add_optional_service(v1)
            .add_optional_service(v1alpha);
        tokio::spawn(async move {
            let stopped = wait_for_drop(shutdown_rx);
            if let Err(err) = server.serve_with_incoming_shutdown(ReceiverStream::new(conn_rx), stopped).await
            {
                tracing::warn!(%addr, "demo backend stopped with an error: {err}");
            }
        });
        Ok(Self { addr, health, calls, gzip_requests, gzip_replies, stream_probe, _shutdown: shutdown })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The requests it has received, every service's (health checks too).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// The requests it received gzip'd.
    pub fn gzip_requests(&self) -> u64 {
        self.gzip_requests.load(Ordering::Relaxed)
    }

    /// The replies it sent gzip'd (to clients that accept gzip).
    pub fn gzip_replies(&self) -> u64 {
        self.gzip_replies.load(Ordering::Relaxed)
    }

    /// What the Stream service saw: messages sent, streams cancelled.
    pub fn stream_probe(&self) -> &StreamProbe {
        &self.stream_probe
    }

    /// A handle on the health service's statuses, e.g. to mark a service
    /// NOT_SERVING.
    pub fn health_reporter(&self) -> HealthReporter {
        self.health.clone()
    }
}

/// Resolves when the [`DemoBackend`] holding the sender is dropped.
async fn wait_for_drop(mut shutdown: watch::Receiver<()>) {
    // Nothing is ever sent, so this returns only once the sender is gone.
    while shutdown.changed().await.is_ok() {}
}

/// Accepts connections and hands them to the server until shutdown, then
/// drops the listener. tonic keeps the incoming stream it is given until the
/// last connection has drained, so owning the listener here is what closes
/// the port promptly.
async fn accept_until_shutdown(
    listener: TcpListener,
    conns: mpsc::Sender<io::Result<TcpStream>>,
    shutdown: watch::Receiver<()>,
) {
    let stopped = wait_for_drop(shutdown);
    tokio::pin!(stopped);
    loop {
        let accepted = tokio::select! {
            () = &mut stopped => break,
            accepted = listener.accept() => accepted,
        };
        let conn = accepted.map(|(stream, _)| {
            if let Err(err) = stream.set_nodelay(true) {
                tracing::debug!("demo backend: cannot set TCP_NODELAY: {err}");
            }
            stream
        });
        if conns.send(conn).await.is_err() {
            break;
        }
    }
}

/// The gateway config of the demo: the demo services, transcoded, in
/// front of the backend at `backend`, the demo's web page (a pass-through
/// route, `/demo/`) from `page`, and an admin listener on `admin`
/// whose page may call every route (a CORS policy for its origins, when
/// its port is known before it binds).
pub fn gateway_config(
    backend: SocketAddr,
    page: Option<SocketAddr>,
    listen: SocketAddr,
    admin: Option<SocketAddr>,
) -> crate::config::Config {
    use crate::config::{
        AdminConfig, Config, CorsConfig, GrpcRouteConfig, HttpRouteConfig, PolicyConfig, ProtocolConfig,
        RouteConfig, UpstreamConfig,
    };
    let route = |service: &str| RouteConfig {
        grpc: Some(GrpcRouteConfig {
            service: service.into(),
            upstream: "demo".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let upstream =
        |addr: SocketAddr| UpstreamConfig { endpoints: vec![format!("http://{addr}")], ..Default::default() };
    let mut upstreams: std::collections::BTreeMap<_, _> = [("demo".to_owned(), upstream(backend))].into();
    let mut routes = vec![route("demo.v1.Library"), route("demo.v1.Echo"), route("demo.v1.Stream")];
    if let Some(page) = page {
        let protocol = ProtocolConfig::Http;
        upstreams.insert(PAGE_UPSTREAM.to_owned(), UpstreamConfig { protocol, ..upstream(page) });
        let http =
            HttpRouteConfig { prefix: "/demo/".into(), upstream: PAGE_UPSTREAM.into(), ..Default::default() };
        routes.push(RouteConfig { http: Some(http), ..Default::default() });
    }
    Config {
        listen: Some(listen.to_string()),
        upstreams,
        routes,
        admin: admin.map(|listen| AdminConfig { listen: listen.to_string(), ..Default::default() }),
        policies: page_origins(admin)
            .map(|allow_origins| {
                let cors = CorsConfig { allow_origins, ..Default::default() };
                (ADMIN_PAGE_POLICY.to_owned(), PolicyConfig { cors: Some(cors), ..Default::default() })
            })
            .into_iter()
            .collect(),
        default_policies: page_origins(admin).map(|_| ADMIN_PAGE_POLICY.to_owned()).into_iter().collect(),
        ..Default::default()
    }
}

/// The upstream of the demo's web page.
const PAGE_UPSTREAM: &str = "demo-page";

/// The demo's CORS policy, for the admin page's "try it" form.
const ADMIN_PAGE_POLICY: &str = "admin-page";

/// The origins of the admin page on `admin` (with `localhost` beside a
/// loopback address); none while its port is not chosen yet.
fn page_origins(admin: Option<SocketAddr>) -> Option<Vec<String>> {
    let admin = admin.filter(|admin| admin.port() != 0)?;
    let mut origins = vec![format!("http://{admin}")];
    if admin.ip().is_loopback() {
        origins.push(format!("http://localhost:{}", admin.port()));
    }
    Some(origins)
}

/// What `protogate demo` prints: where things are, and requests to try, in
/// an order where each works after the ones before it (the move takes book
/// 3, which no later line reads on shelf 1).
pub fn welcome(listen: SocketAddr, backend: SocketAddr, admin: Option<SocketAddr>) -> String {
    let page = admin
        .map(|admin| format!("The admin page: http://{admin}/?api=http://{listen}\n"))
        .unwrap_or_default();
    format!(
        "protogate demo: the gateway listens on http://{listen}, the gRPC backend on {backend}\n\
         {page}\
         Streams in a browser (SSE, WebSocket, NDJSON, gRPC-Web): http://{listen}{PAGE_PATH}\n\
         Try:\n  \
         curl -s http://{listen}/v1/shelves\n  \
         curl -s http://{listen}/v1/shelves/1/books/2\n  \
         curl -s 'http://{listen}/v1/shelves/1/books?genre=FICTION&page_size=5'\n  \
         curl -si http://{listen}/v1/shelves/1/books --json '{{\"title\":\"Dune\",\"author\":\"Frank Herbert\",\"genre\":\"FICTION\"}}'   # 201 Created\n  \
         curl -s -X PATCH http://{listen}/v1/shelves/1/books/2 --json '{{\"title\":\"A new title\"}}'\n  \
         curl -s http://{listen}/v1/shelves/1/books/3:move --json '{{\"toShelf\":\"2\"}}'\n  \
         curl -s http://{listen}/v1/shelves/2/books/3/cover\n  \
         curl -s http://{listen}/v1/shelves/9   # a NOT_FOUND from the backend, as 404\n  \
         curl -sN 'http://{listen}/v1/stream/count/3?delayMillis=500'   # a server stream, NDJSON\n\
         Press Ctrl-C to stop."
    )
}

/// Whether a gRPC message's headers say it is gzip'd.
fn is_gzip(headers: &http::HeaderMap) -> bool {
    headers.get("grpc-encoding").is_some_and(|encoding| encoding == "gzip")
}
