//! `routes[i].grpc.stream`: how the streaming methods of a route are served
//! over REST and WebSocket (framing, envelope, SSE keep-alives and ids,
//! WebSocket pings, limits).

use serde::Deserialize;

use super::{ByteSize, Duration};

/// The streaming switches of a `grpc` route.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamConfig {
    /// The framing when the client's `Accept` names none (default `ndjson`).
    pub framing: Option<StreamFramingConfig>,
    /// Wrap each message as `{"result": <message>}` (default true).
    pub envelope: Option<bool>,
    /// The gap between SSE keep-alive comments (default 15s).
    pub sse_keepalive: Option<Duration>,
    /// `id:` lines on SSE events: `counter`, or `{ field: <reply field> }`.
    pub sse_id: Option<SseIdConfig>,
    /// The longest a stream may last.
    pub max_duration: Option<Duration>,
    /// The longest gap between two messages (each direction on its own).
    pub idle_timeout: Option<Duration>,
    /// The largest request message of a client or bidirectional stream
    /// (default `limits.max_body_bytes`).
    pub max_message_bytes: Option<ByteSize>,
    /// The most request messages of one client or bidirectional stream.
    pub max_messages: Option<u64>,
    /// The most streams (of every kind) open at once on this route.
    pub max_concurrent: Option<usize>,
    /// The gap between the gateway's WebSocket pings (default 15s).
    pub ping_interval: Option<Duration>,
}

/// A framing of a server stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamFramingConfig {
    /// Newline-delimited JSON.
    Ndjson,
    /// Server-Sent Events.
    Sse,
    /// One JSON array.
    Json,
}

/// Where SSE `id:` lines come from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum SseIdConfig {
    /// `counter`: 0, 1, 2...
    Counter(SseCounter),
    /// A field of each reply, by its proto name (`{ field: cursor }`).
    Field {
        /// The field's path.
        field: String,
    },
}

/// The word `counter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SseCounter {
    /// A counter from 0.
    Counter,
}
