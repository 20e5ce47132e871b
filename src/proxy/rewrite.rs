//! The upstream path of a prefix route: the route's prefix kept, stripped
//! or replaced; the query forwarded untouched.
//!
//! A path with `.` or `..` segments (also written `%2E`) is refused: the
//! router matched the normalised path, and an upstream resolving the raw
//! one could reach paths outside the route's prefix.

use http::uri::PathAndQuery;

use super::{ProxyError, separators::is_dot_segment};

/// What becomes of a route's prefix in the upstream path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PrefixRewrite {
    /// The path is forwarded as it came.
    #[default]
    Keep,
    /// The prefix is removed: `/legacy/` + `a/b` → `/a/b`.
    Strip,
    /// The prefix is replaced: with `/v2/`, `/legacy/a/b` → `/v2/a/b`.
    Replace(String),
}

/// The path and query to send upstream for a request to `original`.
pub(super) fn upstream_path(
    prefix: &str,
    rewrite: &PrefixRewrite,
    original: &PathAndQuery,
) -> Result<PathAndQuery, ProxyError> {
    let path = original.path();
    if path.split('/').any(is_dot_segment) {
        return Err(ProxyError::DotSegments(path.to_owned()));
    }
    let replacement = match rewrite {
        PrefixRewrite::Keep => return Ok(original.clone()),
        PrefixRewrite::Strip => "/",
        PrefixRewrite::Replace(replacement) => replacement.as_str(),
    };
    // The router matched the prefix (`/legacy/` also matches `/legacy`).
    let rest =
        path.strip_prefix(prefix).or_else(|| prefix.strip_suffix('/').filter(|p| *p == path).map(|_| ""));
    let Some(rest) = rest else {
        return Err(ProxyError::Internal(format!(
            "the path {path:?} is not under the route's prefix {prefix:?}"
        )));
    };
    let mut rewritten = String::with_capacity(replacement.len() + rest.len() + 1);
    rewritten.push_str(replacement);
    match (replacement.ends_with('/'), rest.strip_prefix('/')) {
        (true, Some(rest)) => rewritten.push_str(rest),
        (false, None) if !rest.is_empty() => {
            rewritten.push('/');
            rewritten.push_str(rest);
        }
        _ => rewritten.push_str(rest),
    }
    if !rewritten.starts_with('/') {
        rewritten.insert(0, '/');
    }
    if let Some(query) = original.query() {
        rewritten.push('?');
        rewritten.push_str(query);
    }
    PathAndQuery::try_from(rewritten)
        .map_err(|e| ProxyError::Internal(format!("the rewritten path of {path:?} is invalid: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(prefix: &str, rewrite: PrefixRewrite, path: &'static str) -> String {
        upstream_path(prefix, &rewrite, &PathAndQuery::from_static(path)).map(|p| p.to_string()).unwrap()
    }

    #[test]
    fn keep_strip_and_replace() {
        assert_eq!(rewrite("/legacy/", PrefixRewrite::Keep, "/legacy/a?x=1"), "/legacy/a?x=1");
        assert_eq!(rewrite("/legacy/", PrefixRewrite::Strip, "/legacy/a/b?x=1"), "/a/b?x=1");
        assert_eq!(rewrite("/legacy/", PrefixRewrite::Strip, "/legacy/"), "/");
        assert_eq!(rewrite("/legacy/", PrefixRewrite::Strip, "/legacy"), "/");
        assert_eq!(rewrite("/legacy", PrefixRewrite::Strip, "/legacy/a"), "/a");
        let v2 = || PrefixRewrite::Replace("/v2/".to_owned());
        assert_eq!(rewrite("/legacy/", v2(), "/legacy/a?q"), "/v2/a?q");
        assert_eq!(rewrite("/legacy", v2(), "/legacy/a"), "/v2/a");
        let bare = PrefixRewrite::Replace("/api".to_owned());
        assert_eq!(rewrite("/legacy/", bare.clone(), "/legacy/a"), "/api/a");
        assert_eq!(rewrite("/legacy/", bare, "/legacy/"), "/api");
    }

    #[test]
    fn dot_segments_are_refused() {
        for path in ["/legacy/../admin", "/legacy/%2e%2E/admin", "/legacy/./a", "/legacy/.%2e"] {
            let result = upstream_path("/legacy/", &PrefixRewrite::Strip, &PathAndQuery::from_static(path));
            assert!(matches!(result, Err(ProxyError::DotSegments(_))), "{path}");
        }
        assert_eq!(rewrite("/legacy/", PrefixRewrite::Strip, "/legacy/a..b/.c"), "/a..b/.c");
    }
}
