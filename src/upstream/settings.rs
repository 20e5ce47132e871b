//! How an upstream is reached, as compiled from the config: its protocol,
//! its endpoints (checked by [`endpoint_uri`]) and every setting of the
//! rooms behind `pick` and `finish`.

use std::time::Duration;

use http::Uri;

use super::{
    Balancing, BreakerSettings, FailureCodes, HealthCheckSettings, OutlierSettings, RetrySettings,
    TlsSettings,
};

/// What an upstream speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UpstreamProtocol {
    /// gRPC over HTTP/2: transcoded routes and native gRPC pass-through.
    #[default]
    Grpc,
    /// Plain HTTP/1.1 or HTTP/2: pass-through routes.
    Http,
}

/// How an upstream is reached. (`Default` is for tests: no endpoints, no
/// timeouts.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamSettings {
    /// What it speaks.
    pub protocol: UpstreamProtocol,
    /// Endpoint URIs, checked by [`endpoint_uri`].
    pub endpoints: Vec<Uri>,
    /// How often the host names among `endpoints` are resolved again.
    pub dns_refresh: Duration,
    /// The time allowed to open a TCP connection.
    pub connect_timeout: Duration,
    /// The largest reply message accepted from it.
    pub max_response_bytes: usize,
    /// The largest request message sent to it (gRPC, as protobuf).
    pub max_request_bytes: usize,
    /// Active health checks of its endpoints, if any.
    pub health_check: Option<HealthCheckSettings>,
    /// How calls spread over the endpoints.
    pub balancing: Balancing,
    /// When endpoints are ejected.
    pub outlier: OutlierSettings,
    /// When the breaker opens and closes.
    pub breaker: BreakerSettings,
    /// The gRPC codes that count as failures.
    pub failure_codes: FailureCodes,
    /// When failed calls are tried again.
    pub retry: RetrySettings,
    /// TLS for `https://` endpoints (`None`: the system's roots, no client
    /// certificate).
    pub tls: Option<TlsSettings>,
    /// gRPC: gzip both ways: requests are sent gzip'd and gzip'd replies
    /// accepted. Off, the gateway does not offer gzip, so backends reply
    /// uncompressed (compressing small replies on a fast network costs
    /// both sides far more CPU than it saves).
    pub gzip: bool,
}

impl UpstreamSettings {
    /// The default `dns_refresh`.
    pub const DEFAULT_DNS_REFRESH: Duration = Duration::from_secs(30);
}

impl Default for UpstreamSettings {
    fn default() -> Self {
        Self {
            protocol: UpstreamProtocol::default(),
            endpoints: Vec::new(),
            dns_refresh: Self::DEFAULT_DNS_REFRESH,
            connect_timeout: Duration::ZERO,
            max_response_bytes: 0,
            max_request_bytes: usize::MAX,
            health_check: None,
            balancing: Balancing::default(),
            outlier: OutlierSettings::default(),
            breaker: BreakerSettings::default(),
            failure_codes: FailureCodes::default(),
            retry: RetrySettings::default(),
            tls: None,
            gzip: false,
        }
    }
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

/// Checks an endpoint as written in the config: `http://host:port`, or
/// `https://host:port` for TLS. A host name stands for every address it
/// resolves to.
pub fn endpoint_uri(endpoint: &str) -> Result<Uri, UpstreamError> {
    let invalid = |reason: String| UpstreamError { endpoint: endpoint.to_owned(), reason };
    let uri: Uri = endpoint.parse().map_err(|e: http::uri::InvalidUri| invalid(e.to_string()))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(other) => {
            return Err(invalid(format!("scheme {other:?} is not supported (use http:// or https://)")));
        }
        None => return Err(invalid("no scheme (write http://host:port)".into())),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(invalid("no host".into()));
    }
    // `http::Uri` takes any digits as a port; a socket takes 1 to 65535.
    let host_and_port = uri.authority().and_then(|a| a.as_str().rsplit('@').next()).unwrap_or_default();
    if let Some((_, port)) = host_and_port.rsplit_once(':')
        && !port.ends_with(']')
        && port.parse::<u16>().ok().filter(|&port| port != 0).is_none()
    {
        return Err(invalid(format!("port {port} is out of range (1 to 65535)")));
    }
    Ok(uri)
}
