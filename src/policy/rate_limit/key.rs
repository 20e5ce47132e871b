//! What a request is counted under: the client's address (through trusted
//! proxies), a header, the client certificate, the API-key consumer, a JWT
//! claim, or the route.
//!
//! A key is `k:<value>` for a value of at most [`MAX_INLINE_KEY`] bytes of
//! UTF-8, `h:<sha256 hex>` for a longer or non-UTF-8 value (so a hostile
//! header cannot make the store hold large keys), and [`ABSENT_KEY`] when
//! the request has no value: every such request shares that one bucket, so
//! leaving the header out is no way around the limit.

use std::{fmt::Write as _, net::IpAddr};

use http::{HeaderMap, HeaderName};
use ipnet::IpNet;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The key of every request that has no value for the configured key.
pub const ABSENT_KEY: &str = "absent";
/// The longest value kept as it is in a key; longer ones are hashed.
pub const MAX_INLINE_KEY: usize = 128;

/// What a request is counted under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitKey {
    /// The client's IP address. The peer address, unless the peer is one of
    /// `trusted_proxies`: then `X-Forwarded-For` is walked from the right,
    /// skipping trusted proxies, and the first untrusted address is the
    /// client (when every address is trusted, the leftmost one; an entry
    /// that is not an address ends the walk at the last trusted one).
    ClientIp {
        /// Proxies whose `X-Forwarded-For` is believed.
        trusted_proxies: Vec<IpNet>,
    },
    /// A request header's value (the first, when repeated).
    Header(HeaderName),
    /// The verified client certificate of the connection (mTLS): its
    /// subject, or its first alternative name when the subject is empty.
    ClientCertificate,
    /// The consumer an API key authenticated.
    Consumer,
    /// A top-level claim of the verified JWT: a string as it is, a number
    /// or a boolean as its JSON text; an array or object counts as absent.
    Claim(String),
    /// The route: every request of the route shares one bucket.
    Route,
}

/// Who the request was authenticated as, when it was: filled in by the
/// authentication policies that ran before a claim-keyed limit, and by the
/// TLS session the request came over.
#[derive(Debug, Clone, Copy, Default)]
pub struct KeyContext<'a> {
    /// The identity of the verified client certificate.
    pub client_certificate: Option<&'a str>,
    /// The API-key consumer.
    pub consumer: Option<&'a str>,
    /// The verified JWT claims.
    pub claims: Option<&'a Map<String, Value>>,
}

impl LimitKey {
    /// The key of a request.
    pub fn key_of(&self, headers: &HeaderMap, peer: IpAddr, context: KeyContext<'_>, route: &str) -> String {
        match self {
            Self::ClientIp { trusted_proxies } => {
                encode(client_ip(headers, peer, trusted_proxies).to_string().as_bytes())
            }
            Self::Header(name) => headers.get(name).map_or_else(absent, |value| encode(value.as_bytes())),
            Self::ClientCertificate => {
                context.client_certificate.map_or_else(absent, |id| encode(id.as_bytes()))
            }
            Self::Consumer => context.consumer.map_or_else(absent, |consumer| encode(consumer.as_bytes())),
            Self::Claim(name) => match context.claims.and_then(|claims| claims.get(name)) {
                Some(Value::String(text)) => encode(text.as_bytes()),
                Some(value @ (Value::Number(_) | Value::Bool(_))) => encode(value.to_string().as_bytes()),
                _ => absent(),
            },
            Self::Route => encode(route.as_bytes()),
        }
    }
}

fn absent() -> String {
    ABSENT_KEY.to_owned()
}

fn encode(value: &[u8]) -> String {
    match std::str::from_utf8(value) {
        Ok(text) if text.len() <= MAX_INLINE_KEY => format!("k:{text}"),
        _ => {
            let mut key = String::with_capacity(2 + 64);
            key.push_str("h:");
            for byte in Sha256::digest(value) {
                let _ = write!(key, "{byte:02x}");
            }
            key
        }
    }
}

/// The client's address: see [`LimitKey::ClientIp`].
pub fn client_ip(headers: &HeaderMap, peer: IpAddr, trusted_proxies: &[IpNet]) -> IpAddr {
    let trusted = |address: &IpAddr| trusted_proxies.iter().any(|net| net.contains(address));
    let mut client = peer.to_canonical();
    if !trusted(&client) {
        return client;
    }
    let hops = headers.get_all("x-forwarded-for").iter().collect::<Vec<_>>();
    for value in hops.into_iter().rev() {
        let Ok(text) = value.to_str() else { return client };
        for hop in text.split(',').rev() {
            let Some(address) = parse_hop(hop) else { return client };
            client = address;
            if !trusted(&client) {
                return client;
            }
        }
    }
    client
}

/// An `X-Forwarded-For` entry: an address, possibly with a port
/// (`1.2.3.4:80`, `[::1]:80`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<std::net::SocketAddr>().map(|address| address.ip()))
        .ok()
        .map(|address| address.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in xff {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        headers
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|net| net.parse().unwrap()).collect()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let forged = headers(&["6.6.6.6"]);
        assert_eq!(client_ip(&forged, ip("10.0.0.1"), &[]), ip("10.0.0.1"));
        assert_eq!(client_ip(&forged, ip("10.0.0.1"), &nets(&["192.168.0.0/16"])), ip("10.0.0.1"));
    }

    #[test]
    fn the_walk_skips_trusted_proxies_from_the_right() {
        let trusted = nets(&["10.0.0.0/8", "192.168.1.1/32"]);
        let xff = headers(&["6.6.6.6, 1.2.3.4", "192.168.1.1, 10.1.1.1"]);
        assert_eq!(client_ip(&xff, ip("10.0.0.1"), &trusted), ip("1.2.3.4"));
        let all_trusted = headers(&["10.9.9.9, 10.1.1.1"]);
        assert_eq!(client_ip(&all_trusted, ip("10.0.0.1"), &trusted), ip("10.9.9.9"));
        let garbage = headers(&["1.2.3.4, nonsense, 10.1.1.1"]);
        assert_eq!(client_ip(&garbage, ip("10.0.0.1"), &trusted), ip("10.1.1.1"));
        let ports = headers(&["[2001:db8::1]:443, 5.6.7.8:80"]);
        assert_eq!(client_ip(&ports, ip("10.0.0.1"), &trusted), ip("5.6.7.8"));
        let mapped = headers(&["::ffff:1.2.3.4"]);
        assert_eq!(client_ip(&mapped, ip("::ffff:10.0.0.1"), &trusted), ip("1.2.3.4"));
    }

    #[test]
    fn keys_of_each_kind() {
        let mut request = HeaderMap::new();
        request.insert("x-tenant", "acme".parse().unwrap());
        let claims = serde_json::json!({"sub": "alice", "n": 7, "roles": ["a"]});
        let context = KeyContext {
            consumer: Some("partner"),
            claims: claims.as_object(),
            client_certificate: Some("CN=a"),
        };
        let peer = ip("1.2.3.4");
        let key = |kind: LimitKey| kind.key_of(&request, peer, context, "/v1/things");
        assert_eq!(key(LimitKey::ClientIp { trusted_proxies: vec![] }), "k:1.2.3.4");
        assert_eq!(key(LimitKey::Header(HeaderName::from_static("x-tenant"))), "k:acme");
        assert_eq!(key(LimitKey::Header(HeaderName::from_static("x-other"))), ABSENT_KEY);
        assert_eq!(key(LimitKey::Consumer), "k:partner");
        assert_eq!(key(LimitKey::ClientCertificate), "k:CN=a");
        assert_eq!(key(LimitKey::Claim("sub".into())), "k:alice");
        assert_eq!(key(LimitKey::Claim("n".into())), "k:7");
        assert_eq!(key(LimitKey::Claim("roles".into())), ABSENT_KEY);
        assert_eq!(key(LimitKey::Route), "k:/v1/things");
        let anonymous = LimitKey::Consumer.key_of(&request, peer, KeyContext::default(), "/");
        assert_eq!(anonymous, ABSENT_KEY);
        let cleartext = LimitKey::ClientCertificate.key_of(&request, peer, KeyContext::default(), "/");
        assert_eq!(cleartext, ABSENT_KEY);
    }

    #[test]
    fn long_values_are_hashed() {
        let long = "x".repeat(MAX_INLINE_KEY + 1);
        let key = encode(long.as_bytes());
        assert!(key.starts_with("h:") && key.len() == 66, "{key}");
        assert_eq!(encode(&[0xff]).len(), 66);
    }
}
