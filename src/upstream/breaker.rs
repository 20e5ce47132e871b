//! The circuit breaker of an upstream.
//!
//! Closed: calls go through and their outcomes fill a sliding window of
//! buckets; when the window holds at least `minimum_calls` and the share of
//! failures reaches `failure_ratio`, the breaker opens. Open: every call is
//! refused at once for `open_duration`. Half-open: `half_open_calls` probes
//! go through; all succeed → closed, any fails → open again.
//!
//! Each transition starts a new generation; an outcome counts only in the
//! generation its call was admitted in, so a slow call admitted while closed
//! cannot decide a half-open verdict. The state sits behind one mutex held
//! for a few instructions, never across an await; the time is an argument.

use std::{
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

use serde::Serialize;

use super::Outcome;

/// The buckets of the sliding window.
const BUCKETS: u32 = 10;

/// When the breaker opens and how it recovers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    /// The failure ratio that opens it, in parts per million (500_000 = 50%).
    pub failure_ratio_ppm: u32,
    /// The fewest calls in the window before it may open (at least 1).
    pub minimum_calls: u32,
    /// The length of the sliding window.
    pub window: Duration,
    /// How long it stays open before probing.
    pub open_duration: Duration,
    /// Probes let through when half-open (at least 1).
    pub half_open_calls: u32,
}

impl Default for BreakerSettings {
    /// 50% over 10s with at least 20 calls; open 5s; 3 probes.
    fn default() -> Self {
        Self {
            failure_ratio_ppm: 500_000,
            minimum_calls: 20,
            window: Duration::from_secs(10),
            open_duration: Duration::from_secs(5),
            half_open_calls: 3,
        }
    }
}

/// A breaker's state, as operators see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// Calls are refused.
    Open,
    /// A few probes go through.
    HalfOpen,
}

/// A call the breaker let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Permit {
    generation: u64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    /// The bucket's index in time since the epoch.
    tick: u64,
    calls: u32,
    failures: u32,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Closed,
    Open { until: Instant },
    HalfOpen { admitted: u32, succeeded: u32 },
}

#[derive(Debug)]
struct Inner {
    state: State,
    generation: u64,
    buckets: [Bucket; BUCKETS as usize],
}

/// The breaker of one upstream.
#[derive(Debug)]
pub(super) struct Breaker {
    settings: BreakerSettings,
    epoch: Instant,
    inner: Mutex<Inner>,
}

impl Breaker {
    pub(super) fn new(settings: BreakerSettings) -> Self {
        let inner = Inner { state: State::Closed, generation: 0, buckets: Default::default() };
        Self { settings, epoch: Instant::now(), inner: Mutex::new(inner) }
    }

    /// Lets a call through at `now`, or refuses it (`None`).
    pub(super) fn admit(&self, now: Instant) -> Option<Permit> {
        let mut inner = self.lock();
        if let State::Open { until } = inner.state {
            if now < until {
                return None;
            }
            inner.transition(State::HalfOpen { admitted: 0, succeeded: 0 });
        }
        if let State::HalfOpen { admitted, .. } = &mut inner.state {
            if *admitted >= self.settings.half_open_calls {
                return None;
            }
            *admitted += 1;
        }
        Some(Permit { generation: inner.generation })
    }

    /// Records how a call it let through went, at `now`.
    pub(super) fn record(&self, permit: Permit, outcome: Outcome, now: Instant) {
        let failed = match outcome {
            Outcome::Success => false,
            Outcome::Failure | Outcome::ConnectFailure => true,
            Outcome::Ignored => {
                let mut inner = self.lock();
                if let (true, State::HalfOpen { admitted, .. }) =
                    (permit.generation == inner.generation, &mut inner.state)
                {
                    // The probe said nothing: its place goes to another.
                    *admitted = admitted.saturating_sub(1);
                }
                return;
            }
        };
        let mut guard = self.lock();
        let inner = &mut *guard;
        if permit.generation != inner.generation {
            return;
        }
        let open = State::Open { until: now + self.settings.open_duration };
        match &mut inner.state {
            State::Closed => {
                let (calls, failures) = self.count(&mut inner.buckets, failed, now);
                let ratio_reached = u64::from(failures) * 1_000_000
                    >= u64::from(self.settings.failure_ratio_ppm) * u64::from(calls);
                if failed && calls >= self.settings.minimum_calls && ratio_reached {
                    tracing::warn!(calls, failures, "circuit breaker opens");
                    inner.transition(open);
                }
            }
            State::HalfOpen { .. } if failed => inner.transition(open),
            State::HalfOpen { succeeded, .. } => {
                *succeeded += 1;
                if *succeeded >= self.settings.half_open_calls {
                    inner.transition(State::Closed);
                }
            }
            State::Open { .. } => {}
        }
    }

    /// The state at `now`.
    pub(super) fn state(&self, now: Instant) -> BreakerState {
        match self.lock().state {
            State::Closed => BreakerState::Closed,
            State::Open { until } if now < until => BreakerState::Open,
            State::Open { .. } | State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Adds a call to the window and returns the window's calls and failures.
    fn count(&self, buckets: &mut [Bucket], failed: bool, now: Instant) -> (u32, u32) {
        let width = (self.settings.window.as_nanos() / u128::from(BUCKETS)).max(1);
        let tick =
            u64::try_from(now.saturating_duration_since(self.epoch).as_nanos() / width).unwrap_or(u64::MAX);
        let slot = usize::try_from(tick % u64::from(BUCKETS)).unwrap_or(0);
        if let Some(bucket) = buckets.get_mut(slot) {
            if bucket.tick != tick {
                *bucket = Bucket { tick, ..Bucket::default() };
            }
            bucket.calls = bucket.calls.saturating_add(1);
            bucket.failures = bucket.failures.saturating_add(u32::from(failed));
        }
        let oldest = tick.saturating_sub(u64::from(BUCKETS - 1));
        buckets
            .iter()
            .filter(|b| b.tick >= oldest && b.tick <= tick)
            .fold((0u32, 0u32), |(c, f), b| (c.saturating_add(b.calls), f.saturating_add(b.failures)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    fn transition(&mut self, state: State) {
        self.state = state;
        self.generation += 1;
        self.buckets = Default::default();
    }
}

#[cfg(test)]
#[path = "breaker_tests.rs"]
mod tests;
