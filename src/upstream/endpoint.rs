//! One endpoint of an upstream: its address, its connection, and the state
//! the balancer, health checks and outlier detection keep about it.

use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use http::Uri;
use tonic::transport::Channel;

use super::{UpstreamProtocol, UpstreamSettings};

/// What is known about an endpoint now.
#[derive(Debug)]
pub struct EndpointState {
    /// The verdict of active health checks (true until a check says otherwise).
    healthy: AtomicBool,
}

impl Default for EndpointState {
    fn default() -> Self {
        Self { healthy: AtomicBool::new(true) }
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
}

/// One backend address and its channel.
#[derive(Debug)]
pub struct Endpoint {
    uri: Uri,
    channel: Option<Channel>,
    state: EndpointState,
}

impl Endpoint {
    /// The endpoint at `uri`, its channel created (not connected).
    pub(super) fn new(uri: Uri, settings: &UpstreamSettings) -> Self {
        let channel = (settings.protocol == UpstreamProtocol::Grpc).then(|| {
            tonic::transport::Endpoint::from(uri.clone())
                .connect_timeout(settings.connect_timeout)
                .tcp_nodelay(true)
                .http2_keep_alive_interval(Duration::from_secs(30))
                .keep_alive_while_idle(true)
                .connect_lazy()
        });
        Self { uri, channel, state: EndpointState::default() }
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
