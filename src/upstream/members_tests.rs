//! The set update: [`reconcile`] alone, then a membership fed resolutions
//! by hand (no resolver), its endpoints' state and health checks followed.

use std::{
    net::{Ipv4Addr, Ipv6Addr},
    time::Instant,
};

use arc_swap::ArcSwap;

use super::*;
use crate::upstream::{
    Balancing, BreakerSettings, HealthCheckKind, HealthCheckSettings, OutlierSettings, Pool, RetrySettings,
    balance::Balancer, breaker::Breaker, endpoint::InFlight, outlier::OutlierDetector, retry::RetryPolicy,
    tests::test_settings,
};

fn v4(last: u8) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::new(127, 0, 0, last), 1))
}

fn v6() -> SocketAddr {
    SocketAddr::from((Ipv6Addr::LOCALHOST, 1))
}

fn endpoint(address: SocketAddr) -> Arc<Endpoint> {
    let uri: Uri = "http://localhost:1".parse().expect("a valid URI");
    Arc::new(Endpoint::new(uri, address, &test_settings(0), None).expect("an endpoint"))
}

fn reconciled(current: Vec<Arc<Endpoint>>, resolved: &[SocketAddr]) -> Reconciled<Arc<Endpoint>> {
    reconcile(current, resolved, |e| e.address(), |address| Some(endpoint(address)))
}

#[tokio::test]
async fn kept_addresses_keep_their_endpoint_new_ones_get_one_and_vanished_ones_go() {
    let (a, b) = (endpoint(v4(1)), endpoint(v4(2)));
    a.state().set_healthy(false);
    let call = InFlight::start(a.clone());

    let result = reconciled(vec![a.clone(), b.clone()], &[v6(), v4(1), v4(1)]);
    let addresses: Vec<SocketAddr> = result.members.iter().map(|e| e.address()).collect();
    assert_eq!(addresses, [v4(1), v6()], "one per address, in address order");
    assert!(Arc::ptr_eq(&result.members[0], &a), "the kept address keeps its endpoint");
    assert!(!result.members[0].state().is_healthy(), "and its health verdict");
    assert_eq!(result.members[0].state().in_flight(), 1, "and its calls in flight");
    assert_eq!(result.added, [v6()]);
    assert_eq!(result.removed.len(), 1);
    assert!(Arc::ptr_eq(&result.removed[0], &b));
    drop(call);
}

#[tokio::test]
async fn the_same_addresses_in_another_order_change_nothing() {
    let current = vec![endpoint(v4(1)), endpoint(v4(2))];
    let before: Vec<*const Endpoint> = current.iter().map(Arc::as_ptr).collect();
    let result = reconciled(current, &[v4(2), v4(1)]);
    assert!(result.added.is_empty() && result.removed.is_empty());
    assert_eq!(result.members.iter().map(Arc::as_ptr).collect::<Vec<_>>(), before);
}

#[tokio::test]
async fn an_address_whose_endpoint_cannot_be_made_is_skipped() {
    let result = reconcile(
        Vec::<Arc<Endpoint>>::new(),
        &[v4(1), v4(2)],
        |e| e.address(),
        |address| (address != v4(2)).then(|| endpoint(address)),
    );
    assert_eq!(result.added, [v4(1)]);
    assert_eq!(result.members.len(), 1);
}

fn pool() -> Arc<Pool> {
    Arc::new(Pool {
        name: "named".into(),
        endpoints: ArcSwap::default(),
        balancer: Balancer::new(Balancing::RoundRobin),
        outlier: OutlierDetector::new(OutlierSettings::default()),
        breaker: Breaker::new(BreakerSettings::default()),
        failure_codes: Default::default(),
        retry: RetryPolicy::new(RetrySettings::default()),
        unreachable_log: crate::upstream::LogLimiter::new(std::time::Instant::now()),
    })
}

/// `http://127.0.0.9:1` and `http://localhost:1`, health-checked every 10ms.
fn membership(pool: &Arc<Pool>) -> Membership {
    let settings = UpstreamSettings {
        endpoints: vec![
            "http://127.0.0.9:1".parse().expect("a URI"),
            "http://localhost:1".parse().expect("a URI"),
        ],
        health_check: Some(HealthCheckSettings {
            interval: Duration::from_millis(10),
            timeout: Duration::from_millis(100),
            healthy_threshold: HealthCheckSettings::DEFAULT_THRESHOLD,
            unhealthy_threshold: HealthCheckSettings::DEFAULT_THRESHOLD,
            kind: HealthCheckKind::Grpc { service: String::new(), watch: false },
        }),
        ..test_settings(0)
    };
    Membership::new(pool.clone(), &settings, None).expect("a membership")
}

fn addresses(pool: &Pool) -> Vec<SocketAddr> {
    pool.endpoints.load().iter().map(|e| e.address()).collect()
}

const EVERY: Duration = Duration::from_secs(30);

#[tokio::test]
async fn resolutions_update_the_pool_and_stop_the_checks_of_vanished_endpoints() {
    let pool = pool();
    let mut members = membership(&pool);
    assert_eq!(members.names(), [Name { group: 1, host: "localhost".into(), port: 1 }]);
    assert_eq!(addresses(&pool), [v4(9)], "the name has no addresses yet");

    members.resolved(1, Err(ResolveError::NoAddress), EVERY);
    assert_eq!(addresses(&pool), [v4(9)]);
    members.resolved(1, Ok(vec![v6(), v4(1)]), EVERY);
    assert_eq!(addresses(&pool), [v4(9), v4(1), v6()], "config order, then address order");

    let listed = pool.endpoints.load_full();
    let (kept, vanishing) = (listed[1].clone(), listed[2].clone());
    kept.state().eject(Instant::now(), Duration::from_secs(60), Duration::from_secs(60));
    members.resolved(1, Err(ResolveError::Timeout(EVERY)), EVERY);
    assert_eq!(addresses(&pool), [v4(9), v4(1), v6()], "a failure keeps the last good set");

    members.resolved(1, Ok(vec![v4(1), v4(2)]), EVERY);
    assert_eq!(addresses(&pool), [v4(9), v4(1), v4(2)]);
    let now = pool.endpoints.load_full();
    assert!(Arc::ptr_eq(&now[1], &kept), "the kept endpoint is the same");
    assert!(now[1].state().ejected_for(Instant::now()).is_some(), "still ejected");
    assert_eq!(listed.len(), 3, "a list loaded before the change is untouched");

    // Its health task held the vanished endpoint; aborted, it lets go.
    drop(listed);
    let deadline = Instant::now() + Duration::from_secs(2);
    while Arc::strong_count(&vanishing) > 1 {
        assert!(Instant::now() < deadline, "the vanished endpoint's health check still runs");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The kept one is still checked.
    assert_eq!(Arc::strong_count(&kept), 4, "held here, by the pool's list, its member and its check");
}
