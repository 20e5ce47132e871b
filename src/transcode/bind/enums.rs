//! A second look at a JSON body read leniently: prost-reflect, told to
//! ignore unknown fields, also drops enum names it does not know, which the
//! gateway refuses (enum names are case-sensitive, and a misspelt one is a
//! 400, not a silently unset field). This walk follows the message's
//! descriptor through the JSON and checks every enum string on the way.

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use serde::de::{DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::BindError;
use super::scalar::{invalid, is_well_known};

/// Refuses the first enum name in `body` that its enum does not have.
pub(super) fn check_enums(message: &MessageDescriptor, body: &[u8]) -> Result<(), BindError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    deserializer
        .deserialize_any(Fields(message.clone()))
        .map_err(|e| BindError { message: format!("invalid JSON body: {e}") })
}

/// The fields of one JSON object.
struct Fields(MessageDescriptor);

/// The JSON value of one field, or of one element of it when `element`.
struct Check {
    field: FieldDescriptor,
    element: bool,
}

impl<'de> Visitor<'de> for Fields {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "a {} object", self.0.full_name())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match self.0.get_field_by_json_name(&key).or_else(|| self.0.get_field_by_name(&key)) {
                Some(field) => map.next_value_seed(Check { field, element: false })?,
                None => map.next_value::<IgnoredAny>().map(drop)?,
            }
        }
        Ok(())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Check {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if !self.element && (self.field.is_list() || self.field.is_map()) {
            return deserializer.deserialize_any(self);
        }
        match self.field.kind() {
            Kind::Enum(enumeration) if enumeration.full_name() != "google.protobuf.NullValue" => {
                deserializer.deserialize_any(self)
            }
            Kind::Message(message) if !is_well_known(&message) => {
                deserializer.deserialize_any(Fields(message))
            }
            _ => deserializer.deserialize_ignored_any(IgnoredAny).map(drop),
        }
    }
}

impl<'de> Visitor<'de> for Check {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "a value for field {}", self.field.name())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Check { field: self.field.clone(), element: true })?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Kind::Message(entry) = self.field.kind() else {
            return Err(A::Error::custom(format!("{} is not a map field", self.field.name())));
        };
        let value = entry.map_entry_value_field();
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value_seed(Check { field: value.clone(), element: false })?;
        }
        Ok(())
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<(), E> {
        let kind = self.field.kind();
        match &kind {
            Kind::Enum(enumeration) if enumeration.get_value_by_name(text).is_none() => {
                Err(E::custom(invalid(self.field.name(), text, &kind, "unknown enum value name").message))
            }
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
