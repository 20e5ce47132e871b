//! The listener: accepts connections, tells HTTP/1.1 from HTTP/2 by
//! peeking at their first bytes ([`connection`]), applies the limits on the
//! request head, and hands every request to the [`Gateway`]. Shuts down
//! gracefully: it stops accepting, then lets open connections finish their
//! requests for the drain, and closes those still open after it; the
//! process's stop in phases is [`shutdown`]. Its addresses and head limits
//! ([`ListenerSettings`]) are given when it starts, apart from the runtime
//! that a reload swaps.

mod connection;
mod settings;
pub mod shutdown;

use std::{io, net::SocketAddr, sync::Arc, time::Duration};

use tokio::{
    net::TcpListener,
    sync::{oneshot, watch},
    task::{JoinHandle, JoinSet},
};

use crate::gateway::Gateway;
use connection::Protocols;
pub use settings::{HeadLimits, ListenerChange, ListenerSettings};
pub use shutdown::{Draining, Shutdown, ShutdownSettings};

/// A server running in the background.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    shutdown: oneshot::Sender<Duration>,
    task: JoinHandle<usize>,
}

impl RunningServer {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets open connections finish within `drain`, closes
    /// those still open after it, and returns how many it closed.
    pub async fn shutdown(self, drain: Duration) -> usize {
        let _ = self.shutdown.send(drain);
        self.task.await.unwrap_or(0)
    }
}

/// Binds `listen` and serves `gateway` in a background task, each
/// connection held to `head`.
pub async fn start(listen: SocketAddr, head: HeadLimits, gateway: Arc<Gateway>) -> io::Result<RunningServer> {
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let (shutdown, shutdown_asked) = oneshot::channel();
    let protocols = Arc::new(Protocols::new(head));
    let task = tokio::spawn(accept_loop(listener, gateway, protocols, shutdown_asked));
    Ok(RunningServer { addr, shutdown, task })
}

async fn accept_loop(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    protocols: Arc<Protocols>,
    mut shutdown_asked: oneshot::Receiver<Duration>,
) -> usize {
    // Every connection holds a receiver: `true` asks them to finish.
    let (draining, drain_signal) = watch::channel(false);
    let mut connections = JoinSet::new();
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
        let _ = stream.set_nodelay(true);
        connections.spawn(connection::serve(
            stream,
            peer,
            gateway.clone(),
            protocols.clone(),
            drain_signal.clone(),
        ));
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
