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

use tonic::transport::{Channel, Endpoint};

/// How an upstream is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamSettings {
    /// Endpoint URIs, `http://host:port`.
    pub endpoints: Vec<String>,
    /// The time allowed to open a TCP connection.
    pub connect_timeout: Duration,
}

/// An endpoint URI that cannot be used.
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
}

impl Upstream {
    /// Prepares a channel per endpoint; nothing connects until the first call.
    /// Must run inside a Tokio runtime.
    pub fn new(name: &str, settings: &UpstreamSettings) -> Result<Self, UpstreamError> {
        let channels = settings
            .endpoints
            .iter()
            .map(|endpoint| channel_to(endpoint, settings))
            .collect::<Result<Vec<_>, _>>()?;
        if channels.is_empty() {
            return Err(UpstreamError { endpoint: String::new(), reason: "no endpoints".into() });
        }
        Ok(Self { name: name.to_owned(), channels, next: AtomicUsize::new(0) })
    }

    /// The upstream's name in the config.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A channel to call: the endpoints take turns.
    pub fn channel(&self) -> Channel {
        let turn = self.next.fetch_add(1, Ordering::Relaxed);
        self.channels[turn % self.channels.len()].clone()
    }
}

fn channel_to(endpoint: &str, settings: &UpstreamSettings) -> Result<Channel, UpstreamError> {
    let invalid = |reason: String| UpstreamError { endpoint: endpoint.to_owned(), reason };
    let uri: http::Uri = endpoint.parse().map_err(|e: http::uri::InvalidUri| invalid(e.to_string()))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some(other) => return Err(invalid(format!("scheme {other:?} is not supported (use http://)"))),
        None => return Err(invalid("no scheme (write http://host:port)".into())),
    }
    if uri.host().is_none() {
        return Err(invalid("no host".into()));
    }
    let endpoint = Endpoint::from(uri)
        .connect_timeout(settings.connect_timeout)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true);
    Ok(endpoint.connect_lazy())
}
