//! Fault injection: the real gateway (in this process, so that its memory
//! is this process's) in front of three gRPC and three HTTP backends
//! ([`backend`]) and a real redis-server, under steady load ([`load`]),
//! while a schedule of faults runs, one per phase: kill a backend of each
//! kind, restart them, make one slow, make one fail, blackhole one, kill
//! Redis and bring it back, reload the config again and again, and last
//! send SIGTERM ([`operations`]). Then [`Report`] says what was sent, what
//! succeeded and what failed by cause, and which of the run's promises
//! broke: every request answered, no POST reaching backends twice, failures
//! only where a fault makes them unavoidable (none for a reload; after
//! SIGTERM, only requests sent once the gateway began to stop), recovery
//! within the configured intervals, every reload swapped in, the requests
//! in flight at SIGTERM answered and the drain complete, memory flat.
//!
//! Used by `cargo run --release --example faults` (long) and by
//! tests/it/faults.rs (a few seconds).
//!
//! A fault the harness cannot run yet goes to [`PENDING_FAULTS`], listed as
//! not run in the report, never faked.

mod backend;
mod load;
mod operations;
mod report;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use protogate::server;
use tokio::{io::AsyncReadExt, io::AsyncWriteExt, net::TcpStream, sync::watch};

use backend::{Backend, Behaviour, Ledger, Protocol};
// The redis-server launcher of the integration tests
// (tests/it/support/redis.rs), provided by the module that includes this one.
use super::redis;
pub use report::Report;

/// Faults that the harness does not run yet, and why (none now).
pub const PENDING_FAULTS: &[&str] = &[];

/// How long and how hard a run is.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The length of each of the ten phases.
    pub phase: Duration,
    /// Concurrent clients.
    pub clients: usize,
    /// The time between two requests of one client.
    pub pace: Duration,
    /// Whether the process's memory is measured: only when the harness has
    /// the process to itself (the command), not inside a test binary whose
    /// other tests grow it meanwhile.
    pub measure_memory: bool,
}

impl Plan {
    /// About `seconds` in all, four clients sending 100 requests a second each.
    pub fn for_seconds(seconds: f64) -> Self {
        Self {
            phase: Duration::from_secs_f64((seconds / 10.0).max(0.5)),
            clients: 4,
            pace: Duration::from_millis(10),
            measure_memory: true,
        }
    }
}

/// The gateway's settings that bound recovery (see [`config`]).
pub mod settings {
    use std::time::Duration;

    pub const DEADLINE: Duration = Duration::from_secs(1);
    pub const HEALTH_INTERVAL: Duration = Duration::from_millis(100);
    pub const HEALTH_TIMEOUT: Duration = Duration::from_millis(250);
    pub const UNHEALTHY_THRESHOLD: u32 = 2;
    pub const HEALTHY_THRESHOLD: u32 = 1;
    /// How long Redis is marked down after a failure (the store's own rule).
    pub const REDIS_RETRY: Duration = Duration::from_secs(1);
    /// How long the gateway may take to read that a killed backend closed a
    /// pooled connection; a POST written to it meanwhile may fail (the
    /// write succeeded: the gateway cannot tell that nothing read it).
    pub const CLOSE_NOTICED: Duration = Duration::from_millis(20);
    /// The margin on every time bound.
    pub const MARGIN: u32 = 5;
}

/// A fault, and when it was active.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A backend of each kind killed: from the first kill until every
    /// connection of both is gone.
    Kill,
    /// One backend of each kind answers after a delay within the deadline.
    Slow,
    /// One backend of each kind answers every call with an error.
    Errors,
    /// One backend of each kind accepts and never answers.
    Blackhole,
    /// Redis killed, the rate limit's store.
    RedisDown,
    /// The config rewritten and reloaded, again and again.
    Reload,
    /// SIGTERM: from the signal to the end of the stop.
    Sigterm,
}

#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub fault: Fault,
    pub from: Instant,
    pub to: Instant,
}

fn gateway_yaml(grpc: &[Backend], http: &[Backend], redis: Option<&str>) -> String {
    use settings::*;
    let endpoints = |backends: &[Backend]| {
        backends.iter().map(|b| format!("\"http://{}\"", b.addr())).collect::<Vec<_>>().join(", ")
    };
    let resilience = format!(
        "timeout: {}ms, connect_timeout: 250ms, \
         retry: {{ attempts: 3, budget_percent: 100, min_per_second: 100 }}, \
         outlier: {{ consecutive_failures: 3, base_ejection: 1s, max_ejected_percent: 34 }}",
        DEADLINE.as_millis()
    );
    let health = format!(
        "interval: {}ms, timeout: {}ms, unhealthy_threshold: {UNHEALTHY_THRESHOLD}, healthy_threshold: {HEALTHY_THRESHOLD}",
        HEALTH_INTERVAL.as_millis(),
        HEALTH_TIMEOUT.as_millis()
    );
    let (policy, used) = match redis {
        Some(url) => (
            format!(
                "policies:\n  limit: {{ rate_limit: {{ key: ip, rate: 1000000/s, store: redis, redis: {{ url: \"{url}\", timeout: 50ms }} }} }}\n"
            ),
            "\n    policies: [limit]",
        ),
        None => (String::new(), ""),
    };
    format!(
        "listen: 127.0.0.1:0\n\
         descriptors: [{{ file: \"{}\" }}]\n\
         access_log: {{ enabled: false }}\n\
         upstreams:\n  \
           echo: {{ endpoints: [{}], {resilience}, health_check: {{ {health} }} }}\n  \
           legacy: {{ protocol: http, endpoints: [{}], {resilience}, health_check: {{ {health}, path: /healthz }} }}\n\
         {policy}\
         routes:\n  \
           - grpc: {{ service: demo.v1.Echo, upstream: echo, methods: [Echo] }}{used}\n  \
           - http: {{ prefix: /legacy, upstream: legacy }}{used}\n",
        operations::in_repository("descriptors/demo.pb"),
        endpoints(grpc),
        endpoints(http),
    )
}

/// The resident set of this process, from /proc/self/status.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The number of keys in the Redis at `url` (`redis://127.0.0.1:<port>`).
async fn redis_keys(url: &str) -> Option<u64> {
    let mut stream = TcpStream::connect(url.strip_prefix("redis://")?).await.ok()?;
    stream.write_all(b"DBSIZE\r\n").await.ok()?;
    let mut reply = [0u8; 32];
    let n = stream.read(&mut reply).await.ok()?;
    std::str::from_utf8(&reply[..n]).ok()?.trim().strip_prefix(':')?.parse().ok()
}

/// Polls `done` every 10ms until it holds or `bound` passes; the time it took.
async fn within<F: std::future::Future<Output = bool>>(
    bound: Duration,
    mut done: impl FnMut() -> F,
) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() <= bound {
        if done().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

/// Runs the whole schedule under load.
pub async fn run(plan: &Plan) -> Report {
    use settings::*;
    let ledger = Arc::new(Ledger::default());
    let mut grpc = Vec::new();
    let mut http = Vec::new();
    for _ in 0..3 {
        grpc.push(Backend::start(Protocol::Grpc, ledger.clone()).await);
        http.push(Backend::start(Protocol::Http, ledger.clone()).await);
    }
    let mut redis = redis::RedisServer::start();
    let file =
        operations::ConfigFile::write(gateway_yaml(&grpc, &http, redis.as_ref().map(|r| r.url()).as_deref()));
    let reloader = file.reloader().await;
    let settings = reloader.listeners();
    let gateway =
        server::start("127.0.0.1:0".parse().expect("an address"), settings.head, reloader.gateway().clone())
            .await
            .expect("the gateway starts");

    let (stop, stopped) = watch::channel(false);
    let load = tokio::spawn(load::run(gateway.addr().to_string(), plan.clients, plan.pace, stopped));
    let mut report = Report::default();
    let mut windows = Vec::new();
    let phase = || tokio::time::sleep(plan.phase);

    phase().await;
    report.rss_kib_before = rss_kib().filter(|_| plan.measure_memory);

    // Kill one backend of each kind, then restart them.
    let from = Instant::now();
    grpc[0].kill().await;
    http[0].kill().await;
    windows.push(Window { fault: Fault::Kill, from, to: Instant::now() });
    phase().await;
    grpc[0].restart().await;
    http[0].restart().await;
    let served = (grpc[0].calls(), http[0].calls());
    let bound = (HEALTH_INTERVAL * (HEALTHY_THRESHOLD + 1) + HEALTH_TIMEOUT) * MARGIN;
    let back = within(bound, || async { grpc[0].calls() > served.0 && http[0].calls() > served.1 }).await;
    report.recoveries.push(("restarted backends serve again", back, bound));
    phase().await;

    for (fault, behaviour) in [
        (Fault::Slow, Behaviour::Slow),
        (Fault::Errors, Behaviour::Errors),
        (Fault::Blackhole, Behaviour::Blackhole),
    ] {
        let from = Instant::now();
        grpc[1].set(behaviour);
        http[1].set(behaviour);
        phase().await;
        grpc[1].set(Behaviour::Normal);
        http[1].set(Behaviour::Normal);
        windows.push(Window { fault, from, to: Instant::now() });
    }

    match redis.as_mut() {
        Some(server) => {
            let from = Instant::now();
            server.kill();
            phase().await;
            server.restart();
            windows.push(Window { fault: Fault::RedisDown, from, to: Instant::now() });
            let url = server.url();
            let bound = REDIS_RETRY * MARGIN;
            let back = within(bound, || async { redis_keys(&url).await.is_some_and(|keys| keys > 0) }).await;
            report.recoveries.push(("rate limits use Redis again", back, bound));
        }
        None => report.not_run.push("redis (redis-server is not installed)".into()),
    }
    phase().await;

    // Reloads under load: not one request may fail for them.
    let from = Instant::now();
    (report.reloads, report.refused_reloads) =
        operations::reload_for(&file, &reloader, plan.phase, plan.phase / 8).await;
    windows.push(Window { fault: Fault::Reload, from, to: Instant::now() });
    phase().await;

    // SIGTERM with requests in flight (one backend of each kind slow): they
    // are answered, and the drain completes.
    grpc[2].set(Behaviour::Slow);
    http[2].set(Behaviour::Slow);
    tokio::time::sleep(Backend::SLOW).await;
    let (stopped, signalled) = operations::sigterm(gateway, settings.shutdown).await;
    windows.push(Window { fault: Fault::Sigterm, from: signalled, to: Instant::now() });
    report.shutdown = Some(stopped);

    stop.send_replace(true);
    let outcomes = load.await.expect("the load task");
    report.answered_at_sigterm = outcomes
        .iter()
        .filter(|o| o.sent < signalled && o.done > signalled && o.result == load::Result::Success)
        .count();
    report.rss_kib_after = rss_kib().filter(|_| plan.measure_memory);
    report.not_run.extend(PENDING_FAULTS.iter().map(|s| (*s).to_owned()));
    report.tally(&outcomes, &windows);
    report.duplicates = ledger.duplicates();
    report
}

/// What a failure says about the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// The fault active at the time makes it unavoidable (see `report.rs`).
    Unavoidable,
    /// A broken promise.
    Avoidable,
}

/// Judges a failed request by the faults active while it was in flight.
fn verdict(outcome: &load::Outcome, cause: &str, windows: &[Window]) -> Verdict {
    use settings::*;
    let detection = (HEALTH_INTERVAL * UNHEALTHY_THRESHOLD + HEALTH_TIMEOUT + DEADLINE) * MARGIN;
    let in_flight = |from: Instant, to: Instant| outcome.sent <= to && outcome.done >= from;
    let unavoidable = windows.iter().any(|window| match window.fault {
        // In flight while the backend died: it may have done the work. A
        // POST sent just after may have been written to a connection whose
        // close the gateway had not read yet.
        Fault::Kill if outcome.kind.is_post() => in_flight(window.from, window.to + CLOSE_NOTICED * MARGIN),
        Fault::Kill => in_flight(window.from, window.to),
        // A POST a failing backend answered: it may have done the work.
        Fault::Errors => {
            outcome.kind.is_post() && cause.contains("injected fault") && in_flight(window.from, window.to)
        }
        // In flight to the blackhole before health checks could notice.
        Fault::Blackhole => in_flight(window.from, (window.from + detection).min(window.to)),
        // Sent once the gateway began to stop: refused, or its connection closed.
        Fault::Sigterm => outcome.sent >= window.from,
        Fault::Slow | Fault::RedisDown | Fault::Reload => false,
    });
    if unavoidable { Verdict::Unavoidable } else { Verdict::Avoidable }
}
