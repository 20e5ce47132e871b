//! The request body: JSON read straight into a message (or into one
//! non-message field), or raw bytes into a `google.api.HttpBody`.
//!
//! prost-reflect ties "ignore unknown fields" and "ignore unknown enum names"
//! to one switch, while the gateway ignores the first and refuses the second.
//! So a body is read strictly first (one pass in the common case); only when
//! that fails and unknown fields are allowed is it read leniently and then,
//! if its message can hold an enum at all, walked for unknown enum names
//! (see [`super::walk`]). That walk also collects the update-mask paths
//! when the binding may need them, so that they need no walk of their own.

use bytes::Bytes;
use prost_reflect::{DeserializeOptions, DynamicMessage, FieldDescriptor, MessageDescriptor, Value};
use serde::de::IgnoredAny;
use serde_path_to_error::{Path, Track};

use super::error::{BindError, BindFailure, internal};
use super::plan::BodyPlan;
use super::walk::walk;
use crate::transcode::HttpBodyFields;

/// A JSON body read as a message.
pub(super) struct Read {
    pub(super) message: DynamicMessage,
    /// The update-mask paths of its keys, when they were collected on the way.
    pub(super) paths: Option<Vec<String>>,
}

/// Reads a non-empty JSON `body` as the message `plan` is rooted at;
/// `collect_paths` asks for the update-mask paths if the body is walked.
pub(super) fn read_json(
    plan: &BodyPlan,
    body: &[u8],
    reject_unknown: bool,
    collect_paths: bool,
) -> Result<Read, BindError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(BindError::new("invalid JSON body: the body holds only whitespace"));
    }
    let descriptor = plan.root().descriptor();
    match deserialize(descriptor, body, true) {
        Ok(message) => Ok(Read { message, paths: None }),
        Err(error) if reject_unknown => Err(error),
        Err(_) => {
            let message = deserialize(descriptor, body, false)?;
            if !plan.has_enums() {
                return Ok(Read { message, paths: None });
            }
            let paths = walk(plan.root(), body, true, collect_paths)?;
            Ok(Read { message, paths: collect_paths.then_some(paths) })
        }
    }
}

/// Reads a non-empty JSON `body` as the value of the non-message field
/// `field` (a scalar, an enum, a repeated or a map field), with `parent`
/// the plan of the message holding it. `None` when the value is the
/// field's default.
pub(super) fn read_field_value(
    parent: &BodyPlan,
    field: &FieldDescriptor,
    body: &[u8],
    reject_unknown: bool,
) -> Result<Option<Value>, BindError> {
    // The body must be one JSON value before it is spliced into an object,
    // or `"a","other":1` would set a sibling field.
    serde_json::from_slice::<IgnoredAny>(body).map_err(|e| json_error(&e, None))?;
    let name = field.json_name();
    let mut wrapped = Vec::with_capacity(body.len() + name.len() + 4);
    wrapped.extend_from_slice(b"{\"");
    wrapped.extend_from_slice(name.as_bytes());
    wrapped.extend_from_slice(b"\":");
    wrapped.extend_from_slice(body);
    wrapped.push(b'}');
    let mut parent = read_json(parent, &wrapped, reject_unknown, false)?.message;
    Ok(parent.take_field(field))
}

/// The body as a `google.api.HttpBody` of type `message` (whose fields are
/// `fields`): the bytes as they came (shared, not copied), and the
/// request's content type.
pub(super) fn http_body(
    message: &MessageDescriptor,
    fields: &HttpBodyFields,
    body: &Bytes,
    content_type: Option<&str>,
) -> Result<DynamicMessage, BindFailure> {
    let mut raw = DynamicMessage::new(message.clone());
    if let Some(content_type) = content_type {
        raw.try_set_field(&fields.content_type, Value::String(content_type.to_owned())).map_err(internal)?;
    }
    raw.try_set_field(&fields.data, Value::Bytes(body.clone())).map_err(internal)?;
    Ok(raw)
}

/// Reads `body` as `message`; an error names the field path where it happened.
fn deserialize(
    message: &MessageDescriptor,
    body: &[u8],
    deny_unknown: bool,
) -> Result<DynamicMessage, BindError> {
    let options = DeserializeOptions::new().deny_unknown_fields(deny_unknown);
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let mut track = Track::new();
    let tracked = serde_path_to_error::Deserializer::new(&mut deserializer, &mut track);
    let read = DynamicMessage::deserialize_with_options(message.clone(), tracked, &options)
        .map_err(|error| json_error(&error, Some(&track.path())))?;
    deserializer.end().map_err(|error| json_error(&error, None))?;
    Ok(read)
}

/// A body that is not the JSON of its message: the parser's message, after
/// the field path (as the client wrote its keys: `author.email`, `tags[2]`)
/// when the error is inside a field.
pub(super) fn json_error(error: &serde_json::Error, path: Option<&Path>) -> BindError {
    match path.filter(|path| path.iter().next().is_some()) {
        Some(path) => BindError::new(format!("invalid JSON body: field {:?}: {error}", path.to_string())),
        None => BindError::new(format!("invalid JSON body: {error}")),
    }
}
