//! One field's value as proto3 JSON, for a `response_body` that is not a
//! message: prost-reflect serializes whole messages only, so scalars,
//! enums, repeated and map fields are written here, and any message inside
//! them is handed back to prost-reflect.

use std::borrow::Cow;

use base64::display::Base64Display;
use base64::prelude::BASE64_STANDARD;
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MapKey, SerializeOptions, Value};
use serde::ser::{Error as _, Serialize, SerializeMap, SerializeSeq, Serializer};

use super::RenderOptions;
use crate::transcode::field_path::FieldPath;

/// The value at `path` in `reply`; the leaf's default when a message on
/// the way is unset.
pub(super) fn field_value<'a>(reply: &'a DynamicMessage, path: &FieldPath) -> Cow<'a, Value> {
    let mut current = reply;
    for field in path.parents() {
        match current.get_field(field) {
            Cow::Borrowed(Value::Message(inner)) => current = inner,
            _ => return Cow::Owned(Value::default_value_for_field(path.leaf())),
        }
    }
    current.get_field(path.leaf())
}

/// A whole field's value: a list, a map or a single value.
pub(super) struct FieldValue<'a> {
    value: &'a Value,
    field: &'a FieldDescriptor,
    options: &'a RenderOptions,
    serialize: &'a SerializeOptions,
}

/// One value of `kind` (an element of a list, a map value, or a singular value).
struct Single<'a> {
    value: &'a Value,
    kind: &'a Kind,
    options: &'a RenderOptions,
    serialize: &'a SerializeOptions,
}

/// A map key, which JSON always writes as a string.
struct Key<'a>(&'a MapKey);

impl<'a> FieldValue<'a> {
    pub(super) fn new(
        value: &'a Value,
        field: &'a FieldDescriptor,
        options: &'a RenderOptions,
        serialize: &'a SerializeOptions,
    ) -> Self {
        Self { value, field, options, serialize }
    }

    fn single<'b>(&self, value: &'b Value, kind: &'b Kind) -> Single<'b>
    where
        'a: 'b,
    {
        Single { value, kind, options: self.options, serialize: self.serialize }
    }
}

impl Serialize for FieldValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let kind = self.field.kind();
        match self.value {
            Value::List(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&self.single(item, &kind))?;
                }
                seq.end()
            }
            Value::Map(entries) => {
                let Kind::Message(entry) = &kind else {
                    return Err(S::Error::custom(format!(
                        "{} holds a map but is not a map field",
                        self.field.name()
                    )));
                };
                let value_kind = entry.map_entry_value_field().kind();
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    map.serialize_entry(&Key(key), &self.single(value, &value_kind))?;
                }
                map.end()
            }
            value => self.single(value, &kind).serialize(serializer),
        }
    }
}

impl Serialize for Single<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match (self.value, self.kind) {
            (Value::Bool(value), _) => serializer.serialize_bool(*value),
            (Value::I32(value), _) => serializer.serialize_i32(*value),
            (Value::U32(value), _) => serializer.serialize_u32(*value),
            (Value::I64(value), _) => serializer.collect_str(value),
            (Value::U64(value), _) => serializer.collect_str(value),
            (Value::F32(value), _) if value.is_finite() => serializer.serialize_f32(*value),
            (Value::F32(value), _) => non_finite(f64::from(*value), serializer),
            (Value::F64(value), _) if value.is_finite() => serializer.serialize_f64(*value),
            (Value::F64(value), _) => non_finite(*value, serializer),
            (Value::String(value), _) => serializer.serialize_str(value),
            (Value::Bytes(value), _) => serializer.collect_str(&Base64Display::new(value, &BASE64_STANDARD)),
            (Value::EnumNumber(number), Kind::Enum(enumeration)) => {
                if enumeration.full_name() == "google.protobuf.NullValue" {
                    return serializer.serialize_unit();
                }
                match enumeration.get_value(*number).filter(|_| !self.options.enums_as_numbers) {
                    Some(value) => serializer.serialize_str(value.name()),
                    None => serializer.serialize_i32(*number),
                }
            }
            (Value::Message(message), _) => message.serialize_with_options(serializer, self.serialize),
            (value, kind) => Err(S::Error::custom(format!("value {value:?} does not fit {kind:?}"))),
        }
    }
}

impl Serialize for Key<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            MapKey::Bool(key) => serializer.collect_str(key),
            MapKey::I32(key) => serializer.collect_str(key),
            MapKey::I64(key) => serializer.collect_str(key),
            MapKey::U32(key) => serializer.collect_str(key),
            MapKey::U64(key) => serializer.collect_str(key),
            MapKey::String(key) => serializer.serialize_str(key),
        }
    }
}

/// A non-finite float as proto3 JSON writes it: as a string.
fn non_finite<S: Serializer>(value: f64, serializer: S) -> Result<S::Ok, S::Error> {
    if value.is_nan() {
        serializer.serialize_str("NaN")
    } else if value.is_sign_positive() {
        serializer.serialize_str("Infinity")
    } else {
        serializer.serialize_str("-Infinity")
    }
}
