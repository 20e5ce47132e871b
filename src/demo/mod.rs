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
