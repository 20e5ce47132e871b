//! The breaker's transitions, with the time injected.

use super::*;

const MS: Duration = Duration::from_millis(1);

fn settings() -> BreakerSettings {
    BreakerSettings {
        failure_ratio_ppm: 500_000,
        minimum_calls: 4,
        window: Duration::from_secs(10),
        open_duration: Duration::from_secs(5),
        half_open_calls: 2,
    }
}

fn call(breaker: &Breaker, outcome: Outcome, now: Instant) {
    let permit = breaker.admit(now).expect("admitted");
    breaker.record(permit, outcome, now);
}

#[test]
fn opens_at_the_ratio_once_there_are_enough_calls() {
    let breaker = Breaker::new(settings());
    let t0 = Instant::now();
    call(&breaker, Outcome::Failure, t0);
    call(&breaker, Outcome::ConnectFailure, t0);
    call(&breaker, Outcome::Failure, t0);
    assert_eq!(breaker.state(t0), BreakerState::Closed, "3 calls are fewer than minimum_calls");
    for _ in 0..10 {
        call(&breaker, Outcome::Ignored, t0);
    }
    assert_eq!(breaker.state(t0), BreakerState::Closed, "ignored calls count for nothing");
    for _ in 0..5 {
        call(&breaker, Outcome::Success, t0);
    }
    call(&breaker, Outcome::Failure, t0);
    assert_eq!(breaker.state(t0), BreakerState::Closed, "4 failures of 9 calls: under 50%");
    call(&breaker, Outcome::Failure, t0);
    assert_eq!(breaker.state(t0), BreakerState::Open, "5 of 10: the ratio is reached");
}

#[test]
fn open_refuses_then_probes_close_it() {
    let breaker = Breaker::new(settings());
    let t0 = Instant::now();
    for _ in 0..4 {
        call(&breaker, Outcome::Failure, t0);
    }
    assert_eq!(breaker.state(t0), BreakerState::Open);
    assert_eq!(breaker.admit(t0 + 4999 * MS), None, "open refuses");

    let t1 = t0 + Duration::from_secs(5);
    assert_eq!(breaker.state(t1), BreakerState::HalfOpen);
    let first = breaker.admit(t1).expect("probe 1");
    let second = breaker.admit(t1).expect("probe 2");
    assert_eq!(breaker.admit(t1), None, "only half_open_calls probes");
    breaker.record(first, Outcome::Success, t1);
    assert_eq!(breaker.state(t1), BreakerState::HalfOpen);
    breaker.record(second, Outcome::Success, t1);
    assert_eq!(breaker.state(t1), BreakerState::Closed);
    call(&breaker, Outcome::Failure, t1);
    assert_eq!(breaker.state(t1), BreakerState::Closed, "closed starts with an empty window");
}

#[test]
fn a_failed_probe_opens_it_again_and_ignored_probes_free_their_place() {
    let breaker = Breaker::new(settings());
    let t0 = Instant::now();
    let slow = breaker.admit(t0).expect("admitted while closed");
    for _ in 0..4 {
        call(&breaker, Outcome::Failure, t0);
    }
    let t1 = t0 + Duration::from_secs(5);
    let probe = breaker.admit(t1).expect("probe");
    let ignored = breaker.admit(t1).expect("probe");
    breaker.record(ignored, Outcome::Ignored, t1);
    breaker.record(slow, Outcome::Success, t1);
    assert_eq!(breaker.state(t1), BreakerState::HalfOpen, "a call of the closed generation decides nothing");
    let replacement = breaker.admit(t1).expect("the ignored probe's place");
    assert_eq!(breaker.admit(t1), None);
    breaker.record(probe, Outcome::Success, t1);
    breaker.record(replacement, Outcome::Failure, t1);
    assert_eq!(breaker.state(t1), BreakerState::Open);
    assert_eq!(breaker.admit(t1 + 4999 * MS), None, "open for open_duration again");
    assert!(breaker.admit(t1 + Duration::from_secs(5)).is_some());
}

#[test]
fn old_calls_slide_out_of_the_window() {
    let breaker = Breaker::new(settings());
    let t0 = Instant::now();
    for _ in 0..3 {
        call(&breaker, Outcome::Failure, t0);
    }
    // 10s later the three failures are out of the window: 1 call of 4.
    let t1 = t0 + Duration::from_secs(10);
    call(&breaker, Outcome::Failure, t1);
    assert_eq!(breaker.state(t1), BreakerState::Closed);
    // Within the window they add up.
    for _ in 0..3 {
        call(&breaker, Outcome::Failure, t1 + 9 * Duration::from_secs(1));
    }
    assert_eq!(breaker.state(t1 + Duration::from_secs(9)), BreakerState::Open);
}
