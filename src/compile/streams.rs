//! `routes[i].grpc.stream` compiled: how a route's server-streaming methods
//! are served (src/transcode/stream/).

use std::time::Duration;

use prost_reflect::MethodDescriptor;

use super::{CompileErrors, Place, settings::duration};
use crate::{
    config::{SseIdConfig, StreamConfig, StreamFramingConfig},
    transcode::{
        HttpBodyFields,
        field_path::FieldPath,
        stream::{Framing, SseId, StreamSettings},
    },
};

/// The default gap between SSE keep-alive comments.
const DEFAULT_SSE_KEEPALIVE: Duration = Duration::from_secs(15);

/// The stream settings of `method` on the route at `place`; errors at their keys.
pub(super) fn stream_settings(
    config: &StreamConfig,
    method: &MethodDescriptor,
    place: &Place,
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
        sse_keepalive: duration(
            config.sse_keepalive,
            DEFAULT_SSE_KEEPALIVE,
            &place.key("sse_keepalive"),
            errors,
        ),
        sse_id,
        max_duration: optional(config.max_duration, "max_duration", errors).filter(|d| !d.is_zero()),
        idle_timeout: optional(config.idle_timeout, "idle_timeout", errors).filter(|d| !d.is_zero()),
    }
}
