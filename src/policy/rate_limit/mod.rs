//! Rate limits: GCRA buckets keyed by client address, header, consumer,
//! claim or route, held in this process or shared through Redis.
//!
//! This room decides whether one request may pass and says so as headers
//! (`RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`, and
//! `Retry-After` on refusal). It must not render responses (a refusal
//! becomes a 429 in `crate::error`), know which target it guards, nor wait
//! on Redis beyond its timeout.
//!
//! - The limit: `burst` requests at once, then one per `period / count`
//!   (GCRA, in whole microseconds; `gcra.rs`).
//! - Keys: see [`LimitKey`]. A request without a value for the key (no
//!   such header, no consumer) is counted in one shared bucket,
//!   [`ABSENT_KEY`]: leaving the header out does not escape the limit.
//! - Local store: at most `max_keys` keys. Idle keys (full buckets) are
//!   dropped every [`SWEEP_EVERY`] by a task the policy owns, which loses
//!   nothing. At the cap, new keys share one overflow bucket with the same
//!   limit; the keys already held keep theirs (see `local.rs`).
//! - Redis store: one round trip per decision. When Redis is down or
//!   slower than `timeout`, this process decides with `fallback` (by
//!   default the same limit) and counts those decisions
//!   ([`RateLimitPolicy::fallback_decisions`]). Meanwhile each of N
//!   gateway instances applies the fallback limit on its own, so a fleet
//!   lets through up to N times the fallback limit (each instance starting
//!   with a full burst). Set the fallback to `rate / N` to keep the total.

mod gcra;
mod key;
mod local;
mod redis;
mod settings;

use std::{
    net::IpAddr,
    sync::{Arc, Weak},
    time::Duration,
};

use http::{HeaderMap, HeaderName, HeaderValue, header::RETRY_AFTER};

pub use key::{ABSENT_KEY, KeyContext, LimitKey, MAX_INLINE_KEY, client_ip};
pub use redis::{RETRY_EVERY, check_redis_url};
pub use settings::{
    DEFAULT_MAX_KEYS, DEFAULT_REDIS_TIMEOUT, Limit, MAX_BURST, Rate, RateLimitSettings, RateLimitSetupError,
    RedisSettings, Secret, Store,
};

use self::{gcra::Gcra, local::LocalStore, redis::RedisStore};
use crate::task::TaskGuard;

/// How often idle keys are dropped.
pub const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// `RateLimit-Limit`.
pub const RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
/// `RateLimit-Remaining`.
pub const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
/// `RateLimit-Reset`.
pub const RATELIMIT_RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// Whether a request may pass, and the state of its bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether it may pass.
    pub allowed: bool,
    /// The most requests let through at once (the burst).
    pub limit: u32,
    /// The requests that may still pass at once after this one.
    pub remaining: u32,
    /// The time until the bucket is full again.
    pub reset: Duration,
    /// On refusal, the time until one request may pass.
    pub retry_after: Option<Duration>,
}

impl Decision {
    /// The headers of the response: `RateLimit-Limit`, `RateLimit-Remaining`,
    /// `RateLimit-Reset` (whole seconds, rounded up; IETF httpapi draft)
    /// and, on refusal, `Retry-After` (whole seconds, at least 1).
    pub fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::with_capacity(4);
        headers.insert(RATELIMIT_LIMIT, HeaderValue::from(self.limit));
        headers.insert(RATELIMIT_REMAINING, HeaderValue::from(self.remaining));
        headers.insert(RATELIMIT_RESET, HeaderValue::from(seconds_up(self.reset)));
        if let Some(wait) = self.retry_after {
            headers.insert(RETRY_AFTER, HeaderValue::from(seconds_up(wait).max(1)));
        }
        headers
    }
}

fn seconds_up(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

enum Backend {
    Local(Arc<LocalStore>),
    Redis(RedisStore),
}

/// A rate limit, ready to count requests. Owns its sweeping task, which
/// stops when the policy is dropped.
pub struct RateLimitPolicy {
    key: LimitKey,
    backend: Backend,
    _sweeper: TaskGuard,
}

impl std::fmt::Debug for RateLimitPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let store = match self.backend {
            Backend::Local(_) => "local",
            Backend::Redis(_) => "redis",
        };
        f.debug_struct("RateLimitPolicy").field("key", &self.key).field("store", &store).finish()
    }
}

impl RateLimitPolicy {
    /// Builds the policy; with Redis, connects once to log an unreachable
    /// server early (the policy starts either way and falls back). Needs a
    /// Tokio runtime (the sweeping task).
    pub async fn new(settings: RateLimitSettings) -> Result<Self, RateLimitSetupError> {
        let check = |limit: Limit| {
            if limit.burst == 0 || limit.burst > MAX_BURST {
                Err(RateLimitSetupError::Limit(format!(
                    "burst {} is not between 1 and {MAX_BURST}",
                    limit.burst
                )))
            } else {
                Ok(Gcra::new(limit))
            }
        };
        let gcra = check(settings.limit)?;
        let max_keys = settings.max_keys.max(1);
        let (backend, swept) = match &settings.store {
            Store::Local => {
                let store = Arc::new(LocalStore::new(gcra, max_keys));
                (Backend::Local(store.clone()), store)
            }
            Store::Redis(redis) => {
                let fallback = Arc::new(LocalStore::new(check(redis.fallback)?, max_keys));
                let store = RedisStore::new(redis, gcra, fallback.clone())?;
                store.connect().await;
                (Backend::Redis(store), fallback)
            }
        };
        Ok(Self { key: settings.key, backend, _sweeper: sweeper(Arc::downgrade(&swept)) })
    }

    /// The key of a request (see [`LimitKey`]; [`ABSENT_KEY`] when it has
    /// none). `peer` is the TCP peer's address, `route` the route's name or
    /// template.
    pub fn key_of(&self, headers: &HeaderMap, peer: IpAddr, context: KeyContext<'_>, route: &str) -> String {
        self.key.key_of(headers, peer, context, route)
    }

    /// Counts one request under `key`.
    pub async fn check(&self, key: &str) -> Decision {
        match &self.backend {
            Backend::Local(store) => store.check(key),
            Backend::Redis(store) => store.check(key).await,
        }
    }

    /// Decisions the local fallback made because Redis was down or slow
    /// (always 0 for a local store).
    pub fn fallback_decisions(&self) -> u64 {
        match &self.backend {
            Backend::Local(_) => 0,
            Backend::Redis(store) => store.fallback_decisions(),
        }
    }

    /// The keys held in this process (the fallback's, for Redis).
    pub fn keys_held(&self) -> usize {
        match &self.backend {
            Backend::Local(store) => store.keys_held(),
            Backend::Redis(store) => store.fallback().keys_held(),
        }
    }
}

/// The periodic sweep of idle keys; aborted when the guard is dropped,
/// and ended when the store is gone.
fn sweeper(store: Weak<LocalStore>) -> TaskGuard {
    TaskGuard::spawn(async move {
        let mut ticks = tokio::time::interval(SWEEP_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let Some(store) = store.upgrade() else { return };
            store.sweep();
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_up_and_retry_after_is_at_least_a_second() {
        let refused = Decision {
            allowed: false,
            limit: 10,
            remaining: 0,
            reset: Duration::from_millis(1500),
            retry_after: Some(Duration::from_millis(100)),
        };
        let headers = refused.headers();
        assert_eq!(headers[RATELIMIT_LIMIT], "10");
        assert_eq!(headers[RATELIMIT_REMAINING], "0");
        assert_eq!(headers[RATELIMIT_RESET], "2");
        assert_eq!(headers[RETRY_AFTER], "1");
        let allowed = Decision { allowed: true, remaining: 9, retry_after: None, ..refused };
        assert!(!allowed.headers().contains_key(RETRY_AFTER));
    }
}
