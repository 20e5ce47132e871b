//! Header hygiene of a reverse proxy: hop-by-hop headers removed in both
//! directions, `Expect` answered here and not passed on, `X-Forwarded-*`
//! and `Via` on the way in, and the route's own set/remove rules.
//!
//! Hop-by-hop headers (RFC 9110 §7.6.1) describe one connection, not the
//! message: `Connection` and every header it names, `Keep-Alive`, `TE`,
//! `Trailer`, `Transfer-Encoding`, `Upgrade`, `Proxy-Connection`,
//! `Proxy-Authenticate`, `Proxy-Authorization`. Two survive on purpose:
//! `TE: trailers` (gRPC needs it end to end) and, on an upgrade, `Upgrade`
//! with `Connection: upgrade`.

use std::net::IpAddr;

use http::{HeaderMap, HeaderName, HeaderValue, header};

use crate::forwarded::{self, X_FORWARDED_FOR, X_FORWARDED_HOST};

/// Headers that are never forwarded.
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
];

/// Whether `name` is a hop-by-hop header: the connection's own, never
/// forwarded, and never set by configuration.
pub fn is_hop_by_hop(name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(name)
}

const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// Headers a route sets or removes. Removal runs first, so a header can be
/// replaced by removing and setting it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderRules {
    /// Set, replacing any value already there.
    pub set: Vec<(HeaderName, HeaderValue)>,
    /// Removed.
    pub remove: Vec<HeaderName>,
    /// Every header whose name starts with one of these (lowercase, e.g.
    /// `x-internal-`) is removed.
    pub remove_prefixes: Vec<String>,
}

impl HeaderRules {
    /// Applies the rules to `headers`.
    pub(super) fn apply(&self, headers: &mut HeaderMap) {
        for name in &self.remove {
            headers.remove(name);
        }
        if !self.remove_prefixes.is_empty() {
            let doomed: Vec<HeaderName> = headers
                .keys()
                .filter(|name| {
                    self.remove_prefixes.iter().any(|prefix| name.as_str().starts_with(prefix.as_str()))
                })
                .cloned()
                .collect();
            for name in doomed {
                headers.remove(name);
            }
        }
        for (name, value) in &self.set {
            headers.insert(name.clone(), value.clone());
        }
    }
}

/// The `Upgrade` header of an HTTP/1.1 upgrade request (`Connection:
/// upgrade` with an `Upgrade` header), if this is one.
pub(super) fn upgrade_of(version: http::Version, headers: &HeaderMap) -> Option<HeaderValue> {
    let asked = version == http::Version::HTTP_11
        && connection_tokens(headers).any(|t| t.eq_ignore_ascii_case("upgrade"));
    asked.then(|| headers.get(header::UPGRADE).cloned()).flatten()
}

/// Removes the hop-by-hop headers; keeps `TE: trailers`, and restores the
/// upgrade headers when `upgrade` is the protocol asked for.
pub(super) fn remove_hop_by_hop(headers: &mut HeaderMap, upgrade: Option<HeaderValue>) {
    let named: Vec<HeaderName> = connection_tokens(headers)
        .filter_map(|token| HeaderName::from_bytes(token.as_bytes()).ok())
        .collect();
    let trailers = headers
        .get_all(header::TE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("trailers")));
    for name in named.iter().chain(&HOP_BY_HOP) {
        headers.remove(name);
    }
    if trailers {
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
    }
    if let Some(protocol) = upgrade {
        headers.insert(header::UPGRADE, protocol);
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    }
}

/// Removes `Expect`. The gateway answers `Expect: 100-continue` itself
/// (hyper sends `100 Continue` when the body is first read) and its client
/// sends the body at once, so the expectation is not passed on: a backend
/// that honours it by answering before reading the body, then closing,
/// would break the exchange. Envoy does the same by default.
pub(super) fn remove_expectation(headers: &mut HeaderMap) {
    headers.remove(header::EXPECT);
}

/// The comma-separated tokens of every `Connection` header.
fn connection_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// What the proxy says about the request it forwards.
pub(super) struct Forwarded<'a> {
    /// The client's address.
    pub peer: IpAddr,
    /// The host the client asked for (`Host`, or the HTTP/2 authority).
    pub host: Option<&'a HeaderValue>,
    /// Whether the client's connection was TLS (`X-Forwarded-Proto: https`).
    pub https: bool,
    /// The `Via` entry, e.g. `1.1 protogate`.
    pub via: HeaderValue,
}

/// Appends the peer to `X-Forwarded-For` and `Via`, and sets
/// `X-Forwarded-Proto` (`https` for a client on a TLS listener, else
/// `http`) and `X-Forwarded-Host`, replacing what the client sent.
pub(super) fn add_forwarded(headers: &mut HeaderMap, forwarded: Forwarded<'_>) {
    headers.insert(X_FORWARDED_FOR, forwarded::chain(headers, forwarded.peer));
    let proto = if forwarded.https { "https" } else { "http" };
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(proto));
    match forwarded.host {
        Some(host) => headers.insert(X_FORWARDED_HOST, host.clone()),
        None => headers.remove(X_FORWARDED_HOST),
    };
    headers.append(header::VIA, forwarded.via);
}

/// The `Via` entry for a message received with `version`.
pub(super) fn via(version: http::Version) -> HeaderValue {
    HeaderValue::from_static(match version {
        http::Version::HTTP_09 => "0.9 protogate",
        http::Version::HTTP_10 => "1.0 protogate",
        http::Version::HTTP_2 => "2 protogate",
        http::Version::HTTP_3 => "3 protogate",
        _ => "1.1 protogate",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn hop_by_hop_headers_and_those_connection_names_go() {
        let mut headers = map(&[
            ("connection", "keep-alive, X-Secret"),
            ("x-secret", "1"),
            ("keep-alive", "timeout=5"),
            ("te", "gzip"),
            ("proxy-authorization", "Basic x"),
            ("proxy-connection", "keep-alive"),
            ("upgrade", "websocket"),
            ("accept", "*/*"),
        ]);
        remove_hop_by_hop(&mut headers, None);
        assert_eq!(headers.keys().map(HeaderName::as_str).collect::<Vec<_>>(), ["accept"]);
    }

    #[test]
    fn te_trailers_and_upgrades_survive() {
        let mut headers =
            map(&[("te", "trailers, deflate;q=0.5"), ("connection", "Upgrade"), ("upgrade", "websocket")]);
        let upgrade = upgrade_of(http::Version::HTTP_11, &headers);
        assert_eq!(upgrade, Some(HeaderValue::from_static("websocket")));
        assert_eq!(upgrade_of(http::Version::HTTP_2, &headers), None);
        remove_hop_by_hop(&mut headers, upgrade);
        assert_eq!(headers["te"], "trailers");
        assert_eq!(headers["connection"], "upgrade");
        assert_eq!(headers["upgrade"], "websocket");
    }

    #[test]
    fn forwarded_headers_append_the_peer_and_replace_the_rest() {
        let mut headers =
            map(&[("x-forwarded-for", "10.0.0.1"), ("x-forwarded-proto", "https"), ("via", "1.0 edge")]);
        let host = HeaderValue::from_static("api.example.com");
        let forwarded = Forwarded {
            peer: [127, 0, 0, 1].into(),
            host: Some(&host),
            https: false,
            via: via(http::Version::HTTP_11),
        };
        add_forwarded(&mut headers, forwarded);
        assert_eq!(headers["x-forwarded-for"], "10.0.0.1, 127.0.0.1");
        assert_eq!(headers["x-forwarded-proto"], "http");
        let mut over_tls = HeaderMap::new();
        let forwarded = Forwarded {
            peer: [127, 0, 0, 1].into(),
            host: None,
            https: true,
            via: via(http::Version::HTTP_2),
        };
        add_forwarded(&mut over_tls, forwarded);
        assert_eq!(over_tls["x-forwarded-proto"], "https");
        assert_eq!(headers["x-forwarded-host"], "api.example.com");
        let via: Vec<_> = headers.get_all("via").iter().collect();
        assert_eq!(via, ["1.0 edge", "1.1 protogate"]);
    }

    #[test]
    fn rules_remove_then_set() {
        let mut headers =
            map(&[("x-internal-trace", "1"), ("x-internal-user", "2"), ("server", "x"), ("a", "1")]);
        let rules = HeaderRules {
            set: vec![(HeaderName::from_static("a"), HeaderValue::from_static("2"))],
            remove: vec![header::SERVER],
            remove_prefixes: vec!["x-internal-".to_owned()],
        };
        rules.apply(&mut headers);
        assert_eq!(headers.len(), 1);
        assert_eq!(headers["a"], "2");
    }
}
