//! The request side of a client or bidirectional stream: each message
//! bound as it arrives ([`MessageReader`]: path variables and the query
//! bound into every message, `max_messages`), and over HTTP the body cut
//! into messages as its bytes come ([`BodyMessages`], a stream tonic polls
//! as it sends: the gateway holds one message at a time, and a client that
//! sends slowly is read slowly).
//!
//! A failure (a malformed message, one past a limit, a body that breaks)
//! is handed to the response side ([`RequestEvents`]) and then sent as
//! [`Outgoing::Abort`], which resets the call: the backend sees the stream
//! cancelled, never a half message.

use std::{
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http::{HeaderMap, header};
use http_body::Body;
use prost::Message;
use prost_reflect::DynamicMessage;
use tokio::sync::oneshot;
use tokio_stream::Stream;

use super::{
    split::{RequestFraming, SplitError, Splitter},
    timer::Timer,
};
use crate::{
    body::BoxError,
    transcode::{
        bind::{BindError, RequestBinder},
        codec::Outgoing,
        target::{TranscodeError, TranscodeTarget, check_request_size},
    },
    upstream::Upstream,
};

/// A streamed request body.
pub type RequestBody = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;

/// Binds each message of one request stream.
#[derive(Debug)]
pub(super) struct MessageReader {
    binder: Arc<RequestBinder>,
    /// Whose `max_request_bytes` bounds each message.
    upstream: Arc<Upstream>,
    captures: Vec<String>,
    query: Option<String>,
    max_messages: Option<u64>,
    /// Messages bound so far, shared with the stream's summary.
    pub(super) count: Arc<AtomicU64>,
}

impl MessageReader {
    /// The reader of `target`'s request stream.
    pub(super) fn new(
        target: &TranscodeTarget,
        captures: &[String],
        query: Option<&str>,
        max_messages: Option<u64>,
    ) -> Self {
        Self {
            binder: target.binder.clone(),
            upstream: target.upstream.clone(),
            captures: captures.to_vec(),
            query: query.map(str::to_owned),
            max_messages,
            count: Arc::default(),
        }
    }

    /// The next message, from its JSON; an error names its index (from 0).
    pub(super) fn bind(&self, json: &Bytes) -> Result<DynamicMessage, TranscodeError> {
        let index = self.count.load(Ordering::Relaxed);
        if let Some(max) = self.max_messages
            && index >= max
        {
            return Err(TranscodeError::StreamTooLarge(format!(
                "the request stream has more than {max} messages (grpc.stream.max_messages)"
            )));
        }
        let message =
            self.binder.bind(&self.captures, self.query.as_deref(), json, None).map_err(|failure| {
                match TranscodeError::from(failure) {
                    TranscodeError::Bind(error) => TranscodeError::Bind(BindError {
                        message: format!("request message {index}: {}", error.message),
                    }),
                    other => other,
                }
            })?;
        check_request_size(&self.upstream, message.encoded_len(), || format!("request message {index}"))?;
        self.count.fetch_add(1, Ordering::Relaxed);
        Ok(message)
    }
}

/// The request framing a `Content-Type` names: NDJSON (`application/x-ndjson`,
/// `application/jsonl`, or none), a JSON array (`application/json`,
/// `application/*+json`); anything else is a 415.
pub(super) fn request_framing(headers: &HeaderMap) -> Result<RequestFraming, TranscodeError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else { return Ok(RequestFraming::Ndjson) };
    let text = value.to_str().unwrap_or_default();
    let essence = text.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/x-ndjson" | "application/jsonl" => Ok(RequestFraming::Ndjson),
        "application/json" => Ok(RequestFraming::JsonArray),
        other if other.starts_with("application/") && other.ends_with("+json") => {
            Ok(RequestFraming::JsonArray)
        }
        _ => Err(TranscodeError::UnsupportedMediaType(format!(
            "unsupported Content-Type {text:?}: a request stream is NDJSON (application/x-ndjson) or one JSON array (application/json)"
        ))),
    }
}

/// What the response side hears of the request side.
#[derive(Debug)]
pub(super) struct RequestEvents {
    /// The request stream's failure, if it fails.
    pub(super) failure: Option<oneshot::Receiver<TranscodeError>>,
    /// The request stream ended (the client sent its last message).
    pub(super) ended: Option<oneshot::Receiver<()>>,
}

impl RequestEvents {
    /// The failure, once it happened (never pending after it).
    pub(super) fn poll_failure(&mut self, cx: &mut Context<'_>) -> Poll<TranscodeError> {
        let Some(failure) = self.failure.as_mut() else { return Poll::Pending };
        match Pin::new(failure).poll(cx) {
            Poll::Ready(Ok(error)) => Poll::Ready(error),
            // The request side finished without failing.
            Poll::Ready(Err(_)) => {
                self.failure = None;
                Poll::Pending
            }
            Poll::Pending => Poll::Pending,
        }
    }

    /// The failure, if it has happened by now.
    pub(super) fn failed(&mut self) -> Option<TranscodeError> {
        self.failure.as_mut()?.try_recv().ok()
    }

    /// Waits until the request stream ended (forever when it fails first).
    pub(super) async fn request_ended(&mut self) {
        let ended = match self.ended.as_mut() {
            Some(ended) => ended.await.is_ok(),
            None => false,
        };
        if !ended {
            std::future::pending::<()>().await;
        }
    }
}

/// What the request side tells the response side.
#[derive(Debug)]
pub(super) struct RequestSignals {
    failure: Option<oneshot::Sender<TranscodeError>>,
    ended: Option<oneshot::Sender<()>>,
}

impl RequestSignals {
    /// The two ends of the signals.
    pub(super) fn pair() -> (Self, RequestEvents) {
        let (failure, failure_rx) = oneshot::channel();
        let (ended, ended_rx) = oneshot::channel();
        let signals = Self { failure: Some(failure), ended: Some(ended) };
        (signals, RequestEvents { failure: Some(failure_rx), ended: Some(ended_rx) })
    }

    /// The request stream failed with `error`.
    pub(super) fn fail(&mut self, error: TranscodeError) {
        self.ended = None;
        if let Some(failure) = self.failure.take() {
            let _ = failure.send(error);
        }
    }

    /// The request stream ended whole.
    pub(super) fn end(&mut self) {
        self.failure = None;
        if let Some(ended) = self.ended.take() {
            let _ = ended.send(());
        }
    }
}

/// The messages of a streamed HTTP request body, bound as they arrive.
pub(super) struct BodyMessages {
    body: RequestBody,
    splitter: Splitter,
    reader: MessageReader,
    signals: RequestSignals,
    idle: Option<Timer>,
    done: bool,
}

impl BodyMessages {
    pub(super) fn new(
        body: RequestBody,
        splitter: Splitter,
        reader: MessageReader,
        signals: RequestSignals,
        idle_timeout: Option<Duration>,
    ) -> Self {
        Self { body, splitter, reader, signals, idle: idle_timeout.map(Timer::new), done: false }
    }

    fn message(&mut self, json: &Bytes) -> Poll<Option<Outgoing>> {
        match self.reader.bind(json) {
            Ok(message) => {
                if let Some(idle) = self.idle.as_mut() {
                    idle.restart();
                }
                Poll::Ready(Some(Outgoing::Message(message)))
            }
            Err(error) => self.fail(error),
        }
    }

    fn fail(&mut self, error: TranscodeError) -> Poll<Option<Outgoing>> {
        self.done = true;
        self.signals.fail(error);
        Poll::Ready(Some(Outgoing::Abort))
    }

    fn split_failed(&mut self, error: SplitError) -> Poll<Option<Outgoing>> {
        self.fail(match error {
            SplitError::TooLarge(index, limit) => TranscodeError::StreamTooLarge(format!(
                "request message {index} is larger than {limit} bytes (grpc.stream.max_message_bytes)"
            )),
            SplitError::Syntax(index, problem) => {
                TranscodeError::BadStream(format!("request stream at message {index}: {problem}"))
            }
            SplitError::Truncated(index) => TranscodeError::BadStream(format!(
                "request stream at message {index}: the body ended inside a message or before the array's `]`"
            )),
        })
    }
}

impl Stream for BodyMessages {
    type Item = Outgoing;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Outgoing>> {
        let this = &mut *self;
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            match this.splitter.next_message() {
                Ok(Some(json)) => return this.message(&json),
                Ok(None) => {}
                Err(error) => return this.split_failed(error),
            }
            match Pin::new(&mut this.body).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        this.splitter.push(&data);
                    }
                }
                Poll::Ready(Some(Err(error))) => {
                    let error = TranscodeError::BadStream(format!("cannot read the request body: {error}"));
                    return this.fail(error);
                }
                Poll::Ready(None) => {
                    this.done = true;
                    return match this.splitter.finish() {
                        Ok(Some(json)) => {
                            let sent = this.message(&json);
                            if matches!(sent, Poll::Ready(Some(Outgoing::Message(_)))) {
                                this.signals.end();
                            }
                            sent
                        }
                        Ok(None) => {
                            this.signals.end();
                            Poll::Ready(None)
                        }
                        Err(error) => this.split_failed(error),
                    };
                }
                Poll::Pending => {
                    if let Some(idle) = this.idle.as_mut()
                        && idle.fired(cx)
                    {
                        let period = idle.period;
                        return this.fail(TranscodeError::StreamTimeout(format!(
                            "no request message within the stream's idle_timeout of {period:?}"
                        )));
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}
