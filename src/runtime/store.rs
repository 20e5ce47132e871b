//! The state that outlives a reload: what a runtime owns that is costly or
//! wrong to start again (an upstream's connections, endpoint health,
//! ejections, breaker and retry budget, and its health-check and DNS tasks;
//! a rate limit's buckets and Redis connection; a JWT policy's JWKS cache
//! and verified-token cache; the last descriptors an upstream's server
//! reflection gave), kept by the name and the settings of what
//! owns it.
//!
//! The compiler consults the store of the runtime being replaced: an entry
//! with the same name and equal settings is shared by the new runtime as it
//! is; anything else is built fresh. It fills the new runtime's own store
//! with what that runtime uses, so an entry the new config no longer has
//! (or changed) is dropped with the old runtime, stopping its tasks. This
//! room only keeps; it builds nothing and decides nothing about equality
//! beyond the settings' own `PartialEq`.

use std::{collections::BTreeMap, sync::Arc};

use crate::{
    policy::{
        auth::{JwtPolicy, JwtSettings},
        rate_limit::{RateLimitPolicy, RateLimitSettings},
    },
    upstream::{Upstream, UpstreamSettings},
};

/// Values of one kind, each kept with the settings it was built from.
#[derive(Debug)]
pub struct Shelf<S, T> {
    kept: BTreeMap<String, (S, T)>,
}

impl<S, T> Default for Shelf<S, T> {
    fn default() -> Self {
        Self { kept: BTreeMap::new() }
    }
}

impl<S: PartialEq, T: Clone> Shelf<S, T> {
    /// The value kept under `name`, if it was built from equal `settings`.
    pub fn get(&self, name: &str, settings: &S) -> Option<T> {
        self.kept.get(name).filter(|(kept, _)| kept == settings).map(|(_, value)| value.clone())
    }

    /// Keeps `value`, built from `settings`, under `name`.
    pub fn put(&mut self, name: &str, settings: S, value: T) {
        self.kept.insert(name.to_owned(), (settings, value));
    }

    /// Drops every entry whose name `keep` refuses.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.kept.retain(|name, _| keep(name));
    }

    /// The names kept.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.kept.keys().map(String::as_str)
    }
}

/// Everything a runtime keeps for the next one.
#[derive(Debug, Default)]
pub struct StateStore {
    /// Upstreams, by name.
    pub upstreams: Shelf<UpstreamSettings, Arc<Upstream>>,
    /// Rate-limit policies, by policy name.
    pub rate_limits: Shelf<RateLimitSettings, Arc<RateLimitPolicy>>,
    /// JWT policies, by policy name.
    pub jwt: Shelf<JwtSettings, Arc<JwtPolicy>>,
    /// The encoded descriptors each reflection source's upstream gave, by
    /// upstream name: kept when a later reflection fails.
    pub reflected: BTreeMap<String, Arc<[u8]>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_found_only_under_its_name_and_equal_settings() {
        let mut shelf: Shelf<u32, Arc<&str>> = Shelf::default();
        let value = Arc::new("kept");
        shelf.put("a", 1, value.clone());
        assert!(shelf.get("a", &1).is_some_and(|found| Arc::ptr_eq(&found, &value)));
        assert!(shelf.get("a", &2).is_none());
        assert!(shelf.get("b", &1).is_none());
        shelf.retain(|name| name != "a");
        assert_eq!(shelf.names().count(), 0);
    }
}
