//! One accepted connection, from its first byte to its end.
//!
//! The protocol is told by *peeking* at the first bytes: an HTTP/2 client
//! with prior knowledge (gRPC, h2c) opens with the 24-byte connection
//! preface, anything else is HTTP/1.1. Peeking consumes nothing, so hyper
//! reads the stream from its start, with no replay wrapper in between.
//! (hyper-util's auto builder reads the first bytes and replays them; hyper
//! then receives the head in two reads, and its HTTP/1 read buffer grows
//! to 16 KiB on every connection, idle or not: 8 KiB more per connection.)

use std::{convert::Infallible, future::Future, net::SocketAddr, pin::pin, sync::Arc, time::Duration};

use http::{HeaderValue, Request, StatusCode, header};
use hyper::{
    body::Incoming,
    server::conn::{http1, http2},
    service::service_fn,
};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpStream,
    sync::watch,
};

use super::{
    HeadLimits,
    drain::{self, DrainRule},
    hygiene::HeadRules,
    smuggling,
};
use crate::{
    gateway::Gateway,
    observe::{Connection, ConnectionState},
};

/// How often an idle HTTP/2 connection is pinged, and how long the answer may take.
const HTTP2_KEEP_ALIVE: Duration = Duration::from_secs(20);
/// Streams a client may open and reset before the gateway took them up
/// (rapid reset, CVE-2023-44487); one more ends the connection with
/// `GOAWAY(ENHANCE_YOUR_CALM)`. h2's default, set here so that it is ours.
const HTTP2_MAX_PENDING_ACCEPT_RESET_STREAMS: usize = 20;
/// Streams the gateway may reset for a client's protocol errors before it
/// ends the connection the same way (a flood that makes the server reset
/// streams). hyper's default, set here.
const HTTP2_MAX_LOCAL_ERROR_RESET_STREAMS: usize = 1024;
/// The most header lines hyper's HTTP/1 parser takes by default.
const HYPER_MAX_HEADERS: usize = 100;
/// hyper's smallest accepted HTTP/1 read buffer.
const MIN_HTTP1_BUFFER: usize = 8192;
/// What an HTTP/2 client with prior knowledge sends first (RFC 9113, 3.4).
const HTTP2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// How long to wait before peeking again at a connection that has sent
/// only the start of the HTTP/2 preface (rare: clients send it whole).
const PREFACE_REPEEK: Duration = Duration::from_millis(5);

/// The two protocols' connection settings, built once from the head's limits.
pub(super) struct Protocols {
    http1: http1::Builder,
    http2: http2::Builder<TokioExecutor>,
    /// Time a client has to send its first bytes (and, HTTP/1, the request head).
    header_read_timeout: Duration,
    /// The request head's own rules (header count, underscores).
    head: HeadRules,
}

impl Protocols {
    pub(super) fn new(limits: HeadLimits) -> Self {
        let mut http1 = http1::Builder::new();
        http1
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            // The head's limit, exact: the buffer's own limit only applies
            // while the head is incomplete after a read, and a read may take
            // in more than it.
            .max_header_size(limits.max_header_bytes)
            .max_buf_size(limits.max_header_bytes.max(MIN_HTTP1_BUFFER));
        // hyper refuses more than its default count itself; a higher limit
        // costs it a heap buffer per request, so it is set only when asked.
        // Lower limits are the head rules' to enforce.
        if limits.max_headers > HYPER_MAX_HEADERS {
            http1.max_headers(limits.max_headers);
        }
        let mut http2 = http2::Builder::new(TokioExecutor::new());
        http2
            .timer(TokioTimer::new())
            // Also what bounds a header block's CONTINUATION frames: h2 ends
            // a connection whose block runs past it (the CONTINUATION flood).
            .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
            .max_concurrent_streams(limits.max_concurrent_streams)
            .max_pending_accept_reset_streams(HTTP2_MAX_PENDING_ACCEPT_RESET_STREAMS)
            .max_local_error_reset_streams(HTTP2_MAX_LOCAL_ERROR_RESET_STREAMS)
            // Pings find connections whose client is gone without a goodbye.
            .keep_alive_interval(HTTP2_KEEP_ALIVE)
            .keep_alive_timeout(HTTP2_KEEP_ALIVE);
        Self { http1, http2, header_read_timeout: limits.header_read_timeout, head: HeadRules::new(limits) }
    }

    /// Time a client has to send its first bytes (or finish a TLS handshake).
    pub(super) fn header_read_timeout(&self) -> Duration {
        self.header_read_timeout
    }
}

/// Serves `stream` until it ends, or until `drain` asks it to finish.
pub(super) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    gateway: Arc<Gateway>,
    protocols: Arc<Protocols>,
    drain: watch::Receiver<bool>,
) {
    let is_http2 =
        match tokio::time::timeout(protocols.header_read_timeout, opens_with_http2_preface(&stream)).await {
            Ok(Ok(is_http2)) => is_http2,
            // Nothing (or only part of a preface) in time, or a reset: close.
            Ok(Err(_)) | Err(_) => return,
        };
    let connection = Connection::plain(peer, stream.local_addr().ok());
    serve_http(stream, is_http2, connection, gateway, protocols, drain).await;
}

/// Serves HTTP/2 or HTTP/1.1 on `stream` (cleartext, or a TLS session whose
/// [`crate::tls_info::TlsInfo`] each request then carries) until it ends, or
/// until `drain` asks it to finish. An HTTP/1 request whose head has both
/// `Content-Length` and `Transfer-Encoding` is refused ([`smuggling`]).
pub(super) async fn serve_http<S>(
    stream: S,
    is_http2: bool,
    connection: Connection,
    gateway: Arc<Gateway>,
    protocols: Arc<Protocols>,
    mut drain: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let peer = connection.peer;
    let rules = protocols.head;
    let connection = connection.with_state(ConnectionState::draining_on(drain.clone()));
    let state = connection.state.clone();
    let outcome = if is_http2 {
        let service = service_fn(move |mut request: Request<Incoming>| {
            let gateway = gateway.clone();
            if let Some(tls) = &connection.tls {
                request.extensions_mut().insert(tls.clone());
            }
            let connection = connection.clone();
            // hyper keeps room for one request's future in every connection,
            // idle or not: boxed, that room is a pointer instead of the whole
            // (several KiB) state of `handle`.
            let handling = Box::pin(async move {
                match rules.admit(request.headers_mut()) {
                    Ok(()) => gateway.handle(request, connection).await,
                    Err(refused) => refused.into_response(),
                }
            });
            async move { Ok::<_, Infallible>(handling.await) }
        });
        let connection = pin!(protocols.http2.serve_connection(TokioIo::new(stream), service));
        until_drained(connection, &mut drain, http2::Connection::graceful_shutdown).await
    } else {
        let (stream, verdicts) = smuggling::Watched::new(stream);
        let service = service_fn(move |mut request: Request<Incoming>| {
            let smuggling = verdicts.next_is_smuggling();
            let verdicts = verdicts.clone();
            let gateway = gateway.clone();
            if let Some(tls) = &connection.tls {
                request.extensions_mut().insert(tls.clone());
            }
            let connection = connection.clone();
            let (mut parts, body) = request.into_parts();
            // What the gateway leaves unread is drained or closes the connection.
            let (body, watch) = drain::track(body, &parts.headers);
            let handling = Box::pin(async move {
                if smuggling {
                    let mut refusal = smuggling::refusal().into_response();
                    refusal.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
                    return refusal;
                }
                let response = match rules.admit(&mut parts.headers) {
                    Ok(()) => gateway.handle(Request::from_parts(parts, body), connection).await,
                    Err(refused) => refused.into_response(),
                };
                if response.status() == StatusCode::SWITCHING_PROTOCOLS {
                    verdicts.upgraded();
                }
                watch.settle(response, || DrainRule::of(gateway.runtime().body_limits()))
            });
            async move { Ok::<_, Infallible>(handling.await) }
        });
        let connection =
            pin!(protocols.http1.serve_connection(TokioIo::new(stream), service).with_upgrades());
        until_drained(connection, &mut drain, http1::UpgradeableConnection::graceful_shutdown).await
    };
    if let Err(error) = outcome {
        tracing::debug!(%peer, %error, "connection ended with an error");
    }
    // WebSocket sessions taken over from hyper end on the drain signal
    // too; the connection is finished when they are.
    state.sessions_closed().await;
}

/// Runs `connection` to its end; when `drain` fires first, asks it to shut
/// down gracefully (finish what is in flight, take nothing new) and waits.
async fn until_drained<C>(
    mut connection: std::pin::Pin<&mut C>,
    drain: &mut watch::Receiver<bool>,
    graceful_shutdown: fn(std::pin::Pin<&mut C>),
) -> Result<(), hyper::Error>
where
    C: Future<Output = Result<(), hyper::Error>>,
{
    tokio::select! {
        outcome = connection.as_mut() => return outcome,
        _ = drain.wait_for(|draining| *draining) => graceful_shutdown(connection.as_mut()),
    }
    connection.await
}

/// Whether the connection's first bytes are the HTTP/2 preface: `false` as
/// soon as a byte differs. Errors on EOF before a decision.
async fn opens_with_http2_preface(stream: &TcpStream) -> std::io::Result<bool> {
    let mut first = [0u8; HTTP2_PREFACE.len()];
    loop {
        let seen = stream.peek(&mut first).await?;
        if seen == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if first[..seen] != HTTP2_PREFACE[..seen] {
            return Ok(false);
        }
        if seen == HTTP2_PREFACE.len() {
            return Ok(true);
        }
        // A strict prefix: peeking again at once would return the same
        // bytes; give the rest time to arrive.
        tokio::time::sleep(PREFACE_REPEEK).await;
    }
}
