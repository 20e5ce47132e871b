//! Passive outlier ejection: an endpoint that fails too many calls in a row
//! is taken out of the rotation for a while, longer each time, but never so
//! many endpoints that the pool runs dry because of it. An endpoint whose
//! connection cannot be opened leaves the pick at once, for a backoff
//! (src/upstream/endpoint.rs), without waiting for failures in a row.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use super::{Outcome, endpoint::Endpoint};

/// When and for how long endpoints are ejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutlierSettings {
    /// Failures in a row that eject an endpoint (at least 1).
    pub consecutive_failures: u32,
    /// The first ejection's length; the n-th lasts n × this.
    pub base_ejection: Duration,
    /// The longest ejection.
    pub max_ejection: Duration,
    /// The largest share of the pool ejected at once, in percent (0 disables ejection).
    pub max_ejected_percent: u8,
}

impl Default for OutlierSettings {
    /// 5 failures in a row; 10s, growing up to 300s; at most half the pool.
    fn default() -> Self {
        Self {
            consecutive_failures: 5,
            base_ejection: Duration::from_secs(10),
            max_ejection: Duration::from_secs(300),
            max_ejected_percent: 50,
        }
    }
}

/// The outlier detector of one pool.
#[derive(Debug)]
pub(super) struct OutlierDetector {
    settings: OutlierSettings,
    /// Taken only to eject, so that two endpoints failing at once cannot
    /// both pass the share check.
    ejecting: Mutex<()>,
}

impl OutlierDetector {
    pub(super) fn new(settings: OutlierSettings) -> Self {
        Self { settings, ejecting: Mutex::new(()) }
    }

    /// Records how a call on `endpoint` went at `now`, ejecting it when that
    /// makes too many failures in a row and the pool (`endpoints`, the
    /// current list, which a DNS refresh may have left it out of) can spare it.
    pub(super) fn record(
        &self,
        endpoints: &[Arc<Endpoint>],
        endpoint: &Arc<Endpoint>,
        outcome: Outcome,
        now: Instant,
    ) {
        let state = endpoint.state();
        match outcome {
            Outcome::Success => state.record_success(),
            Outcome::Ignored => {}
            Outcome::Failure | Outcome::ConnectFailure => {
                if outcome == Outcome::ConnectFailure
                    && let Some(backoff) = state.record_connect_failure(now)
                {
                    tracing::warn!(endpoint = %endpoint.uri(), address = %endpoint.address(), ?backoff, "endpoint unreachable: out of the pick until the backoff ends");
                }
                if state.record_failure() >= self.settings.consecutive_failures {
                    self.try_eject(endpoints, endpoint, now);
                }
            }
        }
    }

    fn try_eject(&self, endpoints: &[Arc<Endpoint>], endpoint: &Arc<Endpoint>, now: Instant) {
        let _ejecting = self.ejecting.lock().unwrap_or_else(PoisonError::into_inner);
        let ejected = endpoints.iter().filter(|e| e.state().ejected_for(now).is_some()).count();
        let cap = endpoints.len() * usize::from(self.settings.max_ejected_percent) / 100;
        let others_remain =
            endpoints.iter().any(|other| !Arc::ptr_eq(other, endpoint) && other.state().is_candidate(now));
        let state = endpoint.state();
        // Already out (a concurrent failure got here first), the share is
        // used up, or it is the last candidate: it stays; its failures keep
        // counting and the next one tries again.
        if state.ejected_for(now).is_some() || ejected >= cap || !others_remain {
            return;
        }
        let length = state.eject(now, self.settings.base_ejection, self.settings.max_ejection);
        tracing::warn!(endpoint = %endpoint.uri(), address = %endpoint.address(), ?length, "endpoint ejected after consecutive failures");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::tests::{test_endpoints, test_settings};

    fn pool(size: usize) -> Vec<Arc<Endpoint>> {
        test_endpoints(&test_settings(size))
    }

    fn fail(detector: &OutlierDetector, pool: &[Arc<Endpoint>], index: usize, times: u32, now: Instant) {
        for _ in 0..times {
            detector.record(pool, &pool[index], Outcome::Failure, now);
        }
    }

    #[tokio::test]
    async fn ejections_grow_and_are_capped() {
        let detector = OutlierDetector::new(OutlierSettings::default());
        let pool = pool(2);
        let t0 = Instant::now();
        let ejected_for = |now| pool[0].state().ejected_for(now);

        fail(&detector, &pool, 0, 4, t0);
        assert_eq!(ejected_for(t0), None, "4 failures are not enough");
        detector.record(&pool, &pool[0], Outcome::Success, t0);
        fail(&detector, &pool, 0, 4, t0);
        assert_eq!(ejected_for(t0), None, "a success starts the count again");
        detector.record(&pool, &pool[0], Outcome::ConnectFailure, t0);
        assert_eq!(ejected_for(t0), Some(Duration::from_secs(10)));
        assert!(!pool[0].state().is_candidate(t0 + Duration::from_secs(9)));

        // Back after 10s; the second ejection lasts 20s, the third 30s.
        let t1 = t0 + Duration::from_secs(10);
        assert!(pool[0].state().is_candidate(t1));
        fail(&detector, &pool, 0, 5, t1);
        assert_eq!(ejected_for(t1), Some(Duration::from_secs(20)));
        let t2 = t1 + Duration::from_secs(20);
        fail(&detector, &pool, 0, 5, t2);
        assert_eq!(ejected_for(t2), Some(Duration::from_secs(30)));

        // Never longer than max_ejection.
        let mut now = t2;
        for _ in 0..40 {
            now += ejected_for(now).unwrap_or_default();
            fail(&detector, &pool, 0, 5, now);
        }
        assert_eq!(ejected_for(now), Some(Duration::from_secs(300)));

        // In for longer than max_ejection since: forgiven, 10s again.
        now += Duration::from_secs(300 + 301);
        fail(&detector, &pool, 0, 5, now);
        assert_eq!(ejected_for(now), Some(Duration::from_secs(10)));
    }

    #[tokio::test]
    async fn never_more_than_the_share_nor_the_last_candidate() {
        let detector = OutlierDetector::new(OutlierSettings::default());
        let pool = pool(4);
        let now = Instant::now();
        for index in 0..4 {
            fail(&detector, &pool, index, 5, now);
        }
        let ejected: Vec<bool> = pool.iter().map(|e| e.state().ejected_for(now).is_some()).collect();
        assert_eq!(ejected, [true, true, false, false], "50% of 4");

        // Everyone may go at 100%, except the last candidate.
        let all = OutlierDetector::new(OutlierSettings { max_ejected_percent: 100, ..Default::default() });
        let pool = self::pool(2);
        pool[1].state().set_healthy(false);
        fail(&all, &pool, 0, 10, now);
        assert!(pool[0].state().is_candidate(now), "the only healthy endpoint stays");
        pool[1].state().set_healthy(true);
        fail(&all, &pool, 0, 1, now);
        assert!(!pool[0].state().is_candidate(now), "ejected once another can take over");
        fail(&all, &pool, 1, 5, now);
        assert!(pool[1].state().is_candidate(now), "the last candidate is never ejected");
    }
}
