//! The Redis store's outage bookkeeping, against a real redis-server that
//! is killed or stopped (SIGSTOP) mid-test: while Redis is down, requests
//! are decided locally at once and Redis is asked by one probe per
//! [`RETRY_EVERY`]; once it answers, every decision is shared again; the
//! outage and the recovery are logged once each.
//!
//! Each test runs on one thread (`#[tokio::test]`), so the log it
//! captures is its own.

use std::time::{Duration, Instant};

use protogate::policy::rate_limit::{RETRY_EVERY, RateLimitPolicy};

use super::{limit, redis_settings};
use crate::support::{captured_log::CapturedLog, poll::eventually, redis::RedisServer};

/// The decision timeout of these tests.
const TIMEOUT: Duration = Duration::from_millis(200);
/// How long each test keeps Redis down: past two probes.
const DOWN_FOR: Duration = Duration::from_millis(2500);
/// The pace of each client's requests while Redis is down.
const PACE: Duration = Duration::from_millis(10);
/// The clients sending them at once: a probe must not let the others in.
const CLIENTS: usize = 4;

/// What the store logs when Redis fails, at start or later.
const DOWN_LOG: &str = "Redis is unreachable";
/// What it logs at start.
const DOWN_AT_START_LOG: &str = "Redis is unreachable at start";
/// What it logs when Redis answers again.
const BACK_LOG: &str = "Redis answers again";

/// A limit no test reaches, with a long period so that Redis keeps each key.
async fn roomy_policy(redis: &RedisServer) -> RateLimitPolicy {
    let roomy = limit(1000, Duration::from_secs(3600), 1000);
    RateLimitPolicy::new(redis_settings(redis.url(), roomy, TIMEOUT, None)).await.unwrap()
}

/// [`CLIENTS`] sending requests at [`PACE`] for [`DOWN_FOR`], each allowed
/// (by the fallback).
async fn requests_while_down(policy: &RateLimitPolicy) {
    let client = async || {
        let start = Instant::now();
        while start.elapsed() < DOWN_FOR {
            assert!(policy.check("k:down").await.allowed);
            tokio::time::sleep(PACE).await;
        }
    };
    futures_util::future::join_all((0..CLIENTS).map(|_| client())).await;
}

/// Polls until a decision comes from Redis (the fallback does not count it).
async fn until_redis_decides(policy: &RateLimitPolicy) {
    eventually("a decision made in Redis again", async || {
        let before = policy.fallback_decisions();
        policy.check("k:back").await;
        policy.fallback_decisions() == before
    })
    .await;
}

/// Once back, Redis decides every request, not one per [`RETRY_EVERY`].
async fn every_decision_is_shared(policy: &RateLimitPolicy) {
    let before = policy.fallback_decisions();
    for _ in 0..20 {
        policy.check("k:shared").await;
    }
    assert_eq!(policy.fallback_decisions(), before, "a decision fell back with Redis up");
}

#[tokio::test]
async fn redis_down_at_start_is_logged_once_and_decided_locally_until_it_returns() {
    let Some(mut redis) = RedisServer::start() else { return };
    redis.kill();
    let log = CapturedLog::start();
    let policy = roomy_policy(&redis).await;
    assert_eq!(log.lines_with(DOWN_AT_START_LOG), 1, "{}", log.text());

    // The start-up connection has failed: the first request is decided
    // locally at once, not held by another connection attempt.
    let first = tokio::time::timeout(TIMEOUT * 5, policy.check("k:first"))
        .await
        .expect("the first request waited on a Redis known to be down");
    assert!(first.allowed);
    assert_eq!(policy.fallback_decisions(), 1);

    // Probes fail meanwhile; the outage stays logged once.
    requests_while_down(&policy).await;
    assert_eq!(log.lines_with(DOWN_LOG), 1, "{}", log.text());

    redis.restart();
    until_redis_decides(&policy).await;
    every_decision_is_shared(&policy).await;
    assert_eq!(log.lines_with(BACK_LOG), 1, "{}", log.text());
    assert_eq!(log.lines_with(DOWN_LOG), 1, "{}", log.text());
}

#[tokio::test]
async fn a_silent_redis_is_probed_once_per_retry_every_and_logged_once() {
    let Some(redis) = RedisServer::start() else { return };
    let log = CapturedLog::start();
    let policy = roomy_policy(&redis).await;
    assert!(policy.check("k:up").await.allowed);
    assert_eq!(policy.fallback_decisions(), 0, "connected, and Redis decided");
    redis.reset_stats().await;

    // SIGSTOP: every command sent meanwhile waits in the socket, and runs
    // once Redis resumes, so Redis's own count tells how often it was asked.
    let paused = redis.pause();
    let down_since = Instant::now();
    assert!(policy.check("k:down").await.allowed);
    assert_eq!(policy.fallback_decisions(), 1, "the first timeout fell back");
    assert_eq!(log.lines_with(DOWN_LOG), 1, "the first timeout is logged: {}", log.text());
    requests_while_down(&policy).await;
    let requests = policy.fallback_decisions();
    drop(paused);

    // The decision that comes from Redis went down the same connection
    // after every probe, so Redis has run them all when it answers.
    until_redis_decides(&policy).await;
    let down_for = down_since.elapsed();
    let asked = redis.calls("evalsha").await;
    // The first timeout, one probe per RETRY_EVERY, the answered decision.
    let most = 2 + down_for.as_millis() / RETRY_EVERY.as_millis();
    assert!(
        (2..=u64::try_from(most).unwrap()).contains(&asked),
        "Redis was asked {asked} times for {requests} requests in {down_for:?}; at most {most} may"
    );

    every_decision_is_shared(&policy).await;
    assert_eq!(log.lines_with(DOWN_LOG), 1, "{}", log.text());
    assert_eq!(log.lines_with(BACK_LOG), 1, "{}", log.text());
}
