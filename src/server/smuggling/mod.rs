//! Spots HTTP/1 request heads that carry both `Content-Length` and
//! `Transfer-Encoding` (a request smuggling shape), from the raw bytes of
//! the connection, before hyper parses them: hyper accepts such a request,
//! drops its `Content-Length` and closes the connection after answering,
//! so nothing after it can tell. The gateway refuses it instead (400), as
//! Envoy does by default.
//!
//! [`Watched`] wraps the connection's stream and runs every byte hyper reads
//! through a [`Scanner`] that follows the messages' framing (heads, bodies
//! by `Content-Length` or chunked, trailers) as hyper does, allocating
//! nothing; the connection's service asks the shared [`Verdicts`], request
//! by request, whether that request's head was such a shape. It knows
//! nothing of routes or bodies' contents.

use std::{
    io,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    task::{Context, Poll},
};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

mod scanner;

use scanner::Scanner;

use crate::error::GatewayError;

/// No head on the connection had both headers (yet).
const NONE: u64 = u64::MAX;

/// What the scanner found, shared with the connection's service.
#[derive(Debug)]
pub(super) struct Verdicts {
    /// The index of the head that had both headers, or [`NONE`].
    smuggling_at: AtomicU64,
    /// How many requests the service was handed.
    served: AtomicU64,
    /// The connection was upgraded: what follows is not HTTP.
    upgraded: AtomicBool,
}

impl Verdicts {
    fn new() -> Self {
        Self {
            smuggling_at: AtomicU64::new(NONE),
            served: AtomicU64::new(0),
            upgraded: AtomicBool::new(false),
        }
    }

    /// Whether the request the service is handed now (hyper hands them in
    /// order, each after its head went through the scanner) had both headers.
    pub(super) fn next_is_smuggling(&self) -> bool {
        let index = self.served.fetch_add(1, Ordering::AcqRel);
        self.smuggling_at.load(Ordering::Acquire) == index
    }

    /// The connection is taken over by an upgrade: stop scanning.
    pub(super) fn upgraded(&self) {
        self.upgraded.store(true, Ordering::Release);
    }
}

/// The answer to a request with both headers (hyper closes the connection after it).
pub(super) fn refusal() -> GatewayError {
    GatewayError::bad_request(
        "the request has both Content-Length and Transfer-Encoding, a request smuggling shape: send one of them",
    )
}

/// A stream whose reads go through a [`Scanner`].
pub(super) struct Watched<S> {
    inner: S,
    scanner: Scanner,
    verdicts: Arc<Verdicts>,
}

impl<S> Watched<S> {
    /// Wraps `inner`; the verdicts go to the connection's service.
    pub(super) fn new(inner: S) -> (Self, Arc<Verdicts>) {
        let verdicts = Arc::new(Verdicts::new());
        (Self { inner, scanner: Scanner::default(), verdicts: verdicts.clone() }, verdicts)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if this.verdicts.upgraded.load(Ordering::Acquire) {
            this.scanner.stop();
        }
        if let Some(index) = this.scanner.feed(&buf.filled()[before..]) {
            this.verdicts.smuggling_at.store(index, Ordering::Release);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `bytes` through a [`Watched`] stream; whether the next request counts as smuggling.
    async fn read_through(bytes: &[u8], upgraded: bool) -> bool {
        use tokio::io::AsyncReadExt;
        let (mut stream, verdicts) = Watched::new(bytes);
        if upgraded {
            verdicts.upgraded();
        }
        let mut read = Vec::new();
        stream.read_to_end(&mut read).await.unwrap();
        assert_eq!(read, bytes);
        verdicts.next_is_smuggling()
    }

    #[tokio::test]
    async fn reads_are_scanned_until_the_connection_is_upgraded() {
        let shape = b"POST / HTTP/1.1\r\ncontent-length: 1\r\ntransfer-encoding: chunked\r\n\r\n";
        assert!(read_through(shape, false).await);
        assert!(!read_through(shape, true).await);
        assert!(!read_through(b"GET / HTTP/1.1\r\n\r\n", false).await);
    }
}
