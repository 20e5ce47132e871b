//! The response body, observed: `ResponseFinished` fires when the body has
//! been sent to its end, failed, or been dropped (hyper drops it once the
//! last frame is written, or when the client goes away), never when the
//! handler merely returns. It counts the bytes sent, and reads the gRPC
//! code of the answer: a refusal's (carried as a `tonic::Code` extension),
//! a `grpc-status` in the headers, or one in the trailers.

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
};

use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use tonic::Code;

use super::{BodyEnd, Phase, RequestContext};
use crate::body::{BoxError, ResponseBody};

/// `response`, its gRPC code noted in `context` and its body telling
/// `context`'s observer when it finished.
pub fn observed(response: Response<ResponseBody>, context: Arc<RequestContext>) -> Response<ResponseBody> {
    let code = response.extensions().get::<Code>().copied().or_else(|| grpc_status(response.headers()));
    if let Some(code) = code {
        context.set_grpc_code(code);
    }
    let status = response.status();
    response.map(|body| Observed { inner: Some(body), status, context, bytes: 0, end: None }.boxed_unsync())
}

/// The `grpc-status` among `headers`, if any.
fn grpc_status(headers: &HeaderMap) -> Option<Code> {
    let value = headers.get("grpc-status")?.to_str().ok()?.parse::<i32>().ok()?;
    Some(Code::from_i32(value))
}

struct Observed {
    /// `None` once dropped.
    inner: Option<ResponseBody>,
    status: StatusCode,
    context: Arc<RequestContext>,
    /// Bytes of data sent so far.
    bytes: u64,
    /// How it ended, once it did.
    end: Option<BodyEnd>,
}

impl Observed {
    fn finish(&mut self, end: BodyEnd) {
        if self.end.is_none() {
            self.end = Some(end);
            let (status, bytes) = (self.status, self.bytes);
            self.context.observe(Phase::ResponseFinished { status, end, bytes });
        }
    }
}

impl Body for Observed {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let Some(inner) = self.inner.as_mut() else { return Poll::Ready(None) };
        let frame = ready!(Pin::new(&mut *inner).poll_frame(cx));
        let ended = inner.is_end_stream();
        if let Some(Ok(frame)) = &frame {
            if let Some(data) = frame.data_ref() {
                self.bytes += data.len() as u64;
            } else if let Some(code) = frame.trailers_ref().and_then(grpc_status) {
                self.context.set_grpc_code(code);
            }
        }
        match &frame {
            Some(Ok(_)) if ended => self.finish(BodyEnd::Complete),
            Some(Ok(_)) => {}
            Some(Err(_)) => self.finish(BodyEnd::Failed),
            None => self.finish(BodyEnd::Complete),
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.as_ref().map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

impl Drop for Observed {
    fn drop(&mut self) {
        // An empty body is never polled: it ended when hyper let it go.
        let end = if self.is_end_stream() { BodyEnd::Complete } else { BodyEnd::Dropped };
        // What the body reports when dropped (an upstream's end) comes first.
        drop(self.inner.take());
        self.finish(end);
    }
}
