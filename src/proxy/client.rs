//! The HTTP client of one upstream: hyper-util's pooling client over a
//! rustls connector, built once at compile time and shared by every route
//! to that upstream.
//!
//! It speaks HTTP/1.1, and HTTP/2 where it can: over `https://` by ALPN,
//! over cleartext only with prior knowledge (`http2_only`, and always for
//! native gRPC calls). TLS trusts the configured CA file, or the system's
//! roots without one; a client certificate may be presented (mTLS), and
//! `server_name` replaces the endpoint's host as the name checked and sent.
//!
//! Endpoints resolved from a host name are reached by address (the request
//! URI names the address, so connections are pooled per address); TLS
//! still verifies, and names in SNI, the configured host, unless
//! `server_name` replaces it ([`EndpointNames`]).
//!
//! hyper-util may resend a request on a pooled connection that closed
//! before the request was written (it never reached the backend); the
//! client adds no other retry.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use bytes::Bytes;
use http::Uri;
use http_body_util::combinators::UnsyncBoxBody;
use hyper_rustls::{DefaultServerNameResolver, HttpsConnector, HttpsConnectorBuilder, ResolveServerName};
use hyper_util::{
    client::legacy::{Client, ResponseFuture, connect::HttpConnector},
    rt::{TokioExecutor, TokioTimer},
};
use rustls::{ClientConfig, pki_types::ServerName};

use super::ProxyError;
use crate::{
    body::BoxError,
    upstream::{TlsSettings, Upstream, client_config},
};

/// How often an idle HTTP/2 connection is pinged to find dead peers.
const HTTP2_KEEP_ALIVE: Duration = Duration::from_secs(30);

/// The body of a forwarded request.
pub(super) type ForwardBody = UnsyncBoxBody<Bytes, BoxError>;

type Connector = HttpsConnector<HttpConnector>;

/// How an upstream's client connects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientSettings {
    /// The time allowed to open a TCP connection (none when zero).
    pub connect_timeout: Duration,
    /// Speak HTTP/2 only: prior knowledge over cleartext (h2c), `h2` alone
    /// offered by ALPN over TLS.
    pub http2_only: bool,
    /// TLS for `https://` endpoints; `None` when every endpoint is
    /// cleartext (a TLS handshake then fails: nothing is trusted).
    pub tls: Option<TlsSettings>,
}

/// The client of one upstream. Cloning shares its connection pools.
#[derive(Debug, Clone)]
pub struct HttpClient {
    /// HTTP/1.1, or HTTP/2 when ALPN (or `http2_only`) says so.
    negotiated: Client<Connector, ForwardBody>,
    /// HTTP/2 with prior knowledge: native gRPC calls.
    h2: Client<Connector, ForwardBody>,
}

impl HttpClient {
    /// Builds the client of `upstream`; reads the PEM files now. Connects
    /// on first use. Must run inside a Tokio runtime.
    pub fn new(settings: &ClientSettings, upstream: &Arc<Upstream>) -> Result<Self, ProxyError> {
        let tls = client_config(settings.tls.as_ref())?;
        let server_name = match settings.tls.as_ref().and_then(|tls| tls.server_name.clone()) {
            Some(name) => Some(ServerName::try_from(name.clone()).map_err(|_| ProxyError::ServerName(name))?),
            None => None,
        };
        let names = EndpointNames { upstream: upstream.clone(), server_name };
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout((!settings.connect_timeout.is_zero()).then_some(settings.connect_timeout));
        let connector = |config: ClientConfig| {
            HttpsConnectorBuilder::new()
                .with_tls_config(config)
                .https_or_http()
                .with_server_name_resolver(names.clone())
        };
        let h2_connector = connector(tls.clone()).enable_http2().wrap_connector(tcp.clone());
        let h2 = builder().http2_only(true).build(h2_connector);
        let negotiated = if settings.http2_only {
            h2.clone()
        } else {
            builder().build(connector(tls).enable_all_versions().wrap_connector(tcp))
        };
        Ok(Self { negotiated, h2 })
    }

    /// Sends `request` (its URI absolute), over HTTP/2 with prior knowledge when `h2`.
    pub(super) fn request(&self, request: http::Request<ForwardBody>, h2: bool) -> ResponseFuture {
        if h2 { self.h2.request(request) } else { self.negotiated.request(request) }
    }
}

/// The TLS server name of a connection: the configured `server_name` if
/// any, else the configured host of the endpoint at the URI's address when
/// it was resolved from a name, else the URI's host.
#[derive(Debug, Clone)]
struct EndpointNames {
    upstream: Arc<Upstream>,
    server_name: Option<ServerName<'static>>,
}

impl ResolveServerName for EndpointNames {
    fn resolve(&self, uri: &Uri) -> Result<ServerName<'static>, Box<dyn std::error::Error + Sync + Send>> {
        if let Some(name) = &self.server_name {
            return Ok(name.clone());
        }
        let address = uri.authority().and_then(|authority| authority.as_str().parse::<SocketAddr>().ok());
        let endpoints = self.upstream.endpoints();
        let host = endpoints
            .iter()
            .filter(|endpoint| Some(endpoint.address()) == address)
            .find_map(|endpoint| endpoint.authority().map(|authority| authority.host()));
        match host {
            Some(host) => Ok(ServerName::try_from(host)?.to_owned()),
            None => DefaultServerNameResolver::default().resolve(uri),
        }
    }
}

fn builder() -> hyper_util::client::legacy::Builder {
    let mut builder = Client::builder(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .http2_keep_alive_interval(HTTP2_KEEP_ALIVE)
        .http2_keep_alive_while_idle(true);
    builder
}
