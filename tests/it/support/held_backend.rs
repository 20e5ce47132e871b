//! A backend that holds every call until the test lets it go: it answers
//! each request (gRPC over h2c, or plain HTTP/1.1 for pass-through routes)
//! with its head at once and a body the test writes, one gRPC message at a
//! time, then ends with `grpc-status: 0`. The test gets each call as it
//! arrives ([`HeldBackend::next_call`]) and sees when the gateway gave up on
//! one ([`HeldCall::cancelled`]). It counts the calls it saw.

use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body::Frame;
use http_body_util::{BodyExt, StreamBody, combinators::UnsyncBoxBody};
use hyper::{body::Incoming, service::service_fn};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use tokio::{net::TcpListener, sync::mpsc};
use tokio_stream::wrappers::ReceiverStream;

use super::poll::POLL_DEADLINE;

type Frames = mpsc::Sender<Result<Frame<Bytes>, Infallible>>;

/// The backend: its address, the calls it holds, how many it saw.
pub struct HeldBackend {
    addr: SocketAddr,
    calls: mpsc::UnboundedReceiver<HeldCall>,
    seen: Arc<AtomicUsize>,
}

/// One call the backend holds.
pub struct HeldCall {
    /// The request's path.
    pub path: String,
    frames: Frames,
}

impl HeldBackend {
    /// Starts it on 127.0.0.1:0; it serves as long as the test process lives.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (sender, calls) = mpsc::unbounded_channel();
        let seen = Arc::new(AtomicUsize::new(0));
        let counted = seen.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (sender, counted) = (sender.clone(), counted.clone());
                let service = service_fn(move |request: Request<Incoming>| {
                    counted.fetch_add(1, Ordering::SeqCst);
                    let (frames, body) = mpsc::channel(16);
                    let _ = sender.send(HeldCall { path: request.uri().path().to_owned(), frames });
                    let body = StreamBody::new(ReceiverStream::new(body)).boxed_unsync();
                    let response = Response::builder().header("content-type", "application/grpc").body(body);
                    async move { Ok::<Response<UnsyncBoxBody<Bytes, Infallible>>, Infallible>(response.unwrap()) }
                });
                tokio::spawn(async move {
                    let builder = auto::Builder::new(TokioExecutor::new());
                    // A gateway that gives up on a call is no failure here.
                    let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        Self { addr, calls, seen }
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The calls it saw so far.
    pub fn seen(&self) -> usize {
        self.seen.load(Ordering::SeqCst)
    }

    /// The next call to arrive (panics after [`POLL_DEADLINE`]).
    pub async fn next_call(&mut self) -> HeldCall {
        tokio::time::timeout(POLL_DEADLINE, self.calls.recv())
            .await
            .expect("a call reaches the backend in time")
            .expect("the backend runs")
    }
}

impl HeldCall {
    /// Sends one empty gRPC message (every message type's default).
    pub async fn send_message(&self) {
        let message = Bytes::from_static(&[0, 0, 0, 0, 0]);
        self.frames.send(Ok(Frame::data(message))).await.expect("the call is still open");
    }

    /// Ends the call: one empty message for a unary call, then `grpc-status: 0`.
    pub async fn finish(self, with_message: bool) {
        if with_message {
            self.send_message().await;
        }
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("0"));
        self.frames.send(Ok(Frame::trailers(trailers))).await.expect("the call is still open");
    }

    /// Resolves once the gateway let go of the call (its body was dropped).
    pub async fn cancelled(&self) {
        tokio::time::timeout(POLL_DEADLINE, self.frames.closed())
            .await
            .expect("the gateway lets go of the call");
    }
}
