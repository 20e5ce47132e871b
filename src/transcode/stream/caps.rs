//! The caps on open streams: per route (`grpc.stream.max_concurrent`, one
//! count shared by the route's bindings) and per client connection
//! (`limits.max_streams_per_connection`, counted in the connection's
//! shared state). A stream is admitted before its call opens and counted
//! until its permit drops (its body ended, its client reply was sent, or
//! its WebSocket closed). The permit also keeps the stream's summary (kind,
//! framing, messages each way, end) and tells the observer when it drops.

use std::sync::{
    Arc,
    atomic::{AtomicU64, AtomicUsize, Ordering},
};

use crate::observe::{
    OpenStream, Phase, RequestContext, StreamEnd, StreamFraming, StreamKind, StreamSummary,
};

use super::super::target::TranscodeError;

/// The caps of one route's streams.
#[derive(Debug, Clone, Default)]
pub struct StreamCaps {
    route: Option<(usize, Arc<AtomicUsize>)>,
    per_connection: Option<usize>,
}

impl StreamCaps {
    /// At most `route` streams open on the route and `per_connection` on
    /// one client connection (`None`: no cap).
    pub fn new(route: Option<usize>, per_connection: Option<usize>) -> Self {
        Self { route: route.map(|limit| (limit, Arc::default())), per_connection }
    }

    /// A permit for one more stream of `kind` framed as `framing` for the
    /// request of `context`, or the cap it would pass.
    pub(crate) fn admit(
        &self,
        context: &Arc<RequestContext>,
        kind: StreamKind,
        framing: StreamFraming,
    ) -> Result<StreamPermit, TranscodeError> {
        let route = match &self.route {
            Some((limit, open)) => {
                if open.fetch_add(1, Ordering::AcqRel) >= *limit {
                    open.fetch_sub(1, Ordering::AcqRel);
                    return Err(TranscodeError::TooManyStreams(format!(
                        "the route has {limit} streams open, its grpc.stream.max_concurrent"
                    )));
                }
                Some(open.clone())
            }
            None => None,
        };
        let summary = StreamSummary { kind, framing, received: 0, sent: 0, end: StreamEnd::ClientLeft };
        // Dropped on a refusal below: the route's count is given back, unobserved.
        let mut permit = StreamPermit { route, _connection: None, context: None, summary, received: None };
        match context.connection().state.open_stream(self.per_connection) {
            Some(open) => {
                permit._connection = Some(open);
                permit.context = Some(context.clone());
                Ok(permit)
            }
            None => Err(TranscodeError::TooManyStreams(format!(
                "the connection has {} streams open, its limits.max_streams_per_connection",
                self.per_connection.unwrap_or_default()
            ))),
        }
    }
}

/// One admitted stream, counted (and summarised) until dropped.
#[derive(Debug)]
pub(crate) struct StreamPermit {
    route: Option<Arc<AtomicUsize>>,
    _connection: Option<OpenStream>,
    context: Option<Arc<RequestContext>>,
    summary: StreamSummary,
    received: Option<Arc<AtomicU64>>,
}

impl StreamPermit {
    /// The request messages are counted in `received`.
    pub(super) fn count_requests(&mut self, received: Arc<AtomicU64>) {
        self.received = Some(received);
    }

    /// One more reply message sent.
    pub(super) fn sent_one(&mut self) {
        self.summary.sent += 1;
    }

    /// How the stream ended (until set: the client left).
    pub(super) fn ended(&mut self, end: StreamEnd) {
        self.summary.end = end;
    }

    /// The stream failed with `error` (returned as it was).
    pub(super) fn failed(&mut self, error: TranscodeError) -> TranscodeError {
        self.ended(StreamEnd::Failed(error.code()));
        error
    }
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        if let Some(open) = &self.route {
            open.fetch_sub(1, Ordering::AcqRel);
        }
        if let Some(context) = &self.context {
            let mut summary = self.summary;
            summary.received = self.received.as_ref().map_or(0, |count| count.load(Ordering::Relaxed));
            context.observe(Phase::StreamEnded(summary));
        }
    }
}
