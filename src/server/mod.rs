//! The listeners: accept connections (at most `limits.max_connections`
//! each: [`admission`]), terminate TLS on TLS listeners
//! ([`tls`]), tell HTTP/1.1 from HTTP/2 (by ALPN over TLS, by peeking at
//! the first bytes in cleartext: [`connection`]), apply the limits on the
//! request head, and hand every request to the [`Gateway`]. Shut down
//! gracefully: stop accepting, then let open connections finish their
//! requests for the drain, and close those still open after it; the
//! process's stop in phases is [`shutdown`]. Their addresses, TLS and head
//! limits ([`ListenerSettings`]) are given when they start, apart from the runtime
//! that a reload swaps.

mod admission;
mod connection;
mod drain;
mod hygiene;
mod settings;
pub mod shutdown;
mod smuggling;
pub mod tls;

use std::{io, net::SocketAddr, sync::Arc, time::Duration};

use tokio::{
    net::TcpListener,
    sync::{oneshot, watch},
    task::{JoinHandle, JoinSet},
};

use crate::{gateway::Gateway, task::TaskGuard};
pub use admission::ConnectionStats;
use admission::RefusalLog;
use connection::Protocols;
pub use settings::{HeadLimits, Listener, ListenerChange, ListenerSettings};
pub use shutdown::{Draining, Shutdown, ShutdownSettings};
use tls::{TlsEndpoint, TlsStats};

/// A server running in the background.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    shutdown: oneshot::Sender<Duration>,
    task: JoinHandle<usize>,
    tls: Option<(Arc<TlsEndpoint>, TaskGuard)>,
    connections: Arc<ConnectionStats>,
}

impl RunningServer {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The counters of its TLS (certificate reloads, failed handshakes),
    /// when it is a TLS listener.
    pub fn tls_stats(&self) -> Option<&Arc<TlsStats>> {
        self.tls.as_ref().map(|(endpoint, _)| endpoint.stats())
    }

    /// Its connections, open and refused past `limits.max_connections`.
    pub fn connection_stats(&self) -> &Arc<ConnectionStats> {
        &self.connections
    }

    /// Stops accepting, lets open connections finish within `drain`, closes
    /// those still open after it, and returns how many it closed.
    pub async fn shutdown(self, drain: Duration) -> usize {
        let _ = self.shutdown.send(drain);
        self.task.await.unwrap_or(0)
    }
}

/// Binds `listen` and serves `gateway` in cleartext in a background task,
/// each connection held to `head`.
pub async fn start(listen: SocketAddr, head: HeadLimits, gateway: Arc<Gateway>) -> io::Result<RunningServer> {
    start_listener(Listener::plain(listen), head, gateway).await
}

/// Binds `listener` and serves `gateway` on it in a background task, each
/// connection held to `head`; a TLS listener's certificate files are
/// watched as long as it runs.
pub async fn start_listener(
    listener: Listener,
    head: HeadLimits,
    gateway: Arc<Gateway>,
) -> io::Result<RunningServer> {
    let socket = TcpListener::bind(listener.addr).await?;
    let addr = socket.local_addr()?;
    let (shutdown, shutdown_asked) = oneshot::channel();
    let protocols = Arc::new(Protocols::new(head));
    let tls = listener.tls.map(|endpoint| {
        let watch = endpoint.watch();
        (endpoint, watch)
    });
    let admission = Admission { stats: listener.connections.clone(), max: head.max_connections };
    let endpoint = tls.as_ref().map(|(endpoint, _)| endpoint.clone());
    let task = tokio::spawn(accept_loop(socket, endpoint, gateway, protocols, admission, shutdown_asked));
    Ok(RunningServer { addr, shutdown, task, tls, connections: listener.connections })
}

/// Which connections a listener takes: at most `max` open at once.
struct Admission {
    stats: Arc<ConnectionStats>,
    max: usize,
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<Arc<TlsEndpoint>>,
    gateway: Arc<Gateway>,
    protocols: Arc<Protocols>,
    admission: Admission,
    mut shutdown_asked: oneshot::Receiver<Duration>,
) -> usize {
    // Every connection holds a receiver: `true` asks them to finish.
    let (draining, drain_signal) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut refusals = RefusalLog::default();
    let drain = loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            // Reaps the connections that ended.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            // Asked, or the `RunningServer` dropped.
            drain = &mut shutdown_asked => break drain.unwrap_or(shutdown::DEFAULT_DRAIN),
        };
        let Some(slot) = admission.stats.admit(admission.max) else {
            // Closed with a reset: nothing read, nothing left in TIME_WAIT.
            let _ = stream.set_zero_linger();
            drop(stream);
            refusals.refused(listener.local_addr().unwrap_or(peer), admission.max);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (gateway, protocols, drain) = (gateway.clone(), protocols.clone(), drain_signal.clone());
        match &tls {
            Some(tls) => {
                connections.spawn(slot.hold(tls::serve(stream, peer, tls.clone(), gateway, protocols, drain)))
            }
            None => connections.spawn(slot.hold(connection::serve(stream, peer, gateway, protocols, drain))),
        };
    };
    drop(listener);
    draining.send_replace(true);
    let finished =
        tokio::time::timeout(drain, async { while connections.join_next().await.is_some() {} }).await;
    if finished.is_ok() {
        return 0;
    }
    let closed = connections.len();
    connections.shutdown().await;
    closed
}
