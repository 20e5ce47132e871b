//! The outcome of a forwarded call, reported to the upstream when the
//! response body ends: a streamed body can still fail after a good head.
//!
//! Success unless the head said 5xx, the body broke (a reset), or a gRPC
//! status in the trailers (or a trailers-only head) is one of the failure
//! codes. A body dropped before its end means the client went away:
//! [`Outcome::Ignored`], which is what dropping a [`Picked`] reports.

use std::{
    pin::Pin,
    task::{Context, Poll, ready},
};

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;

use crate::{
    body::{BoxError, ResponseBody},
    upstream::{Outcome, Picked},
};

/// gRPC codes that count against an endpoint: UNKNOWN, DEADLINE_EXCEEDED,
/// INTERNAL, UNAVAILABLE (the upstream room may make this configurable).
const GRPC_FAILURES: [&str; 4] = ["2", "4", "13", "14"];

/// The outcome a response head promises, before its body is read.
pub(super) fn head_outcome(status: StatusCode, headers: &HeaderMap) -> Outcome {
    if status.is_server_error() || grpc_failed(headers) { Outcome::Failure } else { Outcome::Success }
}

/// Whether `headers` carry a failing `grpc-status`.
fn grpc_failed(headers: &HeaderMap) -> bool {
    headers
        .get("grpc-status")
        .is_some_and(|code| GRPC_FAILURES.iter().any(|f| code.as_bytes() == f.as_bytes()))
}

/// `body`, reporting the call's outcome to `picked` when it ends.
pub(super) fn reporting(body: ResponseBody, picked: Picked, outcome: Outcome) -> ResponseBody {
    if body.is_end_stream() {
        // Nobody will poll an empty body: report now.
        picked.finish(outcome);
        return body;
    }
    Reporting { inner: body, picked: Some(picked), outcome }.boxed_unsync()
}

struct Reporting {
    inner: ResponseBody,
    picked: Option<Picked>,
    outcome: Outcome,
}

impl Reporting {
    fn finish(&mut self, outcome: Outcome) {
        if let Some(picked) = self.picked.take() {
            picked.finish(outcome);
        }
    }
}

impl Body for Reporting {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        match &frame {
            Some(Ok(frame)) => {
                if frame.trailers_ref().is_some_and(grpc_failed) {
                    self.outcome = Outcome::Failure;
                }
                if self.inner.is_end_stream() {
                    let outcome = self.outcome;
                    self.finish(outcome);
                }
            }
            Some(Err(_)) => self.finish(Outcome::Failure),
            None => {
                let outcome = self.outcome;
                self.finish(outcome);
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_hundreds_and_grpc_failure_codes_fail() {
        let mut headers = HeaderMap::new();
        assert_eq!(head_outcome(StatusCode::OK, &headers), Outcome::Success);
        assert_eq!(head_outcome(StatusCode::NOT_FOUND, &headers), Outcome::Success);
        assert_eq!(head_outcome(StatusCode::BAD_GATEWAY, &headers), Outcome::Failure);
        headers.insert("grpc-status", http::HeaderValue::from_static("5"));
        assert_eq!(head_outcome(StatusCode::OK, &headers), Outcome::Success);
        headers.insert("grpc-status", http::HeaderValue::from_static("14"));
        assert_eq!(head_outcome(StatusCode::OK, &headers), Outcome::Failure);
    }
}
