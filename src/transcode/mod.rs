//! Transcoding: an HTTP/JSON request becomes a dynamic gRPC call and the
//! reply becomes JSON. Binding and rendering are compiled once per route;
//! nothing here looks up a descriptor by name on the request path.

pub mod bind;
pub mod codec;
mod error;
pub mod failure;
pub mod field_path;
pub mod idempotency;
pub mod metadata;
mod outcome;
mod parts;
pub mod render;
pub mod stream;
pub mod target;
mod wire;

#[cfg(test)]
mod tests;

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};

/// The full name of the message that carries a raw (non-JSON) body, on
/// the request side and on the reply side.
pub(crate) const HTTP_BODY: &str = "google.api.HttpBody";

/// The fields of a `google.api.HttpBody`, resolved when a binding is
/// compiled: `content_type` (1, a string) and `data` (2, bytes).
#[derive(Debug, Clone)]
pub(crate) struct HttpBodyFields {
    pub(crate) content_type: FieldDescriptor,
    pub(crate) data: FieldDescriptor,
}

impl HttpBodyFields {
    /// The fields of `message` if it is a `google.api.HttpBody` of the
    /// expected shape; `None` for any other message.
    pub(crate) fn of(message: &MessageDescriptor) -> Option<Self> {
        if message.full_name() != HTTP_BODY {
            return None;
        }
        let field = |number: u32, kind: Kind| {
            message.get_field(number).filter(|f| !f.is_list() && !f.is_map() && f.kind() == kind)
        };
        Some(Self { content_type: field(1, Kind::String)?, data: field(2, Kind::Bytes)? })
    }
}
