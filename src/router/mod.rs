//! The one routing table. Three indexes, asked in the order of the house
//! plan's dispatch rules by one function, [`decide`]: native gRPC requests
//! by service name ([`ServiceTable`]), transcoded bindings by template (the
//! segment trie, [`Router`]), pass-through routes by longest prefix
//! ([`PrefixTable`]). Every route has an id (its template, prefix or
//! service), never the request's own path.
//!
//! The trie:
//! At each segment a literal beats `*` and `*` beats `**`; the matcher
//! backtracks, so the most specific template that matches the whole path
//! wins, and the cost of a lookup depends on the path, not on the number of
//! routes. The HTTP method is part of the key: a path that matches only
//! under other methods is a [`RouteError::MethodNotAllowed`] carrying the
//! methods for `Allow`.
//!
//! The router knows paths and methods only: nothing of bodies, queries or
//! what a route does.
//!
//! Choices:
//!
//! - Literals and verbs compare in a canonical form (see `decode.rs`):
//!   `%XX` of an unreserved character is decoded, other triplets keep their
//!   encoding (hex case aside), so a request's `%2F` never acts as a `/`.
//! - The text after the last `:` of the last segment is tried first as a
//!   verb, if a template of the method has that verb, then as part of the
//!   segment; the text before the `:` must not be empty.
//! - A capture with an invalid `%` escape, or that is not UTF-8 once
//!   decoded, makes its template not match; the search then goes on to
//!   less specific templates, and ends in [`RouteError::NotFound`] if none
//!   is left.
//! - A path that does not start with `/` matches nothing.
//! - `HEAD` matches what `GET` matches, unless a template is bound to
//!   `HEAD` itself (a server answers HEAD wherever it answers GET; the
//!   gateway sends no body back), and `Allow` lists `HEAD` beside `GET`.

use std::sync::Arc;

use http::Method;

use crate::http_rule::PathTemplate;

mod decode;
mod dispatch;
mod normalize;
mod prefix;
mod services;
#[cfg(test)]
mod tests;
mod trie;

pub use dispatch::{
    AnswersPreflights, Decision, Matched, RequestHost, Tables, TakesWebSockets, decide, is_grpc,
    is_websocket_upgrade, request_host,
};
use normalize::Segments;
pub use prefix::{PrefixError, PrefixKey, PrefixTable, normalize_path};
pub use services::{ServiceLookup, ServiceTable};
use trie::Trie;

/// Collects routes; [`RouterBuilder::build`] freezes them into a [`Router`].
pub struct RouterBuilder<T> {
    table: Table<T>,
}

/// Two routes with the same method and the same template.
#[derive(Debug)]
pub struct Conflict<'a, T> {
    /// The value registered first under that key.
    pub existing: &'a T,
}

/// The frozen routing table.
pub struct Router<T> {
    table: Table<T>,
}

/// A successful lookup.
#[derive(Debug)]
pub struct RouteMatch<'a, T> {
    /// The value registered with the winning template.
    pub value: &'a T,
    /// The route's id: its method and template (`GET /v1/{name=shelves/*}`).
    pub id: &'a Arc<str>,
    /// The text each variable of the winning template captured, in the
    /// order of [`PathTemplate::variables`], percent-decoded (one segment:
    /// fully; several: all but `%2F`).
    pub captures: Vec<String>,
}

/// Why a lookup found nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// No template matches the path under any method.
    NotFound,
    /// Templates match the path only under these other methods.
    MethodNotAllowed {
        /// The methods, for the `Allow` header.
        allow: Vec<Method>,
    },
}

/// What builder and router share: a trie per method, and the routes the
/// tries' leaves point into.
struct Table<T> {
    methods: Vec<(Method, Trie)>,
    routes: Vec<Route<T>>,
}

struct Route<T> {
    template: PathTemplate,
    value: T,
    id: Arc<str>,
}

impl<T> Default for RouterBuilder<T> {
    fn default() -> Self {
        Self { table: Table { methods: Vec::new(), routes: Vec::new() } }
    }
}

impl<T> RouterBuilder<T> {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a route. A second route with the same method and the same
    /// template is refused, naming the first.
    ///
    /// "The same template" means the same segments and verb once variables
    /// are flattened: `/a/{x}` and `/a/*` match the same paths and clash,
    /// and literals clash when their canonical forms are equal.
    pub fn insert(
        &mut self,
        method: Method,
        template: &PathTemplate,
        value: T,
    ) -> Result<(), Conflict<'_, T>> {
        let Table { methods, routes } = &mut self.table;
        let at = match methods.iter().position(|(known, _)| *known == method) {
            Some(at) => at,
            None => {
                methods.push((method, Trie::default()));
                methods.len() - 1
            }
        };
        let route = routes.len();
        match methods[at].1.insert(template.segments(), template.verb(), route) {
            Ok(()) => {
                let id = Arc::from(format!("{} {template}", methods[at].0));
                routes.push(Route { template: template.clone(), value, id });
                Ok(())
            }
            Err(existing) => Err(Conflict { existing: &routes[existing].value }),
        }
    }

    /// Freezes the table.
    pub fn build(self) -> Router<T> {
        Router { table: self.table }
    }
}

impl<T> Router<T> {
    /// Finds the route for a request. `path` is the request path without
    /// its query string, as received (the router normalises it: `//`
    /// merged, `.` and `..` resolved, a trailing `/` ignored).
    pub fn lookup(&self, method: &Method, path: &str) -> Result<RouteMatch<'_, T>, RouteError> {
        let mut segments = Segments::parse(path).ok_or(RouteError::NotFound)?;
        let segments = segments.as_mut_slice();
        let methods = &self.table.methods;
        let mut tried = std::iter::once(method).chain((method == Method::HEAD).then_some(&Method::GET));
        let found = tried.find_map(|method| {
            let (_, trie) = methods.iter().find(|(known, _)| known == method)?;
            self.table.find(trie, segments)
        });
        if let Some((route, captures)) = found {
            return Ok(RouteMatch { value: &route.value, id: &route.id, captures });
        }
        let mut allow: Vec<Method> = methods
            .iter()
            .filter(|(known, trie)| known != method && self.table.find(trie, segments).is_some())
            .map(|(known, _)| known.clone())
            .collect();
        if allow.is_empty() {
            return Err(RouteError::NotFound);
        }
        if allow.contains(&Method::GET) && !allow.contains(&Method::HEAD) {
            allow.push(Method::HEAD);
        }
        allow.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        Err(RouteError::MethodNotAllowed { allow })
    }
}

impl<T> Router<T> {
    /// The best route for `path` under any method whose value `accepts`
    /// (a WebSocket upgrade takes a streaming binding whatever its verb),
    /// trying methods in the order their first route was added.
    pub fn lookup_any(&self, path: &str, accepts: impl Fn(&T) -> bool) -> Option<RouteMatch<'_, T>> {
        let mut segments = Segments::parse(path)?;
        let segments = segments.as_mut_slice();
        self.table.methods.iter().find_map(|(_, trie)| {
            let (route, captures) = self.table.find(trie, segments)?;
            accepts(&route.value).then_some(RouteMatch { value: &route.value, id: &route.id, captures })
        })
    }
}

impl<T> Table<T> {
    /// The best route of one method's trie, with its captures: first with
    /// the last segment's verb split off (if the method has that verb),
    /// then with the last segment whole.
    fn find(&self, trie: &Trie, segments: &mut [&str]) -> Option<(&Route<T>, Vec<String>)> {
        if let Some(last) = segments.last_mut() {
            let whole = *last;
            if let Some((stem, verb)) = whole.rsplit_once(':')
                && !stem.is_empty()
                && trie.has_verb(verb)
            {
                *last = stem;
                let found = self.find_as(trie, segments, Some(verb));
                if let Some(last) = segments.last_mut() {
                    *last = whole;
                }
                if found.is_some() {
                    return found;
                }
            }
        }
        self.find_as(trie, segments, None)
    }

    fn find_as(
        &self,
        trie: &Trie,
        segments: &[&str],
        verb: Option<&str>,
    ) -> Option<(&Route<T>, Vec<String>)> {
        trie.find(segments, verb, |index| {
            let route = self.routes.get(index)?;
            Some((route, decode::captures(&route.template, segments)?))
        })
    }
}
