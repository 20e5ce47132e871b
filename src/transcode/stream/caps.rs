//! The caps on open streams: per route (`grpc.stream.max_concurrent`, one
//! count shared by the route's bindings) and per client connection
//! (`limits.max_streams_per_connection`, counted in the connection's
//! shared state). A stream is admitted before its call opens and counted
//! until its permit drops (its body ended, its client reply was sent, or
//! its WebSocket closed). A stream without a body of its own to tell how it
//! went (a client stream's reply, a WebSocket) reports through its permit:
//! `StreamFinished` when the permit drops.

use std::sync::{
    Arc,
    atomic::{AtomicU64, AtomicUsize, Ordering},
};

use crate::observe::{OpenStream, Phase, RequestContext, StreamReport};

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

    /// A permit for one more stream for the request of `context`, or the
    /// cap it would pass; with `reports` (its framing's name), the permit
    /// tells the context how the stream went when it drops.
    pub(crate) fn admit(
        &self,
        context: &Arc<RequestContext>,
        reports: Option<&'static str>,
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
        let report =
            reports.map(|framing| StreamReport { framing, messages: 0, received: None, end: "client_gone" });
        // Dropped on a refusal below: the route's count is given back, unobserved.
        let mut permit = StreamPermit { route, _connection: None, context: None, report, received: None };
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
    report: Option<StreamReport>,
    /// The request stream's bound messages, once counted.
    received: Option<Arc<AtomicU64>>,
}

impl StreamPermit {
    /// Reports the messages `count` counts as the request stream's.
    pub(super) fn counts_requests(&mut self, count: Arc<AtomicU64>) {
        self.received = Some(count);
    }

    /// The request stream's messages so far (`None` without one).
    pub(super) fn received(&self) -> Option<u64> {
        self.received.as_ref().map(|count| count.load(Ordering::Relaxed))
    }

    /// One more reply message sent.
    pub(super) fn sent_one(&mut self) {
        if let Some(report) = self.report.as_mut() {
            report.messages += 1;
        }
    }

    /// How the stream ended (until said: `client_gone`).
    pub(super) fn ended(&mut self, end: &'static str) {
        if let Some(report) = self.report.as_mut() {
            report.end = end;
        }
    }

    /// The stream failed with `error` (returned as it was).
    pub(super) fn failed(&mut self, error: TranscodeError) -> TranscodeError {
        self.ended("error");
        error
    }
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        if let Some(open) = &self.route {
            open.fetch_sub(1, Ordering::AcqRel);
        }
        if let (Some(context), Some(mut report)) = (&self.context, self.report) {
            report.received = self.received();
            context.observe(Phase::StreamFinished { report });
        }
    }
}
