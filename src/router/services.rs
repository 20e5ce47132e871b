//! Native gRPC requests (`/<package>.<Service>/<Method>`) routed by service
//! name to the route that owns the service, limited to the methods that
//! route serves (its `grpc.methods`), so a method left out of a route is
//! out of reach for gRPC clients as it is for REST ones.

use std::collections::HashMap;

/// Routes by gRPC service full name.
pub struct ServiceTable<T> {
    services: HashMap<String, Service<T>>,
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
        self.services.insert(service.to_owned(), Service { value, methods });
        true
    }

    /// The route of the method a gRPC request path names.
    pub fn lookup(&self, path: &str) -> ServiceLookup<'_, T> {
        let Some((service, method)) = path.strip_prefix('/').and_then(|rest| rest.split_once('/')) else {
            return ServiceLookup::UnknownService;
        };
        if method.is_empty() || method.contains('/') {
            return ServiceLookup::UnknownService;
        }
        match self.services.get(service) {
            None => ServiceLookup::UnknownService,
            Some(Service { value, methods: None }) => ServiceLookup::Served(value),
            Some(Service { value, methods: Some(names) }) => {
                if names.binary_search_by(|name| name.as_str().cmp(method)).is_ok() {
                    ServiceLookup::Served(value)
                } else {
                    ServiceLookup::MethodNotServed
                }
            }
        }
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
