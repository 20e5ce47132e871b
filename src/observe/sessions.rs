//! What one client connection's requests share beyond its addresses: how
//! many streams it has open (for `limits.max_streams_per_connection`), and
//! the sessions that outlive their request (WebSocket streams, taken over
//! from hyper): the server's drain signal reaches them, and the server
//! waits for them to close before the connection counts as finished.
//!
//! It counts and signals; it knows nothing of what the sessions carry.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use tokio::sync::{Notify, watch};

/// The state one connection's requests share.
#[derive(Debug, Default)]
pub struct ConnectionState {
    streams: AtomicUsize,
    sessions: AtomicUsize,
    closed: Notify,
    drain: Option<watch::Receiver<bool>>,
}

impl ConnectionState {
    /// The state of a connection that `drain` asks to finish (`true` once).
    pub fn draining_on(drain: watch::Receiver<bool>) -> Self {
        Self { drain: Some(drain), ..Self::default() }
    }

    /// Counts one more open stream if fewer than `limit` are open.
    pub fn open_stream(self: &Arc<Self>, limit: Option<usize>) -> Option<OpenStream> {
        let before = self.streams.fetch_add(1, Ordering::AcqRel);
        if limit.is_some_and(|limit| before >= limit) {
            self.streams.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(OpenStream(self.clone()))
    }

    /// Holds the connection open for a session until the guard drops.
    pub fn hold(self: &Arc<Self>) -> HeldSession {
        self.sessions.fetch_add(1, Ordering::AcqRel);
        HeldSession(self.clone())
    }

    /// Waits until the server asks the connection to drain (never, for a
    /// connection without a drain signal).
    pub async fn drain_asked(&self) {
        let Some(mut drain) = self.drain.clone() else { return std::future::pending().await };
        if drain.wait_for(|asked| *asked).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Waits until every held session has closed.
    pub async fn sessions_closed(&self) {
        loop {
            let closed = self.closed.notified();
            if self.sessions.load(Ordering::Acquire) == 0 {
                return;
            }
            closed.await;
        }
    }
}

/// One open stream, counted until dropped.
#[derive(Debug)]
pub struct OpenStream(Arc<ConnectionState>);

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.streams.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A session holding its connection open, until dropped.
#[derive(Debug)]
pub struct HeldSession(Arc<ConnectionState>);

impl Drop for HeldSession {
    fn drop(&mut self) {
        if self.0.sessions.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.closed.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn streams_are_capped_and_sessions_awaited() {
        let state = Arc::new(ConnectionState::default());
        let first = state.open_stream(Some(1)).unwrap();
        assert!(state.open_stream(Some(1)).is_none());
        drop(first);
        assert!(state.open_stream(Some(1)).is_some());
        let held = state.hold();
        let waiting = tokio::spawn({
            let state = state.clone();
            async move { state.sessions_closed().await }
        });
        drop(held);
        tokio::time::timeout(std::time::Duration::from_secs(10), waiting).await.unwrap().unwrap();
    }
}
