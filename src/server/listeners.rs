//! The gateway's listeners, from the config: `listen` (one cleartext
//! listener) or `listeners` (several, each cleartext or TLS). These
//! settings apply when a listener starts; they are not part of the
//! swappable runtime.

use std::{net::SocketAddr, path::Path, sync::Arc};

use super::tls::{self, TlsEndpoint};
use crate::{config::Config, runtime::CompileErrors};

/// Where `listen` points when neither it nor `listeners` is set.
const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

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

/// The listeners of `config`, TLS certificates loaded (relative paths from
/// `base_dir`); every problem with its place.
pub fn listeners_of(config: &Config, base_dir: &Path) -> Result<Vec<Listener>, CompileErrors> {
    let mut errors = CompileErrors::default();
    let mut listeners = Vec::new();
    if config.listen.is_some() && !config.listeners.is_empty() {
        errors.push("listeners", "set `listen` (one cleartext listener) or `listeners`, not both");
    }
    if config.listeners.is_empty() {
        let text = config.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
        if let Some(addr) = address("listen", text, &mut errors) {
            listeners.push(Listener::plain(addr));
        }
    }
    for (index, listener) in config.listeners.iter().enumerate() {
        let place = format!("listeners[{index}]");
        let addr = address(&format!("{place}.listen"), &listener.listen, &mut errors);
        let tls = listener
            .tls
            .as_ref()
            .map(|tls| tls::endpoint_of(tls, base_dir, &format!("{place}.tls"), &mut errors).map(Arc::new));
        match (addr, tls) {
            (Some(addr), None) => listeners.push(Listener::plain(addr)),
            (Some(addr), Some(Some(tls))) => listeners.push(Listener { addr, tls: Some(tls) }),
            _ => {}
        }
    }
    if errors.is_empty() { Ok(listeners) } else { Err(errors) }
}

fn address(place: &str, text: &str, errors: &mut CompileErrors) -> Option<SocketAddr> {
    text.parse::<SocketAddr>().map_err(|e| errors.push(place, format!("{text:?}: {e}"))).ok()
}
