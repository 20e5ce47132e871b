//! The GCRA arithmetic, in whole microseconds. The local store runs it in
//! Rust; `redis.rs` carries the same steps as a Lua script, so a decision
//! means the same thing whichever store makes it.

use std::time::Duration;

use super::{Decision, Limit};

/// A limit in GCRA terms: one request per `interval`, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Gcra {
    /// Microseconds between two requests at the sustained rate (at least 1).
    pub(super) interval: u64,
    /// The most requests let through at once.
    pub(super) burst: u32,
    /// `interval × burst`: how far ahead of now the theoretical arrival
    /// time may run.
    pub(super) tolerance: u64,
}

impl Gcra {
    pub(super) fn new(limit: Limit) -> Self {
        let interval = limit.rate.interval_micros();
        let burst = limit.burst.max(1);
        Self { interval, burst, tolerance: interval.saturating_mul(u64::from(burst)) }
    }

    /// The decision at `now` for a key whose theoretical arrival time is
    /// `tat` (`None`: a key not seen, or idle long enough to be full), and
    /// the new arrival time to store when the request is let through.
    pub(super) fn decide(&self, tat: Option<u64>, now: u64) -> (Decision, Option<u64>) {
        let tat = tat.map_or(now, |tat| tat.max(now));
        let next = tat.saturating_add(self.interval);
        // How far ahead of now the bucket would run: at most the tolerance.
        let ahead = next - now;
        if ahead > self.tolerance {
            let decision = Decision {
                allowed: false,
                limit: self.burst,
                remaining: 0,
                reset: Duration::from_micros(tat - now),
                retry_after: Some(Duration::from_micros(ahead - self.tolerance)),
            };
            return (decision, None);
        }
        let remaining =
            u32::try_from((self.tolerance - ahead) / self.interval).unwrap_or(u32::MAX).min(self.burst);
        let decision = Decision {
            allowed: true,
            limit: self.burst,
            remaining,
            reset: Duration::from_micros(ahead),
            retry_after: None,
        };
        (decision, Some(next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::rate_limit::Rate;

    fn gcra(count: u32, per: Duration, burst: u32) -> Gcra {
        Gcra::new(Limit { rate: Rate::new(count, per).unwrap(), burst })
    }

    #[test]
    fn a_fresh_key_gets_the_burst_then_one_per_interval() {
        let gcra = gcra(10, Duration::from_secs(1), 3);
        let (mut tat, now) = (None, 1);
        let mut seen = Vec::new();
        for _ in 0..4 {
            let (decision, next) = gcra.decide(tat, now);
            seen.push((decision.allowed, decision.remaining));
            tat = next.or(tat);
        }
        assert_eq!(seen, [(true, 2), (true, 1), (true, 0), (false, 0)]);
        let (refused, _) = gcra.decide(tat, now);
        assert_eq!(refused.retry_after, Some(Duration::from_millis(100)));
        assert_eq!(refused.reset, Duration::from_millis(300));
        let (later, _) = gcra.decide(tat, now + 100_000);
        assert!(later.allowed);
        assert_eq!(later.remaining, 0);
    }

    #[test]
    fn an_idle_key_is_full_again() {
        let gcra = gcra(1, Duration::from_secs(1), 2);
        let (_, tat) = gcra.decide(None, 0);
        let (decision, _) = gcra.decide(tat, 10_000_000);
        assert_eq!((decision.allowed, decision.remaining), (true, 1));
    }
}
