//! The built-in demo backend: real tonic services for proto/demo/v1
//! (Library, a small bookstore; Echo, the test service) and the standard
//! gRPC health service. Used by `protogate demo` and by the integration tests.
//!
//! It is a backend like any other: the gateway reaches it only over gRPC.

use std::net::SocketAddr;

/// A running demo backend; stops when dropped.
#[derive(Debug)]
pub struct DemoBackend {
    addr: SocketAddr,
}

impl DemoBackend {
    /// Binds `addr` (use port 0 for an ephemeral port) and serves the demo
    /// services and the health service in a background task.
    pub async fn start(addr: SocketAddr) -> std::io::Result<Self> {
        todo!("{addr}")
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// The gateway config of the demo: both demo services, transcoded, in
/// front of the backend at `backend`.
pub fn gateway_config(backend: SocketAddr, listen: SocketAddr) -> crate::config::Config {
    use crate::config::{Config, GrpcRouteConfig, RouteConfig, UpstreamConfig};
    let route = |service: &str| RouteConfig {
        grpc: Some(GrpcRouteConfig { service: service.into(), upstream: "demo".into(), methods: Vec::new() }),
        ..Default::default()
    };
    Config {
        listen: listen.to_string(),
        upstreams: [(
            "demo".to_owned(),
            UpstreamConfig { endpoints: vec![format!("http://{backend}")], connect_timeout: None },
        )]
        .into(),
        routes: vec![route("demo.v1.Library"), route("demo.v1.Echo")],
        ..Default::default()
    }
}

/// What `protogate demo` prints: where things are, and requests to try.
pub fn welcome(listen: SocketAddr, backend: SocketAddr) -> String {
    format!(
        "protogate demo: the gateway listens on http://{listen}, the gRPC backend on {backend}\n\
         Try:\n  \
         curl -s http://{listen}/v1/shelves\n  \
         curl -s http://{listen}/v1/shelves/1/books/2\n  \
         curl -s 'http://{listen}/v1/shelves/1/books?genre=FICTION&page_size=5'\n  \
         curl -s -X POST http://{listen}/v1/shelves/1/books -d '{{\"title\":\"Dune\",\"author\":\"Frank Herbert\",\"genre\":\"FICTION\"}}'\n  \
         curl -s -X PATCH http://{listen}/v1/shelves/1/books/2 -d '{{\"title\":\"A new title\"}}'\n  \
         curl -s -X POST http://{listen}/v1/shelves/1/books/2:move -d '{{\"toShelf\":\"2\"}}'\n  \
         curl -s http://{listen}/v1/shelves/2/books/2/cover\n  \
         curl -s http://{listen}/v1/shelves/9   # a NOT_FOUND from the backend, as 404\n\
         Press Ctrl-C to stop."
    )
}
