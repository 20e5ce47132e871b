//! `X-Forwarded-For`, as both targets send it: what the client sent (its
//! visible-ASCII values, in order), then the client's own address, built in
//! one buffer that becomes the header value without a copy; and the names
//! of the forwarding headers, built once.

use std::{io::Write, net::IpAddr};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};

/// The header's name.
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The host the client asked for, as both targets forward it.
pub const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// The longest address written (an IPv6 address with an IPv4 tail).
const MAX_ADDRESS: usize = 45;

/// `headers`' `X-Forwarded-For` chain with `peer` appended.
pub fn chain(headers: &HeaderMap, peer: IpAddr) -> HeaderValue {
    let earlier = || headers.get_all(&X_FORWARDED_FOR).into_iter().filter(|value| value.to_str().is_ok());
    let mut chain = Vec::with_capacity(earlier().map(|value| value.len() + 2).sum::<usize>() + MAX_ADDRESS);
    for value in earlier() {
        chain.extend_from_slice(value.as_bytes());
        chain.extend_from_slice(b", ");
    }
    // Writing to a vector cannot fail.
    let _ = write!(chain, "{peer}");
    // Visible ASCII and an address: always a valid value.
    HeaderValue::from_maybe_shared(Bytes::from(chain)).unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peer_follows_what_the_client_sent() {
        let peer: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(chain(&HeaderMap::new(), peer), "2001:db8::1");
        let mut headers = HeaderMap::new();
        headers.append(X_FORWARDED_FOR, HeaderValue::from_static("10.0.0.1, 10.0.0.2"));
        headers.append(X_FORWARDED_FOR, HeaderValue::from_bytes(b"\xffbad").unwrap());
        headers.append(X_FORWARDED_FOR, HeaderValue::from_static("10.0.0.3"));
        assert_eq!(chain(&headers, "192.0.2.7".parse().unwrap()), "10.0.0.1, 10.0.0.2, 10.0.0.3, 192.0.2.7");
    }
}
