//! [`Series`]: the handles of one metric family by label values, made the
//! first time a label set is seen and found again after (a read lock and
//! one hash of a few words; the exporter's registry is not searched again).
//! Label values come from bounded sets (route ids, upstream and policy
//! names, status and gRPC codes), never from what a client sends.

use std::{
    collections::HashMap,
    hash::Hash,
    sync::{PoisonError, RwLock},
};

/// Handles of type `V` by key `K`.
pub(super) struct Series<K, V> {
    by_key: RwLock<HashMap<K, V>>,
}

impl<K: Hash + Eq, V: Clone> Series<K, V> {
    pub(super) fn new() -> Self {
        Self { by_key: RwLock::new(HashMap::new()) }
    }

    /// The handle of `key`, made by `make` the first time.
    pub(super) fn get(&self, key: K, make: impl FnOnce(&K) -> V) -> V {
        if let Some(found) = self.by_key.read().unwrap_or_else(PoisonError::into_inner).get(&key) {
            return found.clone();
        }
        let mut by_key = self.by_key.write().unwrap_or_else(PoisonError::into_inner);
        by_key.entry(key).or_insert_with_key(|key| make(key)).clone()
    }
}
