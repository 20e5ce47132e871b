//! The query string: `application/x-www-form-urlencoded` pairs read into a
//! message of their own, then merged into the request message where the
//! body (and, later, the path) left leaves unset.
//!
//! Keys are dotted field paths, each name a proto name or a JSON name;
//! `name[key]` sets a map entry; repeated keys append to repeated fields in
//! order, and the last value wins for a singular field. A pair without `=`
//! or with an empty key is dropped.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, ReflectMessage, Value};

use super::scalar::{is_well_known, parse_map_key, parse_value};
use super::{BindError, BindOptions};

/// The deepest dotted key accepted (a recursive message could otherwise be
/// walked as deep as the query is long).
const MAX_DEPTH: usize = 32;

/// Reads `query` into a new message of type `input`.
pub(super) fn query_message(
    input: &MessageDescriptor,
    query: &str,
    options: &BindOptions,
) -> Result<DynamicMessage, BindError> {
    let plus_is_space = !options.query_plus_is_literal;
    let mut message = DynamicMessage::new(input.clone());
    for pair in query.split('&') {
        let Some((raw_key, raw_value)) = pair.split_once('=') else { continue };
        let key = decode(raw_key, plus_is_space)?;
        if key.is_empty() {
            continue;
        }
        let value = decode(raw_value, plus_is_space)?;
        set_param(&mut message, &key, &value, options)?;
    }
    Ok(message)
}

/// Moves every field of `source` into `target` that `target` does not have
/// yet, walking into message fields both have (well-known types are leaves).
/// A oneof that `target` already has a member of is left alone.
pub(super) fn merge_unset(target: &mut DynamicMessage, mut source: DynamicMessage) -> Result<(), BindError> {
    for (field, value) in source.take_fields() {
        if !target.has_field(&field) {
            let oneof_taken =
                field.containing_oneof().is_some_and(|oneof| oneof.fields().any(|f| target.has_field(&f)));
            if !oneof_taken {
                target.try_set_field(&field, value).map_err(|e| BindError { message: e.to_string() })?;
            }
            continue;
        }
        if let (Value::Message(inner), Value::Message(existing)) = (value, target.get_field_mut(&field)) {
            if !is_well_known(&inner.descriptor()) {
                merge_unset(existing, inner)?;
            }
        }
    }
    Ok(())
}

/// Percent-decodes one key or value, reading `+` as a space when asked.
fn decode(raw: &str, plus_is_space: bool) -> Result<Cow<'_, str>, BindError> {
    let not_utf8 =
        |_| BindError { message: format!("query parameter {raw:?} is not valid UTF-8 once percent-decoded") };
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
) -> Result<(), BindError> {
    let (path, map_key) = match key.strip_suffix(']').and_then(|rest| rest.split_once('[')) {
        Some((path, map_key)) => (path, Some(map_key)),
        None => (key, None),
    };
    let reject = |reason: &str| Err(BindError { message: format!("query parameter {key:?}: {reason}") });
    let mut current = message;
    let mut names = path.split('.').peekable();
    let mut depth = 0;
    while let Some(name) = names.next() {
        depth += 1;
        if depth > MAX_DEPTH {
            return reject("the field path is too deep");
        }
        let descriptor = current.descriptor();
        let Some(field) =
            descriptor.get_field_by_name(name).or_else(|| descriptor.get_field_by_json_name(name))
        else {
            return unknown(key, options);
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
            return unknown(key, options);
        }
        if field.is_map() {
            return reject(&format!(
                "{:?} is a map field: set its entries as {}[key]=value",
                field.name(),
                field.name()
            ));
        }
        current = match current.get_field_mut(&field) {
            Value::Message(inner) => inner,
            _ => return reject("not a message field"),
        };
    }
    Ok(())
}

/// An unknown key: ignored, or refused when the options say so.
fn unknown(key: &str, options: &BindOptions) -> Result<(), BindError> {
    if options.reject_unknown_query_parameters {
        return Err(BindError { message: format!("unknown query parameter {key:?}") });
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
) -> Result<(), BindError> {
    let error = |reason: String| BindError { message: format!("query parameter {key:?}: {reason}") };
    match (map_key, field.kind()) {
        (Some(entry_key), Kind::Message(entry)) if field.is_map() => {
            let map_key = parse_map_key(&entry.map_entry_key_field().kind(), entry_key, key)?;
            let map_value = parse_value(&entry.map_entry_value_field().kind(), value, key)?;
            match message.get_field_mut(field) {
                Value::Map(map) => map.insert(map_key, map_value),
                _ => return Err(error("not a map field".to_owned())),
            };
        }
        (Some(_), _) => return Err(error(format!("{:?} is not a map field", field.name()))),
        (None, _) if field.is_map() => {
            return Err(error(format!(
                "{:?} is a map field: set its entries as {}[key]=value",
                field.name(),
                field.name()
            )));
        }
        (None, kind) if field.is_list() => {
            let item = parse_value(&kind, value, key)?;
            match message.get_field_mut(field) {
                Value::List(items) => items.push(item),
                _ => return Err(error("not a repeated field".to_owned())),
            }
        }
        (None, kind) => {
            let item = parse_value(&kind, value, key)?;
            message.try_set_field(field, item).map_err(|e| error(e.to_string()))?;
        }
    }
    Ok(())
}
