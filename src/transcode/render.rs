//! Response rendering: a reply `DynamicMessage` (or its `response_body`
//! field) as proto3 canonical JSON, or as raw bytes when it is a
//! `google.api.HttpBody`.

use bytes::Bytes;
use prost_reflect::{DynamicMessage, MessageDescriptor};

/// Switches of JSON output, per gateway and per route. The defaults follow
/// the house plan: lowerCamelCase names, default scalars emitted, enums as
/// names, 64-bit integers as strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderOptions {
    /// Use the proto field names (`first_name`) instead of JSON names (`firstName`).
    pub use_proto_names: bool,
    /// Leave fields at their default value out.
    pub omit_defaults: bool,
    /// Render enums as numbers.
    pub enums_as_numbers: bool,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self { use_proto_names: false, omit_defaults: false, enums_as_numbers: false }
    }
}

/// The response side of one binding, compiled.
#[derive(Debug, Clone)]
pub struct ResponseRenderer {
    output: MessageDescriptor,
}

/// A rendered response body and its content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedBody {
    /// The Content-Type header value.
    pub content_type: String,
    /// The body.
    pub body: Bytes,
}

/// A reply that cannot be rendered (a 500: the backend sent what its own
/// schema does not allow).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot render the reply: {0}")]
pub struct RenderError(pub String);

impl ResponseRenderer {
    /// Compiles the rendering of `output`; `response_body` names the reply
    /// field to render instead of the whole reply (a load-time error if it
    /// does not resolve).
    pub fn compile(
        output: &MessageDescriptor,
        response_body: Option<&str>,
        options: RenderOptions,
    ) -> Result<Self, super::bind::PlanError> {
        let _ = (response_body, options);
        Ok(Self { output: output.clone() })
    }

    /// The reply message type.
    pub fn output(&self) -> &MessageDescriptor {
        &self.output
    }

    /// Renders one reply.
    pub fn render(&self, reply: &DynamicMessage) -> Result<RenderedBody, RenderError> {
        todo!("{reply:?}")
    }
}
