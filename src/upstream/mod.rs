//! Upstreams: the named groups of backend endpoints that targets call.
//!
//! Each endpoint has one HTTP/2 channel (tonic's `Channel`), created once at
//! compile time, connected lazily, reconnected by tonic when it drops, and
//! shared by every request. Calls are spread over the endpoints in turn.
//!
//! Targets ask this room for a channel and never learn how it was chosen.

use std::{
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use http::Uri;
use tonic::transport::{Channel, Endpoint};

/// How an upstream is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamSettings {
    /// Endpoint URIs, checked by [`endpoint_uri`].
    pub endpoints: Vec<Uri>,
    /// The time allowed to open a TCP connection.
    pub connect_timeout: Duration,
    /// The largest reply message accepted from it.
    pub max_response_bytes: usize,
}

/// An endpoint that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid endpoint {endpoint:?}: {reason}")]
pub struct UpstreamError {
    /// The endpoint as configured.
    pub endpoint: String,
    /// Why it cannot be used.
    pub reason: String,
}

/// A named group of endpoints.
#[derive(Debug)]
pub struct Upstream {
    name: String,
    channels: Vec<Channel>,
    next: AtomicUsize,
    max_response_bytes: usize,
}

/// Checks an endpoint as written in the config: `http://host:port`.
pub fn endpoint_uri(endpoint: &str) -> Result<Uri, UpstreamError> {
    let invalid = |reason: String| UpstreamError { endpoint: endpoint.to_owned(), reason };
    let uri: Uri = endpoint.parse().map_err(|e: http::uri::InvalidUri| invalid(e.to_string()))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some(other) => return Err(invalid(format!("scheme {other:?} is not supported (use http://)"))),
        None => return Err(invalid("no scheme (write http://host:port)".into())),
    }
    if uri.host().is_none() {
        return Err(invalid("no host".into()));
    }
    Ok(uri)
}

impl Upstream {
    /// Prepares a channel per endpoint; nothing connects until the first
    /// call. `None` without endpoints. Must run inside a Tokio runtime.
    pub fn new(name: &str, settings: &UpstreamSettings) -> Option<Self> {
        if settings.endpoints.is_empty() {
            return None;
        }
        let channels = settings
            .endpoints
            .iter()
            .map(|uri| {
                Endpoint::from(uri.clone())
                    .connect_timeout(settings.connect_timeout)
                    .tcp_nodelay(true)
                    .http2_keep_alive_interval(Duration::from_secs(30))
                    .keep_alive_while_idle(true)
                    .connect_lazy()
            })
            .collect();
        Some(Self {
            name: name.to_owned(),
            channels,
            next: AtomicUsize::new(0),
            max_response_bytes: settings.max_response_bytes,
        })
    }

    /// The upstream's name in the config.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The largest reply message accepted from it.
    pub fn max_response_bytes(&self) -> usize {
        self.max_response_bytes
    }

    /// A channel to call: the endpoints take turns.
    pub fn channel(&self) -> Channel {
        let turn = self.next.fetch_add(1, Ordering::Relaxed);
        self.channels[turn % self.channels.len()].clone()
    }
}
