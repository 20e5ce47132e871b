//! The outcome of a forwarded call, reported to the upstream when the
//! response body ends: a streamed body can still fail after a good head.
//!
//! Success unless the head said 5xx, the body broke (a reset), or a gRPC
//! status in the trailers (or a trailers-only head) is one of the upstream's failure
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
use tonic::Code;

use crate::{
    body::{BoxError, ResponseBody},
    upstream::{FailureCodes, Outcome, Picked},
};

/// The outcome a response head promises, before its body is read; `failures`
/// are the upstream's failure codes.
pub(super) fn head_outcome(status: StatusCode, headers: &HeaderMap, failures: FailureCodes) -> Outcome {
    if status.is_server_error() || grpc_failed(headers, failures) {
        Outcome::Failure
    } else {
        Outcome::Success
    }
}

/// Whether `headers` carry a `grpc-status` among `failures`.
fn grpc_failed(headers: &HeaderMap, failures: FailureCodes) -> bool {
    grpc_status(headers).is_some_and(|code| failures.contains(code))
}

/// The `grpc-status` that `headers` carry, if any.
pub(super) fn grpc_status(headers: &HeaderMap) -> Option<Code> {
    let code = headers.get("grpc-status")?.to_str().ok()?.parse::<i32>().ok()?;
    Some(Code::from(code))
}

/// `body`, reporting the call's outcome to `picked` when it ends.
pub(super) fn reporting(
    body: ResponseBody,
    picked: Picked,
    outcome: Outcome,
    failures: FailureCodes,
) -> ResponseBody {
    if body.is_end_stream() {
        // Nobody will poll an empty body: report now.
        picked.finish(outcome);
        return body;
    }
    Reporting { inner: body, picked: Some(picked), outcome, failures }.boxed_unsync()
}

struct Reporting {
    inner: ResponseBody,
    picked: Option<Picked>,
    outcome: Outcome,
    failures: FailureCodes,
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
                if let Some(code) = frame.trailers_ref().and_then(grpc_status) {
                    if self.failures.contains(code) {
                        self.outcome = Outcome::Failure;
                    }
                    if let Some(picked) = self.picked.as_mut() {
                        picked.ended_with(code);
                    }
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
        assert_eq!(head_outcome(StatusCode::OK, &headers, FailureCodes::default()), Outcome::Success);
        assert_eq!(head_outcome(StatusCode::NOT_FOUND, &headers, FailureCodes::default()), Outcome::Success);
        assert_eq!(
            head_outcome(StatusCode::BAD_GATEWAY, &headers, FailureCodes::default()),
            Outcome::Failure
        );
        headers.insert("grpc-status", http::HeaderValue::from_static("5"));
        assert_eq!(head_outcome(StatusCode::OK, &headers, FailureCodes::default()), Outcome::Success);
        headers.insert("grpc-status", http::HeaderValue::from_static("14"));
        assert_eq!(head_outcome(StatusCode::OK, &headers, FailureCodes::default()), Outcome::Failure);
        let not_found_fails = FailureCodes::new([Code::NotFound]);
        assert_eq!(head_outcome(StatusCode::OK, &headers, not_found_fails), Outcome::Success);
        headers.insert("grpc-status", http::HeaderValue::from_static("5"));
        assert_eq!(head_outcome(StatusCode::OK, &headers, not_found_fails), Outcome::Failure);
    }
}
