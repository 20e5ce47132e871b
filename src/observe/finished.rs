//! The response body, observed: `ResponseFinished` fires when the body has
//! been sent to its end, failed, or been dropped (hyper drops it once the
//! last frame is written, or when the client goes away), never when the
//! handler merely returns.

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
};

use bytes::Bytes;
use http::StatusCode;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;

use super::{BodyEnd, Phase, RequestContext};
use crate::body::{BoxError, ResponseBody};

/// `body`, telling `context`'s observer when it finished.
pub fn observed_body(body: ResponseBody, status: StatusCode, context: Arc<RequestContext>) -> ResponseBody {
    Observed { inner: Some(body), status, context, end: None }.boxed_unsync()
}

struct Observed {
    /// `None` once dropped.
    inner: Option<ResponseBody>,
    status: StatusCode,
    context: Arc<RequestContext>,
    /// How it ended, once it did.
    end: Option<BodyEnd>,
}

impl Observed {
    fn finish(&mut self, end: BodyEnd) {
        if self.end.is_none() {
            self.end = Some(end);
            self.context.observe(Phase::ResponseFinished { status: self.status, end });
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
