//! The query string: `application/x-www-form-urlencoded` pairs read into a
//! message of their own, then merged into the request message where the
//! body (and, later, the path) left leaves unset.
//!
//! Keys are dotted field paths, each name a JSON name or a proto name (see
//! [`field_named`]);
//! `name[key]` sets a map entry; repeated keys append to repeated fields in
//! order, and the last value wins for a singular field. A pair without `=`
//! or with an empty key is dropped.
//!
//! Keys can only be resolved per request; each name is looked up in the
//! descriptor's own index, and a leaf's text form is worked out only for
//! the (rare) message-typed leaves.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, ReflectMessage, Value};

use super::BindOptions;
use super::error::{BindError, BindFailure, internal};
use super::scalar::{is_well_known, parse_kind, parse_map_key};
use crate::transcode::field_path::field_named;

/// The deepest dotted key accepted (a recursive message could otherwise be
/// walked as deep as the query is long).
const MAX_DEPTH: usize = 32;

/// Reads `query` into a new message of type `input`.
pub(super) fn query_message(
    input: &MessageDescriptor,
    query: &str,
    options: &BindOptions,
) -> Result<DynamicMessage, BindFailure> {
    let plus_is_space = !options.query_plus_is_literal;
    let limits = &options.limits;
    let mut message = DynamicMessage::new(input.clone());
    for (index, pair) in query.split('&').filter(|pair| !pair.is_empty()).enumerate() {
        if index >= limits.max_query_params {
            return Err(BindError::new(format!(
                "more than {} query parameters (limits.max_query_params)",
                limits.max_query_params
            ))
            .into());
        }
        let Some((raw_key, raw_value)) = pair.split_once('=') else { continue };
        if raw_key.len().max(raw_value.len()) > limits.max_query_value_bytes {
            return Err(BindError::new(format!(
                "query parameter {:?}: longer than {} bytes (limits.max_query_value_bytes)",
                raw_key.char_indices().nth(64).map_or(raw_key, |(end, _)| &raw_key[..end]),
                limits.max_query_value_bytes
            ))
            .into());
        }
        let key = decode(raw_key, plus_is_space)?;
        if key.is_empty() {
            continue;
        }
        let value = decode(raw_value, plus_is_space)?;
        set_param(&mut message, &key, &value, options)?;
    }
    Ok(message)
}

/// The first key of `query` that a parameter would set (raw, as sent): a
/// pair with `=` and a key, as [`query_message`] reads them.
pub(super) fn first_key(query: &str) -> Option<&str> {
    query.split('&').filter_map(|pair| pair.split_once('=')).map(|(key, _)| key).find(|key| !key.is_empty())
}

/// Moves every field of `source` into `target` that `target` does not have
/// yet, walking into message fields both have (well-known types are leaves).
/// A oneof that `target` already has a member of is left alone.
pub(super) fn merge_unset(
    target: &mut DynamicMessage,
    mut source: DynamicMessage,
) -> Result<(), BindFailure> {
    for (field, value) in source.take_fields() {
        if !target.has_field(&field) {
            let oneof_taken =
                field.containing_oneof().is_some_and(|oneof| oneof.fields().any(|f| target.has_field(&f)));
            if !oneof_taken {
                target.try_set_field(&field, value).map_err(internal)?;
            }
            continue;
        }
        if let (Value::Message(inner), Value::Message(existing)) = (value, target.get_field_mut(&field))
            && !is_well_known(&inner.descriptor())
        {
            merge_unset(existing, inner)?;
        }
    }
    Ok(())
}

/// Percent-decodes one key or value, reading `+` as a space when asked.
fn decode(raw: &str, plus_is_space: bool) -> Result<Cow<'_, str>, BindError> {
    let not_utf8 =
        |_| BindError::new(format!("query parameter {raw:?} is not valid UTF-8 once percent-decoded"));
    if plus_is_space && raw.contains('+') {
        let spaced = raw.replace('+', " ");
        let decoded = percent_decode_str(&spaced).decode_utf8().map_err(not_utf8)?;
        return Ok(Cow::Owned(decoded.into_owned()));
    }
    percent_decode_str(raw).decode_utf8().map_err(not_utf8)
}

/// Sets the field `key` names (walking and creating messages on the way) to `value`.
fn set_param(
    message: &mut DynamicMessage,
    key: &str,
    value: &str,
    options: &BindOptions,
) -> Result<(), BindFailure> {
    let (path, map_key) = match key.strip_suffix(']').and_then(|rest| rest.split_once('[')) {
        Some((path, map_key)) => (path, Some(map_key)),
        None => (key, None),
    };
    let reject = |reason: &str| -> Result<(), BindFailure> {
        Err(BindError::new(format!("query parameter {key:?}: {reason}")).into())
    };
    let mut current = message;
    let mut names = path.split('.').peekable();
    let mut depth = 0;
    while let Some(name) = names.next() {
        depth += 1;
        if depth > MAX_DEPTH {
            return reject("the field path is too deep");
        }
        let Some(field) = field_named(&current.descriptor(), name) else {
            return Ok(unknown(key, options)?);
        };
        let is_message = matches!(field.kind(), Kind::Message(_));
        if is_message && field.is_list() {
            return reject(&format!(
                "{:?} is a repeated message field, which cannot be set from the query",
                field.name()
            ));
        }
        if names.peek().is_none() {
            return set_leaf(current, &field, map_key, key, value);
        }
        if !is_message {
            return Ok(unknown(key, options)?);
        }
        if field.is_map() {
            return reject(&map_entries_only(&field));
        }
        current = match current.get_field_mut(&field) {
            Value::Message(inner) => inner,
            _ => return Err(internal(format!("{} is not a message field", field.full_name()))),
        };
    }
    Ok(())
}

/// An unknown key: ignored, or refused when the options say so.
fn unknown(key: &str, options: &BindOptions) -> Result<(), BindError> {
    if options.reject_unknown_query_parameters {
        return Err(BindError::new(format!("unknown query parameter {key:?}")));
    }
    Ok(())
}

/// Sets (or appends to, or inserts into) the last field of a key.
fn set_leaf(
    message: &mut DynamicMessage,
    field: &FieldDescriptor,
    map_key: Option<&str>,
    key: &str,
    value: &str,
) -> Result<(), BindFailure> {
    let error = |reason: String| BindError::new(format!("query parameter {key:?}: {reason}"));
    match (map_key, field.kind()) {
        (Some(entry_key), Kind::Message(entry)) if field.is_map() => {
            let map_key = parse_map_key(&entry.map_entry_key_field().kind(), entry_key, key)?;
            let map_value = parse_kind(entry.map_entry_value_field().kind(), value, key)?;
            match message.get_field_mut(field) {
                Value::Map(map) => map.insert(map_key, map_value),
                _ => return Err(internal(format!("{} is not a map field", field.full_name()))),
            };
        }
        (Some(_), _) => return Err(error(format!("{:?} is not a map field", field.name())).into()),
        (None, _) if field.is_map() => return Err(error(map_entries_only(field)).into()),
        (None, kind) if field.is_list() => {
            let item = parse_kind(kind, value, key)?;
            match message.get_field_mut(field) {
                Value::List(items) => items.push(item),
                _ => return Err(internal(format!("{} is not a repeated field", field.full_name()))),
            }
        }
        (None, kind) => {
            let item = parse_kind(kind, value, key)?;
            message.try_set_field(field, item).map_err(internal)?;
        }
    }
    Ok(())
}

/// The refusal of a map field named without an entry key.
fn map_entries_only(field: &FieldDescriptor) -> String {
    format!("{:?} is a map field: set its entries as {}[key]=value", field.name(), field.name())
}
