//! Response rendering: a reply `DynamicMessage` (or its `response_body`
//! field) as proto3 canonical JSON, or as raw bytes when it is a
//! `google.api.HttpBody`.
//!
//! JSON is written straight into the output buffer (no intermediate
//! `serde_json::Value`). A `response_body` field that is not a message (a
//! scalar, repeated or map field) is written by [`value`], which follows
//! prost-reflect's mapping for the values it cannot reach on its own.
//!
//! A unary reply arrives as wire bytes ([`ResponseRenderer::render_encoded`]):
//! a whole reply rendered as JSON goes through the wire codec
//! (src/transcode/wire/) without building a message; a `response_body`, a
//! `google.api.HttpBody`, and whatever the codec does not take on are
//! decoded into a `DynamicMessage` and rendered as above.

mod value;

use std::sync::Arc;

use bytes::Bytes;
use http::HeaderValue;
use prost_reflect::{DynamicMessage, Kind, MessageDescriptor, SerializeOptions, Value};
use serde::Serialize;

use super::HttpBodyFields;
use super::bind::PlanError;
use super::codec::decode_reply;
use super::field_path::FieldPath;
use super::wire::{self, Plans};

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
    /// The reply type, which an encoded reply is decoded as.
    output: MessageDescriptor,
    /// The wire codec's plans, when the whole reply is rendered as JSON
    /// and its tree is one the codec takes on.
    wire: Option<Arc<Plans>>,
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

/// Why an encoded reply could not be rendered.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReplyError {
    /// It is not a valid message of its type (INTERNAL, as a reply that
    /// does not decode always was).
    #[error("{}", .0.message())]
    Decode(tonic::Status),
    /// It decoded but cannot be rendered.
    #[error(transparent)]
    Render(#[from] RenderError),
}

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
        let wire = match (&field, &raw) {
            (None, None) => Plans::compile(output).map(Arc::new),
            _ => None,
        };
        Ok(Self { field, raw, options, serialize, output: output.clone(), wire })
    }

    /// Whether replies render as raw bytes (a `google.api.HttpBody`).
    pub fn is_raw(&self) -> bool {
        self.raw.is_some()
    }

    /// Renders one reply from its wire bytes: straight to JSON when the
    /// wire codec takes it on, else decoded and rendered as a message.
    pub fn render_encoded(&self, reply: &[u8]) -> Result<RenderedBody, ReplyError> {
        if let Some(plans) = &self.wire {
            let mut out = Vec::with_capacity(256.max(reply.len() * 2));
            if wire::wire_to_json(plans, reply, &self.options, &self.serialize, &mut out).is_ok() {
                return Ok(RenderedBody {
                    content_type: HeaderValue::from_static(JSON),
                    body: Bytes::from(out),
                });
            }
        }
        let message = decode_reply(&self.output, reply).map_err(ReplyError::Decode)?;
        Ok(self.render(&message)?)
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

/// A reply as a call delivers it: a decoded message, or its wire bytes.
pub trait Reply {
    /// Renders it with `renderer`.
    fn render_with(&self, renderer: &ResponseRenderer) -> Result<RenderedBody, ReplyError>;
}

impl Reply for DynamicMessage {
    fn render_with(&self, renderer: &ResponseRenderer) -> Result<RenderedBody, ReplyError> {
        Ok(renderer.render(self)?)
    }
}

impl Reply for Bytes {
    fn render_with(&self, renderer: &ResponseRenderer) -> Result<RenderedBody, ReplyError> {
        renderer.render_encoded(self)
    }
}
