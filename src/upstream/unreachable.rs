//! An endpoint whose connection could not be opened, told the same way by
//! every target: one message for the client naming the upstream (the
//! endpoint's address stays in the log), and one warning in the log naming
//! the upstream and the endpoint, at most once a second per upstream (with
//! the number of failures it stood for), so that an upstream that is down
//! does not flood the log at the request rate.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

/// The client's side of it: a 503 UNAVAILABLE.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("upstream {upstream:?} is unreachable")]
pub struct Unreachable {
    /// The upstream's name.
    pub upstream: String,
}

/// The least time between two warnings of one upstream.
const LOG_EVERY: Duration = Duration::from_secs(1);

/// Lets one log line through per [`LOG_EVERY`], and counts the rest.
#[derive(Debug)]
pub(super) struct LogLimiter {
    start: Instant,
    /// Microseconds after `start` before which nothing is logged.
    quiet_until: AtomicU64,
    suppressed: AtomicU64,
}

impl LogLimiter {
    pub(super) fn new(start: Instant) -> Self {
        Self { start, quiet_until: AtomicU64::new(0), suppressed: AtomicU64::new(0) }
    }

    /// `Some(n)` when a line may be logged at `now`, `n` being the lines
    /// left out since the last one; `None` to stay quiet.
    pub(super) fn allow(&self, now: Instant) -> Option<u64> {
        let micros = |duration: Duration| u64::try_from(duration.as_micros()).unwrap_or(u64::MAX);
        let at = micros(now.saturating_duration_since(self.start));
        let quiet_until = self.quiet_until.load(Ordering::Relaxed);
        let next = at.saturating_add(micros(LOG_EVERY));
        if at >= quiet_until
            && self
                .quiet_until
                .compare_exchange(quiet_until, next, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            return Some(self.suppressed.swap(0, Ordering::Relaxed));
        }
        self.suppressed.fetch_add(1, Ordering::Relaxed);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_a_second_with_the_count_of_the_rest() {
        let start = Instant::now();
        let limiter = LogLimiter::new(start);
        assert_eq!(limiter.allow(start), Some(0));
        for millis in [1, 500, 999] {
            assert_eq!(limiter.allow(start + Duration::from_millis(millis)), None, "{millis}ms");
        }
        assert_eq!(limiter.allow(start + Duration::from_millis(1000)), Some(3));
        assert_eq!(limiter.allow(start + Duration::from_millis(1500)), None);
        assert_eq!(limiter.allow(start + Duration::from_secs(10)), Some(1));
    }
}
