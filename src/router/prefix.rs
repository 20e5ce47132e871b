//! Pass-through routes: the longest matching path prefix, optionally
//! limited to a host and to methods.
//!
//! Prefixes match whole segments of the normalised path: `/api` matches
//! `/api` and `/api/users`, never `/apix`; a request segment's path
//! parameters are ignored (`/api;x/users` is under `/api`). Among the prefixes that match,
//! the one with the most segments wins; at equal length a route limited to
//! a host beats one that is not, then one limited to methods beats one that
//! is not. A lookup scans the prefix routes; they are few next to the
//! transcoded bindings, which the trie serves.

use std::{borrow::Cow, sync::Arc};

use http::Method;

use super::{
    decode::{canonical_of_raw, cmp_canonical},
    normalize::Segments,
};

/// One pass-through route's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixKey {
    /// The path prefix, as configured (`/legacy/`).
    pub prefix: String,
    /// Only requests for this host (the `Host` header, port ignored).
    pub host: Option<String>,
    /// Only these methods (empty: any).
    pub methods: Vec<Method>,
}

/// A prefix that cannot be routed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    /// Not an absolute path, or a `%` that starts no valid escape.
    #[error("prefix {0:?} must be an absolute path with valid percent-escapes")]
    Invalid(String),
    /// Another route has the same prefix, host and methods.
    #[error("prefix {0:?} is routed twice with the same host and methods")]
    Duplicate(String),
}

struct Entry<T> {
    segments: Vec<String>,
    host: Option<String>,
    methods: Vec<Method>,
    value: T,
    /// The route's id: host and prefix as configured (`static.example/`).
    id: Arc<str>,
}

/// The pass-through routes.
pub struct PrefixTable<T> {
    entries: Vec<Entry<T>>,
}

impl<T> Default for PrefixTable<T> {
    fn default() -> Self {
        Self { entries: Vec::new() }
    }
}

impl<T> PrefixTable<T> {
    /// Adds a route.
    pub fn insert(&mut self, key: PrefixKey, value: T) -> Result<(), PrefixError> {
        let invalid = || PrefixError::Invalid(key.prefix.clone());
        let mut parsed = Segments::parse(&key.prefix).ok_or_else(invalid)?;
        let segments = parsed
            .as_mut_slice()
            .iter()
            .map(|segment| canonical_of_raw(segment))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(invalid)?;
        let id = Arc::from(format!("{}{}", key.host.as_deref().unwrap_or(""), key.prefix));
        let host = key.host.map(|host| host.to_ascii_lowercase());
        let mut methods = key.methods;
        methods.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        if self.entries.iter().any(|e| e.segments == segments && e.host == host && e.methods == methods) {
            return Err(PrefixError::Duplicate(key.prefix));
        }
        self.entries.push(Entry { segments, host, methods, value, id });
        // Most specific first, so that the first match wins.
        self.entries
            .sort_by_key(|e| std::cmp::Reverse((e.segments.len(), e.host.is_some(), !e.methods.is_empty())));
        Ok(())
    }

    /// The route for a request, if any: `host` is the request's `Host`
    /// (a port after it is ignored).
    pub fn lookup(&self, host: Option<&str>, method: &Method, path: &str) -> Option<&T> {
        self.find(host, method, path).map(|(_, value)| value)
    }

    /// The same, with the route's id.
    pub(super) fn find(&self, host: Option<&str>, method: &Method, path: &str) -> Option<(&Arc<str>, &T)> {
        let mut parsed = Segments::parse(path)?;
        let segments = parsed.as_mut_slice();
        let host = host.map(|host| host.rsplit_once(':').map_or(host, |(name, _)| name));
        self.entries
            .iter()
            .find(|entry| {
                entry.segments.len() <= segments.len()
                    && entry
                        .segments
                        .iter()
                        .zip(segments.iter())
                        .all(|(prefix, segment)| segment_matches(prefix, segment))
                    && entry
                        .host
                        .as_deref()
                        .is_none_or(|want| host.is_some_and(|h| h.eq_ignore_ascii_case(want)))
                    && (entry.methods.is_empty() || entry.methods.contains(method))
            })
            .map(|entry| (&entry.id, &entry.value))
    }
}

/// Whether a request segment is the prefix's (canonical) segment. Path
/// parameters (`;x`) are not part of a segment's name: backends such as
/// Tomcat and Spring drop them, so `/admin;x/` must meet the `/admin/`
/// route's policies, not fall to a shorter prefix (unless the prefix itself
/// has parameters, which then must match as written).
fn segment_matches(prefix: &str, segment: &str) -> bool {
    if cmp_canonical(prefix, segment).is_eq() {
        return true;
    }
    match segment.split_once(';') {
        Some((name, _)) if !prefix.contains(';') => cmp_canonical(prefix, name).is_eq(),
        _ => false,
    }
}

/// The path a request is forwarded with: `//` merged, dot segments
/// resolved, percent-escapes in canonical form (unreserved characters
/// decoded, other escapes in upper case), a trailing `/` kept. `None` when
/// the path is not absolute or has an invalid `%`.
pub fn normalize_path(path: &str) -> Option<Cow<'_, str>> {
    let mut parsed = Segments::parse(path)?;
    let segments = parsed.as_mut_slice();
    let mut out = String::with_capacity(path.len());
    for segment in segments.iter() {
        out.push('/');
        out.push_str(&canonical_of_raw(segment)?);
    }
    if out.is_empty() || (path.ends_with('/') && path.len() > 1) {
        out.push('/');
    }
    Some(if out == path { Cow::Borrowed(path) } else { Cow::Owned(out) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(routes: &[(&str, Option<&str>, &[Method])]) -> PrefixTable<String> {
        let mut table = PrefixTable::default();
        for (prefix, host, methods) in routes {
            let key =
                PrefixKey { prefix: (*prefix).into(), host: host.map(Into::into), methods: methods.to_vec() };
            let value = format!("{prefix} {host:?} {methods:?}");
            table.insert(key, value).unwrap();
        }
        table
    }

    #[test]
    fn longest_whole_segment_prefix_wins() {
        let t = table(&[("/", None, &[]), ("/api", None, &[]), ("/api/v2/", None, &[])]);
        assert_eq!(t.lookup(None, &Method::GET, "/api/v2/x").unwrap(), "/api/v2/ None []");
        assert_eq!(t.lookup(None, &Method::GET, "/api/v1").unwrap(), "/api None []");
        assert_eq!(t.lookup(None, &Method::GET, "/api").unwrap(), "/api None []");
        assert_eq!(t.lookup(None, &Method::GET, "/apix").unwrap(), "/ None []");
        assert_eq!(t.lookup(None, &Method::GET, "/a%70i/v2").unwrap(), "/api/v2/ None []");
        assert_eq!(t.lookup(None, &Method::GET, "//api/../api/v2/").unwrap(), "/api/v2/ None []");
        assert_eq!(t.lookup(None, &Method::GET, "/api;x/v2;y=1/z").unwrap(), "/api/v2/ None []");
        assert_eq!(t.lookup(None, &Method::GET, "/api;/v1").unwrap(), "/api None []");
        assert_eq!(t.lookup(None, &Method::GET, "/apix;/v2").unwrap(), "/ None []");
        let params = table(&[("/", None, &[]), ("/a;v=1", None, &[])]);
        assert_eq!(params.lookup(None, &Method::GET, "/a;v=1/b").unwrap(), "/a;v=1 None []");
        assert_eq!(params.lookup(None, &Method::GET, "/a;v=2/b").unwrap(), "/ None []");
    }

    #[test]
    fn host_and_methods_narrow_a_route() {
        let t = table(&[("/a", None, &[]), ("/a", Some("Api.Example"), &[]), ("/a", None, &[Method::POST])]);
        assert_eq!(
            t.lookup(Some("api.example:8080"), &Method::GET, "/a").unwrap(),
            "/a Some(\"Api.Example\") []"
        );
        assert_eq!(t.lookup(Some("other"), &Method::POST, "/a").unwrap(), "/a None [POST]");
        assert_eq!(t.lookup(None, &Method::GET, "/a").unwrap(), "/a None []");
        let only_post = table(&[("/b", None, &[Method::POST])]);
        assert!(only_post.lookup(None, &Method::GET, "/b").is_none());
    }

    #[test]
    fn bad_and_duplicate_prefixes_are_refused() {
        let mut t = table(&[("/a", None, &[])]);
        let key = |prefix: &str| PrefixKey { prefix: prefix.into(), host: None, methods: vec![] };
        assert_eq!(t.insert(key("/a/"), String::new()), Err(PrefixError::Duplicate("/a/".into())));
        assert_eq!(t.insert(key("a"), String::new()), Err(PrefixError::Invalid("a".into())));
        assert_eq!(t.insert(key("/%zz"), String::new()), Err(PrefixError::Invalid("/%zz".into())));
    }

    #[test]
    fn paths_are_normalised_for_forwarding() {
        let cases = [
            ("/a/b", "/a/b"),
            ("/a//b/", "/a/b/"),
            ("/a/./b/../c", "/a/c"),
            ("/", "/"),
            ("//", "/"),
            ("/%7euser/%2f/caf%c3%a9", "/~user/%2F/caf%C3%A9"),
        ];
        for (raw, expected) in cases {
            assert_eq!(normalize_path(raw).as_deref(), Some(expected), "{raw}");
        }
        assert!(matches!(normalize_path("/a/b"), Some(Cow::Borrowed(_))));
        assert_eq!(normalize_path("/bad%"), None);
        assert_eq!(normalize_path("relative"), None);
    }
}
