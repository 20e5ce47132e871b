//! The request body of a call, for each of its tries. A body-less request
//! can be sent any number of times. A streamed body can be taken back for
//! another try while nothing has read from it: a try whose connection could
//! not be opened never polled its body, so the next endpoint gets it whole.
//! Once the first frame is asked for, the body belongs to that try for good.
//!
//! It must not buffer anything: it only hands the untouched body over.

use std::{
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll},
};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Empty};

use super::client::ForwardBody;
use crate::body::BoxError;

/// The request body of a call.
pub(super) enum CallBody {
    /// None: every try sends an empty one.
    Empty,
    /// A streamed body no try has had yet.
    Whole(ForwardBody),
    /// Lent to a try that another may follow.
    Lent(Unread),
    /// Given to a try for good.
    Gone,
}

/// Whether the request of a failed try can still be sent again.
pub(super) enum Resend {
    /// A body-less request: always.
    Always,
    /// While its body is unread.
    IfUnread(Unread),
    /// Its body went with the try (or it is an upgrade).
    Never,
}

impl CallBody {
    /// The body of a request; an upgrade's is never sent twice.
    pub(super) fn new(body: ForwardBody, upgrade: bool) -> Self {
        if !upgrade && body.is_end_stream() { Self::Empty } else { Self::Whole(body) }
    }

    /// Whether the request has no body (and is not an upgrade).
    pub(super) fn is_empty(&self) -> bool {
        matches!(self, Self::Empty)
    }

    /// The body of the next try, lent when `keep` (another try may follow);
    /// `None` when a try before read it.
    pub(super) fn for_try(&mut self, keep: bool) -> Option<(ForwardBody, Resend)> {
        match (std::mem::replace(self, Self::Gone), keep) {
            (Self::Empty, _) => {
                *self = Self::Empty;
                Some((empty(), Resend::Always))
            }
            (Self::Whole(body), true) => {
                let unread = Unread(Arc::new(Mutex::new(Some(body))));
                *self = Self::Lent(unread.clone());
                Some((unread.lend(), Resend::IfUnread(unread)))
            }
            (Self::Lent(unread), true) if unread.is_unread() => {
                *self = Self::Lent(unread.clone());
                Some((unread.lend(), Resend::IfUnread(unread)))
            }
            (Self::Whole(body), false) => Some((body, Resend::Never)),
            (Self::Lent(unread), false) => unread.take().map(|body| (body, Resend::Never)),
            (Self::Lent(_) | Self::Gone, _) => None,
        }
    }
}

impl Resend {
    /// Whether the request can go again.
    pub(super) fn is_possible(&self) -> bool {
        match self {
            Self::Always => true,
            Self::IfUnread(unread) => unread.is_unread(),
            Self::Never => false,
        }
    }
}

/// The body of a request without one.
pub(super) fn empty() -> ForwardBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// Where an unread body waits between tries.
#[derive(Clone)]
pub(super) struct Unread(Arc<Mutex<Option<ForwardBody>>>);

impl Unread {
    /// The body, if no try has read from it.
    fn take(&self) -> Option<ForwardBody> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    /// Whether no try has read from it yet.
    fn is_unread(&self) -> bool {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).is_some()
    }

    /// A body for one try, reading from this one when first polled.
    fn lend(&self) -> ForwardBody {
        Lent { unread: self.clone(), body: None }.boxed_unsync()
    }
}

/// The body of one try: empty-handed until its first poll.
struct Lent {
    unread: Unread,
    body: Option<ForwardBody>,
}

impl Lent {
    fn with<T>(&self, read: impl FnOnce(&ForwardBody) -> T, unread: T) -> T {
        match &self.body {
            Some(body) => read(body),
            None => {
                self.unread.0.lock().unwrap_or_else(PoisonError::into_inner).as_ref().map_or(unread, read)
            }
        }
    }
}

impl Body for Lent {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.body.is_none() {
            self.body = self.unread.take();
        }
        match &mut self.body {
            Some(body) => Pin::new(body).poll_frame(cx),
            // Another try read it first (never happens: tries are one at a time).
            None => Poll::Ready(Some(Err("the request body was read by another try".into()))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.with(Body::is_end_stream, false)
    }

    fn size_hint(&self) -> SizeHint {
        self.with(Body::size_hint, SizeHint::default())
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::Full;

    use super::*;

    fn body(text: &'static str) -> ForwardBody {
        Full::new(Bytes::from_static(text.as_bytes())).map_err(|never| match never {}).boxed_unsync()
    }

    #[tokio::test]
    async fn a_lent_body_comes_back_until_a_try_reads_it() {
        let mut call = CallBody::new(body("data"), false);
        let (first, resend) = call.for_try(true).expect("a body");
        assert_eq!(first.size_hint().exact(), Some(4), "the hint is the body's before it is read");
        drop(first);
        assert!(resend.is_possible(), "never read: it can go again");

        let (second, resend) = call.for_try(true).expect("the body again");
        assert_eq!(second.collect().await.unwrap().to_bytes(), "data");
        assert!(!resend.is_possible(), "read by the second try");
        assert!(call.for_try(false).is_none(), "nothing left to send");

        let mut upgrade = CallBody::new(body(""), true);
        assert!(!upgrade.is_empty());
        let (_, resend) = upgrade.for_try(false).expect("the body");
        assert!(!resend.is_possible(), "an upgrade never goes twice");
        let mut none = CallBody::new(body(""), false);
        assert!(none.is_empty() && none.for_try(true).is_some_and(|(_, resend)| resend.is_possible()));
    }
}
