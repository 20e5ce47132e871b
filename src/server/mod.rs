//! The listener: accepts connections, tells HTTP/1.1 from HTTP/2 by
//! peeking at their first bytes ([`connection`]), applies the limits on the
//! request head, and hands every request to the [`Gateway`]. Shuts down
//! gracefully: it stops accepting, then lets open connections finish their
//! requests for a grace period. Its addresses and head limits
//! ([`ListenerSettings`]) are given when it starts, apart from the runtime
//! that a reload swaps.

mod connection;
mod settings;

use std::{io, net::SocketAddr, sync::Arc, time::Duration};

use tokio::{
    net::TcpListener,
    sync::{oneshot, watch},
    task::JoinHandle,
};

use crate::gateway::Gateway;
use connection::Protocols;
pub use settings::{HeadLimits, ListenerChange, ListenerSettings};

/// How long open connections get to finish after shutdown is asked.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A server running in the background.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl RunningServer {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets open connections finish (up to a grace period), and returns.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(());
        let _ = self.task.await;
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
    mut shutdown_asked: oneshot::Receiver<()>,
) {
    // Every connection holds a receiver: `send` asks them to finish, and
    // `closed` resolves once the last one has.
    let (draining, drain_signal) = watch::channel(false);
    loop {
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
            _ = &mut shutdown_asked => break,
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection::serve(
            stream,
            peer,
            gateway.clone(),
            protocols.clone(),
            drain_signal.clone(),
        ));
    }
    drop(listener);
    drop(drain_signal);
    let _ = draining.send(true);
    if tokio::time::timeout(SHUTDOWN_GRACE, draining.closed()).await.is_err() {
        tracing::warn!("connections still open after the shutdown grace period were closed");
    }
}
