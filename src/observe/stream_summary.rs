//! What the observer hears when a stream ends ([`super::Phase::StreamEnded`]):
//! its kind, its framing, how many messages went each way and how it
//! ended. Plain values, so that the access log and metrics can report
//! streams without knowing the rooms that serve them.

/// What kind of stream it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// A server stream (one request, a stream of replies).
    Server,
    /// A client stream (a stream of requests, one reply).
    Client,
    /// A bidirectional stream.
    Bidi,
    /// A tunnelled upgrade through a pass-through route (bytes, not messages).
    Tunnel,
}

/// How its messages were framed to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamFraming {
    /// Newline-delimited JSON.
    Ndjson,
    /// Server-Sent Events.
    Sse,
    /// One JSON array.
    JsonArray,
    /// Raw bytes (`google.api.HttpBody` downloads).
    Raw,
    /// One JSON response (a client stream's reply over HTTP).
    Json,
    /// WebSocket text frames.
    WebSocket,
    /// Bytes copied both ways (a tunnel).
    Bytes,
}

/// How a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// The call ended with `OK`.
    Completed,
    /// It failed with this gRPC code: the backend's status, a bad request
    /// message, or one of the stream's own limits.
    Failed(tonic::Code),
    /// The client went away (or closed a WebSocket) before the end.
    ClientLeft,
    /// The gateway's drain ended it (a WebSocket closed with 1001).
    Drained,
}

/// One stream, as it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSummary {
    /// Its kind.
    pub kind: StreamKind,
    /// Its framing.
    pub framing: StreamFraming,
    /// Request messages the gateway read from the client.
    pub received: u64,
    /// Reply messages the gateway sent to the client.
    pub sent: u64,
    /// How it ended.
    pub end: StreamEnd,
}

impl StreamSummary {
    /// A tunnel that closed (its messages are not counted).
    pub fn tunnel() -> Self {
        Self {
            kind: StreamKind::Tunnel,
            framing: StreamFraming::Bytes,
            received: 0,
            sent: 0,
            end: StreamEnd::Completed,
        }
    }
}
