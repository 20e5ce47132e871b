//! Response rendering: a reply `DynamicMessage` (or its `response_body`
//! field) as proto3 canonical JSON, or as raw bytes when it is a
//! `google.api.HttpBody`.
//!
//! JSON is written straight into the output buffer (no intermediate
//! `serde_json::Value`). A `response_body` field that is not a message (a
//! scalar, repeated or map field) is written by [`value`], which follows
//! prost-reflect's mapping for the values it cannot reach on its own.

mod value;

use bytes::Bytes;
use http::HeaderValue;
use prost_reflect::{DynamicMessage, Kind, MessageDescriptor, SerializeOptions, Value};
use serde::Serialize;

use super::HttpBodyFields;
use super::bind::PlanError;
use super::field_path::FieldPath;

/// Switches of JSON output, per gateway and per route. The defaults follow
/// the house plan: lowerCamelCase names, default scalars emitted, enums as
/// names, 64-bit integers as strings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// Use the proto field names (`first_name`) instead of JSON names (`firstName`).
    pub use_proto_names: bool,
    /// Leave fields at their default value out.
    pub omit_defaults: bool,
    /// Render enums as numbers.
    pub enums_as_numbers: bool,
}

/// The response side of one binding, compiled.
#[derive(Debug, Clone)]
pub struct ResponseRenderer {
    /// The reply field rendered instead of the whole reply.
    field: Option<FieldPath>,
    /// The fields of what is rendered when it is a `google.api.HttpBody`.
    raw: Option<HttpBodyFields>,
    options: RenderOptions,
    serialize: SerializeOptions,
}

/// A rendered response body and its content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedBody {
    /// The Content-Type header value.
    pub content_type: HeaderValue,
    /// The body.
    pub body: Bytes,
}

/// A reply that cannot be rendered (a 500: the backend sent what its own
/// schema does not allow).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot render the reply: {0}")]
pub struct RenderError(pub String);

const JSON: &str = "application/json";
const OCTET_STREAM: &str = "application/octet-stream";

impl ResponseRenderer {
    /// Compiles the rendering of `output`; `response_body` names the reply
    /// field to render instead of the whole reply (a load-time error if it
    /// does not resolve).
    pub fn compile(
        output: &MessageDescriptor,
        response_body: Option<&str>,
        options: RenderOptions,
    ) -> Result<Self, PlanError> {
        let field = response_body
            .map(|path| FieldPath::resolve(output, path))
            .transpose()
            .map_err(|e| PlanError(format!("response_body: {e}")))?;
        let raw = match &field {
            None => HttpBodyFields::of(output),
            Some(path) => match path.leaf().kind() {
                Kind::Message(message) if !path.leaf().is_list() && !path.leaf().is_map() => {
                    HttpBodyFields::of(&message)
                }
                _ => None,
            },
        };
        let serialize = SerializeOptions::new()
            .use_proto_field_name(options.use_proto_names)
            .skip_default_fields(options.omit_defaults)
            .use_enum_numbers(options.enums_as_numbers)
            .stringify_64_bit_integers(true);
        Ok(Self { field, raw, options, serialize })
    }

    /// Whether replies render as raw bytes (a `google.api.HttpBody`).
    pub fn is_raw(&self) -> bool {
        self.raw.is_some()
    }

    /// Renders one reply.
    pub fn render(&self, reply: &DynamicMessage) -> Result<RenderedBody, RenderError> {
        let Some(path) = &self.field else {
            return match &self.raw {
                Some(fields) => Ok(raw_body(reply, fields)),
                None => self.json(|s| reply.serialize_with_options(s, &self.serialize)),
            };
        };
        let value = value::field_value(reply, path);
        match (value.as_ref(), &self.raw) {
            (Value::Message(message), Some(fields)) => Ok(raw_body(message, fields)),
            (Value::Message(message), None) => {
                self.json(|s| message.serialize_with_options(s, &self.serialize))
            }
            (other, _) => {
                let field = value::FieldValue::new(other, path.leaf(), &self.options, &self.serialize);
                self.json(|s| field.serialize(s))
            }
        }
    }

    /// Runs `write` against a JSON serializer over a fresh buffer.
    fn json(
        &self,
        write: impl FnOnce(&mut serde_json::Serializer<&mut Vec<u8>>) -> Result<(), serde_json::Error>,
    ) -> Result<RenderedBody, RenderError> {
        let mut buffer = Vec::with_capacity(256);
        write(&mut serde_json::Serializer::new(&mut buffer)).map_err(|e| RenderError(e.to_string()))?;
        Ok(RenderedBody { content_type: HeaderValue::from_static(JSON), body: Bytes::from(buffer) })
    }
}

/// A `google.api.HttpBody` as its bytes and content type; a content type
/// that is empty or not a valid header value is sent as
/// `application/octet-stream`.
fn raw_body(message: &DynamicMessage, fields: &HttpBodyFields) -> RenderedBody {
    let content_type = message.get_field(&fields.content_type);
    let content_type = content_type
        .as_str()
        .filter(|t| !t.is_empty())
        .and_then(|t| HeaderValue::from_str(t).ok())
        .unwrap_or_else(|| HeaderValue::from_static(OCTET_STREAM));
    let body = message.get_field(&fields.data).as_bytes().cloned().unwrap_or_default();
    RenderedBody { content_type, body }
}
