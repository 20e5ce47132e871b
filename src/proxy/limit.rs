//! A request body within a limit that remembers going over it. An HTTP/2
//! upstream connection answers a failing request body with a stream reset,
//! and the body's error is lost on the way (the call fails with "stream
//! error sent by user"), so the call asks the body's [`Overflow`], not the
//! error, whether the client sent too much.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use bytes::Bytes;
use http_body::Body;
use http_body_util::{BodyExt, LengthLimitError, Limited, combinators::UnsyncBoxBody};

use crate::body::BoxError;

/// Whether a [`bounded`] body went over its limit.
#[derive(Debug, Clone, Default)]
pub(super) struct Overflow(Arc<AtomicBool>);

impl Overflow {
    /// The body went over its limit (and failed with [`LengthLimitError`]).
    pub(super) fn happened(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// `body` within `limit` bytes (failing once it carries more), and what
/// tells whether it went over.
pub(super) fn bounded<B>(body: B, limit: usize) -> (UnsyncBoxBody<Bytes, BoxError>, Overflow)
where
    B: Body<Data = Bytes, Error = BoxError> + Send + 'static,
{
    let overflow = Overflow::default();
    let noted = overflow.0.clone();
    let body = Limited::new(body, limit).map_err(move |error| {
        if error.is::<LengthLimitError>() {
            noted.store(true, Ordering::Release);
        }
        error
    });
    (body.boxed_unsync(), overflow)
}

#[cfg(test)]
mod tests {
    use http_body_util::Full;

    use super::*;

    async fn collected(bytes: &'static [u8], limit: usize) -> (bool, bool) {
        let body = Full::new(Bytes::from_static(bytes)).map_err(|never| match never {});
        let (body, overflow) = bounded(body, limit);
        let read = body.collect().await.is_ok();
        (read, overflow.happened())
    }

    #[tokio::test]
    async fn only_a_body_over_the_limit_is_noted() {
        assert_eq!(collected(b"1234", 4).await, (true, false));
        assert_eq!(collected(b"12345", 4).await, (false, true));
    }
}
