//! One endpoint of an upstream: its address, its connection, and the state
//! the balancer, health checks and outlier detection keep about it.
//!
//! The state is atomics only, so that choosing an endpoint takes no lock.
//! Times are kept as nanoseconds since the state's creation (its epoch);
//! every function that needs the time takes it as an argument.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use http::Uri;
use tonic::transport::{Channel, ClientTlsConfig};

use super::{UpstreamProtocol, UpstreamSettings};

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

    /// A success: the run of failures is over.
    pub(super) fn record_success(&self) {
        self.consecutive_failures.store(0, Ordering::Relaxed);
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

/// One backend address and its channel.
#[derive(Debug)]
pub struct Endpoint {
    uri: Uri,
    channel: Option<Channel>,
    state: EndpointState,
}

impl Endpoint {
    /// The endpoint at `uri`, its channel created (not connected); `tls`
    /// applies to a gRPC channel to an `https://` endpoint.
    pub(super) fn new(
        uri: Uri,
        settings: &UpstreamSettings,
        tls: Option<&ClientTlsConfig>,
    ) -> Result<Self, tonic::transport::Error> {
        let channel = match settings.protocol {
            UpstreamProtocol::Http => None,
            UpstreamProtocol::Grpc => {
                let mut endpoint = tonic::transport::Endpoint::from(uri.clone())
                    .connect_timeout(settings.connect_timeout)
                    .tcp_nodelay(true)
                    .http2_keep_alive_interval(Duration::from_secs(30))
                    .keep_alive_while_idle(true);
                if let (Some("https"), Some(tls)) = (uri.scheme_str(), tls) {
                    endpoint = endpoint.tls_config(tls.clone())?;
                }
                Some(endpoint.connect_lazy())
            }
        };
        Ok(Self { uri, channel, state: EndpointState::default() })
    }

    /// The endpoint's URI.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// Its gRPC channel (`None` for an HTTP upstream).
    pub fn channel(&self) -> Option<&Channel> {
        self.channel.as_ref()
    }

    /// Its state.
    pub fn state(&self) -> &EndpointState {
        &self.state
    }
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
