//! A listener to start: its address, and its TLS or none. These settings
//! apply when a listener starts; they are not part of the swappable runtime.

use std::{net::SocketAddr, sync::Arc};

use super::tls::TlsEndpoint;

/// One listener to start.
#[derive(Debug, Clone)]
pub struct Listener {
    /// The address to bind.
    pub addr: SocketAddr,
    /// TLS on it, or cleartext.
    pub tls: Option<Arc<TlsEndpoint>>,
}

impl Listener {
    /// A cleartext listener on `addr`.
    pub fn plain(addr: SocketAddr) -> Self {
        Self { addr, tls: None }
    }
}
