//! The caps on open streams: per route (`grpc.stream.max_concurrent`, one
//! count shared by the route's bindings) and per client connection
//! (`limits.max_streams_per_connection`, counted in the connection's
//! shared state). A stream is admitted before its call opens and counted
//! until its permit drops (its body ended, or its WebSocket closed).

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use crate::observe::{Connection, OpenStream};

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

    /// A permit for one more stream on `connection`, or the cap it would pass.
    pub(crate) fn admit(&self, connection: &Connection) -> Result<StreamPermit, TranscodeError> {
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
        // Dropped on a refusal below: the route's count is given back.
        let mut permit = StreamPermit { route, _connection: None };
        match connection.state.open_stream(self.per_connection) {
            Some(open) => {
                permit._connection = Some(open);
                Ok(permit)
            }
            None => Err(TranscodeError::TooManyStreams(format!(
                "the connection has {} streams open, its limits.max_streams_per_connection",
                self.per_connection.unwrap_or_default()
            ))),
        }
    }
}

/// One admitted stream, counted until dropped.
#[derive(Debug)]
pub(crate) struct StreamPermit {
    route: Option<Arc<AtomicUsize>>,
    _connection: Option<OpenStream>,
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        if let Some(open) = &self.route {
            open.fetch_sub(1, Ordering::AcqRel);
        }
    }
}
