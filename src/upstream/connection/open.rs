//! Opening one endpoint's HTTP/2 connection: TCP (no Nagle) to its
//! address, TLS when it is `https://` (`h2` the one protocol offered by
//! ALPN, and required), then hyper's HTTP/2 client handshake, with
//! keep-alive pings every 30 s, idle or not. The connection is driven by a
//! task of its own, which ends when the connection does: when it breaks,
//! or when the last handle to it is dropped.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use hyper::client::conn::http2::{Builder, SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::{ClientConfig, pki_types::ServerName};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpStream,
};
use tokio_rustls::TlsConnector;

/// How often the connection is pinged to find a dead peer.
const KEEP_ALIVE: Duration = Duration::from_secs(30);

/// What a connection to the endpoint is opened with.
#[derive(Debug, Clone)]
pub(in crate::upstream) struct ConnectTo {
    /// The socket address.
    pub(in crate::upstream) address: SocketAddr,
    /// TLS, for an `https://` endpoint: the client config and the name its
    /// certificate must carry (sent as SNI).
    pub(in crate::upstream) tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
    /// The time allowed to open it, TLS and HTTP/2 handshakes included
    /// (none when zero).
    pub(in crate::upstream) timeout: Duration,
}

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub(super) enum OpenError {
    /// TCP connect failed.
    #[error("tcp connect to {address} failed: {source}")]
    Tcp {
        /// The address.
        address: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The TLS handshake failed.
    #[error("TLS handshake with {address} failed: {source}")]
    Tls {
        /// The address.
        address: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The TLS server did not choose HTTP/2.
    #[error("{address} did not negotiate HTTP/2 (ALPN h2) over TLS")]
    NotHttp2 {
        /// The address.
        address: SocketAddr,
    },
    /// The HTTP/2 handshake failed.
    #[error("HTTP/2 handshake with {address} failed: {source}")]
    Handshake {
        /// The address.
        address: SocketAddr,
        /// Why.
        #[source]
        source: hyper::Error,
    },
    /// It took longer than the connect timeout.
    #[error("connecting to {address} timed out after {timeout:?}")]
    TimedOut {
        /// The address.
        address: SocketAddr,
        /// The connect timeout.
        timeout: Duration,
    },
}

impl ConnectTo {
    /// Opens a connection, within the connect timeout.
    pub(super) async fn open<B>(&self) -> Result<SendRequest<B>, OpenError>
    where
        B: http_body::Body + Unpin + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if self.timeout.is_zero() {
            return self.open_now().await;
        }
        let (address, timeout) = (self.address, self.timeout);
        tokio::time::timeout(timeout, self.open_now())
            .await
            .unwrap_or(Err(OpenError::TimedOut { address, timeout }))
    }

    async fn open_now<B>(&self) -> Result<SendRequest<B>, OpenError>
    where
        B: http_body::Body + Unpin + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let address = self.address;
        let tcp = TcpStream::connect(address).await.map_err(|source| OpenError::Tcp { address, source })?;
        tcp.set_nodelay(true).map_err(|source| OpenError::Tcp { address, source })?;
        let Some((config, name)) = &self.tls else {
            return handshake(tcp, address).await;
        };
        let tls = TlsConnector::from(config.clone())
            .connect(name.clone(), tcp)
            .await
            .map_err(|source| OpenError::Tls { address, source })?;
        if tls.get_ref().1.alpn_protocol() != Some(&b"h2"[..]) {
            return Err(OpenError::NotHttp2 { address });
        }
        handshake(tls, address).await
    }
}

/// The HTTP/2 handshake over `io`, the connection's task spawned.
async fn handshake<I, B>(io: I, address: SocketAddr) -> Result<SendRequest<B>, OpenError>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    B: http_body::Body + Unpin + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (sender, connection) = Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .keep_alive_interval(KEEP_ALIVE)
        .keep_alive_while_idle(true)
        .handshake(TokioIo::new(io))
        .await
        .map_err(|source| OpenError::Handshake { address, source })?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%address, "the HTTP/2 connection to the endpoint ended: {error}");
        }
    });
    Ok(sender)
}

/// `config`, offering `h2` alone by ALPN.
pub(in crate::upstream) fn offering_h2(mut config: ClientConfig) -> Arc<ClientConfig> {
    config.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(config)
}
