//! The task that checks one endpoint: polls on a fixed interval (or follows
//! `Health/Watch`), feeds the results to its [`Verdict`] and writes every
//! change to the endpoint's state, with a log line saying why.

use std::{sync::Arc, time::Duration};

use tokio::time::MissedTickBehavior;

use super::{
    CheckFailure, Endpoint, HealthCheckSettings,
    grpc::{self, WatchEnd},
    http::HttpProbe,
    verdict::Verdict,
};
use crate::upstream::GrpcChannel;

/// After a `Watch` stream ends, the polls made before `Watch` is tried again.
const POLLS_BEFORE_WATCH_RETRY: u32 = 5;

/// What a check asks one endpoint.
#[derive(Debug)]
pub(super) enum Probe {
    /// `grpc.health.v1.Health` over the endpoint's channel.
    Grpc { channel: GrpcChannel, service: String, watch: WatchMode },
    /// A GET.
    Http(Box<HttpProbe>),
}

/// Whether `Watch` is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum WatchMode {
    /// Never: `Check` is polled.
    Off,
    /// Tried when this many more polls have been made (0: at the next tick).
    After(u32),
}

impl Probe {
    /// The gRPC probe; `watch` follows `Health/Watch` from the first tick.
    pub(super) fn grpc(channel: GrpcChannel, service: String, watch: bool) -> Self {
        let watch = if watch { WatchMode::After(0) } else { WatchMode::Off };
        Self::Grpc { channel, service, watch }
    }

    /// What a polled check is called in the log.
    fn name(&self) -> &'static str {
        match self {
            Self::Grpc { .. } => "Health/Check",
            Self::Http(_) => "GET",
        }
    }

    /// One polled check, without the timeout.
    async fn check(&mut self, timeout: Duration) -> Result<(), CheckFailure> {
        match self {
            Self::Grpc { channel, service, .. } => grpc::check(channel, service, timeout).await,
            Self::Http(probe) => probe.check().await,
        }
    }
}

/// One endpoint's checks.
#[derive(Debug)]
pub(super) struct Checker {
    upstream: Arc<str>,
    endpoint: Arc<Endpoint>,
    interval: Duration,
    timeout: Duration,
    verdict: Verdict,
    probe: Probe,
}

impl Checker {
    /// A checker that starts from the endpoint's current verdict.
    pub(super) fn new(
        upstream: Arc<str>,
        endpoint: Arc<Endpoint>,
        settings: &HealthCheckSettings,
        probe: Probe,
    ) -> Self {
        let verdict = Verdict::new(
            endpoint.state().is_healthy(),
            settings.healthy_threshold,
            settings.unhealthy_threshold,
        );
        Self { upstream, endpoint, interval: settings.interval, timeout: settings.timeout, verdict, probe }
    }

    /// Checks forever; the first check runs at once.
    pub(super) async fn run(mut self) {
        let mut ticks = tokio::time::interval(self.interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if self.watch_if_due().await {
                // The stream is over: poll now, then every interval from now.
                ticks.reset();
            }
            let result = match tokio::time::timeout(self.timeout, self.probe.check(self.timeout)).await {
                Ok(result) => result,
                Err(_) => Err(CheckFailure::Timeout(self.timeout)),
            };
            let change = self.verdict.record(result.is_ok());
            report(&self.upstream, &self.endpoint, change, result, self.probe.name());
        }
    }

    /// Follows `Watch`, when it is due, until the stream ends; whether it did.
    async fn watch_if_due(&mut self) -> bool {
        let Probe::Grpc { channel, service, watch } = &mut self.probe else { return false };
        match watch {
            WatchMode::Off => return false,
            WatchMode::After(polls @ 1..) => {
                *polls -= 1;
                return false;
            }
            WatchMode::After(0) => {}
        }
        let (verdict, endpoint, upstream) = (&mut self.verdict, &self.endpoint, &self.upstream);
        let ended = grpc::watch(channel, service, self.timeout, |result| {
            let change = verdict.force(result.is_ok());
            report(upstream, endpoint, change, result, "Health/Watch");
        })
        .await;
        let reason = match ended {
            WatchEnd::Unimplemented => {
                tracing::info!(
                    upstream = %self.upstream,
                    endpoint = %self.endpoint.uri(),
                    "the endpoint does not implement Health/Watch: polling Health/Check instead"
                );
                *watch = WatchMode::Off;
                return true;
            }
            WatchEnd::Closed => "the server closed the stream".to_owned(),
            WatchEnd::Failed(failure) => failure.to_string(),
        };
        tracing::debug!(
            upstream = %self.upstream,
            endpoint = %self.endpoint.uri(),
            "Health/Watch ended ({reason}): polling Health/Check, Watch again after {POLLS_BEFORE_WATCH_RETRY} polls"
        );
        *watch = WatchMode::After(POLLS_BEFORE_WATCH_RETRY);
        true
    }
}

/// Writes a changed verdict to the endpoint and logs it with the result
/// that decided it (`source`: the RPC or "GET" that produced it).
fn report(
    upstream: &str,
    endpoint: &Endpoint,
    change: Option<bool>,
    result: Result<(), CheckFailure>,
    source: &str,
) {
    let Some(healthy) = change else { return };
    endpoint.state().set_healthy(healthy);
    match result {
        Ok(()) => {
            tracing::info!(upstream, endpoint = %endpoint.uri(), "endpoint unhealthy → healthy ({source} passed)")
        }
        Err(failure) => {
            tracing::info!(upstream, endpoint = %endpoint.uri(), "endpoint healthy → unhealthy ({source}: {failure})")
        }
    }
}
