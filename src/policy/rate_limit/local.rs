//! The in-process store: one GCRA arrival time per key, in a sharded map
//! with a hard cap on the keys held.
//!
//! A key whose arrival time has passed is full again, exactly as a key
//! never seen; dropping it loses nothing. So idle keys are swept without
//! changing any decision: by the policy's periodic task, and by a shard that
//! meets the cap (at most once per [`CAP_SWEEP_EVERY`]). When the cap still
//! holds, a new key is counted in one shared overflow bucket with the same
//! limit, while the keys already held keep their own: a flood of new keys
//! (spoofed headers, many addresses) cannot push out the buckets of known
//! clients and reset their limits, and gets one key's budget together.

use std::{
    collections::HashMap,
    hash::{BuildHasher, RandomState},
    sync::{
        Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use super::{Decision, gcra::Gcra};

const SHARDS: usize = 16;
/// The shortest time between two sweeps of a shard that meets the cap.
pub(super) const CAP_SWEEP_EVERY: Duration = Duration::from_millis(100);

#[derive(Default)]
struct Shard {
    tats: HashMap<Box<str>, u64>,
    last_sweep: u64,
}

/// The in-process buckets of one limit.
pub(super) struct LocalStore {
    gcra: Gcra,
    max_keys: usize,
    held: AtomicUsize,
    shards: Box<[Mutex<Shard>]>,
    overflow: Mutex<Option<u64>>,
    at_cap: AtomicBool,
    hasher: RandomState,
    start: Instant,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The state is plain numbers, consistent after any panic.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl LocalStore {
    pub(super) fn new(gcra: Gcra, max_keys: usize) -> Self {
        Self {
            gcra,
            max_keys: max_keys.max(1),
            held: AtomicUsize::new(0),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            overflow: Mutex::new(None),
            at_cap: AtomicBool::new(false),
            hasher: RandomState::new(),
            start: Instant::now(),
        }
    }

    fn now(&self) -> u64 {
        // Starts at 1 so that 0 never reads as "swept at start".
        u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX).saturating_add(1)
    }

    /// Counts one request under `key`.
    pub(super) fn check(&self, key: &str) -> Decision {
        let now = self.now();
        let index = usize::try_from(self.hasher.hash_one(key) % SHARDS as u64).unwrap_or(0);
        let mut shard = lock(&self.shards[index]);
        if let Some(tat) = shard.tats.get_mut(key) {
            let (decision, next) = self.gcra.decide(Some(*tat), now);
            if let Some(next) = next {
                *tat = next;
            }
            return decision;
        }
        if !self.reserve() {
            if now.saturating_sub(shard.last_sweep) >= CAP_SWEEP_EVERY.as_micros() as u64 {
                self.sweep_shard(&mut shard, now);
            }
            if !self.reserve() {
                drop(shard);
                return self.check_overflow(now);
            }
        }
        let (decision, next) = self.gcra.decide(None, now);
        match next {
            Some(next) => {
                shard.tats.insert(key.into(), next);
            }
            None => {
                self.held.fetch_sub(1, Ordering::AcqRel);
            }
        }
        decision
    }

    /// Takes a place for a new key, if one is free.
    fn reserve(&self) -> bool {
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                (held < self.max_keys).then_some(held + 1)
            })
            .is_ok()
    }

    fn check_overflow(&self, now: u64) -> Decision {
        if !self.at_cap.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                max_keys = self.max_keys,
                "rate limit holds its most keys: new keys share one overflow bucket until idle keys are swept"
            );
        }
        let mut tat = lock(&self.overflow);
        let (decision, next) = self.gcra.decide(*tat, now);
        if next.is_some() {
            *tat = next;
        }
        decision
    }

    fn sweep_shard(&self, shard: &mut Shard, now: u64) {
        let before = shard.tats.len();
        shard.tats.retain(|_, tat| *tat > now);
        shard.last_sweep = now;
        self.held.fetch_sub(before - shard.tats.len(), Ordering::AcqRel);
    }

    /// Drops every idle key (one whose bucket is full again).
    pub(super) fn sweep(&self) {
        for shard in self.shards.iter() {
            let now = self.now();
            self.sweep_shard(&mut lock(shard), now);
        }
        if self.held.load(Ordering::Acquire) < self.max_keys && self.at_cap.swap(false, Ordering::Relaxed) {
            tracing::info!(max_keys = self.max_keys, "rate limit is below its most keys again");
        }
    }

    /// The keys held now.
    pub(super) fn keys_held(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::rate_limit::{Limit, Rate};

    fn store(count: u32, per: Duration, burst: u32, max_keys: usize) -> LocalStore {
        LocalStore::new(Gcra::new(Limit { rate: Rate::new(count, per).unwrap(), burst }), max_keys)
    }

    #[test]
    fn new_keys_beyond_the_cap_share_the_overflow_bucket() {
        let store = store(1, Duration::from_secs(3600), 2, 3);
        for key in ["a", "b", "c"] {
            assert!(store.check(key).allowed);
        }
        assert_eq!(store.keys_held(), 3);
        // Two new keys share one bucket of burst 2; a third is refused.
        assert!(store.check("d").allowed);
        assert!(store.check("e").allowed);
        assert!(!store.check("f").allowed);
        assert_eq!(store.keys_held(), 3);
        // Keys already held keep their own bucket.
        assert!(store.check("a").allowed);
        assert!(!store.check("a").allowed);
    }

    #[test]
    fn idle_keys_are_swept_without_changing_decisions() {
        let store = store(1000, Duration::from_secs(1), 1, 10);
        assert!(store.check("a").allowed);
        assert!(!store.check("a").allowed);
        std::thread::sleep(Duration::from_millis(5));
        store.sweep();
        assert_eq!(store.keys_held(), 0);
        assert!(store.check("a").allowed);
    }
}
