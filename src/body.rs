//! The HTTP body types shared by the server, the gateway service and the
//! error module, and a body that holds something until it ends.

use std::{
    pin::Pin,
    task::{Context, Poll, ready},
};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};

/// Any error a body can fail with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body of every response the gateway sends.
pub type ResponseBody = UnsyncBoxBody<Bytes, BoxError>;

/// A response body of bytes already in hand.
pub fn full(bytes: impl Into<Bytes>) -> ResponseBody {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed_unsync()
}

/// `body`, holding `guard` until its last frame was read, it failed, or it
/// was dropped (the client went away), whichever comes first.
pub fn holding<G: Send + Unpin + 'static>(body: ResponseBody, guard: G) -> ResponseBody {
    Holding { inner: body, guard: Some(guard) }.boxed_unsync()
}

struct Holding<G> {
    inner: ResponseBody,
    guard: Option<G>,
}

impl<G: Send + Unpin + 'static> Body for Holding<G> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        if !matches!(frame, Some(Ok(_))) || this.inner.is_end_stream() {
            this.guard = None;
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
    use std::sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    };

    use super::*;

    /// Sets its flag when dropped.
    struct Flag(Arc<AtomicBool>);

    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn the_guard_goes_when_the_last_frame_is_read_or_the_body_dropped() {
        let dropped = Arc::new(AtomicBool::new(false));
        let (sender, receiver) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, BoxError>>(2);
        let stream = tokio_stream::wrappers::ReceiverStream::new(receiver);
        let mut body = holding(http_body_util::StreamBody::new(stream).boxed_unsync(), Flag(dropped.clone()));
        sender.send(Ok(Frame::data(Bytes::from_static(b"one")))).await.unwrap();
        assert!(body.frame().await.is_some());
        assert!(!dropped.load(Ordering::SeqCst), "held while the body goes on");
        drop(sender);
        assert!(body.frame().await.is_none());
        assert!(dropped.load(Ordering::SeqCst), "let go at the end, before the body is dropped");

        let dropped = Arc::new(AtomicBool::new(false));
        let body = holding(full("whole"), Flag(dropped.clone()));
        drop(body);
        assert!(dropped.load(Ordering::SeqCst));
    }
}
