//! [`TraceContext`]: the request's W3C trace context. A valid
//! `traceparent` from the client is continued: same trace id and flags,
//! the client's span as the parent, and a span id of the gateway's own,
//! which is what backends are sent (`traceparent` and `tracestate`, as
//! headers or gRPC metadata). Without one (or with one that does not
//! parse), the gateway starts a trace of its own, sampled when an observer
//! exports spans.

use http::{HeaderMap, HeaderValue};

use super::{random, request_id::hex_into};

/// The request's trace: its ids and flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    trace_id: [u8; 16],
    parent: Option<[u8; 8]>,
    span_id: [u8; 8],
    sampled: bool,
    tracestate: Option<HeaderValue>,
}

impl TraceContext {
    /// The trace of a request with `headers`; one it starts is sampled when
    /// `sample_new` says so.
    pub(super) fn of(headers: &HeaderMap, sample_new: bool) -> Self {
        let (high, low) = random::pair();
        let span_id = high.to_be_bytes();
        let mut sent = headers.get_all("traceparent").iter();
        match (sent.next().and_then(parse), sent.next()) {
            (Some((trace_id, parent, flags)), None) => Self {
                trace_id,
                parent: Some(parent),
                span_id,
                sampled: flags & 1 == 1,
                tracestate: headers.get("tracestate").cloned(),
            },
            _ => {
                let trace_id = (u128::from(low) << 64 | u128::from(high.rotate_left(32))).to_be_bytes();
                Self { trace_id, parent: None, span_id, sampled: sample_new, tracestate: None }
            }
        }
    }

    /// The trace id.
    pub fn trace_id(&self) -> [u8; 16] {
        self.trace_id
    }

    /// The client's span, when it sent a `traceparent`.
    pub fn parent(&self) -> Option<[u8; 8]> {
        self.parent
    }

    /// The gateway's span for this request.
    pub fn span_id(&self) -> [u8; 8] {
        self.span_id
    }

    /// Whether the trace is sampled (the `sampled` flag).
    pub fn sampled(&self) -> bool {
        self.sampled
    }

    /// The `traceparent` backends are sent: the gateway's span as parent.
    pub fn traceparent(&self) -> HeaderValue {
        let mut text = *b"00-00000000000000000000000000000000-0000000000000000-00";
        hex_into(&mut text[3..35], self.trace_id);
        hex_into(&mut text[36..52], self.span_id);
        hex_into(&mut text[53..55], [u8::from(self.sampled)]);
        // Hex digits and dashes only: always a valid value.
        HeaderValue::from_bytes(&text).unwrap_or_else(|_| HeaderValue::from_static("00"))
    }

    /// The client's `tracestate`, passed on as it came.
    pub fn tracestate(&self) -> Option<&HeaderValue> {
        self.tracestate.as_ref()
    }
}

/// `version-traceid-parentid-flags`, as W3C Trace Context reads it:
/// lowercase hex, version `ff` invalid, version `00` exactly 55
/// characters (a later version may add fields after a `-`), ids not zero.
fn parse(value: &HeaderValue) -> Option<([u8; 16], [u8; 8], u8)> {
    let text = value.as_bytes();
    let version = hex::<1>(text.get(0..2)?)?[0];
    let well_sized = match version {
        0xff => false,
        0 => text.len() == 55,
        _ => text.len() == 55 || text.get(55) == Some(&b'-'),
    };
    if !well_sized || text[2] != b'-' || text[35] != b'-' || text[52] != b'-' {
        return None;
    }
    let trace_id = hex::<16>(&text[3..35]).filter(|id| id.iter().any(|b| *b != 0))?;
    let parent = hex::<8>(&text[36..52]).filter(|id| id.iter().any(|b| *b != 0))?;
    let flags = hex::<1>(&text[53..55])?[0];
    Some((trace_id, parent, flags))
}

/// `N` bytes from `2N` lowercase hex digits.
fn hex<const N: usize>(text: &[u8]) -> Option<[u8; N]> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut bytes = [0u8; N];
    for (byte, pair) in bytes.iter_mut().zip(text.chunks_exact(2)) {
        *byte = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    (text.len() == 2 * N).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(traceparent: &[&'static str]) -> TraceContext {
        let mut headers = HeaderMap::new();
        for value in traceparent {
            headers.append("traceparent", HeaderValue::from_static(value));
        }
        headers.insert("tracestate", HeaderValue::from_static("vendor=1"));
        TraceContext::of(&headers, false)
    }

    #[test]
    fn a_valid_traceparent_is_continued_with_the_gateways_span() {
        let trace = with(&["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"]);
        assert_eq!(trace.parent(), Some([0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]));
        assert!(trace.sampled());
        let sent = trace.traceparent();
        let sent = sent.to_str().unwrap();
        assert!(sent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"), "{sent}");
        assert!(sent.ends_with("-01") && !sent.contains("00f067aa0ba902b7"), "{sent}");
        assert_eq!(trace.tracestate().unwrap(), "vendor=1");
        let later = with(&["01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-extra"]);
        assert!(later.parent().is_some() && !later.sampled());
    }

    #[test]
    fn anything_else_starts_a_fresh_trace() {
        for bad in [
            vec!["00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"],
            vec!["00-00000000000000000000000000000000-00f067aa0ba902b7-01"],
            vec!["00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"],
            vec!["ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"],
            vec!["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x"],
            vec!["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"],
            vec!["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"; 2],
        ] {
            let trace = with(&bad);
            assert_eq!((trace.parent(), trace.tracestate()), (None, None), "{bad:?}");
            assert!(!trace.sampled());
            assert_ne!(trace.trace_id(), [0; 16]);
        }
    }
}
