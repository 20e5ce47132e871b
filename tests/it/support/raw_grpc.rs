//! A raw gRPC test backend: a bare hyper HTTP/2 server that answers every
//! request with one fixed gRPC message, a response header, and real HTTP/2
//! trailers (a separate HEADERS frame after the data).
//!
//! tonic cannot produce that split for a failing unary call (it sends a
//! trailers-only response), so the gateway's header/trailer handling is
//! tested against this server.
//!
//! Also: an echo server that answers each call with the message it was
//! sent (for services whose request and response types are one), a
//! server that refuses every call with a plain HTTP status, and one whose
//! reply never ends (a message that claims 1 GiB, its bytes sent for as
//! long as they are read, counted).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};
use std::task::{Context, Poll};

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::StreamExt;
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Incoming;
use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// Starts the raw server on an ephemeral local port; it answers with
/// `message` as the single gRPC frame (none when `None`) and `grpc_status` in
/// the trailers, and lives as long as the test process.
pub async fn start_raw_grpc(message: Option<Bytes>, grpc_status: &'static str) -> SocketAddr {
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static(grpc_status));
    trailers.insert("x-raw-trailer", HeaderValue::from_static("from-trailers"));
    start_raw_grpc_with_trailers(message, trailers).await
}

/// Like [`start_raw_grpc`], with the trailers given whole (a status with
/// `grpc-status-details-bin`, say).
pub async fn start_raw_grpc_with_trailers(message: Option<Bytes>, trailers: HeaderMap) -> SocketAddr {
    start_h2(move |_| {
        let reply = reply(message.as_ref(), trailers.clone());
        async move { reply }
    })
    .await
}

/// Starts a server that answers every unary call with the framed message
/// it received, and `grpc-status: 0`.
pub async fn start_grpc_echo() -> SocketAddr {
    start_h2(|request: Request<Incoming>| async move {
        let framed = request.into_body().collect().await.map(|body| body.to_bytes());
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("0"));
        let frames = framed.into_iter().map(Frame::data).chain([Frame::trailers(trailers)]);
        Response::builder()
            .header("content-type", "application/grpc")
            .body(Frames(frames.collect()))
            .expect("a valid response")
    })
    .await
}

/// Serves HTTP/2 on 127.0.0.1:<ephemeral>, answering each request with
/// `handle`, for as long as the test process lives.
async fn start_h2<H, F, B>(handle: H) -> SocketAddr
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: Body<Data = Bytes, Error = Infallible> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a test HTTP/2 server");
    let addr = listener.local_addr().expect("its address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let handle = handle.clone();
            let service = service_fn(move |request| {
                let reply = handle(request);
                async move { Ok::<_, Infallible>(reply.await) }
            });
            tokio::spawn(async move {
                // A client hanging up mid-call is no failure of the server.
                let _ = http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// 200, `content-type: application/grpc`, `x-raw-header`; then the framed
/// message, if any; then `trailers`.
fn reply(message: Option<&Bytes>, trailers: HeaderMap) -> Response<Frames> {
    let mut frames = VecDeque::new();
    if let Some(message) = message {
        let mut frame = BytesMut::with_capacity(5 + message.len());
        frame.put_u8(0);
        frame.put_u32(u32::try_from(message.len()).expect("message under 4 GiB"));
        frame.put_slice(message);
        frames.push_back(Frame::data(frame.freeze()));
    }

    Response::builder()
        .header("content-type", "application/grpc")
        .header("x-raw-header", "from-headers")
        .body(Frames(frames.into_iter().chain([Frame::trailers(trailers)]).collect()))
        .expect("a valid response")
}

/// A body that yields its frames in order.
struct Frames(VecDeque<Frame<Bytes>>);

impl Body for Frames {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.pop_front().map(Ok))
    }
}

/// Starts an HTTP/2 server that refuses every call with a plain HTTP status
/// and no gRPC status, as a proxy or a server past its header limit does:
/// the status named by the request's `want-status` metadata (default 503).
pub async fn start_http_refuser() -> SocketAddr {
    start_h2(|request: Request<Incoming>| async move {
        let status = request
            .headers()
            .get("want-status")
            .and_then(|v| v.to_str().ok()?.parse::<u16>().ok())
            .unwrap_or(503);
        Response::builder().status(status).body(Frames(VecDeque::new())).expect("a valid status")
    })
    .await
}

/// Starts a server that answers every call with a message whose prefix
/// claims 1 GiB, then zeros for as long as the client reads them; the
/// count is of the bytes the client's flow control let it hand over.
pub async fn start_endless_reply() -> (SocketAddr, Arc<AtomicU64>) {
    let handed_over = Arc::new(AtomicU64::new(0));
    let counted = handed_over.clone();
    let addr = start_h2(move |_| {
        let counted = counted.clone();
        let mut prefix = BytesMut::with_capacity(5);
        prefix.put_u8(0);
        prefix.put_u32(1 << 30);
        let head = futures_util::stream::once(async move { prefix.freeze() });
        let zeros = futures_util::stream::repeat(Bytes::from_static(&[0; 64 * 1024]));
        let body = head.chain(zeros).map(move |chunk| {
            counted.fetch_add(chunk.len() as u64, Ordering::SeqCst);
            Ok::<_, Infallible>(Frame::data(chunk))
        });
        let response =
            Response::builder().header("content-type", "application/grpc").body(StreamBody::new(body));
        async move { response.expect("a valid response") }
    })
    .await;
    (addr, handed_over)
}
