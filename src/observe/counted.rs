//! The request body, counted: each data frame's length is added to the
//! request's context (the access log's bytes in), whoever reads the body.

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::RequestContext;

/// `body`, its bytes counted in `context`.
pub fn counted<B>(body: B, context: Arc<RequestContext>) -> Counted<B> {
    Counted { inner: body, context }
}

pin_project_lite::pin_project! {
    /// A request body whose bytes are counted as they are read.
    #[derive(Debug)]
    pub struct Counted<B> {
        #[pin]
        inner: B,
        context: Arc<RequestContext>,
    }
}

impl<B> Body for Counted<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        if let Some(data) = frame.as_ref().and_then(|frame| frame.as_ref().ok()?.data_ref()) {
            this.context.count_bytes_in(data.len());
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
