//! Rate limits against real stores: the local one under concurrency, and
//! real redis-server processes shared by two policies (two "gateways"),
//! killed and restarted mid-test; `outage` follows the Redis store
//! through an outage.

mod outage;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use http::StatusCode;
use protogate::{
    error::GatewayError,
    policy::rate_limit::{
        Decision, Limit, LimitKey, Rate, RateLimitPolicy, RateLimitSettings, RedisSettings, Secret, Store,
    },
};

use crate::support::{closed_port::ClosedPort, redis::RedisServer};

fn limit(count: u32, per: Duration, burst: u32) -> Limit {
    Limit { rate: Rate::new(count, per).unwrap(), burst }
}

async fn local(limit: Limit, max_keys: usize) -> RateLimitPolicy {
    let settings = RateLimitSettings { key: LimitKey::Route, limit, store: Store::Local, max_keys };
    RateLimitPolicy::new(settings).await.unwrap()
}

fn redis_settings(url: String, limit: Limit, timeout: Duration, password: Option<&str>) -> RateLimitSettings {
    let redis = RedisSettings {
        url,
        password: password.map(Secret::new),
        timeout,
        key_prefix: "protogate:rl:test:".to_owned(),
        fallback: limit,
        ca_pem: None,
    };
    RateLimitSettings { key: LimitKey::Route, limit, store: Store::Redis(redis), max_keys: 1000 }
}

/// Runs `count` checks of `key` at once, spread over `policies` in turn;
/// returns how many passed.
async fn concurrent_checks(policies: &[Arc<RateLimitPolicy>], key: &str, count: usize) -> usize {
    let tasks = (0..count)
        .map(|index| {
            let policy = policies[index % policies.len()].clone();
            let key = key.to_owned();
            tokio::spawn(async move { policy.check(&key).await.allowed })
        })
        .collect::<Vec<_>>();
    let mut allowed = 0;
    for task in tasks {
        allowed += usize::from(task.await.unwrap());
    }
    allowed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_the_burst_passes_under_concurrency() {
    // 10 per minute: no refill can happen while the 50 checks run.
    let policy = Arc::new(local(limit(10, Duration::from_secs(60), 10), 1000).await);
    assert_eq!(concurrent_checks(std::slice::from_ref(&policy), "k:same", 50).await, 10);
    assert_eq!(concurrent_checks(std::slice::from_ref(&policy), "k:other", 50).await, 10);
    assert!(!policy.check("k:same").await.allowed);
}

#[tokio::test]
async fn buckets_refill_at_the_rate() {
    // One request per 50ms, one at once.
    let policy = local(limit(20, Duration::from_secs(1), 1), 1000).await;
    assert!(policy.check("k").await.allowed);
    let refused = policy.check("k").await;
    assert!(!refused.allowed);
    let wait = refused.retry_after.unwrap();
    assert!(wait <= Duration::from_millis(50), "{wait:?}");
    tokio::time::sleep(wait + Duration::from_millis(10)).await;
    assert!(policy.check("k").await.allowed);

    // Over a stretch of time, never more than the rate allows.
    let policy = local(limit(100, Duration::from_secs(1), 1), 1000).await;
    let start = Instant::now();
    let mut allowed = 0u128;
    while start.elapsed() < Duration::from_millis(300) {
        allowed += u128::from(policy.check("k").await.allowed);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let most = 1 + start.elapsed().as_millis() / 10;
    assert!(allowed <= most, "{allowed} passed, at most {most} may");
    assert!(allowed >= 10, "{allowed} passed in 300ms at 100/s");
}

#[tokio::test]
async fn the_key_cap_holds_and_new_keys_share_the_overflow_bucket() {
    let policy = local(limit(1, Duration::from_secs(3600), 1), 5).await;
    for key in ["a", "b", "c", "d", "e"] {
        assert!(policy.check(key).await.allowed, "{key}");
    }
    assert_eq!(policy.keys_held(), 5);
    assert!(policy.check("f").await.allowed, "the overflow bucket's one request");
    for key in ["g", "h", "i"] {
        assert!(!policy.check(key).await.allowed, "{key} shares the spent overflow bucket");
    }
    assert_eq!(policy.keys_held(), 5);
    assert!(!policy.check("a").await.allowed, "a held key keeps its own (spent) bucket");
}

#[tokio::test]
async fn decisions_carry_the_ratelimit_headers() {
    // 3 at once, then one per 20s.
    let policy = local(limit(3, Duration::from_secs(60), 3), 1000).await;
    let first = policy.check("k").await;
    let headers = first.headers();
    assert_eq!(headers["ratelimit-limit"], "3");
    assert_eq!(headers["ratelimit-remaining"], "2");
    assert_eq!(headers["ratelimit-reset"], "20");
    assert!(!headers.contains_key("retry-after"));
    policy.check("k").await;
    policy.check("k").await;
    let refused: Decision = policy.check("k").await;
    assert!(!refused.allowed);
    let headers = refused.headers();
    assert_eq!(headers["ratelimit-remaining"], "0");
    assert_eq!(headers["ratelimit-reset"], "60");
    assert_eq!(headers["retry-after"], "20");
    let response = GatewayError::rate_limited(&refused).into_response();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "20");
    assert_eq!(response.headers()["ratelimit-limit"], "3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_share_one_budget_through_redis() {
    let Some(redis) = RedisServer::start() else { return };
    let shared = limit(20, Duration::from_secs(60), 20);
    let timeout = Duration::from_millis(500);
    let one =
        Arc::new(RateLimitPolicy::new(redis_settings(redis.url(), shared, timeout, None)).await.unwrap());
    let two =
        Arc::new(RateLimitPolicy::new(redis_settings(redis.url(), shared, timeout, None)).await.unwrap());
    assert_eq!(concurrent_checks(&[one.clone(), two.clone()], "k:shared", 40).await, 20);
    let (a, b) = (one.check("k:shared").await, two.check("k:shared").await);
    assert!(!a.allowed && !b.allowed);
    assert!(a.retry_after.is_some_and(|wait| wait <= Duration::from_secs(3)), "{a:?}");
    assert_eq!(
        (one.fallback_decisions(), two.fallback_decisions()),
        (0, 0),
        "every decision came from Redis"
    );
    assert_eq!(one.keys_held(), 0, "nothing is held locally");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_falls_back_locally_in_time_and_recovers() {
    let Some(mut redis) = RedisServer::start() else { return };
    // A long period: a key stays in Redis for seconds after a decision
    // (its TTL is one emission interval), so the check below cannot race
    // its expiry on a loaded machine.
    let roomy = limit(1000, Duration::from_secs(3600), 1000);
    let timeout = Duration::from_millis(20);
    let policy = RateLimitPolicy::new(redis_settings(redis.url(), roomy, timeout, None)).await.unwrap();
    assert!(policy.check("k:a").await.allowed);
    assert_eq!(policy.fallback_decisions(), 0);

    redis.kill();
    for _ in 0..20 {
        let start = Instant::now();
        let decision = policy.check("k:a").await;
        let took = start.elapsed();
        // A wide bound (50x the timeout): the whole suite shares two cores.
        assert!(took < timeout * 50, "a decision took {took:?} with Redis down");
        assert!(decision.allowed);
    }
    assert!(policy.fallback_decisions() >= 20, "{}", policy.fallback_decisions());

    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let before = policy.fallback_decisions();
        let start = Instant::now();
        policy.check("k:b").await;
        assert!(start.elapsed() < timeout * 50, "a decision took {:?} during recovery", start.elapsed());
        if policy.fallback_decisions() == before {
            break;
        }
        assert!(Instant::now() < deadline, "decisions did not go back to Redis within 20s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let client = redis::Client::open(redis.url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let exists: bool =
        redis::cmd("EXISTS").arg("protogate:rl:test:k:b").query_async(&mut connection).await.unwrap();
    assert!(exists, "the recovered decision was made in Redis");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_accepts_and_stays_silent_is_timed_out() {
    let Some(redis) = RedisServer::start() else { return };
    let roomy = limit(1000, Duration::from_secs(3600), 1000);
    let timeout = Duration::from_millis(200);
    let policy = RateLimitPolicy::new(redis_settings(redis.url(), roomy, timeout, None)).await.unwrap();
    assert!(policy.check("k:a").await.allowed);
    assert_eq!(policy.fallback_decisions(), 0, "connected, and Redis decided");

    let paused = redis.pause();
    // The connection stays open and Redis reads nothing: only the decision
    // timeout ends the wait (bounded here with a margin of ×5).
    let decision = tokio::time::timeout(timeout * 5, policy.check("k:a"))
        .await
        .expect("the decision waited past its timeout for a silent Redis");
    assert!(decision.allowed);
    assert_eq!(policy.fallback_decisions(), 1, "the fallback decided");
    drop(paused);

    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let before = policy.fallback_decisions();
        policy.check("k:b").await;
        if policy.fallback_decisions() == before {
            break;
        }
        assert!(Instant::now() < deadline, "decisions did not go back to Redis within 20s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn redis_with_a_password() {
    let Some(redis) = RedisServer::start_with_password("s3cret-pass") else { return };
    let shared = limit(2, Duration::from_secs(60), 2);
    let timeout = Duration::from_millis(500);
    let right = RateLimitPolicy::new(redis_settings(redis.url(), shared, timeout, Some("s3cret-pass")))
        .await
        .unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let decision = right.check("k").await;
        seen.push((decision.allowed, decision.remaining, decision.headers()["ratelimit-reset"].clone()));
    }
    assert_eq!(
        seen,
        [
            (true, 1, "30".parse().unwrap()),
            (true, 0, "60".parse().unwrap()),
            (false, 0, "60".parse().unwrap())
        ]
    );
    assert_eq!(right.fallback_decisions(), 0);

    let wrong =
        RateLimitPolicy::new(redis_settings(redis.url(), shared, timeout, Some("nope"))).await.unwrap();
    assert!(wrong.check("k").await.allowed, "a fresh local bucket, not the spent shared one");
    assert_eq!(wrong.fallback_decisions(), 1);
}

#[tokio::test]
async fn a_password_inside_the_url_is_refused() {
    let settings = redis_settings(
        "redis://:hunter2@127.0.0.1:6379".to_owned(),
        limit(1, Duration::from_secs(1), 1),
        Duration::from_millis(10),
        None,
    );
    let error = RateLimitPolicy::new(settings).await.unwrap_err();
    assert!(error.to_string().contains("password_file or password_env"), "{error}");
}

#[tokio::test]
async fn a_policy_starts_and_limits_locally_when_redis_is_unreachable() {
    let closed = ClosedPort::new();
    let settings = redis_settings(
        format!("redis://{}", closed.addr()),
        limit(1, Duration::from_secs(60), 1),
        Duration::from_millis(20),
        None,
    );
    let start = Instant::now();
    let policy = RateLimitPolicy::new(settings).await.unwrap();
    // The start-up connection is bounded by 1s (×5 here).
    assert!(start.elapsed() < Duration::from_secs(5), "new took {:?}", start.elapsed());
    let start = Instant::now();
    assert!(policy.check("k").await.allowed);
    assert!(!policy.check("k").await.allowed, "the fallback applies the limit");
    assert!(start.elapsed() < Duration::from_secs(1), "{:?}", start.elapsed());
    assert_eq!(policy.fallback_decisions(), 2);
}

#[tokio::test]
async fn redis_over_tls_with_a_test_ca() {
    let dir = tempfile::tempdir().unwrap();
    let Some((redis, ca)) = crate::support::http_backends::start_tls_redis(dir.path()) else { return };
    assert!(redis.url().starts_with("rediss://"));
    let shared = limit(3, Duration::from_secs(3600), 3);
    let timeout = Duration::from_secs(1);
    let mut settings = redis_settings(redis.url(), shared, timeout, None);
    if let Store::Redis(redis) = &mut settings.store {
        redis.ca_pem = Some(std::fs::read(&ca).unwrap());
    }
    let one = Arc::new(RateLimitPolicy::new(settings.clone()).await.unwrap());
    let two = Arc::new(RateLimitPolicy::new(settings).await.unwrap());
    // One budget in Redis: 3 pass in all, whichever policy asks.
    let passed = concurrent_checks(&[one.clone(), two.clone()], "tls", 8).await;
    assert_eq!(passed, 3);
    assert_eq!((one.fallback_decisions(), two.fallback_decisions()), (0, 0), "Redis decided every request");

    // Without the test CA the server is not trusted: decided locally.
    let untrusted = RateLimitPolicy::new(redis_settings(redis.url(), shared, timeout, None)).await.unwrap();
    untrusted.check("x").await;
    assert_eq!(untrusted.fallback_decisions(), 1);
}
