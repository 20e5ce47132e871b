//! The response body of a server stream. It polls the gRPC stream only
//! when it is polled itself, so the gateway holds at most one message per
//! stream and a slow reader slows the backend through HTTP/2 flow control;
//! dropping it (the client went away) drops the call, which cancels it on
//! the backend. It ends the stream at `max_duration` and after an
//! `idle_timeout` gap, sends SSE keep-alives, writes the error frame of a
//! failure, and gives HTTP/2 clients `grpc-status`/`grpc-message` trailers.
//! It tells the request's context how the stream went (framing, messages,
//! how it ended) when it ends, or when it is dropped before (the client
//! went away).

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame};
use prost_reflect::{DescriptorPool, DynamicMessage};
use tokio::time::Sleep;
use tokio_stream::Stream;
use tonic::codec::Streaming;

use super::{
    caps::StreamPermit,
    framing::{ErrorFrame, FrameWriter, Framing},
    requests::RequestEvents,
    timer::Timer,
};
use crate::{
    body::BoxError,
    observe::{Phase, RequestContext, StreamReport},
    transcode::{
        outcome,
        target::{TranscodeError, failure_of},
    },
    upstream::{Outcome, Picked, Upstream},
};

/// What the body still has to send.
enum State {
    Streaming,
    Trailers(HeaderMap),
    Done,
}

/// What a stream's body is made of.
pub(super) struct StreamParts {
    pub(super) stream: Streaming<DynamicMessage>,
    pub(super) first: Option<DynamicMessage>,
    pub(super) writer: FrameWriter,
    pub(super) picked: Picked,
    pub(super) upstream: Arc<Upstream>,
    pub(super) pool: DescriptorPool,
    pub(super) trailers: bool,
    pub(super) max_duration: Option<Duration>,
    pub(super) idle_timeout: Option<Duration>,
    pub(super) keepalive: Option<Duration>,
    /// The request's context, told how the stream went.
    pub(super) context: Arc<RequestContext>,
    /// A bidirectional stream's request side, whose failure ends the stream.
    pub(super) request: Option<RequestEvents>,
    /// The stream's place within the caps, held until it ends.
    pub(super) permit: StreamPermit,
}

/// The body of a server stream.
pub(super) struct StreamBody {
    stream: Option<Streaming<DynamicMessage>>,
    first: Option<DynamicMessage>,
    writer: FrameWriter,
    picked: Option<Picked>,
    upstream: Arc<Upstream>,
    pool: DescriptorPool,
    trailers: bool,
    state: State,
    ends: Option<(Duration, Pin<Box<Sleep>>)>,
    idle: Option<Timer>,
    keepalive: Option<Timer>,
    context: Arc<RequestContext>,
    /// Messages sent so far.
    messages: u64,
    /// Whether the context was told how the stream ended.
    reported: bool,
    request: Option<RequestEvents>,
    permit: Option<StreamPermit>,
}

impl StreamBody {
    pub(super) fn new(parts: StreamParts) -> Self {
        Self {
            stream: Some(parts.stream),
            first: parts.first,
            writer: parts.writer,
            picked: Some(parts.picked),
            upstream: parts.upstream,
            pool: parts.pool,
            trailers: parts.trailers,
            state: State::Streaming,
            ends: parts.max_duration.map(|d| (d, Box::pin(tokio::time::sleep(d)))),
            idle: parts.idle_timeout.map(Timer::new),
            keepalive: parts.keepalive.map(Timer::new),
            context: parts.context,
            messages: 0,
            reported: false,
            request: parts.request,
            permit: Some(parts.permit),
        }
    }

    /// Tells the context how the stream ended (once).
    fn report(&mut self, end: &'static str) {
        if !self.reported {
            self.reported = true;
            let (framing, messages) = (self.writer.framing.name(), self.messages);
            let received = self.permit.as_ref().and_then(StreamPermit::received);
            let report = StreamReport { framing, messages, received, end };
            self.context.observe(Phase::StreamFinished { report });
        }
    }

    /// One message's frame.
    fn message(&mut self, message: &DynamicMessage) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.writer.message(message) {
            Ok(bytes) => {
                self.messages += 1;
                for timer in [&mut self.idle, &mut self.keepalive].into_iter().flatten() {
                    timer.restart();
                }
                Poll::Ready(Some(Ok(Frame::data(bytes))))
            }
            Err(error) => {
                let error = TranscodeError::from(error);
                self.end(Some(error_frame(error)), Outcome::Success, "error")
            }
        }
    }

    /// Ends the stream (the call dropped, so a backend still sending sees
    /// it cancelled) with its closing frame, `error` in it if it failed.
    fn end(
        &mut self,
        error: Option<ErrorFrame>,
        outcome: Outcome,
        how: &'static str,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.stream = None;
        self.report(how);
        if let Some(error) = &error {
            self.context.set_grpc_code(error.code);
        }
        self.request = None;
        self.permit = None;
        if let Some(mut picked) = self.picked.take() {
            picked.ended_with(error.as_ref().map_or(tonic::Code::Ok, |error| error.code));
            picked.finish(outcome);
        }
        let closing = self.writer.close(error.as_ref());
        self.state = match self.trailers {
            true => State::Trailers(trailers(error.as_ref())),
            false => State::Done,
        };
        match &error {
            // Raw bytes have no error frame: without trailers to say it, the
            // body is cut off, so the client knows the download is incomplete.
            Some(error) if self.writer.framing == Framing::Raw && !self.trailers => {
                Poll::Ready(Some(Err(error.message.clone().into())))
            }
            _ if !closing.is_empty() => Poll::Ready(Some(Ok(Frame::data(closing)))),
            _ => self.finish(),
        }
    }

    /// The trailers, or the end.
    fn finish(&mut self) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Trailers(trailers) => Poll::Ready(Some(Ok(Frame::trailers(trailers)))),
            State::Streaming | State::Done => Poll::Ready(None),
        }
    }

    /// A failed stream's status, as its error frame.
    fn failed(&mut self, status: tonic::Status) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let outcome = outcome::of_status(&status, &self.upstream);
        let error = failure_of(status, &self.upstream, &self.pool, None);
        self.end(Some(error_frame(error)), outcome, "error")
    }
}

impl Body for StreamBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if !matches!(this.state, State::Streaming) {
            return this.finish();
        }
        if let Some(first) = this.first.take() {
            return this.message(&first);
        }
        // A bidirectional stream whose request side failed ends with that
        // failure (its call is being reset).
        if let Some(request) = this.request.as_mut()
            && let Poll::Ready(error) = request.poll_failure(cx)
        {
            return this.end(Some(error_frame(error)), Outcome::Ignored, "request_error");
        }
        let Some(stream) = this.stream.as_mut() else { return this.finish() };
        match Pin::new(stream).poll_next(cx) {
            Poll::Ready(Some(Ok(message))) => return this.message(&message),
            Poll::Ready(Some(Err(status))) => return this.failed(status),
            Poll::Ready(None) => return this.end(None, Outcome::Success, "complete"),
            Poll::Pending => {}
        }
        if let Some((limit, sleep)) = this.ends.as_mut()
            && sleep.as_mut().poll(cx).is_ready()
        {
            let message = format!("the stream lasted longer than its max_duration of {limit:?}");
            let error = ErrorFrame { code: tonic::Code::DeadlineExceeded, message, details: Vec::new() };
            return this.end(Some(error), Outcome::Ignored, "max_duration");
        }
        if let Some(idle) = this.idle.as_mut()
            && idle.fired(cx)
        {
            let message = format!("no message within the stream's idle_timeout of {:?}", idle.period);
            let error = ErrorFrame { code: tonic::Code::DeadlineExceeded, message, details: Vec::new() };
            return this.end(Some(error), Outcome::Ignored, "idle_timeout");
        }
        if let Some(keepalive) = this.keepalive.as_mut()
            && keepalive.fired(cx)
        {
            keepalive.restart();
            // Registers the next expiry with the waker.
            let _ = keepalive.fired(cx);
            return Poll::Ready(Some(Ok(Frame::data(this.writer.keepalive()))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.state, State::Done)
    }
}

impl Drop for StreamBody {
    fn drop(&mut self) {
        // Not ended by the stream itself: the client went away first.
        self.report("client_gone");
    }
}

/// The error frame of a failure.
pub(super) fn error_frame(error: TranscodeError) -> ErrorFrame {
    match error {
        TranscodeError::Upstream(failure) => {
            let failure = *failure;
            ErrorFrame { code: failure.code, message: failure.message, details: failure.details }
        }
        other => ErrorFrame { code: other.code(), message: other.to_string(), details: Vec::new() },
    }
}

/// The trailers that end a stream for an HTTP/2 client.
fn trailers(error: Option<&ErrorFrame>) -> HeaderMap {
    let mut trailers = HeaderMap::new();
    let (code, message) = error.map_or((tonic::Code::Ok, ""), |e| (e.code, e.message.as_str()));
    crate::error::insert_grpc_status(&mut trailers, code, message);
    trailers
}
