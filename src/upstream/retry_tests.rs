//! The retry decision: what may be retried, how often, within which
//! deadline and budget, and on which endpoint.

use std::{
    num::NonZeroU32,
    time::{Duration, Instant},
};

use super::*;
use crate::upstream::{UpstreamSettings, tests::test_settings};

fn upstream(size: usize, retry: RetrySettings) -> Upstream {
    Upstream::new("backend", &UpstreamSettings { retry, ..test_settings(size) }).unwrap()
}

fn attempts(n: u32) -> RetrySettings {
    RetrySettings { attempts: NonZeroU32::new(n).unwrap(), ..RetrySettings::default() }
}

fn far() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

#[test]
fn what_a_failure_proves() {
    assert_eq!(TryFailure::of(Outcome::ConnectFailure, false), TryFailure::NotSent);
    assert_eq!(TryFailure::of(Outcome::Failure, true), TryFailure::NotSent);
    assert_eq!(TryFailure::of(Outcome::Failure, false), TryFailure::Failed);
    assert_eq!(TryFailure::of(Outcome::Success, false), TryFailure::Final);
    assert_eq!(TryFailure::of(Outcome::Ignored, false), TryFailure::Final);
    for method in [Method::GET, Method::HEAD, Method::OPTIONS, Method::PUT, Method::DELETE] {
        assert!(is_idempotent_method(&method), "{method}");
    }
    for method in [Method::POST, Method::PATCH, Method::CONNECT, Method::TRACE] {
        assert!(!is_idempotent_method(&method), "{method}");
    }
    let local = h2::Error::from(h2::Reason::REFUSED_STREAM);
    assert!(!never_sent(&local), "only a refusal the peer sent proves it");
    assert!(!never_sent(&std::io::Error::other("reset")));
}

#[tokio::test]
async fn a_call_that_may_have_reached_the_backend_is_retried_only_when_idempotent() {
    let upstream = upstream(2, attempts(3));
    let mut tries = upstream.tries(false);
    drop(tries.pick().unwrap());
    assert_eq!(tries.retry_after(TryFailure::Failed, far()), None);
    assert_eq!(tries.retry_after(TryFailure::Final, far()), None);
    assert!(tries.retry_after(TryFailure::NotSent, far()).is_some());

    let mut tries = upstream.tries(true);
    drop(tries.pick().unwrap());
    assert!(tries.retry_after(TryFailure::Failed, far()).is_some());
    drop(tries.pick().unwrap());
    assert!(tries.retry_after(TryFailure::Failed, far()).is_some());
    drop(tries.pick().unwrap());
    assert_eq!(tries.retry_after(TryFailure::NotSent, far()), None, "three tries, no more");
    assert!(!tries.may_retry());
}

#[tokio::test]
async fn by_default_only_a_call_never_sent_is_retried_once_per_endpoint_nor_past_the_deadline() {
    let upstream = self::upstream(1, RetrySettings::default());
    let mut tries = upstream.tries(true);
    drop(tries.pick().unwrap());
    assert!(!tries.may_retry(), "one endpoint: one try");
    assert_eq!(tries.retry_after(TryFailure::NotSent, far()), None);

    let upstream = self::upstream(3, RetrySettings::default());
    let mut tries = upstream.tries(true);
    drop(tries.pick().unwrap());
    assert!(tries.may_retry(), "the request is kept for the other endpoints");
    assert_eq!(tries.retry_after(TryFailure::Failed, far()), None, "it may have reached the backend");
    assert!(tries.retry_after(TryFailure::NotSent, far()).is_some());
    drop(tries.pick().unwrap());
    assert!(tries.retry_after(TryFailure::NotSent, far()).is_some());
    drop(tries.pick().unwrap());
    assert!(!tries.may_retry());
    assert_eq!(tries.retry_after(TryFailure::NotSent, far()), None, "three endpoints, three tries");

    let upstream = self::upstream(2, attempts(3));
    let mut tries = upstream.tries(true);
    drop(tries.pick().unwrap());
    let soon = Instant::now() + Duration::from_millis(5);
    assert_eq!(tries.retry_after(TryFailure::NotSent, soon), None, "the backoff would end past it");
}

#[tokio::test]
async fn backoff_grows_is_jittered_and_capped() {
    let settings = RetrySettings {
        backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(300),
        ..attempts(10)
    };
    let policy = RetryPolicy::new(settings);
    for _ in 0..50 {
        let first = policy.backoff(1);
        assert!((Duration::from_millis(50)..=Duration::from_millis(100)).contains(&first), "{first:?}");
        let second = policy.backoff(2);
        assert!((Duration::from_millis(100)..=Duration::from_millis(200)).contains(&second), "{second:?}");
        let capped = policy.backoff(9);
        assert!((Duration::from_millis(150)..=Duration::from_millis(300)).contains(&capped), "{capped:?}");
    }
}

#[tokio::test]
async fn the_budget_caps_retries_at_a_share_of_the_calls_plus_a_floor() {
    let settings = RetrySettings { budget_percent: 20, min_per_second: 1, ..attempts(2) };
    let upstream = upstream(1, settings);
    let mut granted = 0;
    for _ in 0..100 {
        let mut tries = upstream.tries(true);
        drop(tries.pick().unwrap());
        if tries.retry_after(TryFailure::NotSent, far()).is_some() {
            granted += 1;
        }
    }
    // 20 of 100 calls, plus the floor of 1 per second over the 10s window.
    assert!((20..=30).contains(&granted), "{granted} retries granted for 100 calls");

    let stingy = self::upstream(1, RetrySettings { budget_percent: 0, min_per_second: 0, ..attempts(2) });
    let mut tries = stingy.tries(true);
    drop(tries.pick().unwrap());
    assert_eq!(tries.retry_after(TryFailure::NotSent, far()), None, "no budget, no retry");
}

#[tokio::test]
async fn a_retry_avoids_the_endpoints_already_tried_while_others_can_serve() {
    let upstream = upstream(3, attempts(3));
    for _ in 0..10 {
        let mut tries = upstream.tries(true);
        let first = tries.pick().unwrap().address().port();
        let second = tries.pick().unwrap().address().port();
        let third = tries.pick().unwrap().address().port();
        let mut seen = [first, second, third];
        seen.sort_unstable();
        assert_eq!(seen, [1, 2, 3]);
    }
    // The only candidate is tried again.
    upstream.endpoints()[1].state().set_healthy(false);
    upstream.endpoints()[2].state().set_healthy(false);
    let mut tries = upstream.tries(true);
    assert_eq!(tries.pick().unwrap().address().port(), 1);
    assert_eq!(tries.pick().unwrap().address().port(), 1);
}
