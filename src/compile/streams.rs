//! `routes[i].grpc.stream` compiled: how a route's streaming methods are
//! served (src/transcode/stream/).

use std::time::Duration;

use prost_reflect::MethodDescriptor;

use super::{
    CompileErrors, Place,
    settings::{duration, positive},
};
use crate::{
    config::{SseIdConfig, StreamConfig, StreamFramingConfig},
    transcode::{
        HttpBodyFields,
        field_path::FieldPath,
        stream::{Framing, SseId, StreamCaps, StreamSettings},
    },
};

/// The default gap between SSE keep-alive comments, and between WebSocket pings.
const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(15);

/// The stream settings of `method` on the route at `place`, with the
/// request messages at most `max_body_bytes` unless the route says, and
/// the route's `caps`; errors at their keys.
pub(super) fn stream_settings(
    config: &StreamConfig,
    method: &MethodDescriptor,
    place: &Place,
    (max_body_bytes, caps): (usize, StreamCaps),
    errors: &mut CompileErrors,
) -> StreamSettings {
    let place = place.key("grpc").key("stream");
    // A download (HttpBody replies) is never framed as SSE.
    let raw = HttpBodyFields::of(&method.output()).is_some();
    let sse_id = match &config.sse_id {
        None => None,
        Some(_) if raw => None,
        Some(SseIdConfig::Counter(_)) => Some(SseId::Counter),
        Some(SseIdConfig::Field { field }) => match FieldPath::resolve(&method.output(), field) {
            Ok(path) => Some(SseId::Field(path)),
            Err(error) => {
                errors.push(place.key("sse_id").key("field"), format!("{}: {error}", method.full_name()));
                None
            }
        },
    };
    let optional = |value: Option<crate::config::Duration>, key: &str, errors: &mut CompileErrors| {
        value.map(|value| duration(Some(value), Duration::ZERO, &place.key(key), errors))
    };
    StreamSettings {
        default_framing: match config.framing {
            None | Some(StreamFramingConfig::Ndjson) => Framing::Ndjson,
            Some(StreamFramingConfig::Sse) => Framing::Sse,
            Some(StreamFramingConfig::Json) => Framing::JsonArray,
        },
        envelope: config.envelope.unwrap_or(true),
        sse_keepalive: duration(config.sse_keepalive, DEFAULT_KEEPALIVE, &place.key("sse_keepalive"), errors),
        ping_interval: duration(config.ping_interval, DEFAULT_KEEPALIVE, &place.key("ping_interval"), errors),
        sse_id,
        max_duration: optional(config.max_duration, "max_duration", errors).filter(|d| !d.is_zero()),
        idle_timeout: optional(config.idle_timeout, "idle_timeout", errors).filter(|d| !d.is_zero()),
        max_message_bytes: match positive(
            config.max_message_bytes.map(|b| b.0),
            &place.key("max_message_bytes"),
            errors,
        ) {
            Some(bytes) => usize::try_from(bytes).unwrap_or(usize::MAX),
            None => max_body_bytes,
        },
        max_messages: positive(config.max_messages, &place.key("max_messages"), errors),
        caps,
    }
}
