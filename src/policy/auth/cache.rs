//! Verified tokens, so that a hot token costs a lookup rather than a
//! signature check: bounded in entries, each kept until its `exp` (plus the
//! leeway the check allows) or a maximum TTL, whichever comes first. Keyed
//! by the token's SHA-256: the cache holds no credential.

use std::{
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use moka::{Expiry, sync::Cache};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// A token's cache key.
pub(super) type TokenDigest = [u8; 32];

/// What a verified token proved.
#[derive(Clone)]
pub(super) struct Verified {
    pub claims: Arc<Map<String, Value>>,
    /// When the entry goes, whatever the cache's own clock says.
    valid_until: SystemTime,
    ttl: Duration,
}

struct ByEntry;

impl Expiry<TokenDigest, Verified> for ByEntry {
    fn expire_after_create(&self, _: &TokenDigest, value: &Verified, _: Instant) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// The cache of one policy; `None` inside when turned off.
pub(super) struct TokenCache {
    cache: Option<Cache<TokenDigest, Verified>>,
    max_ttl: Duration,
    leeway: Duration,
}

impl TokenCache {
    pub fn new(max_entries: u64, max_ttl: Duration, leeway: Duration) -> Self {
        let cache = (max_entries > 0)
            .then(|| Cache::builder().max_capacity(max_entries).expire_after(ByEntry).build());
        Self { cache, max_ttl, leeway }
    }

    pub fn digest(token: &str) -> TokenDigest {
        Sha256::digest(token.as_bytes()).into()
    }

    /// The claims of a token verified before and still valid.
    pub fn get(&self, digest: &TokenDigest) -> Option<Arc<Map<String, Value>>> {
        let entry = self.cache.as_ref()?.get(digest)?;
        (SystemTime::now() < entry.valid_until).then_some(entry.claims)
    }

    /// Remembers a verified token's claims.
    pub fn insert(&self, digest: TokenDigest, claims: Arc<Map<String, Value>>) {
        let Some(cache) = &self.cache else { return };
        let now = SystemTime::now();
        let mut ttl = self.max_ttl;
        if let Some(exp) = claims.get("exp").and_then(Value::as_f64) {
            // The check accepts a token until exp + leeway.
            let until = exp.max(0.0) as u64 + self.leeway.as_secs();
            let left = UNIX_EPOCH
                .checked_add(Duration::from_secs(until))
                .and_then(|until| until.duration_since(now).ok())
                .unwrap_or(Duration::ZERO);
            ttl = ttl.min(left);
        }
        let Some(valid_until) = now.checked_add(ttl).filter(|_| !ttl.is_zero()) else { return };
        cache.insert(digest, Verified { claims, valid_until, ttl });
    }

    /// Forgets every token (keys were withdrawn).
    pub fn clear(&self) {
        if let Some(cache) = &self.cache {
            cache.invalidate_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claims(value: Value) -> Arc<Map<String, Value>> {
        let Value::Object(map) = value else { panic!("claims are an object") };
        Arc::new(map)
    }

    fn unix_now() -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_secs()).unwrap_or(0)
    }

    /// The time an inserted token is kept, as the entry holds it.
    fn kept_for(cache: &TokenCache, token: &str) -> Option<Duration> {
        cache.cache.as_ref()?.get(&TokenCache::digest(token)).map(|entry| entry.ttl)
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn a_token_is_kept_until_exp_plus_leeway_or_the_max_ttl() {
        let cache = TokenCache::new(10, HOUR, Duration::from_secs(30));
        cache.insert(TokenCache::digest("soon"), claims(json!({ "exp": unix_now() + 100 })));
        let kept = kept_for(&cache, "soon").expect("kept");
        assert!((Duration::from_secs(128)..=Duration::from_secs(130)).contains(&kept), "{kept:?}");

        cache.insert(TokenCache::digest("late"), claims(json!({ "exp": unix_now() + 100_000 })));
        assert_eq!(kept_for(&cache, "late"), Some(HOUR), "the max TTL bounds a far exp");
        cache.insert(TokenCache::digest("no-exp"), claims(json!({ "sub": "a" })));
        assert_eq!(kept_for(&cache, "no-exp"), Some(HOUR));
    }

    #[test]
    fn a_token_past_exp_is_kept_only_within_the_leeway() {
        let lenient = TokenCache::new(10, HOUR, Duration::from_secs(60));
        lenient.insert(TokenCache::digest("t"), claims(json!({ "exp": unix_now() - 10 })));
        let kept = kept_for(&lenient, "t").expect("within the leeway");
        assert!((Duration::from_secs(48)..=Duration::from_secs(50)).contains(&kept), "{kept:?}");

        let strict = TokenCache::new(10, HOUR, Duration::ZERO);
        strict.insert(TokenCache::digest("t"), claims(json!({ "exp": unix_now() - 10 })));
        assert!(strict.get(&TokenCache::digest("t")).is_none(), "expired: never cached");
        assert_eq!(kept_for(&strict, "t"), None);
    }

    #[test]
    fn each_token_gets_its_own_claims_until_cleared() {
        let cache = TokenCache::new(10, HOUR, Duration::ZERO);
        for sub in ["alice", "bob"] {
            cache.insert(TokenCache::digest(sub), claims(json!({ "sub": sub })));
        }
        for sub in ["alice", "bob"] {
            let found = cache.get(&TokenCache::digest(sub)).expect("cached");
            assert_eq!(found["sub"], sub);
        }
        assert!(cache.get(&TokenCache::digest("carol")).is_none());
        cache.clear();
        assert!(cache.get(&TokenCache::digest("alice")).is_none(), "cleared");
    }

    #[test]
    fn an_entry_past_its_time_is_not_answered_and_no_entries_turns_it_off() {
        let cache = TokenCache::new(10, HOUR, Duration::ZERO);
        let digest = TokenCache::digest("old");
        // An entry the cache's own clock would still keep, past its time.
        let stale = Verified {
            claims: claims(json!({})),
            valid_until: SystemTime::now() - Duration::from_secs(1),
            ttl: HOUR,
        };
        cache.cache.as_ref().expect("on").insert(digest, stale);
        assert!(cache.get(&digest).is_none());

        let off = TokenCache::new(0, HOUR, Duration::ZERO);
        off.insert(TokenCache::digest("t"), claims(json!({})));
        assert!(off.get(&TokenCache::digest("t")).is_none());
    }
}
