//! One endpoint of an upstream: its address, its connection, and the state
//! the balancer, health checks and outlier detection keep about it.
//!
//! An endpoint is one socket address. A configured URI with an IP literal
//! is one endpoint whose connections go to that URI; a URI with a host name
//! becomes one endpoint per address the name resolves to, connecting to the
//! address while requests keep naming the configured `host:port`
//! ([`Endpoint::authority`]), TLS's server name included.
//!
//! The state is atomics only, so that choosing an endpoint takes no lock.
//! Times are kept as nanoseconds since the state's creation (its epoch);
//! every function that needs the time takes it as an argument.

use std::{
    net::{IpAddr, SocketAddr},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use http::{HeaderValue, Uri, uri::Authority};
use rustls::{ClientConfig, pki_types::ServerName};

use super::{
    BuildError, UpstreamError, UpstreamProtocol, UpstreamSettings,
    connection::{ConnectTo, GrpcChannel},
};

/// Where a configured endpoint URI points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Host {
    /// An IP literal: one endpoint at this address.
    Address(SocketAddr),
    /// A host name, resolved to any number of addresses.
    Name {
        /// The name.
        host: String,
        /// The URI's port, or its scheme's default.
        port: u16,
    },
}

/// What `uri` points at; `None` when it has no host (which
/// [`endpoint_uri`](super::endpoint_uri) refuses).
pub(super) fn host_of(uri: &Uri) -> Option<Host> {
    let host = uri.host()?;
    let port = uri.port_u16().unwrap_or(if uri.scheme_str() == Some("https") { 443 } else { 80 });
    let literal = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    Some(match literal.parse::<IpAddr>() {
        Ok(ip) => Host::Address(SocketAddr::new(ip, port)),
        Err(_) => Host::Name { host: host.to_owned(), port },
    })
}

/// How long an endpoint whose connection could not be opened stays out of
/// the pick the first time; each failure in a row doubles it.
const FIRST_CONNECT_BACKOFF: Duration = Duration::from_secs(1);

/// The longest connect backoff.
const MAX_CONNECT_BACKOFF: Duration = Duration::from_secs(30);

/// What is known about an endpoint now.
#[derive(Debug)]
pub struct EndpointState {
    /// The verdict of active health checks (true until a check says otherwise).
    healthy: AtomicBool,
    /// Calls picked and not finished yet.
    in_flight: AtomicUsize,
    /// Failures since the last success.
    consecutive_failures: AtomicU32,
    /// How many times it was ejected (reset when it stayed in long enough).
    ejections: AtomicU32,
    /// When the current or last ejection ends, as nanoseconds since `epoch`;
    /// 0 when it was never ejected.
    ejected_until: AtomicU64,
    /// Connections that could not be opened since the last success.
    connect_failures: AtomicU32,
    /// Until when (nanoseconds since `epoch`) it is out of the pick because
    /// its last connection could not be opened; 0 when it never was.
    unreachable_until: AtomicU64,
    epoch: Instant,
}

impl Default for EndpointState {
    fn default() -> Self {
        Self {
            healthy: AtomicBool::new(true),
            in_flight: AtomicUsize::new(0),
            consecutive_failures: AtomicU32::new(0),
            ejections: AtomicU32::new(0),
            ejected_until: AtomicU64::new(0),
            connect_failures: AtomicU32::new(0),
            unreachable_until: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }
}

impl EndpointState {
    /// Whether active health checks consider the endpoint healthy.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Records the verdict of active health checks.
    pub fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::Relaxed);
    }

    /// Calls in flight on it.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Failures since its last success.
    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures.load(Ordering::Relaxed)
    }

    /// How long its ejection still lasts at `now`; `None` when it is not ejected.
    pub fn ejected_for(&self, now: Instant) -> Option<Duration> {
        let until = self.ejected_until.load(Ordering::Relaxed);
        let now = self.ticks(now);
        (until > now).then(|| Duration::from_nanos(until - now))
    }

    /// Whether it may take a call at `now`: healthy and not ejected.
    pub(super) fn is_candidate(&self, now: Instant) -> bool {
        self.is_healthy() && self.ejected_for(now).is_none()
    }

    /// How long it still stays out of the pick at `now` because a
    /// connection to it could not be opened; `None` when it may be tried.
    pub fn unreachable_for(&self, now: Instant) -> Option<Duration> {
        let until = self.unreachable_until.load(Ordering::Relaxed);
        let now = self.ticks(now);
        (until > now).then(|| Duration::from_nanos(until - now))
    }

    /// A success: the run of failures is over, and so is the connect backoff.
    pub(super) fn record_success(&self) {
        self.consecutive_failures.store(0, Ordering::Relaxed);
        if self.connect_failures.load(Ordering::Relaxed) != 0 {
            self.connect_failures.store(0, Ordering::Relaxed);
        }
    }

    /// A connection to it could not be opened at `now`: it leaves the pick
    /// for 1s, twice as long after each such failure in a row, at most 30s.
    /// Returns that backoff; `None` when it was already out (the failures of
    /// calls that raced to it count once).
    pub(super) fn record_connect_failure(&self, now: Instant) -> Option<Duration> {
        if self.unreachable_for(now).is_some() {
            return None;
        }
        let failures = self.connect_failures.fetch_add(1, Ordering::Relaxed);
        let backoff = FIRST_CONNECT_BACKOFF.saturating_mul(1 << failures.min(5)).min(MAX_CONNECT_BACKOFF);
        self.unreachable_until
            .store(self.ticks(now).saturating_add(nanos(backoff)).max(1), Ordering::Relaxed);
        Some(backoff)
    }

    /// A failure; returns the failures in a row, this one included.
    pub(super) fn record_failure(&self) -> u32 {
        self.consecutive_failures.fetch_add(1, Ordering::Relaxed).saturating_add(1)
    }

    /// Ejects it at `now` for `base` × the number of its ejections (this one
    /// included), at most `max`. An endpoint that stayed in for longer than
    /// `max` since its last ejection ended starts counting again from one.
    /// Returns the length of this ejection.
    pub(super) fn eject(&self, now: Instant, base: Duration, max: Duration) -> Duration {
        let now_ticks = self.ticks(now);
        let last_until = self.ejected_until.load(Ordering::Relaxed);
        let forgiven = last_until != 0 && now_ticks.saturating_sub(last_until) > nanos(max);
        let before = if forgiven { 0 } else { self.ejections.load(Ordering::Relaxed) };
        let count = before.saturating_add(1);
        self.ejections.store(count, Ordering::Relaxed);
        let length = base.saturating_mul(count).min(max);
        self.ejected_until.store(now_ticks.saturating_add(nanos(length)).max(1), Ordering::Relaxed);
        self.consecutive_failures.store(0, Ordering::Relaxed);
        length
    }

    fn ticks(&self, now: Instant) -> u64 {
        nanos(now.saturating_duration_since(self.epoch))
    }
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// One backend address and its gRPC channel.
#[derive(Debug)]
pub struct Endpoint {
    /// As configured.
    uri: Uri,
    address: SocketAddr,
    /// Where connections go: `uri` itself for an IP literal, else `uri`
    /// with `address` as its authority.
    connect_uri: Uri,
    /// For a host name: `uri`'s `host:port`, as a `Host` header.
    host: Option<HeaderValue>,
    channel: Option<GrpcChannel>,
    state: EndpointState,
}

impl Endpoint {
    /// The endpoint of `uri` at `address` (the URI's own for an IP
    /// literal, one its name resolved to otherwise), its channel created
    /// (not connected). `tls` applies to a gRPC channel to an `https://`
    /// endpoint; the certificate must name the configured host (or the
    /// configured `server_name`), not the address.
    pub(super) fn new(
        uri: Uri,
        address: SocketAddr,
        settings: &UpstreamSettings,
        tls: Option<&Arc<ClientConfig>>,
    ) -> Result<Self, BuildError> {
        let named = !matches!(host_of(&uri), Some(Host::Address(_)));
        let invalid = |reason: String| UpstreamError { endpoint: uri.to_string(), reason };
        let connect_uri = match named {
            false => uri.clone(),
            true => Uri::builder()
                .scheme(uri.scheme_str().unwrap_or_default())
                .authority(address.to_string())
                .path_and_query("/")
                .build()
                .map_err(|e| invalid(e.to_string()))?,
        };
        let channel = match settings.protocol {
            UpstreamProtocol::Http => None,
            UpstreamProtocol::Grpc => {
                let tls = match (uri.scheme_str(), tls) {
                    (Some("https"), Some(tls)) => Some((tls.clone(), server_name(&uri, settings)?)),
                    _ => None,
                };
                let connect = ConnectTo { address, tls, timeout: settings.connect_timeout };
                Some(GrpcChannel::new(&uri, connect))
            }
        };
        let host = match (named, uri.authority()) {
            (true, Some(authority)) => {
                Some(HeaderValue::from_str(authority.as_str()).map_err(|e| invalid(e.to_string()))?)
            }
            _ => None,
        };
        Ok(Self { uri, address, connect_uri, host, channel, state: EndpointState::default() })
    }

    /// The endpoint's URI as configured (with the host name, when it has one).
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The socket address its connections go to.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The URI to connect to: the configured one for an IP literal, the
    /// resolved address (with the configured scheme) for a host name.
    pub fn connect_uri(&self) -> &Uri {
        &self.connect_uri
    }

    /// For an endpoint resolved from a host name, the configured
    /// `host:port` that requests must name (`Host`, `:authority`, TLS
    /// server name) while connecting to [`Endpoint::address`]; `None` for
    /// an IP literal, whose URI says both.
    pub fn authority(&self) -> Option<&Authority> {
        self.host.as_ref().and(self.uri.authority())
    }

    /// [`Endpoint::authority`] as a `Host` header, built once.
    pub fn host_header(&self) -> Option<&HeaderValue> {
        self.host.as_ref()
    }

    /// Its gRPC channel (`None` for an HTTP upstream).
    pub fn channel(&self) -> Option<&GrpcChannel> {
        self.channel.as_ref()
    }

    /// Its state.
    pub fn state(&self) -> &EndpointState {
        &self.state
    }
}

/// The name an `https://` endpoint's certificate must carry (and SNI): the
/// configured `server_name`, else the URI's host (the configured one at a
/// resolved address).
fn server_name(uri: &Uri, settings: &UpstreamSettings) -> Result<ServerName<'static>, UpstreamError> {
    let configured = settings.tls.as_ref().and_then(|tls| tls.server_name.as_deref());
    let host = uri.host().unwrap_or_default();
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    let name = configured.unwrap_or(host);
    ServerName::try_from(name.to_owned()).map_err(|_| UpstreamError {
        endpoint: uri.to_string(),
        reason: format!("{name:?} is not a valid TLS server name"),
    })
}

/// One call counted in an endpoint's in-flight calls until dropped.
#[derive(Debug)]
pub(super) struct InFlight(Arc<Endpoint>);

impl InFlight {
    /// Counts a call on `endpoint`.
    pub(super) fn start(endpoint: Arc<Endpoint>) -> Self {
        endpoint.state.in_flight.fetch_add(1, Ordering::Relaxed);
        Self(endpoint)
    }

    /// The endpoint.
    pub(super) fn endpoint(&self) -> &Arc<Endpoint> {
        &self.0
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.state.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}
