//! Early answers on HTTP/1 keep-alive connections: what becomes of a
//! request body that the gateway answered without reading (no route, wrong
//! method, a policy's refusal, a body over the limit).
//!
//! Left alone, hyper drops the rest of such a body by closing the
//! connection after the response, without saying so, and a keep-alive
//! client's next request meets a reset. Instead, as nginx does: a body of
//! known length within the drain limit is read and discarded after the
//! response (which keeps the connection); any other unread body (longer,
//! chunked, or awaiting `Expect: 100-continue`) is answered with
//! `Connection: close`, so the client knows before it sends more.
//!
//! This module sees bodies and connections only; it does not know why the
//! gateway answered early. HTTP/2 needs none of it: an early answer ends its
//! own stream (`RST_STREAM(NO_ERROR)` after the response), nothing else.

use std::{
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, header};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;

use crate::runtime::BodyLimits;

/// The most an early-answered body may hold to be drained: nginx's habit,
/// lowered to the body limit when that is smaller.
const MAX_DRAIN_BYTES: usize = 64 << 10;

/// How unread bodies are dealt with, from the limits.
#[derive(Debug, Clone, Copy)]
pub(super) struct DrainRule {
    /// The longest body drained; a longer one closes the connection.
    max_bytes: usize,
    /// The time the client has to send what is drained.
    timeout: Duration,
}

impl DrainRule {
    /// The rule of the runtime's body limits.
    pub(super) fn of(limits: BodyLimits) -> Self {
        Self { max_bytes: MAX_DRAIN_BYTES.min(limits.max_body_bytes), timeout: limits.body_read_timeout }
    }
}

/// What became of a request body once the gateway let go of it.
enum Fate<B> {
    /// Still held (a pass-through target may stream it after its answer).
    Held,
    /// Read to its end, or failed: nothing is left for the connection.
    Done,
    /// Dropped with bytes unread.
    Unread(B),
}

/// A request body that reports, when dropped, whether it was read to the end.
pub(super) struct TrackedBody<B> {
    inner: Option<B>,
    fate: Arc<Mutex<Fate<B>>>,
}

/// The connection's side of a [`TrackedBody`]: asked once the response is ready.
pub(super) struct BodyWatch<B> {
    fate: Arc<Mutex<Fate<B>>>,
    expects_continue: bool,
}

/// Wraps the body of a request whose head is `headers`.
pub(super) fn track<B>(body: B, headers: &HeaderMap) -> (TrackedBody<B>, BodyWatch<B>) {
    let fate = Arc::new(Mutex::new(Fate::Held));
    let expects_continue =
        headers.get(header::EXPECT).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    (TrackedBody { inner: Some(body), fate: fate.clone() }, BodyWatch { fate, expects_continue })
}

impl<B> TrackedBody<B> {
    fn settle(&mut self, fate: Fate<B>) {
        self.inner = None;
        *self.fate.lock().unwrap_or_else(PoisonError::into_inner) = fate;
    }
}

impl<B> Body for TrackedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let Some(inner) = self.inner.as_mut() else { return Poll::Ready(None) };
        let polled = Pin::new(inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            self.settle(Fate::Done);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(B::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.as_ref().map_or_else(|| SizeHint::with_exact(0), B::size_hint)
    }
}

impl<B> Drop for TrackedBody<B> {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            *self.fate.lock().unwrap_or_else(PoisonError::into_inner) = Fate::Unread(inner);
        }
    }
}

impl<B> BodyWatch<B>
where
    B: Body<Data = Bytes> + Send + Unpin + 'static,
{
    /// `response`, made honest about the connection: an unread body is
    /// drained after it (in a task of its own) or it says `Connection: close`.
    /// `rule` is asked only then.
    pub(super) fn settle<T>(
        self,
        mut response: Response<T>,
        rule: impl FnOnce() -> DrainRule,
    ) -> Response<T> {
        let fate =
            std::mem::replace(&mut *self.fate.lock().unwrap_or_else(PoisonError::into_inner), Fate::Done);
        let Fate::Unread(body) = fate else { return response };
        if body.is_end_stream() {
            return response;
        }
        let rule = rule();
        let drainable = !self.expects_continue
            && body.size_hint().exact().is_some_and(|left| left <= rule.max_bytes as u64);
        if drainable {
            tokio::spawn(discard(body, rule.timeout));
        } else {
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// Reads `body` to its end and forgets it; gives up (which closes the
/// connection) after `timeout`.
async fn discard<B: Body<Data = Bytes> + Unpin>(mut body: B, timeout: Duration) {
    let reading = async {
        while let Some(frame) = body.frame().await {
            if frame.is_err() {
                break;
            }
        }
    };
    if tokio::time::timeout(timeout, reading).await.is_err() {
        tracing::debug!(?timeout, "an early-answered request body did not arrive in time");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{Full, StreamBody};

    const RULE: DrainRule = DrainRule { max_bytes: 8, timeout: Duration::from_secs(5) };

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (http::HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap())
            })
            .collect()
    }

    fn closes<T>(response: &Response<T>) -> bool {
        response.headers().get(header::CONNECTION).is_some_and(|v| v == "close")
    }

    #[tokio::test]
    async fn a_body_read_to_its_end_changes_nothing() {
        let (body, watch) = track(Full::new(Bytes::from_static(b"0123456789abc")), &HeaderMap::new());
        body.collect().await.unwrap();
        assert!(!closes(&watch.settle(Response::new(()), || RULE)));
    }

    #[tokio::test]
    async fn a_short_unread_body_keeps_the_connection_and_a_long_one_closes_it() {
        let (body, watch) = track(Full::new(Bytes::from_static(b"12345678")), &HeaderMap::new());
        drop(body);
        assert!(!closes(&watch.settle(Response::new(()), || RULE)));
        let (body, watch) = track(Full::new(Bytes::from_static(b"123456789")), &HeaderMap::new());
        drop(body);
        assert!(closes(&watch.settle(Response::new(()), || RULE)));
    }

    #[tokio::test]
    async fn a_body_of_unknown_length_or_awaiting_continue_closes_it() {
        let frames =
            futures_util::stream::iter([Ok::<_, std::convert::Infallible>(Frame::data(Bytes::new()))]);
        let (body, watch) = track(StreamBody::new(frames), &HeaderMap::new());
        drop(body);
        assert!(closes(&watch.settle(Response::new(()), || RULE)));
        let expect = headers(&[("expect", "100-continue")]);
        let (body, watch) = track(Full::new(Bytes::from_static(b"1")), &expect);
        drop(body);
        assert!(closes(&watch.settle(Response::new(()), || RULE)));
    }

    #[tokio::test]
    async fn a_body_still_held_is_left_to_its_holder() {
        let (body, watch) = track(Full::new(Bytes::from_static(b"123456789")), &HeaderMap::new());
        assert!(!closes(&watch.settle(Response::new(()), || RULE)));
        drop(body);
    }
}
