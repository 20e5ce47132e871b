//! The framings of a server stream over HTTP and how each writes its
//! frames: a message, the error frame, keep-alives, the opening and the
//! closing (docs/streaming.md states the grammar). It renders; it does not
//! poll the stream.

use bytes::{BufMut, Bytes, BytesMut};
use http::HeaderValue;
use prost_reflect::{DynamicMessage, Value};
use serde_json::json;

use crate::transcode::{
    field_path::FieldPath,
    render::{RenderError, ResponseRenderer},
};

/// How the messages of a stream are framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// One JSON value per line (`application/x-ndjson`).
    Ndjson,
    /// Server-Sent Events (`text/event-stream`).
    Sse,
    /// One JSON array, streamed (`application/json`).
    JsonArray,
    /// The bytes of `google.api.HttpBody` messages, as they are.
    Raw,
    /// One WebSocket text frame per message: `{"result": <message>}`, and
    /// `{"error": ...}` for the error frame (never chosen by `Accept`).
    WebSocket,
}

impl Framing {
    /// Its name in the access log.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ndjson => "ndjson",
            Self::Sse => "sse",
            Self::JsonArray => "json_array",
            Self::Raw => "raw",
            Self::WebSocket => "websocket",
        }
    }

    /// The framing the client's `Accept` asks for, in the order it lists
    /// them (a range with `q=0` is skipped); `default` when it names none.
    pub fn negotiate(accept: Option<&HeaderValue>, default: Framing) -> Framing {
        let Some(accept) = accept.and_then(|v| v.to_str().ok()) else { return default };
        for range in accept.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            let framing = match media.to_ascii_lowercase().as_str() {
                "application/x-ndjson" => Framing::Ndjson,
                "text/event-stream" => Framing::Sse,
                "application/json" => Framing::JsonArray,
                _ => continue,
            };
            if !refused {
                return framing;
            }
        }
        default
    }

    /// The response's content type (a raw stream takes its first message's).
    pub fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Framing::Ndjson => "application/x-ndjson",
            Framing::Sse => "text/event-stream",
            Framing::JsonArray | Framing::WebSocket => "application/json",
            Framing::Raw => "application/octet-stream",
        })
    }
}

/// Where SSE `id:` lines come from.
#[derive(Debug, Clone)]
pub enum SseId {
    /// 0, 1, 2... per stream.
    Counter,
    /// A scalar field of each reply (no line when it is not set or empty).
    Field(FieldPath),
}

/// The error frame's content.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorFrame {
    /// The gRPC code.
    pub code: tonic::Code,
    /// The message.
    pub message: String,
    /// The rich details, as JSON.
    pub details: Vec<serde_json::Value>,
}

/// Writes the frames of one stream.
#[derive(Debug)]
pub(super) struct FrameWriter {
    pub(super) framing: Framing,
    envelope: bool,
    sse_id: Option<SseId>,
    renderer: ResponseRenderer,
    written: u64,
}

const KEEPALIVE: &[u8] = b": keep-alive\n\n";

impl FrameWriter {
    pub(super) fn new(
        framing: Framing,
        envelope: bool,
        sse_id: Option<SseId>,
        renderer: ResponseRenderer,
    ) -> Self {
        Self { framing, envelope, sse_id, renderer, written: 0 }
    }

    /// The frame of one message.
    pub(super) fn message(&mut self, message: &DynamicMessage) -> Result<Bytes, RenderError> {
        let rendered = self.renderer.render(message)?.body;
        let first = self.written == 0;
        self.written += 1;
        let mut out = BytesMut::with_capacity(rendered.len() + 24);
        match self.framing {
            Framing::Raw => return Ok(rendered),
            Framing::Ndjson => {
                self.enveloped(&mut out, &rendered);
                out.put_u8(b'\n');
            }
            Framing::WebSocket => {
                out.put_slice(b"{\"result\":");
                out.put_slice(&rendered);
                out.put_u8(b'}');
            }
            Framing::JsonArray => {
                out.put_u8(if first { b'[' } else { b',' });
                self.enveloped(&mut out, &rendered);
            }
            Framing::Sse => {
                if let Some(id) = self.sse_id(message) {
                    out.put_slice(b"id: ");
                    out.put_slice(id.as_bytes());
                    out.put_u8(b'\n');
                }
                out.put_slice(b"data: ");
                out.put_slice(&rendered);
                out.put_slice(b"\n\n");
            }
        }
        Ok(out.freeze())
    }

    /// A keep-alive (SSE only: a comment).
    pub(super) fn keepalive(&self) -> Bytes {
        Bytes::from_static(KEEPALIVE)
    }

    /// The last bytes of the stream: the error frame if it failed, and
    /// the closing of the framing.
    pub(super) fn close(&mut self, error: Option<&ErrorFrame>) -> Bytes {
        let body = error.map(|e| json!({"code": e.code as i32, "message": e.message, "details": e.details}));
        let mut out = BytesMut::new();
        match (self.framing, body) {
            (Framing::Raw, _) | (Framing::Ndjson | Framing::Sse | Framing::WebSocket, None) => {}
            (Framing::Ndjson, Some(body)) => {
                out.put_slice(json!({ "error": body }).to_string().as_bytes());
                out.put_u8(b'\n');
            }
            (Framing::WebSocket, Some(body)) => {
                out.put_slice(json!({ "error": body }).to_string().as_bytes())
            }
            (Framing::Sse, Some(body)) => {
                out.put_slice(b"event: error\ndata: ");
                out.put_slice(body.to_string().as_bytes());
                out.put_slice(b"\n\n");
            }
            (Framing::JsonArray, body) => {
                if self.written == 0 {
                    out.put_u8(b'[');
                }
                if let Some(body) = body {
                    if self.written > 0 {
                        out.put_u8(b',');
                    }
                    out.put_slice(json!({ "error": body }).to_string().as_bytes());
                }
                out.put_u8(b']');
            }
        }
        out.freeze()
    }

    fn enveloped(&self, out: &mut BytesMut, rendered: &[u8]) {
        if self.envelope {
            out.put_slice(b"{\"result\":");
            out.put_slice(rendered);
            out.put_u8(b'}');
        } else {
            out.put_slice(rendered);
        }
    }

    /// The `id:` of a message's event: never with a line break or NUL, which would end the line.
    fn sse_id(&self, message: &DynamicMessage) -> Option<String> {
        let id = match self.sse_id.as_ref()? {
            SseId::Counter => (self.written - 1).to_string(),
            SseId::Field(path) => field_text(message, path)?,
        };
        (!id.is_empty() && !id.contains(['\n', '\r', '\0'])).then_some(id)
    }
}

/// A scalar field's value as text.
fn field_text(message: &DynamicMessage, path: &FieldPath) -> Option<String> {
    let mut current = message.clone();
    for parent in path.parents() {
        current = current.get_field(parent).as_message()?.clone();
    }
    Some(match current.get_field(path.leaf()).as_ref() {
        Value::String(text) => text.clone(),
        Value::I32(n) | Value::EnumNumber(n) => n.to_string(),
        Value::I64(n) => n.to_string(),
        Value::U32(n) => n.to_string(),
        Value::U64(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_picks_the_first_framing_it_names() {
        let negotiate =
            |accept: &str| Framing::negotiate(Some(&HeaderValue::from_str(accept).unwrap()), Framing::Ndjson);
        assert_eq!(negotiate("text/event-stream"), Framing::Sse);
        assert_eq!(negotiate("text/html, application/json;q=0.9"), Framing::JsonArray);
        assert_eq!(negotiate("application/json;q=0, */*"), Framing::Ndjson);
        assert_eq!(negotiate("*/*"), Framing::Ndjson);
        assert_eq!(Framing::negotiate(None, Framing::Sse), Framing::Sse);
    }
}
