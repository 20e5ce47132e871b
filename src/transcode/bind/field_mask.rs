//! The grpc-gateway PATCH behaviour: when the request's update mask is left
//! empty, it is filled with the field paths of the JSON keys the body sent.
//!
//! Paths are relative to the body field's message and use proto names. An
//! object under a (non well-known) singular message field becomes the paths
//! of its keys; maps, repeated fields, well-known types and any other value
//! are one path each. An empty object or `null` under a message field is the
//! path of that field.

use prost_reflect::{Kind, MessageDescriptor};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

use super::BindError;
use super::scalar::is_well_known;

/// The field paths of the keys of the JSON object `body`, read as `message`.
pub(super) fn body_paths(message: &MessageDescriptor, body: &[u8]) -> Result<Vec<String>, BindError> {
    let mut paths = Vec::new();
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    Collect { message: message.clone(), prefix: String::new(), paths: &mut paths }
        .deserialize(&mut deserializer)
        .map_err(|e| BindError { message: format!("invalid JSON body: {e}") })?;
    Ok(paths)
}

/// One JSON object, read as `message`, whose path is `prefix`.
struct Collect<'a> {
    message: MessageDescriptor,
    prefix: String,
    paths: &'a mut Vec<String>,
}

impl<'de> DeserializeSeed<'de> for Collect<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Collect<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "a {} object", self.message.full_name())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let before = self.paths.len();
        while let Some(key) = map.next_key::<String>()? {
            let Some(field) =
                self.message.get_field_by_json_name(&key).or_else(|| self.message.get_field_by_name(&key))
            else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let path = if self.prefix.is_empty() {
                field.name().to_owned()
            } else {
                format!("{}.{}", self.prefix, field.name())
            };
            match field.kind() {
                Kind::Message(message) if !field.is_list() && !field.is_map() && !is_well_known(&message) => {
                    map.next_value_seed(Collect { message, prefix: path, paths: &mut *self.paths })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    push(self.paths, path);
                }
            }
        }
        if self.paths.len() == before && !self.prefix.is_empty() {
            push(self.paths, self.prefix);
        }
        Ok(())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        if !self.prefix.is_empty() {
            push(self.paths, self.prefix);
        }
        Ok(())
    }
}

/// Adds `path` once (a key sent twice is one path).
fn push(paths: &mut Vec<String>, path: String) {
    if !paths.contains(&path) {
        paths.push(path);
    }
}
