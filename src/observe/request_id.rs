//! The request id: the client's `X-Request-Id` when it is a short token,
//! else a fresh random 128-bit id in hex.
//!
//! Fresh ids come from [`super::random`]: no lock, no shared atomic,
//! unique in practice (128 random-looking bits), and not meant to be secret.

use http::{HeaderMap, HeaderName, HeaderValue};

/// The header that carries it, both ways.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Lowercase hex digits.
const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes `bytes` into `text` as lowercase hex, two digits a byte.
pub(super) fn hex_into(text: &mut [u8], bytes: impl IntoIterator<Item = u8>) {
    for (pair, byte) in text.chunks_exact_mut(2).zip(bytes) {
        pair[0] = HEX[usize::from(byte >> 4)];
        pair[1] = HEX[usize::from(byte & 0xf)];
    }
}

/// The longest client id taken as it is.
const MAX_LEN: usize = 128;

/// The request's id: the client's, if acceptable, else a fresh one.
pub(super) fn of(headers: &HeaderMap) -> HeaderValue {
    match headers.get(X_REQUEST_ID) {
        Some(value) if acceptable(value.as_bytes()) => value.clone(),
        _ => fresh(),
    }
}

/// 1 to 128 characters of letters, digits and `-_.:+/=@`.
fn acceptable(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id.iter().all(|b| b.is_ascii_alphanumeric() || b"-_.:+/=@".contains(b))
}

/// 32 lowercase hex digits.
fn fresh() -> HeaderValue {
    let (high, low) = super::random::pair();
    let mut text = [0u8; 32];
    hex_into(&mut text, high.to_be_bytes().into_iter().chain(low.to_be_bytes()));
    // Hex digits only: always a valid value.
    HeaderValue::from_bytes(&text).unwrap_or_else(|_| HeaderValue::from_static("0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_token_is_kept_and_anything_else_replaced() {
        let mut headers = HeaderMap::new();
        headers.insert(X_REQUEST_ID, HeaderValue::from_static("abc-123_x.y"));
        assert_eq!(of(&headers), "abc-123_x.y");
        for bad in ["", "has space", "quote\"", &"x".repeat(129)] {
            headers.insert(X_REQUEST_ID, HeaderValue::from_str(bad).unwrap());
            let id = of(&headers);
            assert_eq!(id.len(), 32, "{bad:?}");
            assert!(id.as_bytes().iter().all(u8::is_ascii_hexdigit));
        }
        assert_ne!(of(&HeaderMap::new()), of(&HeaderMap::new()));
    }
}
