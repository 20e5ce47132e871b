//! Where in the config a problem is: a path such as
//! `routes[2].grpc.upstream`, built a step at a time
//! (`Place::root().key("routes").index(2).key("grpc")`). Every compile
//! error carries one, so no error spells its place by hand.

use std::fmt::{self, Write};

/// A path into the config: keys joined by `.`, list entries as `[i]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Place(String);

impl Place {
    /// The top of the config, above every key.
    pub fn root() -> Self {
        Self::default()
    }

    /// The key `key` under this place: `routes[0]` → `routes[0].grpc`.
    pub fn key(&self, key: &str) -> Self {
        let mut path = self.0.clone();
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
        Self(path)
    }

    /// Entry `index` of the list at this place: `routes` → `routes[2]`.
    pub fn index(&self, index: usize) -> Self {
        let mut path = self.0.clone();
        // Writing to a String cannot fail.
        let _ = write!(path, "[{index}]");
        Self(path)
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&Place> for Place {
    fn from(place: &Place) -> Self {
        place.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_joined_by_dots_and_entries_indexed() {
        let place = Place::root().key("routes").index(2).key("grpc").key("upstream");
        assert_eq!(place.to_string(), "routes[2].grpc.upstream");
        assert_eq!(Place::root().key("listen").as_str(), "listen");
        assert_eq!(Place::root().key("descriptors").index(0).index(1).as_str(), "descriptors[0][1]");
        assert_eq!(Place::root().to_string(), "");
    }

    #[test]
    fn a_child_leaves_its_parent_as_it_was() {
        let upstream = Place::root().key("upstreams").key("library");
        let tls = upstream.key("tls");
        assert_eq!((upstream.as_str(), tls.as_str()), ("upstreams.library", "upstreams.library.tls"));
    }
}
