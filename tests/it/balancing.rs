//! Several demo backends behind one upstream: the load spreads, a killed
//! backend is ejected while the others keep serving, and when all are down
//! the gateway answers 503 at once, its breaker opens, and it recovers when
//! a backend comes back. Every loop is bounded in count and in time.

use std::{
    net::SocketAddr,
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use protogate::{
    compile,
    config::Config,
    demo::DemoBackend,
    gateway::Gateway,
    server::{self, RunningServer},
    upstream::{BreakerState, Upstream, UpstreamSnapshot},
};

/// The calls' deadline, unless a test sets its own.
const ROUTE_DEADLINE: Duration = Duration::from_secs(30);
/// A bound on an answer "at once": a fifth of the deadline it must not wait for.
const NOT_THE_DEADLINE: Duration = Duration::from_secs(ROUTE_DEADLINE.as_secs() / 5);

/// Backends, the gateway in front of them, and the upstream `demo`.
struct Pool {
    backends: Vec<Option<DemoBackend>>,
    addrs: Vec<SocketAddr>,
    upstream: Arc<Upstream>,
    gateway: RunningServer,
    client: reqwest::Client,
}

impl Pool {
    /// `size` backends behind the upstream `demo`, with `settings` (YAML
    /// keys of the upstream, in flow style) added to it.
    async fn start(size: usize, settings: &str) -> Self {
        Self::with_timeout(size, settings, ROUTE_DEADLINE).await
    }

    /// The same, with `timeout` as the calls' deadline.
    async fn with_timeout(size: usize, settings: &str, timeout: Duration) -> Self {
        let mut backends = Vec::new();
        for _ in 0..size {
            backends.push(DemoBackend::start("127.0.0.1:0".parse().unwrap()).await.unwrap());
        }
        let addrs: Vec<SocketAddr> = backends.iter().map(DemoBackend::addr).collect();
        let endpoints: Vec<String> = addrs.iter().map(|addr| format!("\"http://{addr}\"")).collect();
        let yaml = format!(
            "listen: 127.0.0.1:0\n\
             descriptors: [{{ file: descriptors/demo.pb }}]\n\
             upstreams:\n  demo: {{ endpoints: [{}], {settings} }}\n\
             routes: [{{ grpc: {{ service: demo.v1.Echo, upstream: demo }}, timeout: {}ms }}]\n",
            endpoints.join(", "),
            timeout.as_millis()
        );
        let config = Config::from_yaml(&yaml, "test config").unwrap();
        let compiled = compile::compile(&config, Path::new(env!("CARGO_MANIFEST_DIR")), &[])
            .await
            .unwrap_or_else(|errors| panic!("the test config does not compile:\n{errors}"));
        let upstream = compiled.runtime.upstreams()["demo"].clone();
        let gateway = Arc::new(Gateway::new(compiled.runtime));
        let gateway =
            server::start("127.0.0.1:0".parse().unwrap(), compiled.listeners.head, gateway).await.unwrap();
        let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
        Self { backends: backends.into_iter().map(Some).collect(), addrs, upstream, gateway, client }
    }

    /// GET /v1/echo/x through the gateway: status, body and how long it took.
    async fn echo(&self) -> (u16, serde_json::Value, Duration) {
        self.get("/v1/echo/x", None).await
    }

    /// GET `path` through the gateway, with a `Grpc-Timeout` if given.
    async fn get(&self, path: &str, grpc_timeout: Option<&str>) -> (u16, serde_json::Value, Duration) {
        let started = Instant::now();
        let mut request = self.client.get(format!("http://{}{path}", self.gateway.addr()));
        if let Some(timeout) = grpc_timeout {
            request = request.header("grpc-timeout", timeout);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body = response.json().await.unwrap();
        (status, body, started.elapsed())
    }

    /// The calls each live backend has received.
    fn calls(&self) -> Vec<u64> {
        self.backends.iter().map(|backend| backend.as_ref().map_or(0, DemoBackend::calls)).collect()
    }

    fn snapshot(&self) -> UpstreamSnapshot {
        self.upstream.snapshot()
    }

    /// Starts a new backend on the address backend `index` had (the port
    /// may take a moment to be released).
    async fn restart(&mut self, index: usize) {
        for _ in 0..100 {
            if let Ok(backend) = DemoBackend::start(self.addrs[index]).await {
                self.backends[index] = Some(backend);
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("cannot bind {} again", self.addrs[index]);
    }
}

#[tokio::test]
async fn round_robin_spreads_the_load_evenly() {
    let pool = Pool::start(3, "balancing: round_robin").await;
    for _ in 0..30 {
        assert_eq!(pool.echo().await.0, 200);
    }
    assert_eq!(pool.calls(), [10, 10, 10]);
}

#[tokio::test]
async fn least_request_spreads_the_load_too() {
    let pool = Pool::start(3, "balancing: least_request").await;
    for _ in 0..60 {
        assert_eq!(pool.echo().await.0, 200);
    }
    let calls = pool.calls();
    assert_eq!(calls.iter().sum::<u64>(), 60);
    assert!(calls.iter().all(|&n| n >= 5), "{calls:?}");
}

#[tokio::test]
async fn without_a_healthy_endpoint_the_answer_is_an_immediate_503_naming_the_upstream() {
    let pool = Pool::start(2, "connect_timeout: 1s").await;
    for endpoint in pool.upstream.endpoints().iter() {
        endpoint.state().set_healthy(false);
    }
    let (status, body, took) = pool.echo().await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], 14);
    assert!(
        body["message"].as_str().unwrap().contains("upstream \"demo\" has no healthy endpoint"),
        "{body}"
    );
    assert!(took < NOT_THE_DEADLINE, "{took:?}");
    assert_eq!(pool.calls(), [0, 0]);
}

#[tokio::test]
async fn a_killed_backend_leaves_the_pick_at_once_and_the_others_keep_serving() {
    let mut pool = Pool::start(3, "outlier: { consecutive_failures: 3 }").await;
    for _ in 0..6 {
        assert_eq!(pool.echo().await.0, 200);
    }
    pool.backends[1] = None;

    // A refused connection never reached the backend: the call goes to
    // another endpoint, and the refusing one leaves the pick for a backoff.
    let mut seen_unreachable = false;
    for _ in 0..20 {
        let (status, body, _) = pool.echo().await;
        assert_eq!(status, 200, "{body}");
        let snapshot = pool.snapshot();
        seen_unreachable |= snapshot.endpoints[1].unreachable_seconds.is_some();
        let others = [&snapshot.endpoints[0], &snapshot.endpoints[2]];
        assert!(others.iter().all(|e| e.unreachable_seconds.is_none()), "{snapshot:?}");
        assert_eq!(snapshot.breaker, BreakerState::Closed);
    }
    assert!(seen_unreachable, "the killed endpoint left the pick");
    assert_eq!(pool.calls().iter().sum::<u64>(), 4 + 20, "each call reached a live backend once");
}

#[tokio::test]
async fn all_backends_down_fast_503s_the_breaker_opens_then_recovers() {
    let open_duration = Duration::from_millis(300);
    let mut pool = Pool::start(2, "breaker: { minimum_calls: 4, open_duration: 300ms }").await;
    for _ in 0..2 {
        assert_eq!(pool.echo().await.0, 200);
    }
    pool.backends = vec![None, None];

    let mut opened = false;
    for _ in 0..20 {
        let (status, body, took) = pool.echo().await;
        assert_eq!(status, 503, "{body}");
        assert!(took < NOT_THE_DEADLINE, "a 503 took {took:?}");
        if pool.snapshot().breaker == BreakerState::Open {
            opened = true;
            break;
        }
    }
    assert!(opened, "the breaker did not open: {:?}", pool.snapshot());
    let (status, body, took) = pool.echo().await;
    assert_eq!(status, 503);
    assert!(body["message"].as_str().unwrap().contains("circuit breaker is open"), "{body}");
    assert!(took < NOT_THE_DEADLINE, "an open breaker answered in {took:?}");

    pool.restart(0).await;
    pool.restart(1).await;
    let deadline = Instant::now() + open_duration * 5;
    let mut recovered = false;
    while Instant::now() < deadline {
        if pool.echo().await.0 == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(recovered, "no success within {:?}: {:?}", open_duration * 5, pool.snapshot());
    // The remaining probes close the breaker.
    for _ in 0..2 {
        assert_eq!(pool.echo().await.0, 200);
    }
    assert_eq!(pool.snapshot().breaker, BreakerState::Closed);
}

#[tokio::test]
async fn a_deadline_the_client_chose_counts_for_nothing_but_the_routes_does() {
    let pool = Pool::with_timeout(1, "breaker: { minimum_calls: 3 }", Duration::from_millis(300)).await;
    for _ in 0..3 {
        let (status, body, _) = pool.get("/v1/sleep/2000", Some("50m")).await;
        assert_eq!(status, 504, "{body}");
    }
    let snapshot = pool.snapshot();
    assert_eq!(snapshot.endpoints[0].consecutive_failures, 0, "{snapshot:?}");
    assert_eq!(snapshot.breaker, BreakerState::Closed);

    for _ in 0..3 {
        let (status, body, _) = pool.get("/v1/sleep/2000", None).await;
        assert_eq!(status, 504, "{body}");
    }
    let snapshot = pool.snapshot();
    assert_eq!(snapshot.endpoints[0].consecutive_failures, 3, "{snapshot:?}");
    assert_eq!(snapshot.breaker, BreakerState::Open, "the route's own deadline is the backend's failure");
}
