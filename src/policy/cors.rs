//! CORS: which browser origins may call a route, answered by the gateway.
//!
//! A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`)
//! is answered here without touching the backend: 204 with the allowed
//! methods and headers when the origin, method and headers are allowed, 403
//! naming what is not otherwise. An actual request from an allowed origin
//! gets `Access-Control-Allow-Origin` (the origin itself, with `Vary:
//! Origin`), `Access-Control-Expose-Headers` and, when configured,
//! `Access-Control-Allow-Credentials` on its response, errors included; a
//! request from any other origin is served without them (the browser then
//! hides the answer from the page).

use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue, Method, header};

/// The headers exposed to pages by default: the rate-limit headers, and
/// the gRPC status a gRPC-Web client reads from a trailers-only answer.
const EXPOSED_HEADERS: [&str; 7] = [
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
    "retry-after",
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
];

/// An allowed origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginPattern {
    /// Any origin (`*`).
    Any,
    /// Exactly this origin, e.g. `https://app.example.com`.
    Exact(String),
    /// `scheme://*.domain[:port]`: any subdomain of `domain` (not `domain` itself).
    Subdomains {
        /// `https://`.
        scheme: String,
        /// `.example.com` or `.example.com:8443`, with the leading dot.
        suffix: String,
    },
}

impl OriginPattern {
    /// Parses `*`, an exact origin, or `scheme://*.domain[:port]`.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text == "*" {
            return Ok(Self::Any);
        }
        let Some((scheme, rest)) = text.split_once("://") else {
            return Err(format!("{text:?} is not an origin (write scheme://host[:port], or *)"));
        };
        if rest.is_empty() || rest.contains('/') {
            return Err(format!("{text:?} is not an origin: no path, no trailing slash"));
        }
        match rest.strip_prefix('*') {
            Some(suffix) if suffix.starts_with('.') && suffix.len() > 1 && !suffix.contains('*') => {
                Ok(Self::Subdomains { scheme: format!("{scheme}://"), suffix: suffix.to_ascii_lowercase() })
            }
            Some(_) => Err(format!("{text:?}: a wildcard may only stand for subdomains (scheme://*.domain)")),
            None if rest.contains('*') => Err(format!("{text:?}: a wildcard may only lead the host")),
            None => Ok(Self::Exact(text.to_ascii_lowercase())),
        }
    }

    fn matches(&self, origin: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Exact(exact) => origin.eq_ignore_ascii_case(exact),
            Self::Subdomains { scheme, suffix } => {
                let origin = origin.to_ascii_lowercase();
                origin.strip_prefix(scheme.as_str()).is_some_and(|host| {
                    host.len() > suffix.len() && host.ends_with(suffix.as_str()) && !host.contains('/')
                })
            }
        }
    }
}

/// A CORS policy, compiled.
#[derive(Debug, Clone)]
pub struct CorsPolicy {
    origins: Vec<OriginPattern>,
    methods: Vec<Method>,
    allow_headers: Vec<HeaderName>,
    allow_any_header: bool,
    expose_headers: HeaderValue,
    allow_methods: HeaderValue,
    /// `allow_headers` as the preflight answers it.
    allow_headers_value: HeaderValue,
    credentials: bool,
    max_age: HeaderValue,
}

/// How a CORS policy is configured, resolved.
#[derive(Debug, Clone, Default)]
pub struct CorsSettings {
    /// Allowed origins.
    pub origins: Vec<OriginPattern>,
    /// Allowed methods.
    pub methods: Vec<Method>,
    /// Allowed request headers; empty with `allow_any_header` to allow any.
    pub allow_headers: Vec<HeaderName>,
    /// Allow whatever headers a preflight asks for.
    pub allow_any_header: bool,
    /// Response headers pages may read, besides the rate-limit and gRPC
    /// status headers.
    pub expose_headers: Vec<HeaderName>,
    /// Allow cookies and credentials.
    pub credentials: bool,
    /// How long a browser may cache a preflight answer.
    pub max_age: Duration,
}

/// A refused preflight: what was not allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("CORS preflight refused: {0}")]
pub struct PreflightRefused(pub String);

fn list(values: impl IntoIterator<Item = String>) -> HeaderValue {
    let joined = values.into_iter().collect::<Vec<_>>().join(", ");
    HeaderValue::from_str(&joined).unwrap_or_else(|_| HeaderValue::from_static(""))
}

impl CorsPolicy {
    /// Compiles a policy.
    pub fn new(settings: CorsSettings) -> Self {
        let exposed = EXPOSED_HEADERS
            .iter()
            .map(|name| (*name).to_owned())
            .chain(settings.expose_headers.iter().map(|name| name.as_str().to_owned()));
        Self {
            allow_methods: list(settings.methods.iter().map(|m| m.as_str().to_owned())),
            allow_headers_value: list(settings.allow_headers.iter().map(|h| h.as_str().to_owned())),
            expose_headers: list(exposed),
            max_age: HeaderValue::from(settings.max_age.as_secs()),
            origins: settings.origins,
            methods: settings.methods,
            allow_headers: settings.allow_headers,
            allow_any_header: settings.allow_any_header,
            credentials: settings.credentials,
        }
    }

    /// The allowed origin of a request, if it has one that is allowed.
    fn allowed_origin<'h>(&self, headers: &'h HeaderMap) -> Option<&'h HeaderValue> {
        let origin = headers.get(header::ORIGIN)?;
        let text = origin.to_str().ok()?;
        self.origins.iter().any(|pattern| pattern.matches(text)).then_some(origin)
    }

    /// The answer to a preflight: the headers of a 204, or why it is refused.
    pub fn preflight(&self, headers: &HeaderMap) -> Result<HeaderMap, PreflightRefused> {
        let Some(origin) = self.allowed_origin(headers) else {
            let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()).unwrap_or_default();
            return Err(PreflightRefused(format!("origin {origin:?} is not allowed")));
        };
        let method = headers
            .get(header::ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|v| Method::from_bytes(v.as_bytes()).ok())
            .ok_or_else(|| PreflightRefused("no valid Access-Control-Request-Method".into()))?;
        if !self.methods.contains(&method) {
            return Err(PreflightRefused(format!("method {method} is not allowed")));
        }
        let requested = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS).cloned();
        if let Some(requested) = &requested {
            let text =
                requested.to_str().map_err(|_| PreflightRefused("unreadable requested headers".into()))?;
            for name in text.split(',').map(str::trim).filter(|name| !name.is_empty()) {
                let allowed = self.allow_any_header
                    || self.allow_headers.iter().any(|h| h.as_str().eq_ignore_ascii_case(name));
                if !allowed {
                    return Err(PreflightRefused(format!("header {name:?} is not allowed")));
                }
            }
        }
        let mut answer = self.common_headers(origin);
        answer.insert(header::ACCESS_CONTROL_ALLOW_METHODS, self.allow_methods.clone());
        let allow_headers =
            if self.allow_any_header { requested } else { Some(self.allow_headers_value.clone()) };
        if let Some(allow_headers) = allow_headers {
            answer.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, allow_headers);
        }
        answer.insert(header::ACCESS_CONTROL_MAX_AGE, self.max_age.clone());
        answer.append(
            header::VARY,
            HeaderValue::from_static("Access-Control-Request-Method, Access-Control-Request-Headers"),
        );
        Ok(answer)
    }

    /// Adds the CORS headers of an actual request's response, when its
    /// origin is allowed.
    pub fn decorate(&self, request_headers: &HeaderMap, response_headers: &mut HeaderMap) {
        if let Some(origin) = self.allowed_origin(request_headers) {
            for (name, value) in self.common_headers(origin) {
                if let Some(name) = name {
                    response_headers.append(name, value);
                }
            }
            response_headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, self.expose_headers.clone());
        }
    }

    fn common_headers(&self, origin: &HeaderValue) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
        if self.credentials {
            headers.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> CorsPolicy {
        CorsPolicy::new(CorsSettings {
            origins: vec![
                OriginPattern::parse("https://app.example.com").unwrap(),
                OriginPattern::parse("https://*.example.org").unwrap(),
            ],
            methods: vec![Method::GET, Method::POST],
            allow_headers: vec![
                HeaderName::from_static("content-type"),
                HeaderName::from_static("authorization"),
            ],
            allow_any_header: false,
            expose_headers: vec![HeaderName::from_static("grpc-metadata-x-trace")],
            credentials: true,
            max_age: Duration::from_secs(600),
        })
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap()))
            .collect()
    }

    #[test]
    fn origin_patterns() {
        let any_sub = OriginPattern::parse("https://*.example.org").unwrap();
        assert!(any_sub.matches("https://a.example.org"));
        assert!(any_sub.matches("https://a.b.EXAMPLE.org"));
        assert!(!any_sub.matches("https://example.org"));
        assert!(!any_sub.matches("https://evil-example.org"));
        assert!(!any_sub.matches("http://a.example.org"));
        for bad in ["example.com", "https://a/b", "https://a.*.com", "https://*example.com", "https://"] {
            assert!(OriginPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn preflight_allows_and_refuses() {
        let policy = policy();
        let ok = policy
            .preflight(&headers(&[
                ("origin", "https://app.example.com"),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "Content-Type, authorization"),
            ]))
            .unwrap();
        assert_eq!(ok["access-control-allow-origin"], "https://app.example.com");
        assert_eq!(ok["access-control-allow-methods"], "GET, POST");
        assert_eq!(ok["access-control-allow-headers"], "content-type, authorization");
        assert_eq!(ok["access-control-allow-credentials"], "true");
        assert_eq!(ok["access-control-max-age"], "600");

        for (origin, method, request_headers, why) in [
            ("https://evil.com", "GET", "", "origin"),
            ("https://app.example.com", "DELETE", "", "method DELETE"),
            ("https://app.example.com", "GET", "x-secret", "header \"x-secret\""),
        ] {
            let mut asked = headers(&[("origin", origin), ("access-control-request-method", method)]);
            if !request_headers.is_empty() {
                asked.insert(
                    header::ACCESS_CONTROL_REQUEST_HEADERS,
                    HeaderValue::from_str(request_headers).unwrap(),
                );
            }
            let refused = policy.preflight(&asked).unwrap_err();
            assert!(refused.0.contains(why), "{refused}");
        }
    }

    #[test]
    fn actual_responses_are_decorated_only_for_allowed_origins() {
        let policy = policy();
        let mut response = HeaderMap::new();
        policy.decorate(&headers(&[("origin", "https://x.example.org")]), &mut response);
        assert_eq!(response["access-control-allow-origin"], "https://x.example.org");
        assert_eq!(
            response["access-control-expose-headers"],
            "ratelimit-limit, ratelimit-remaining, ratelimit-reset, retry-after, grpc-status, grpc-message, \
             grpc-status-details-bin, grpc-metadata-x-trace"
        );
        let mut other = HeaderMap::new();
        policy.decorate(&headers(&[("origin", "https://evil.com")]), &mut other);
        assert!(other.is_empty());
    }
}
