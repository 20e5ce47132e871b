//! A second look at a JSON body, for two things prost-reflect's reading
//! does not do, in one pass:
//!
//! - Enum names. Told to ignore unknown fields, prost-reflect also drops
//!   enum names it does not know, which the gateway refuses (enum names are
//!   case-sensitive, and a misspelt one is a 400, not a silently unset
//!   field). The walk follows the message's plan (see [`super::plan`])
//!   through the JSON and checks every enum string on the way, skipping
//!   whatever cannot hold an enum.
//! - The grpc-gateway PATCH behaviour: the field paths of the JSON keys
//!   sent, for an update mask the request left empty. Paths are relative to
//!   the body's message and use proto names. An object under a (non
//!   well-known) singular message field becomes the paths of its keys;
//!   maps, repeated fields, well-known types and any other value are one
//!   path each. An empty object or `null` under a message field is the path
//!   of that field.

use prost_reflect::{FieldDescriptor, Kind};
use serde::de::{DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};

use serde_path_to_error::Track;

use super::body::json_error;
use super::error::BindError;
use super::plan::{MessageRef, ValuePlan};
use super::scalar::invalid;
use crate::transcode::field_path::field_named;

/// Walks the JSON object `body` read as `message`: refuses the first enum
/// name its enum does not have (when `check_enums`), and returns the field
/// paths of its keys (when `collect_paths`; empty otherwise).
pub(super) fn walk(
    message: MessageRef<'_>,
    body: &[u8],
    check_enums: bool,
    collect_paths: bool,
) -> Result<Vec<String>, BindError> {
    let mut paths = Vec::new();
    let collect = collect_paths.then(|| Paths { prefix: String::new(), paths: &mut paths });
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let mut track = Track::new();
    Object { message, check: check_enums, collect }
        .deserialize(serde_path_to_error::Deserializer::new(&mut deserializer, &mut track))
        .map_err(|e| json_error(&e, Some(&track.path())))?;
    Ok(paths)
}

/// One JSON object, read as `message`.
struct Object<'p, 'a> {
    message: MessageRef<'p>,
    /// Whether enum names are checked.
    check: bool,
    /// Where the paths of its keys go, when they are collected.
    collect: Option<Paths<'a>>,
}

/// The path of an object (empty for the body itself), and the paths found so far.
struct Paths<'a> {
    prefix: String,
    paths: &'a mut Vec<String>,
}

/// The JSON value of one field, or of one element of it when `element`:
/// checked for enum names.
struct Values<'p> {
    message: MessageRef<'p>,
    field: FieldDescriptor,
    value: ValuePlan,
    element: bool,
}

impl<'de> DeserializeSeed<'de> for Object<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Object<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "a {} object", self.message.descriptor().full_name())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let before = self.collect.as_ref().map_or(0, |c| c.paths.len());
        while let Some(key) = map.next_key::<String>()? {
            let Some(field) = field_named(self.message.descriptor(), &key) else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let plan = self.message.field(&field);
            let check = self.check && plan.has_enums;
            let Some(collect) = self.collect.as_mut() else {
                if check {
                    map.next_value_seed(Values::new(self.message, field, plan.value))?;
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
                continue;
            };
            let path = if collect.prefix.is_empty() {
                field.name().to_owned()
            } else {
                format!("{}.{}", collect.prefix, field.name())
            };
            match plan.value {
                ValuePlan::Message(index) if !field.is_list() && !field.is_map() => {
                    let collect = Some(Paths { prefix: path, paths: &mut *collect.paths });
                    map.next_value_seed(Object {
                        message: self.message.at(index),
                        check: self.check,
                        collect,
                    })?;
                }
                _ => {
                    if check {
                        map.next_value_seed(Values::new(self.message, field, plan.value))?;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                    push(collect.paths, path);
                }
            }
        }
        if let Some(collect) = self.collect
            && collect.paths.len() == before
            && !collect.prefix.is_empty()
        {
            push(collect.paths, collect.prefix);
        }
        Ok(())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        if let Some(collect) = self.collect
            && !collect.prefix.is_empty()
        {
            push(collect.paths, collect.prefix);
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

impl<'p> Values<'p> {
    fn new(message: MessageRef<'p>, field: FieldDescriptor, value: ValuePlan) -> Self {
        Self { message, field, value, element: false }
    }
}

impl<'de> DeserializeSeed<'de> for Values<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if !self.element && (self.field.is_list() || self.field.is_map()) {
            return deserializer.deserialize_any(self);
        }
        match self.value {
            ValuePlan::Enum => deserializer.deserialize_any(self),
            ValuePlan::Message(index) => deserializer.deserialize_any(Object {
                message: self.message.at(index),
                check: true,
                collect: None,
            }),
            ValuePlan::Opaque => deserializer.deserialize_ignored_any(IgnoredAny).map(drop),
        }
    }
}

impl<'de> Visitor<'de> for Values<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "a value for field {}", self.field.name())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let element = || Values { element: true, field: self.field.clone(), ..self };
        while seq.next_element_seed(element())?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Kind::Message(entry) = self.field.kind() else {
            return Err(A::Error::custom(format!("{} is not a map field", self.field.name())));
        };
        // Errors name the entry's value field, as prost-reflect's do.
        let field = entry.map_entry_value_field();
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value_seed(Values {
                message: self.message,
                field: field.clone(),
                value: self.value,
                element: true,
            })?;
        }
        Ok(())
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<(), E> {
        match self.field.kind() {
            Kind::Enum(enumeration) if enumeration.get_value_by_name(text).is_none() => Err(E::custom(
                invalid(self.field.name(), text, enumeration.full_name(), "unknown enum value name").message,
            )),
            _ => Ok(()),
        }
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}
