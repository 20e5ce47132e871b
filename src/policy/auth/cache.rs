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
