//! One connection on a TLS listener: the handshake (bounded by
//! `limits.header_read_timeout`), then HTTP/2 or HTTP/1.1 as ALPN chose,
//! each request carrying the session's [`TlsInfo`].
//!
//! A client that speaks cleartext HTTP to the port gets a plain `400` that
//! says so; a failed handshake closes the connection. Both are counted and
//! logged: a warning at most every [`WARN_EVERY`] per listener (with how
//! many failed since), the rest at debug level, so a scanner cannot flood
//! the log.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use rustls::{ProtocolVersion, server::ServerConnection};
use tokio::{io::AsyncWriteExt, net::TcpStream, sync::watch};

use super::{TlsEndpoint, client_auth::identity_of};
use crate::{
    gateway::Gateway,
    observe::Connection,
    server::connection::{self, Protocols},
    tls_info::TlsInfo,
};

/// The least time between two warnings about failed handshakes on a listener.
const WARN_EVERY: Duration = Duration::from_secs(10);
/// What a cleartext HTTP client gets.
const PLAIN_HTTP_ANSWER: &[u8] = b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\n\
connection: close\r\ncontent-length: 43\r\n\r\nThis port speaks TLS: use an https:// URL.\n";

/// Why a connection ended before its first request.
#[derive(Debug, thiserror::Error)]
enum Refused {
    #[error("the client spoke cleartext HTTP to a TLS port")]
    PlainHttp,
    #[error("the TLS handshake failed: {0}")]
    Handshake(std::io::Error),
    #[error("the TLS handshake took longer than {0:?}")]
    Timeout(Duration),
}

/// Serves `stream` over TLS until it ends, or until `drain` asks it to finish.
pub(in crate::server) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    endpoint: Arc<TlsEndpoint>,
    gateway: Arc<Gateway>,
    protocols: Arc<Protocols>,
    drain: watch::Receiver<bool>,
) {
    let deadline = protocols.header_read_timeout();
    let accepted = match tokio::time::timeout(deadline, accept(stream, &endpoint)).await {
        Ok(accepted) => accepted,
        Err(_) => Err(Refused::Timeout(deadline)),
    };
    let stream = match accepted {
        Ok(stream) => stream,
        Err(refused) => return endpoint.refused(peer, &refused),
    };
    let session = stream.get_ref().1;
    let info = Arc::new(info_of(session));
    let is_http2 = session.alpn_protocol() == Some(b"h2");
    let local = stream.get_ref().0.local_addr().ok();
    let connection = Connection::tls(peer, local, info);
    connection::serve_http(stream, is_http2, connection, gateway, protocols, drain).await;
}

/// The handshake; a cleartext HTTP request is answered and refused.
async fn accept(
    mut stream: TcpStream,
    endpoint: &TlsEndpoint,
) -> Result<tokio_rustls::server::TlsStream<TcpStream>, Refused> {
    let mut first = [0u8; 1];
    let seen = stream.peek(&mut first).await.map_err(Refused::Handshake)?;
    // A TLS client opens with a handshake record (0x16); an HTTP/1 client
    // with a request line (`GET / HTTP/1.1`): tell it why it is not served.
    if seen == 1 && first[0].is_ascii_uppercase() {
        let _ = stream.write_all(PLAIN_HTTP_ANSWER).await;
        let _ = stream.shutdown().await;
        return Err(Refused::PlainHttp);
    }
    endpoint.acceptor.accept(stream).await.map_err(Refused::Handshake)
}

fn info_of(session: &ServerConnection) -> TlsInfo {
    TlsInfo {
        version: match session.protocol_version() {
            Some(ProtocolVersion::TLSv1_3) => "TLSv1.3",
            Some(ProtocolVersion::TLSv1_2) => "TLSv1.2",
            _ => "TLS",
        },
        sni: session.server_name().map(str::to_ascii_lowercase),
        alpn: session.alpn_protocol().map(|protocol| String::from_utf8_lossy(protocol).into_owned()),
        client: session.peer_certificates().and_then(|chain| chain.first()).and_then(identity_of),
    }
}

impl TlsEndpoint {
    /// Counts and logs a connection refused before its first request.
    fn refused(&self, peer: SocketAddr, refused: &Refused) {
        let failures = self.stats.handshake_failures.fetch_add(1, Ordering::Relaxed) + 1;
        if self.warnings.due() {
            tracing::warn!(%peer, error = %refused, failures, "a TLS connection was refused");
        } else {
            tracing::debug!(%peer, error = %refused, "a TLS connection was refused");
        }
    }
}

/// Lets a warning through at most every [`WARN_EVERY`].
#[derive(Debug)]
pub(super) struct WarnLimiter {
    started: Instant,
    /// Milliseconds after `started` when the next warning is due.
    next: AtomicU64,
}

impl WarnLimiter {
    pub(super) fn new() -> Self {
        Self { started: Instant::now(), next: AtomicU64::new(0) }
    }

    /// Whether a warning may be logged now (and, if so, none again for a while).
    fn due(&self) -> bool {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let next = self.next.load(Ordering::Relaxed);
        let later = now.saturating_add(u64::try_from(WARN_EVERY.as_millis()).unwrap_or(u64::MAX));
        now >= next && self.next.compare_exchange(next, later, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_warning_then_quiet() {
        let limiter = WarnLimiter::new();
        assert!(limiter.due());
        assert!(!limiter.due());
        assert!(!limiter.due());
    }

    #[test]
    fn the_plain_http_answer_is_well_formed() {
        let text = std::str::from_utf8(PLAIN_HTTP_ANSWER).unwrap();
        let (_, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(text.contains(&format!("content-length: {}\r\n", body.len())), "{text}");
    }
}
