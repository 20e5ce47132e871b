//! The threshold state machine: check results in, a healthy/unhealthy
//! verdict out. Pure: no clock, no I/O.

use std::num::NonZeroU32;

/// The verdict on one endpoint and the streak of results that disagree with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Verdict {
    healthy: bool,
    /// Consecutive results against the current verdict.
    streak: u32,
    healthy_threshold: NonZeroU32,
    unhealthy_threshold: NonZeroU32,
}

impl Verdict {
    /// A verdict that starts at `healthy`.
    pub(super) fn new(healthy: bool, healthy_threshold: NonZeroU32, unhealthy_threshold: NonZeroU32) -> Self {
        Self { healthy, streak: 0, healthy_threshold, unhealthy_threshold }
    }

    /// Records one polled check; the new verdict when it changes.
    ///
    /// A result that agrees with the verdict clears the streak; one that
    /// disagrees extends it, and the verdict flips when the streak reaches
    /// the threshold of the other side.
    pub(super) fn record(&mut self, passed: bool) -> Option<bool> {
        if passed == self.healthy {
            self.streak = 0;
            return None;
        }
        self.streak = self.streak.saturating_add(1);
        let needed = if passed { self.healthy_threshold } else { self.unhealthy_threshold };
        (self.streak >= needed.get()).then(|| self.set(passed))
    }

    /// Sets the verdict at once (a `Health/Watch` message is the server's own
    /// word, not a sample); the new verdict when it changes.
    pub(super) fn force(&mut self, healthy: bool) -> Option<bool> {
        self.streak = 0;
        (healthy != self.healthy).then(|| self.set(healthy))
    }

    fn set(&mut self, healthy: bool) -> bool {
        self.healthy = healthy;
        self.streak = 0;
        healthy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(healthy: bool, to_healthy: u32, to_unhealthy: u32) -> Verdict {
        let threshold = |n| NonZeroU32::new(n).expect("a test threshold is not zero");
        Verdict::new(healthy, threshold(to_healthy), threshold(to_unhealthy))
    }

    /// Feeds `results` and returns the changes reported after each.
    fn feed(verdict: &mut Verdict, results: &[bool]) -> Vec<Option<bool>> {
        results.iter().map(|&passed| verdict.record(passed)).collect()
    }

    #[test]
    fn a_healthy_endpoint_turns_unhealthy_after_the_unhealthy_threshold() {
        let mut v = verdict(true, 2, 3);
        assert_eq!(feed(&mut v, &[false, false, false]), [None, None, Some(false)]);
        assert_eq!(feed(&mut v, &[false]), [None], "a failure while unhealthy changes nothing");
    }

    #[test]
    fn a_pass_breaks_a_streak_of_failures() {
        let mut v = verdict(true, 2, 2);
        assert_eq!(feed(&mut v, &[false, true, false, true, false]), [None; 5]);
        assert_eq!(feed(&mut v, &[false]), [Some(false)]);
    }

    #[test]
    fn an_unhealthy_endpoint_turns_healthy_after_the_healthy_threshold() {
        let mut v = verdict(false, 2, 1);
        assert_eq!(feed(&mut v, &[true, false, true, true]), [None, None, None, Some(true)]);
        assert_eq!(feed(&mut v, &[false]), [Some(false)], "threshold 1 flips at the first failure");
    }

    #[test]
    fn thresholds_of_one_follow_every_result() {
        let mut v = verdict(true, 1, 1);
        assert_eq!(
            feed(&mut v, &[true, false, false, true, true]),
            [None, Some(false), None, Some(true), None]
        );
    }

    #[test]
    fn force_sets_the_verdict_at_once_and_clears_the_streak() {
        let mut v = verdict(true, 3, 3);
        assert_eq!(feed(&mut v, &[false, false]), [None, None]);
        assert_eq!(v.force(true), None, "already healthy");
        assert_eq!(feed(&mut v, &[false, false]), [None, None], "the streak started over");
        assert_eq!(v.force(false), Some(false));
        assert_eq!(v.force(false), None);
        assert_eq!(v.force(true), Some(true));
    }
}
