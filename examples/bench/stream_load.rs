//! The stream clients of issue 10's rows: one server stream of small
//! messages read to its end, straight from the backend over gRPC, through
//! the gateway as NDJSON or SSE (HTTP/1.1) or over a WebSocket; and SSE
//! streams opened and then held idle.

use std::net::SocketAddr;

use anyhow::{Context, bail, ensure};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::header::{ACCEPT, HOST};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use protogate::proto::bench::v1::ListItemsRequest;
use protogate::proto::bench::v1::bench_client::BenchClient;
use serde::Serialize;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tonic::transport::Channel;

/// How a stream reaches the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Framing {
    /// `bench.v1.Bench/ListItems` straight to the backend.
    Grpc,
    /// `GET /v1/items:stream`, `Accept: application/x-ndjson`.
    Ndjson,
    /// The same with `Accept: text/event-stream`.
    Sse,
    /// `bench.v1.Bench/WatchItems` over a WebSocket on `/v1/items:watch`:
    /// one request message, then the half-close.
    WebSocket,
}

impl Framing {
    pub fn name(self) -> &'static str {
        match self {
            Self::Grpc => "direct gRPC server stream (baseline)",
            Self::Ndjson => "protogate NDJSON",
            Self::Sse => "protogate SSE",
            Self::WebSocket => "protogate WebSocket",
        }
    }
}

/// Reads a stream of `count` messages from `addr` (the backend for
/// [`Framing::Grpc`], else the gateway) to its end; the messages received.
pub async fn read_stream(framing: Framing, addr: SocketAddr, count: u32) -> anyhow::Result<u64> {
    match framing {
        Framing::Grpc => grpc(addr, count).await,
        Framing::Ndjson => http(addr, count, "application/x-ndjson", Lines::ndjson()).await,
        Framing::Sse => http(addr, count, "text/event-stream", Lines::sse()).await,
        Framing::WebSocket => websocket(addr, count).await,
    }
}

async fn grpc(addr: SocketAddr, count: u32) -> anyhow::Result<u64> {
    let channel = Channel::from_shared(format!("http://{addr}"))?.tcp_nodelay(true).connect().await?;
    let mut replies =
        BenchClient::new(channel).list_items(ListItemsRequest { count, hold: false }).await?.into_inner();
    let mut received = 0;
    while replies.message().await?.is_some() {
        received += 1;
    }
    Ok(received)
}

async fn http(addr: SocketAddr, count: u32, accept: &str, mut lines: Lines) -> anyhow::Result<u64> {
    let (_sender, mut body) = open_stream(addr, &format!("count={count}"), accept).await?;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.context("the stream broke")?.into_data() {
            lines.feed(&data)?;
        }
    }
    Ok(lines.messages)
}

async fn websocket(addr: SocketAddr, count: u32) -> anyhow::Result<u64> {
    let url = format!("ws://{addr}/v1/items:watch");
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(url, None, true)
        .await
        .context("the WebSocket upgrade")?;
    socket.send(Message::text(format!("{{\"count\":{count}}}"))).await?;
    // An empty text frame half-closes the request stream.
    socket.send(Message::text("")).await?;
    let mut received = 0;
    while let Some(message) = socket.next().await {
        match message.context("the WebSocket broke")? {
            Message::Text(text) if text.as_str().starts_with("{\"result\":") => received += 1,
            Message::Text(text) => bail!("the WebSocket sent {}", text.as_str()),
            Message::Close(frame) => {
                let code = frame.as_ref().map(|frame| frame.code);
                ensure!(code == Some(CloseCode::Normal), "the WebSocket closed with {frame:?}");
                break;
            }
            _ => {}
        }
    }
    Ok(received)
}

/// An SSE stream that got its first event and is left idle: the client
/// reads nothing more, the backend sends nothing more.
pub struct IdleStream {
    sender: SendRequest<Empty<Bytes>>,
    _body: Incoming,
}

impl IdleStream {
    /// Opens one on the gateway at `addr` and waits for its first event.
    pub async fn open(addr: SocketAddr) -> anyhow::Result<Self> {
        let (sender, mut body) = open_stream(addr, "count=1&hold=true", "text/event-stream").await?;
        let mut lines = Lines::sse();
        while lines.messages == 0 {
            let frame = body.frame().await.context("the idle stream ended")?;
            if let Ok(data) = frame.context("the idle stream broke")?.into_data() {
                lines.feed(&data)?;
            }
        }
        Ok(Self { sender, _body: body })
    }

    /// Whether its connection is still open.
    pub fn is_open(&self) -> bool {
        !self.sender.is_closed()
    }
}

/// `GET /v1/items:stream?<query>` on a connection of its own: the
/// connection and the body of its `200` answer.
async fn open_stream(
    addr: SocketAddr,
    query: &str,
    accept: &str,
) -> anyhow::Result<(SendRequest<Empty<Bytes>>, Incoming)> {
    let tcp = TcpStream::connect(addr).await.with_context(|| format!("cannot connect to {addr}"))?;
    let _ = tcp.set_nodelay(true);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
    tokio::spawn(connection);
    let request = http::Request::get(format!("/v1/items:stream?{query}"))
        .header(HOST, addr.to_string())
        .header(ACCEPT, accept)
        .body(Empty::new())?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    if !status.is_success() {
        let body = response.into_body().collect().await?.to_bytes();
        bail!("GET /v1/items:stream ({accept}): {status}: {}", String::from_utf8_lossy(&body));
    }
    Ok((sender, response.into_body()))
}

/// Counts a framing's message lines as the body arrives, across chunk
/// boundaries; its error frame is an error.
struct Lines {
    /// How a message's line starts.
    message: &'static [u8],
    /// How the error frame's line starts.
    error: &'static [u8],
    /// The line so far, when a chunk ended inside it.
    partial: Vec<u8>,
    messages: u64,
}

impl Lines {
    /// `{"result": ...}` lines; the error line is `{"error": ...}`.
    fn ndjson() -> Self {
        Self { message: b"{\"result\":", error: b"{\"error\":", partial: Vec::new(), messages: 0 }
    }

    /// `data: ...` lines; the error event starts `event: error`.
    fn sse() -> Self {
        Self { message: b"data: ", error: b"event: error", partial: Vec::new(), messages: 0 }
    }

    fn feed(&mut self, mut data: &[u8]) -> anyhow::Result<()> {
        while let Some(end) = data.iter().position(|byte| *byte == b'\n') {
            self.partial.extend_from_slice(&data[..end]);
            data = &data[end + 1..];
            if self.partial.starts_with(self.error) {
                bail!("the stream ended with its error frame: {}", String::from_utf8_lossy(&self.partial));
            }
            if self.partial.starts_with(self.message) {
                self.messages += 1;
            }
            self.partial.clear();
        }
        self.partial.extend_from_slice(data);
        Ok(())
    }
}
