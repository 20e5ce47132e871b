//! The checker against a fake `grpc.health.v1.Health` server on 127.0.0.1:
//! falling back from `Watch` to `Check`, a late answer counted as a
//! failure, and stopping with its guard.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::{net::TcpListener, time::Instant};
use tonic::{Request, Response, Status, transport::server::TcpIncoming};
use tonic_health::pb::{
    HealthCheckRequest, HealthCheckResponse,
    health_check_response::ServingStatus,
    health_server::{Health, HealthServer},
};

use super::{HealthCheckKind, HealthCheckSettings};
use crate::upstream::{Upstream, UpstreamProtocol, UpstreamSettings};

/// A bound on every wait: many check intervals.
const DEADLINE: Duration = Duration::from_secs(2);
const INTERVAL: Duration = Duration::from_millis(20);

/// Answers `Check` with `serving` (after `delay`); `Watch` is UNIMPLEMENTED,
/// or (with `watch_ends`) sends the current status once and closes the stream.
#[derive(Debug, Default)]
struct FakeHealth {
    serving: AtomicBool,
    delay: Duration,
    watch_ends: bool,
    checks: AtomicUsize,
    watches: AtomicUsize,
}

impl FakeHealth {
    fn status(&self) -> HealthCheckResponse {
        let status = if self.serving.load(Ordering::SeqCst) {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        HealthCheckResponse { status: status.into() }
    }
}

#[tonic::async_trait]
impl Health for FakeHealth {
    async fn check(&self, _: Request<HealthCheckRequest>) -> Result<Response<HealthCheckResponse>, Status> {
        self.checks.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        Ok(Response::new(self.status()))
    }

    type WatchStream = tokio_stream::Iter<std::vec::IntoIter<Result<HealthCheckResponse, Status>>>;

    async fn watch(&self, _: Request<HealthCheckRequest>) -> Result<Response<Self::WatchStream>, Status> {
        self.watches.fetch_add(1, Ordering::SeqCst);
        if !self.watch_ends {
            return Err(Status::unimplemented("no Watch here"));
        }
        Ok(Response::new(tokio_stream::iter(vec![Ok(self.status())])))
    }
}

async fn serve(health: Arc<FakeHealth>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the fake health server");
    let addr = listener.local_addr().expect("its address");
    let server = tonic::transport::Server::builder().add_service(HealthServer::from_arc(health));
    tokio::spawn(server.serve_with_incoming(TcpIncoming::from(listener)));
    addr
}

/// An HTTP/1.1 server that answers every GET with 200, after `delay`.
async fn serve_slow_http(delay: Duration) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the slow HTTP server");
    let addr = listener.local_addr().expect("its address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = hyper::service::service_fn(move |_| async move {
                tokio::time::sleep(delay).await;
                Ok::<_, std::convert::Infallible>(http::Response::new("ok".to_owned()))
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            tokio::spawn(connection);
        }
    });
    addr
}

fn upstream(addr: SocketAddr) -> Upstream {
    let kind = HealthCheckKind::Grpc { service: String::new(), watch: true };
    upstream_with(addr, UpstreamProtocol::Grpc, kind, Duration::from_secs(1))
}

fn upstream_with(
    addr: SocketAddr,
    protocol: UpstreamProtocol,
    kind: HealthCheckKind,
    timeout: Duration,
) -> Upstream {
    let settings = UpstreamSettings {
        protocol,
        endpoints: vec![format!("http://{addr}").parse().expect("a valid URI")],
        connect_timeout: Duration::from_secs(1),
        max_response_bytes: 1 << 20,
        health_check: Some(HealthCheckSettings {
            interval: INTERVAL,
            timeout,
            healthy_threshold: HealthCheckSettings::DEFAULT_THRESHOLD,
            unhealthy_threshold: HealthCheckSettings::DEFAULT_THRESHOLD,
            kind,
        }),
        ..Default::default()
    };
    Upstream::new("fake", &settings).expect("one endpoint")
}

/// Waits until `done` holds; panics with `what` at the deadline.
async fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !done() {
        assert!(Instant::now() < deadline, "not within {DEADLINE:?}: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn a_server_without_watch_is_polled_with_check() {
    let health = Arc::new(FakeHealth::default());
    let upstream = upstream(serve(health.clone()).await);
    assert!(upstream.has_healthy_endpoint(), "endpoints start healthy");
    until("unhealthy after two NOT_SERVING checks", || !upstream.has_healthy_endpoint()).await;

    health.serving.store(true, Ordering::SeqCst);
    until("healthy again after two SERVING checks", || upstream.has_healthy_endpoint()).await;
    assert_eq!(health.watches.load(Ordering::SeqCst), 1, "UNIMPLEMENTED: Watch is not asked again");
}

#[tokio::test]
async fn a_serving_answer_after_the_timeout_is_a_failure() {
    // SERVING, but five timeouts late: each check fails, and two in a row
    // make the endpoint unhealthy.
    let timeout = Duration::from_millis(50);
    let health =
        Arc::new(FakeHealth { serving: AtomicBool::new(true), delay: timeout * 5, ..FakeHealth::default() });
    let kind = HealthCheckKind::Grpc { service: String::new(), watch: false };
    let upstream = upstream_with(serve(health.clone()).await, UpstreamProtocol::Grpc, kind, timeout);
    until("unhealthy after two late answers", || !upstream.has_healthy_endpoint()).await;
    assert!(health.checks.load(Ordering::SeqCst) >= 2, "checks were asked");

    // The same over HTTP, where nothing but the checker bounds the GET.
    let kind = HealthCheckKind::Http { path: http::uri::PathAndQuery::from_static("/healthz") };
    let upstream = upstream_with(serve_slow_http(timeout * 5).await, UpstreamProtocol::Http, kind, timeout);
    until("unhealthy after two late 200s", || !upstream.has_healthy_endpoint()).await;
}

#[tokio::test]
async fn an_ended_watch_falls_back_to_check_and_is_retried() {
    let health = Arc::new(FakeHealth { watch_ends: true, ..FakeHealth::default() });
    let upstream = upstream(serve(health.clone()).await);
    until("Watch retried after polls", || health.watches.load(Ordering::SeqCst) >= 2).await;
    assert!(health.checks.load(Ordering::SeqCst) >= 1, "Check polled between the Watch streams");
    assert!(!upstream.has_healthy_endpoint(), "each Watch message set NOT_SERVING at once");
}

#[tokio::test]
async fn dropping_the_upstream_stops_its_checks() {
    let health = Arc::new(FakeHealth { serving: AtomicBool::new(true), ..FakeHealth::default() });
    let upstream = upstream(serve(health.clone()).await);
    until("a few checks", || health.checks.load(Ordering::SeqCst) >= 2).await;
    drop(upstream);
    // A check already on the wire may still land; none may start later.
    tokio::time::sleep(INTERVAL * 2).await;
    let checks = health.checks.load(Ordering::SeqCst);
    tokio::time::sleep(INTERVAL * 10).await;
    assert_eq!(health.checks.load(Ordering::SeqCst), checks);
}
