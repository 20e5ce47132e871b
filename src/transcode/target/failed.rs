//! What a failed call is: its gRPC status mapped to the gateway's error
//! (transport failures named as such, tonic's own size refusals blamed on
//! the backend, the status details expanded), and what it says about the
//! endpoint for the retry loop.

use http::HeaderMap;
use prost_reflect::DescriptorPool;

use super::{Failed, TranscodeError, TranscodeTarget};
use crate::{
    transcode::{
        failure::{self, StatusArrival, UpstreamFailure},
        outcome,
    },
    upstream::{Outcome, TryFailure, Upstream, never_sent},
};

/// How tonic's message starts when a reply frame is over the decoding limit
/// (OUT_OF_RANGE), and when a gzip'd one grows over it (RESOURCE_EXHAUSTED).
const TONIC_TOO_LARGE: [(tonic::Code, &str); 2] = [
    (tonic::Code::OutOfRange, "Error, decoded message length too large"),
    (tonic::Code::ResourceExhausted, "Error decompressing: size limit"),
];

impl TranscodeTarget {
    /// A failed call, with what its status says about the endpoint.
    pub(in crate::transcode) fn call_failed(
        &self,
        status: tonic::Status,
        reply_headers: Option<HeaderMap>,
    ) -> Failed {
        let outcome = outcome::of_status(&status, &self.upstream);
        let retry = TryFailure::of(outcome, never_sent(&status));
        // hyper cancels the requests of a connection that closes under them,
        // and tonic calls that CANCELLED; but no client cancelled anything:
        // the backend went away. A connection that failed otherwise (a TLS
        // alert after the handshake) is UNKNOWN to tonic: unavailable too.
        // A backend refusing with an HTTP status is named by it.
        let status = if let Some(refusal) = failure::http_refusal(&status) {
            refusal
        } else {
            match status.code() {
                // Told to the client as `Unreachable`; the causes go to the log.
                _ if outcome == Outcome::ConnectFailure => {
                    tonic::Status::unavailable(outcome::causes(&status))
                }
                tonic::Code::Cancelled if outcome::is_transport_error(&status) => tonic::Status::unavailable(
                    format!("the connection to the backend closed: {}", status.message()),
                ),
                tonic::Code::Unknown if outcome::is_transport_error(&status) => tonic::Status::unavailable(
                    format!("the connection to the backend failed: {}", outcome::causes(&status)),
                ),
                _ => status,
            }
        };
        Failed { error: self.failed(status, reply_headers), outcome, retry }
    }

    /// A failed call. `reply_headers` are the `Grpc-Metadata-*` headers of a
    /// reply whose status came in trailers after them; without them, the
    /// status came alone (a trailers-only response, or no response at all).
    pub(in crate::transcode) fn failed(
        &self,
        status: tonic::Status,
        reply_headers: Option<HeaderMap>,
    ) -> TranscodeError {
        failure_of(status, &self.upstream, &self.pool, reply_headers)
    }
}

/// A failed call's error, its details expanded against `pool`; see
/// [`TranscodeTarget::failed`].
pub(in crate::transcode) fn failure_of(
    status: tonic::Status,
    upstream: &Upstream,
    pool: &DescriptorPool,
    reply_headers: Option<HeaderMap>,
) -> TranscodeError {
    // tonic refuses an oversized frame before reading it (or while
    // inflating it), with a status of its own; it is the backend's
    // fault, not the client's.
    if TONIC_TOO_LARGE
        .iter()
        .any(|(code, start)| status.code() == *code && status.message().starts_with(start))
    {
        return TranscodeError::ReplyTooLarge {
            upstream: upstream.name().to_owned(),
            limit: upstream.max_response_bytes(),
        };
    }
    let failure = match reply_headers {
        None => UpstreamFailure::from_status(status, pool, StatusArrival::Alone),
        Some(headers) => {
            let mut failure = UpstreamFailure::from_status(status, pool, StatusArrival::InTrailers);
            failure.headers.extend(headers);
            failure
        }
    };
    TranscodeError::Upstream(Box::new(failure))
}
