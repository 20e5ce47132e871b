//! HTTP headers ↔ gRPC metadata.
//!
//! Going in: `Authorization`, every `Grpc-Metadata-<key>` (prefix stripped)
//! and the headers of a configured allow-list become request metadata, and
//! `X-Forwarded-For` / `X-Forwarded-Host` say who called and which host
//! they asked for. `Grpc-Timeout` is read as the client's deadline.
//! Coming out: the reply's header metadata becomes `Grpc-Metadata-<key>`
//! headers and its trailers `Grpc-Trailer-<key>`, except two reserved keys
//! of a successful reply's header metadata (see [`take_reply_overrides`]):
//! `x-http-code` (grpc-gateway's convention) sets the HTTP status, and
//! `x-http-header-<name>` sets the response header `<name>`.

use std::{net::IpAddr, time::Duration};

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use tonic::metadata::MetadataMap;

use crate::forwarded;

const METADATA_PREFIX: &str = "grpc-metadata-";
/// The headers a call usually carries, sized for once: these, the request
/// id and trace context, and tonic's (`te`, `content-type`, `grpc-timeout`,
/// `user-agent`, the encodings).
const CALL_HEADERS: usize = 12;
const TRAILER_PREFIX: &str = "grpc-trailer-";
const GRPC_TIMEOUT: &str = "grpc-timeout";
const X_HTTP_CODE: &str = "x-http-code";
const X_HTTP_HEADER_PREFIX: &str = "x-http-header-";

/// What a backend chose for the HTTP response of a successful call,
/// through reserved reply metadata.
#[derive(Debug, Default)]
pub struct ReplyOverrides {
    /// The status (`x-http-code`), a 2xx or 3xx.
    pub status: Option<StatusCode>,
    /// The headers (`x-http-header-<name>`).
    pub headers: HeaderMap,
}

/// What HTTP/2 counts for each header besides its name and value (RFC 9113, 6.5.2).
const ENTRY_OVERHEAD: usize = 32;

/// Which request headers reach the backend as metadata, and how much of
/// them, compiled once.
#[derive(Debug, Clone)]
pub struct MetadataRules {
    allow: Vec<HeaderName>,
    max_bytes: usize,
}

/// Request metadata over `transcoding.max_metadata_bytes`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the metadata forwarded to the backend (Authorization, Grpc-Metadata-*, X-Forwarded-* and forwarded headers) \
     comes to {size} bytes, over the limit of {limit} bytes (transcoding.max_metadata_bytes)"
)]
pub struct MetadataTooLarge {
    /// Its size: names, values and 32 bytes per entry, as HTTP/2 counts.
    pub size: usize,
    /// The limit.
    pub limit: usize,
}

/// A `Grpc-Timeout` header that does not follow the gRPC spec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Grpc-Timeout {0:?}: expected 1 to 8 digits and a unit (H, M, S, m, u or n)")]
pub struct InvalidTimeout(pub String);

impl MetadataRules {
    /// Rules forwarding `allow` besides `Authorization` and `Grpc-Metadata-*`,
    /// up to `max_bytes` in all.
    pub fn new(allow: Vec<HeaderName>, max_bytes: usize) -> Self {
        Self { allow, max_bytes }
    }

    /// These rules, also forwarding `more` (the headers a route's policies
    /// set, such as verified claims).
    pub fn with_more<'a>(&self, more: impl IntoIterator<Item = &'a HeaderName>) -> Self {
        let mut allow = self.allow.clone();
        allow.extend(more.into_iter().filter(|name| !self.allow.contains(name)).cloned());
        Self { allow, max_bytes: self.max_bytes }
    }

    /// The request metadata for `headers`, from a client at `peer`; refused
    /// when it comes to more than the limit.
    pub fn request_metadata(
        &self,
        headers: &HeaderMap,
        peer: IpAddr,
        host: Option<&str>,
    ) -> Result<MetadataMap, MetadataTooLarge> {
        let mut out = HeaderMap::with_capacity(CALL_HEADERS);
        if let Some(value) = headers.get(header::AUTHORIZATION) {
            out.insert(header::AUTHORIZATION, value.clone());
        }
        for name in &self.allow {
            for value in headers.get_all(name) {
                out.append(name.clone(), value.clone());
            }
        }
        for (name, value) in headers {
            let Some(key) = name.as_str().strip_prefix(METADATA_PREFIX) else { continue };
            // Keys under grpc- are the protocol's own (grpc-timeout, grpc-status...):
            // a client must not set them through the metadata prefix.
            if key.is_empty() || key.starts_with("grpc-") {
                continue;
            }
            if let Ok(key) = HeaderName::from_bytes(key.as_bytes()) {
                out.append(key, value.clone());
            }
        }
        out.insert(forwarded::X_FORWARDED_FOR, forwarded::chain(headers, peer));
        if let Some(value) = host.and_then(|host| HeaderValue::from_str(host).ok()) {
            out.insert(forwarded::X_FORWARDED_HOST, value);
        }
        let size = out.iter().map(|(name, value)| name.as_str().len() + value.len() + ENTRY_OVERHEAD).sum();
        if size > self.max_bytes {
            return Err(MetadataTooLarge { size, limit: self.max_bytes });
        }
        Ok(MetadataMap::from_headers(out))
    }
}

/// The client's deadline from `Grpc-Timeout`, if it sent one.
pub fn client_timeout(headers: &HeaderMap) -> Result<Option<Duration>, InvalidTimeout> {
    let Some(value) = headers.get(GRPC_TIMEOUT) else { return Ok(None) };
    let invalid = || InvalidTimeout(String::from_utf8_lossy(value.as_bytes()).into_owned());
    let text = value.to_str().map_err(|_| invalid())?;
    let split = text.len().checked_sub(1).filter(|&at| (1..=8).contains(&at)).ok_or_else(invalid)?;
    let (digits, unit) = text.split_at(split);
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let amount: u64 = digits.parse().map_err(|_| invalid())?;
    let duration = match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return Err(invalid()),
    };
    Ok(Some(duration))
}

/// Takes the reserved keys out of a reply's header metadata: `x-http-code`
/// (a 2xx or 3xx status) and `x-http-header-<name>` (a response header;
/// not one the gateway or the protocol owns: `content-*`, hop-by-hop
/// headers, `grpc-*`). Values that do not qualify are dropped with a
/// warning naming the method, since the backend, not the client, is wrong.
pub fn take_reply_overrides(metadata: &mut HeaderMap, method: &str) -> ReplyOverrides {
    let mut overrides = ReplyOverrides::default();
    if let Some(code) = metadata.remove(X_HTTP_CODE) {
        let status = code.to_str().ok().and_then(|text| text.parse::<StatusCode>().ok());
        match status {
            Some(status) if status.is_success() || status.is_redirection() => overrides.status = Some(status),
            _ => {
                tracing::warn!(method, value = ?code, "reply metadata x-http-code ignored: not a 2xx or 3xx status")
            }
        }
    }
    if !metadata.keys().any(|name| name.as_str().starts_with(X_HTTP_HEADER_PREFIX)) {
        return overrides;
    }
    let mut last_name = None;
    for (name, value) in std::mem::take(metadata) {
        if let Some(name) = name {
            last_name = Some(name);
        }
        let Some(name) = &last_name else { continue };
        let Some(header) = name.as_str().strip_prefix(X_HTTP_HEADER_PREFIX) else {
            metadata.append(name.clone(), value);
            continue;
        };
        match HeaderName::from_bytes(header.as_bytes()) {
            Ok(header) if is_settable_reply_header(&header) => {
                overrides.headers.append(header, value);
            }
            _ => tracing::warn!(
                method,
                header,
                "reply metadata x-http-header-{header} ignored: the gateway owns that header"
            ),
        }
    }
    overrides
}

/// Whether a backend may set `name` on the response through
/// `x-http-header-<name>`.
fn is_settable_reply_header(name: &HeaderName) -> bool {
    let name = name.as_str();
    is_application_metadata_name(name)
        && !name.is_empty()
        && !name.starts_with("content-")
        && !name.starts_with("proxy-")
        && !matches!(name, "connection" | "keep-alive" | "upgrade" | "host")
}

/// Adds the reply's header metadata as `Grpc-Metadata-*` headers to `out`.
pub fn add_header_metadata(metadata: MetadataMap, out: &mut HeaderMap) {
    add_prefixed(metadata.into_headers(), METADATA_PREFIX, out);
}

/// Adds the reply's trailers as `Grpc-Trailer-*` headers to `out`.
pub fn add_trailer_metadata(trailers: MetadataMap, out: &mut HeaderMap) {
    add_prefixed(trailers.into_headers(), TRAILER_PREFIX, out);
}

fn add_prefixed(headers: HeaderMap, prefix: &str, out: &mut HeaderMap) {
    let mut last_name = None;
    for (name, value) in headers {
        // `HeaderMap::into_iter` names a header only on its first value.
        if let Some(name) = name {
            last_name = is_application_metadata(&name)
                .then(|| HeaderName::from_bytes(format!("{prefix}{}", name.as_str()).as_bytes()).ok())
                .flatten();
        }
        if let Some(name) = &last_name {
            out.append(name.clone(), value);
        }
    }
}

/// Whether a reply header is the application's metadata rather than the
/// protocol's own.
fn is_application_metadata(name: &HeaderName) -> bool {
    is_application_metadata_name(name.as_str())
}

fn is_application_metadata_name(name: &str) -> bool {
    !(name.starts_with("grpc-")
        || name == "content-type"
        || name == "content-length"
        || name == "date"
        || name == "server"
        || name == "te"
        || name == "trailer"
        || name == "transfer-encoding")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap()))
            .collect()
    }

    #[test]
    fn grpc_timeout_units() {
        let cases = [
            ("1H", 3_600_000),
            ("2M", 120_000),
            ("3S", 3000),
            ("250m", 250),
            ("1500u", 1),
            ("99999999n", 99),
        ];
        for (text, millis) in cases {
            let parsed = client_timeout(&headers(&[("grpc-timeout", text)])).unwrap().unwrap();
            assert_eq!(parsed.as_millis(), millis, "{text}");
        }
        assert_eq!(client_timeout(&HeaderMap::new()), Ok(None));
    }

    #[test]
    fn malformed_grpc_timeouts_are_refused() {
        for text in ["", "S", "10", "10s", "123456789S", "-1S", "1.5S", "10 S"] {
            assert!(client_timeout(&headers(&[("grpc-timeout", text)])).is_err(), "{text:?}");
        }
    }

    #[test]
    fn request_metadata_forwards_what_it_should_and_nothing_else() {
        let rules = MetadataRules::new(vec![HeaderName::from_static("x-request-id")], 8192);
        let incoming = headers(&[
            ("authorization", "Bearer t"),
            ("grpc-metadata-tenant", "acme"),
            ("grpc-metadata-grpc-timeout", "1S"),
            ("x-request-id", "r1"),
            ("cookie", "secret"),
            ("x-forwarded-for", "10.1.1.1"),
        ]);
        let metadata =
            rules.request_metadata(&incoming, "127.0.0.1".parse().unwrap(), Some("api.example")).unwrap();
        let out = metadata.into_headers();
        assert_eq!(out["authorization"], "Bearer t");
        assert_eq!(out["tenant"], "acme");
        assert_eq!(out["x-request-id"], "r1");
        assert_eq!(out["x-forwarded-for"], "10.1.1.1, 127.0.0.1");
        assert_eq!(out["x-forwarded-host"], "api.example");
        assert!(out.get("cookie").is_none());
        assert!(out.get("grpc-timeout").is_none());
    }

    #[test]
    fn request_metadata_over_the_limit_is_refused_with_its_size() {
        let peer = "127.0.0.1".parse().unwrap();
        // x-forwarded-for: 127.0.0.1 is 15 + 9 + 32 bytes; tenant: 8 bytes is 6 + 8 + 32.
        let incoming = headers(&[("grpc-metadata-tenant", "12345678")]);
        assert!(MetadataRules::new(Vec::new(), 102).request_metadata(&incoming, peer, None).is_ok());
        let refused =
            MetadataRules::new(Vec::new(), 101).request_metadata(&incoming, peer, None).unwrap_err();
        assert_eq!(refused, MetadataTooLarge { size: 102, limit: 101 });
        assert!(refused.to_string().contains("transcoding.max_metadata_bytes"), "{refused}");
    }

    #[test]
    fn reply_metadata_is_prefixed_and_protocol_headers_are_not_forwarded() {
        let mut out = HeaderMap::new();
        let reply = headers(&[
            ("x-a", "1"),
            ("x-a", "2"),
            ("grpc-status", "0"),
            ("content-type", "application/grpc"),
        ]);
        add_header_metadata(MetadataMap::from_headers(reply), &mut out);
        add_trailer_metadata(MetadataMap::from_headers(headers(&[("x-t", "3")])), &mut out);
        let values: Vec<_> = out.get_all("grpc-metadata-x-a").iter().collect();
        assert_eq!(values, ["1", "2"]);
        assert_eq!(out["grpc-trailer-x-t"], "3");
        assert_eq!(out.len(), 3);
    }
}
