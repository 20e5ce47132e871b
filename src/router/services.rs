//! Native gRPC requests (`/<package>.<Service>/<Method>`) routed by service
//! name to the route that owns the service, limited to the methods that
//! route serves (its `grpc.methods`), so a method left out of a route is
//! out of reach for gRPC clients as it is for REST ones.

use std::{collections::HashMap, sync::Arc};

/// Routes by gRPC service full name (which is also the route's id).
pub struct ServiceTable<T> {
    services: HashMap<Arc<str>, Service<T>>,
}

struct Service<T> {
    value: T,
    /// The method names served, sorted; `None`: every method.
    methods: Option<Vec<String>>,
}

/// What a gRPC request path finds.
#[derive(Debug, PartialEq, Eq)]
pub enum ServiceLookup<'a, T> {
    /// The route that serves the method.
    Served(&'a T),
    /// A route owns the service but does not serve this method.
    MethodNotServed,
    /// No route owns the service (or the path names no method).
    UnknownService,
}

impl<T> Default for ServiceTable<T> {
    fn default() -> Self {
        Self { services: HashMap::new() }
    }
}

impl<T> ServiceTable<T> {
    /// Adds a service served for `methods` (by name; `None`: all of them);
    /// `false` if it already had a route (the first one stays).
    pub fn insert(&mut self, service: &str, methods: Option<Vec<String>>, value: T) -> bool {
        if self.services.contains_key(service) {
            return false;
        }
        let methods = methods.map(|mut names| {
            names.sort_unstable();
            names
        });
        self.services.insert(Arc::from(service), Service { value, methods });
        true
    }

    /// The route of the method a gRPC request path names.
    pub fn lookup(&self, path: &str) -> ServiceLookup<'_, T> {
        self.find(path).map_or(ServiceLookup::UnknownService, |(_, found)| found)
    }

    /// The same, with the id of the route that owns the service (its name);
    /// `None` for an unknown service.
    pub(super) fn find(&self, path: &str) -> Option<(&Arc<str>, ServiceLookup<'_, T>)> {
        let (service, method) = path.strip_prefix('/')?.split_once('/')?;
        if method.is_empty() || method.contains('/') {
            return None;
        }
        let (id, Service { value, methods }) = self.services.get_key_value(service)?;
        let served = methods
            .as_ref()
            .is_none_or(|names| names.binary_search_by(|name| name.as_str().cmp(method)).is_ok());
        Some((id, if served { ServiceLookup::Served(value) } else { ServiceLookup::MethodNotServed }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_service_of_a_method_path() {
        let mut table = ServiceTable::default();
        assert!(table.insert("demo.v1.Library", None, 1));
        assert!(!table.insert("demo.v1.Library", None, 2));
        assert_eq!(table.lookup("/demo.v1.Library/GetBook"), ServiceLookup::Served(&1));
        for path in
            ["/demo.v1.Library/", "/demo.v1.Library", "/demo.v1.Library/A/B", "demo.v1.Library/A", "/x.Y/Z"]
        {
            assert_eq!(table.lookup(path), ServiceLookup::UnknownService, "{path}");
        }
    }

    #[test]
    fn a_service_limited_to_methods_serves_only_those() {
        let mut table = ServiceTable::default();
        assert!(table.insert("demo.v1.Library", Some(vec!["ListShelves".into(), "GetShelf".into()]), 1));
        assert_eq!(table.lookup("/demo.v1.Library/GetShelf"), ServiceLookup::Served(&1));
        assert_eq!(table.lookup("/demo.v1.Library/ListShelves"), ServiceLookup::Served(&1));
        for method in ["DeleteShelf", "getshelf", "GetShelf2", "GetShel"] {
            let path = format!("/demo.v1.Library/{method}");
            assert_eq!(table.lookup(&path), ServiceLookup::MethodNotServed, "{path}");
        }
    }
}
