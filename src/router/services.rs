//! Native gRPC requests (`/<package>.<Service>/<Method>`) routed by service
//! name to the route that owns the service.

use std::{collections::HashMap, sync::Arc};

/// Routes by gRPC service full name (which is also the route's id).
pub struct ServiceTable<T> {
    services: HashMap<Arc<str>, T>,
}

impl<T> Default for ServiceTable<T> {
    fn default() -> Self {
        Self { services: HashMap::new() }
    }
}

impl<T> ServiceTable<T> {
    /// Adds a service; `false` if it already had a route (the first one stays).
    pub fn insert(&mut self, service: &str, value: T) -> bool {
        if self.services.contains_key(service) {
            return false;
        }
        self.services.insert(Arc::from(service), value);
        true
    }

    /// The route of the service a gRPC request path names.
    pub fn lookup(&self, path: &str) -> Option<&T> {
        self.find(path).map(|(_, value)| value)
    }

    /// The same, with the route's id (the service's name).
    pub(super) fn find(&self, path: &str) -> Option<(&Arc<str>, &T)> {
        let (service, method) = path.strip_prefix('/')?.split_once('/')?;
        if method.is_empty() || method.contains('/') {
            return None;
        }
        self.services.get_key_value(service)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_service_of_a_method_path() {
        let mut table = ServiceTable::default();
        assert!(table.insert("demo.v1.Library", 1));
        assert!(!table.insert("demo.v1.Library", 2));
        assert_eq!(table.lookup("/demo.v1.Library/GetBook"), Some(&1));
        for path in
            ["/demo.v1.Library/", "/demo.v1.Library", "/demo.v1.Library/A/B", "demo.v1.Library/A", "/x.Y/Z"]
        {
            assert_eq!(table.lookup(path), None, "{path}");
        }
    }
}
