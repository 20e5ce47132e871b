//! How many connections a listener holds, against `limits.max_connections`.
//!
//! A connection past the limit is *accepted and closed at once*, with a
//! reset (`SO_LINGER` 0: no `TIME_WAIT` left behind by a flood), rather
//! than left unaccepted: an unaccepted one waits in the kernel's backlog,
//! its client hanging until its own timeout, and a full backlog drops new
//! SYNs for every client alike. Each refusal is counted
//! ([`ConnectionStats::refused`], the metric
//! `protogate_connections_refused_total`) and logged, at most once per
//! [`LOG_EVERY`] with the number refused since. This file knows nothing of
//! protocols or requests.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

/// The shortest time between two warnings about refused connections.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// One listener's connections: those open now, those refused so far.
#[derive(Debug, Default)]
pub struct ConnectionStats {
    open: AtomicUsize,
    refused: AtomicU64,
}

impl ConnectionStats {
    /// Connections open now (TLS handshakes included).
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Connections refused since the listener started, over the limit.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// A slot for one more connection, if fewer than `max` are open;
    /// otherwise counts a refusal.
    pub(super) fn admit(self: &Arc<Self>, max: usize) -> Option<Slot> {
        let taken = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| (open < max).then_some(open + 1));
        match taken {
            Ok(_) => Some(Slot(self.clone())),
            Err(_) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }
}

/// One open connection's place in the count, given back when dropped.
#[derive(Debug)]
pub(super) struct Slot(Arc<ConnectionStats>);

impl Slot {
    /// Runs `serving` (the connection), holding the slot until it ends.
    pub(super) async fn hold(self, serving: impl Future<Output = ()>) {
        serving.await;
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The warnings about refused connections, rate-limited (one accept loop owns it).
#[derive(Debug, Default)]
pub(super) struct RefusalLog {
    last: Option<Instant>,
    unlogged: u64,
}

impl RefusalLog {
    /// Notes one refusal on `listener`; warns when the last warning is
    /// [`LOG_EVERY`] old (or there was none).
    pub(super) fn refused(&mut self, listener: SocketAddr, max: usize) {
        self.unlogged += 1;
        if self.last.is_some_and(|last| last.elapsed() < LOG_EVERY) {
            return;
        }
        tracing::warn!(
            %listener,
            refused = self.unlogged,
            "connections refused: {max} open already (limits.max_connections)"
        );
        self.last = Some(Instant::now());
        self.unlogged = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_given_back_when_dropped_and_refusals_are_counted() {
        let stats = Arc::new(ConnectionStats::default());
        let first = stats.admit(2).unwrap();
        let _second = stats.admit(2).unwrap();
        assert!(stats.admit(2).is_none());
        assert_eq!((stats.open(), stats.refused()), (2, 1));
        drop(first);
        assert_eq!(stats.open(), 1);
        assert!(stats.admit(2).is_some());
        assert_eq!((stats.open(), stats.refused()), (1, 1));
    }

    #[test]
    fn refusals_are_logged_at_most_once_per_interval() {
        let mut log = RefusalLog::default();
        let listener: SocketAddr = "127.0.0.1:1".parse().unwrap();
        log.refused(listener, 1);
        assert_eq!(log.unlogged, 0);
        log.refused(listener, 1);
        log.refused(listener, 1);
        assert_eq!(log.unlogged, 2);
    }
}
