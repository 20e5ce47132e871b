//! The upstream as a whole, with the time injected: picks, refusals,
//! in-flight accounting, snapshots.

use std::time::Duration;

use http::Uri;

use super::*;

/// Settings for unit tests: `size` gRPC endpoints on ports nothing listens on.
pub(super) fn test_settings(size: usize) -> UpstreamSettings {
    UpstreamSettings {
        protocol: UpstreamProtocol::Grpc,
        endpoints: (0..size)
            .map(|i| Uri::from_maybe_shared(format!("http://127.0.0.1:{}", i + 1)).unwrap())
            .collect(),
        connect_timeout: Duration::from_secs(1),
        max_response_bytes: 1 << 20,
        ..Default::default()
    }
}

/// The endpoints of `settings` (IP literals only), without a pool.
pub(super) fn test_endpoints(settings: &UpstreamSettings) -> Vec<Arc<Endpoint>> {
    let address = |uri: &Uri| match endpoint::host_of(uri) {
        Some(endpoint::Host::Address(address)) => address,
        other => panic!("not an IP literal: {other:?}"),
    };
    let endpoint = |uri: &Uri| Endpoint::new(uri.clone(), address(uri), settings, None).expect("an endpoint");
    settings.endpoints.iter().map(|uri| Arc::new(endpoint(uri))).collect()
}

fn upstream(size: usize, breaker: BreakerSettings) -> Upstream {
    Upstream::new("backend", &UpstreamSettings { breaker, ..test_settings(size) }).unwrap()
}

#[tokio::test]
async fn no_candidate_is_a_refusal_naming_the_upstream() {
    let upstream = upstream(2, BreakerSettings::default());
    for endpoint in upstream.endpoints().iter() {
        endpoint.state().set_healthy(false);
    }
    let refusal = upstream.pick().unwrap_err();
    assert_eq!(refusal, Unavailable::NoHealthyEndpoint { upstream: "backend".into() });
    assert!(refusal.to_string().contains("\"backend\""), "{refusal}");
    upstream.endpoints()[1].state().set_healthy(true);
    assert_eq!(upstream.pick().unwrap().uri(), upstream.endpoints()[1].uri());
}

#[tokio::test]
async fn picks_count_in_flight_until_finished_or_dropped() {
    let upstream = upstream(1, BreakerSettings::default());
    let first = upstream.pick().unwrap();
    let second = upstream.pick().unwrap();
    assert!(first.channel().is_some());
    assert_eq!(upstream.snapshot().endpoints[0].in_flight, 2);
    first.finish(Outcome::Failure);
    drop(second);
    let snapshot = upstream.snapshot();
    assert_eq!(snapshot.endpoints[0].in_flight, 0);
    assert_eq!(snapshot.endpoints[0].consecutive_failures, 1, "a dropped pick counts for nothing");
}

#[tokio::test]
async fn failures_eject_and_open_the_breaker_which_refuses_then_recovers() {
    let breaker = BreakerSettings { minimum_calls: 10, ..BreakerSettings::default() };
    let upstream = upstream(2, breaker);
    let t0 = Instant::now();
    for _ in 0..9 {
        upstream.pick_at(t0).unwrap().finish_at(Outcome::ConnectFailure, t0);
    }
    let snapshot = upstream.snapshot_at(t0);
    assert_eq!(snapshot.breaker, BreakerState::Closed);
    // Endpoint 0 failed 5 times in a row first and is out for 10s; endpoint
    // 1 stays in (half the pool at most), its count running on.
    assert_eq!(snapshot.endpoints[0].ejected_seconds, Some(10.0));
    assert_eq!(snapshot.endpoints[1].ejected_seconds, None);
    assert_eq!(snapshot.endpoints[1].consecutive_failures, 4);

    upstream.pick_at(t0).unwrap().finish_at(Outcome::Failure, t0);
    assert_eq!(upstream.snapshot_at(t0).breaker, BreakerState::Open);
    let refusal = upstream.pick_at(t0).unwrap_err();
    assert_eq!(refusal, Unavailable::BreakerOpen { upstream: "backend".into() });

    let t1 = t0 + Duration::from_secs(5);
    for _ in 0..3 {
        let picked = upstream.pick_at(t1).unwrap();
        assert_eq!(picked.uri(), upstream.endpoints()[1].uri(), "endpoint 0 is still ejected");
        picked.finish_at(Outcome::Success, t1);
    }
    let snapshot = upstream.snapshot_at(t1);
    assert_eq!(snapshot.breaker, BreakerState::Closed);
    assert_eq!(snapshot.endpoints[1].consecutive_failures, 0);
    let json = serde_json::to_value(&snapshot).unwrap();
    assert_eq!(json["breaker"], "closed");
    assert_eq!(json["endpoints"][0]["ejected_seconds"], 5.0);
    assert_eq!(json["endpoints"][1]["uri"], "http://127.0.0.1:2/");
}

#[tokio::test]
async fn an_unreachable_endpoint_leaves_the_pick_at_once_for_a_growing_backoff() {
    let upstream = upstream(3, BreakerSettings::default());
    let t0 = Instant::now();
    let port = |picked: Picked| picked.address().port();
    let first = upstream.pick_at(t0).unwrap();
    let dead = first.address().port();
    first.finish_at(Outcome::ConnectFailure, t0);
    let state = |port: u16| upstream.endpoints()[usize::from(port) - 1].clone();
    // Round robin over three: the dead endpoint within three picks, once it is back.
    let pick = |now| {
        (0..3).map(|_| upstream.pick_at(now).unwrap()).find(|p| p.address().port() == dead).expect("picked")
    };
    assert_eq!(state(dead).state().unreachable_for(t0), Some(Duration::from_secs(1)));
    for _ in 0..6 {
        assert_ne!(port(upstream.pick_at(t0).unwrap()), dead, "out of the pick after one refusal");
    }
    // Back after 1s; refused again in a row: 2s, 4s, ... at most 30s.
    let mut now = t0 + Duration::from_secs(1);
    for expected in [2, 4, 8, 16, 30, 30] {
        assert!(state(dead).state().unreachable_for(now).is_none());
        let picked = pick(now);
        picked.finish_at(Outcome::ConnectFailure, now);
        assert_eq!(state(dead).state().unreachable_for(now), Some(Duration::from_secs(expected)));
        now += Duration::from_secs(expected);
    }
    // A success ends the backoff's growth.
    let picked = pick(now);
    picked.finish_at(Outcome::Success, now);
    let picked = pick(now);
    picked.finish_at(Outcome::ConnectFailure, now);
    assert_eq!(state(dead).state().unreachable_for(now), Some(Duration::from_secs(1)));
}

#[tokio::test]
async fn endpoints_in_their_connect_backoff_are_tried_rather_than_refusing_the_call() {
    let upstream = upstream(2, BreakerSettings::default());
    let now = Instant::now();
    for endpoint in upstream.endpoints().iter() {
        endpoint.state().record_connect_failure(now);
    }
    assert!(upstream.pick_at(now).is_ok(), "every endpoint refused once: still tried");
}
