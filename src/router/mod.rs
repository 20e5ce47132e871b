//! The one routing table: a segment trie over the parsed path templates of
//! every transcoded binding.
//!
//! At each segment a literal beats `*` and `*` beats `**`; the matcher
//! backtracks, so the most specific template that matches the whole path
//! wins, and the cost of a lookup depends on the path, not on the number of
//! routes. The HTTP method is part of the key: a path that matches only
//! under other methods is a [`RouteError::MethodNotAllowed`] carrying the
//! methods for `Allow`.
//!
//! The router knows paths and methods only: nothing of bodies, queries or
//! what a route does.

use http::Method;

use crate::http_rule::PathTemplate;

/// Collects routes; [`RouterBuilder::build`] freezes them into a [`Router`].
pub struct RouterBuilder<T> {
    values: Vec<T>,
}

/// Two routes with the same method and the same template.
#[derive(Debug)]
pub struct Conflict<'a, T> {
    /// The value registered first under that key.
    pub existing: &'a T,
}

/// The frozen routing table.
pub struct Router<T> {
    values: Vec<T>,
}

/// A successful lookup.
#[derive(Debug)]
pub struct RouteMatch<'a, T> {
    /// The value registered with the winning template.
    pub value: &'a T,
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

impl<T> Default for RouterBuilder<T> {
    fn default() -> Self {
        Self { values: Vec::new() }
    }
}

impl<T> RouterBuilder<T> {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a route. A second route with the same method and the same
    /// template is refused, naming the first.
    pub fn insert(
        &mut self,
        method: Method,
        template: &PathTemplate,
        value: T,
    ) -> Result<(), Conflict<'_, T>> {
        todo!("{method} {template} {}", self.values.len() + usize::from(std::mem::size_of_val(&value) > 0))
    }

    /// Freezes the table.
    pub fn build(self) -> Router<T> {
        Router { values: self.values }
    }
}

impl<T> Router<T> {
    /// Finds the route for a request. `path` is the request path without
    /// its query string, as received (the router normalises it: `//`
    /// merged, `.` and `..` resolved, a trailing `/` ignored).
    pub fn lookup(&self, method: &Method, path: &str) -> Result<RouteMatch<'_, T>, RouteError> {
        todo!("{method} {path} {}", self.values.len())
    }
}
