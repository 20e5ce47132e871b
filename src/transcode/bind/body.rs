//! The request body: JSON read straight into a message (or into one
//! non-message field), or raw bytes into a `google.api.HttpBody`.
//!
//! prost-reflect ties "ignore unknown fields" and "ignore unknown enum names"
//! to one switch, while the gateway ignores the first and refuses the second.
//! So a body is read strictly first (one pass in the common case); only when
//! that fails and unknown fields are allowed is it read leniently and then
//! checked for unknown enum names (see [`super::enums`]).

use bytes::Bytes;
use prost_reflect::{DeserializeOptions, DynamicMessage, FieldDescriptor, MessageDescriptor, Value};
use serde::de::IgnoredAny;

use super::BindError;
use super::enums::check_enums;

/// The full name of the raw-body message.
pub(super) const HTTP_BODY: &str = "google.api.HttpBody";

/// Reads a non-empty JSON `body` as a message of type `message`.
pub(super) fn read_json(
    message: &MessageDescriptor,
    body: &[u8],
    reject_unknown: bool,
) -> Result<DynamicMessage, BindError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(BindError { message: "invalid JSON body: the body holds only whitespace".to_owned() });
    }
    match deserialize(message, body, true) {
        Ok(read) => Ok(read),
        Err(error) if reject_unknown => Err(json_error(&error)),
        Err(_) => {
            let read = deserialize(message, body, false).map_err(|e| json_error(&e))?;
            check_enums(message, body)?;
            Ok(read)
        }
    }
}

/// Reads a non-empty JSON `body` as the value of the non-message field
/// `field` (a scalar, an enum, a repeated or a map field). `None` when the
/// value is the field's default.
pub(super) fn read_field_value(
    field: &FieldDescriptor,
    body: &[u8],
    reject_unknown: bool,
) -> Result<Option<Value>, BindError> {
    // The body must be one JSON value before it is spliced into an object,
    // or `"a","other":1` would set a sibling field.
    serde_json::from_slice::<IgnoredAny>(body).map_err(|e| json_error(&e))?;
    let name = field.json_name();
    let mut wrapped = Vec::with_capacity(body.len() + name.len() + 4);
    wrapped.extend_from_slice(b"{\"");
    wrapped.extend_from_slice(name.as_bytes());
    wrapped.extend_from_slice(b"\":");
    wrapped.extend_from_slice(body);
    wrapped.push(b'}');
    let mut parent = read_json(field.parent_message(), &wrapped, reject_unknown)?;
    Ok(parent.take_field(field))
}

/// The body as a `google.api.HttpBody`: the bytes as they came, and the
/// request's content type.
pub(super) fn http_body(
    message: &MessageDescriptor,
    body: &[u8],
    content_type: Option<&str>,
) -> Result<DynamicMessage, BindError> {
    let mut raw = DynamicMessage::new(message.clone());
    let field = |number: u32| {
        message
            .get_field(number)
            .ok_or_else(|| BindError { message: format!("{HTTP_BODY} without field {number}") })
    };
    if let Some(content_type) = content_type {
        raw.try_set_field(&field(1)?, Value::String(content_type.to_owned()))
            .map_err(|e| BindError { message: e.to_string() })?;
    }
    raw.try_set_field(&field(2)?, Value::Bytes(Bytes::copy_from_slice(body)))
        .map_err(|e| BindError { message: e.to_string() })?;
    Ok(raw)
}

fn deserialize(
    message: &MessageDescriptor,
    body: &[u8],
    deny_unknown: bool,
) -> Result<DynamicMessage, serde_json::Error> {
    let options = DeserializeOptions::new().deny_unknown_fields(deny_unknown);
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let read = DynamicMessage::deserialize_with_options(message.clone(), &mut deserializer, &options)?;
    deserializer.end()?;
    Ok(read)
}

fn json_error(error: &serde_json::Error) -> BindError {
    BindError { message: format!("invalid JSON body: {error}") }
}
