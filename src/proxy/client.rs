//! The HTTP client of one upstream: hyper-util's pooling client over a
//! rustls connector, built once at compile time and shared by every route
//! to that upstream.
//!
//! It speaks HTTP/1.1, and HTTP/2 where it can: over `https://` by ALPN,
//! over cleartext only with prior knowledge (`http2_only`, and always for
//! native gRPC calls). TLS trusts the configured CA file, or the system's
//! roots without one; a client certificate may be presented (mTLS).
//!
//! Endpoints resolved from a host name are reached by address (the request
//! URI names the address, so connections are pooled per address); TLS
//! still verifies, and names in SNI, the configured host ([`EndpointNames`]).
//!
//! hyper-util may resend a request on a pooled connection that closed
//! before the request was written (it never reached the backend); the
//! client adds no other retry.

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use bytes::Bytes;
use http::Uri;
use http_body_util::combinators::UnsyncBoxBody;
use hyper_rustls::{
    ConfigBuilderExt, DefaultServerNameResolver, HttpsConnector, HttpsConnectorBuilder, ResolveServerName,
};
use hyper_util::{
    client::legacy::{Client, ResponseFuture, connect::HttpConnector},
    rt::{TokioExecutor, TokioTimer},
};
use rustls::{
    ClientConfig, RootCertStore,
    pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject},
};

use super::ProxyError;
use crate::{body::BoxError, upstream::Upstream};

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

/// TLS towards an upstream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// PEM file of the CA certificates to trust instead of the system's roots.
    pub ca_file: Option<PathBuf>,
    /// A client certificate to present (mTLS).
    pub identity: Option<ClientIdentity>,
}

/// A client certificate and its key, as PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    /// The certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
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
        let tls = tls_config(settings.tls.as_ref())?;
        let names = EndpointNames(upstream.clone());
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout((!settings.connect_timeout.is_zero()).then_some(settings.connect_timeout));
        let h2_connector = HttpsConnectorBuilder::new()
            .with_tls_config(tls.clone())
            .https_or_http()
            .with_server_name_resolver(names.clone())
            .enable_http2()
            .wrap_connector(tcp.clone());
        let h2 = builder().http2_only(true).build(h2_connector);
        let negotiated = if settings.http2_only {
            h2.clone()
        } else {
            let connector = HttpsConnectorBuilder::new()
                .with_tls_config(tls)
                .https_or_http()
                .with_server_name_resolver(names)
                .enable_all_versions()
                .wrap_connector(tcp);
            builder().build(connector)
        };
        Ok(Self { negotiated, h2 })
    }

    /// Sends `request` (its URI absolute), over HTTP/2 with prior knowledge when `h2`.
    pub(super) fn request(&self, request: http::Request<ForwardBody>, h2: bool) -> ResponseFuture {
        if h2 { self.h2.request(request) } else { self.negotiated.request(request) }
    }
}

/// The TLS server name of a connection: the configured host of the
/// endpoint at the URI's address when it was resolved from a name, else the
/// URI's host.
#[derive(Debug, Clone)]
struct EndpointNames(Arc<Upstream>);

impl ResolveServerName for EndpointNames {
    fn resolve(&self, uri: &Uri) -> Result<ServerName<'static>, Box<dyn std::error::Error + Sync + Send>> {
        let address = uri.authority().and_then(|authority| authority.as_str().parse::<SocketAddr>().ok());
        let endpoints = self.0.endpoints();
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

fn tls_config(settings: Option<&TlsSettings>) -> Result<ClientConfig, ProxyError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions()?;
    let Some(settings) = settings else {
        return Ok(builder.with_root_certificates(RootCertStore::empty()).with_no_client_auth());
    };
    let builder = match &settings.ca_file {
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for cert in read_certificates(path)? {
                roots.add(cert)?;
            }
            builder.with_root_certificates(roots)
        }
        None => builder.with_native_roots().map_err(ProxyError::NativeRoots)?,
    };
    Ok(match &settings.identity {
        Some(identity) => {
            let chain = read_certificates(&identity.cert_file)?;
            let key = PrivateKeyDer::from_pem_file(&identity.key_file)
                .map_err(|source| ProxyError::Pem { path: identity.key_file.clone(), source })?;
            builder.with_client_auth_cert(chain, key)?
        }
        None => builder.with_no_client_auth(),
    })
}

/// Every certificate in a PEM file; at least one.
fn read_certificates(path: &PathBuf) -> Result<Vec<CertificateDer<'static>>, ProxyError> {
    let pem = |source| ProxyError::Pem { path: path.clone(), source };
    let certificates =
        CertificateDer::pem_file_iter(path).map_err(pem)?.collect::<Result<Vec<_>, _>>().map_err(pem)?;
    if certificates.is_empty() {
        return Err(pem(rustls::pki_types::pem::Error::NoItemsFound));
    }
    Ok(certificates)
}
