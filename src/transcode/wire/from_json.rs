//! JSON straight to the protobuf wire: serde_json's parser drives seeds
//! that follow the message plans and write each value as it is read, with
//! prost-reflect's proto3 JSON rules (names by JSON name then proto name;
//! numbers from JSON numbers or decimal strings; floats' `"NaN"`,
//! `"Infinity"`; bytes in standard or URL-safe base64; enums by name or
//! number; `null` leaves a field unset; implicit-presence defaults are not
//! written). A well-known type's subtree is read by prost-reflect itself
//! and its encoding copied in.
//!
//! It takes on only what it can write exactly as the `DynamicMessage`
//! path would build it. Anything else stops it with [`Fallback`]: any JSON
//! or type error, an unknown key when unknown keys are refused, an unknown
//! enum name, a key sent twice (prost-reflect keeps the last value, the
//! wire would merge), two members of one oneof, and `null` for a
//! `google.protobuf.Value` field. The binder then runs the `DynamicMessage`
//! path, whose result (or error message) is the answer.

use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use prost::encoding::encode_key;
use prost_reflect::{DeserializeOptions, DynamicMessage};
use serde::de::{DeserializeSeed, Deserializer, Error, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::Fallback;
use super::json_number::{EnumOf, NumberOf};
use super::plan::{FieldPlan, MessagePlan, Plans, Scalar, Shape, ValueKind};
use super::write::{self, Number};

/// Writes the JSON object `body`, read as message `index` of `plans`, as
/// wire bytes appended to `out`.
pub(crate) fn message(
    plans: &Plans,
    index: usize,
    body: &[u8],
    reject_unknown: bool,
    out: &mut Vec<u8>,
) -> Result<(), Fallback> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let cx = Cx { plans, reject_unknown };
    Object { cx, index, out }.deserialize(&mut deserializer).map_err(|_| Fallback)?;
    deserializer.end().map_err(|_| Fallback)
}

/// What every seed needs.
#[derive(Clone, Copy)]
struct Cx<'p> {
    plans: &'p Plans,
    reject_unknown: bool,
}

/// One JSON object, as message `index`.
struct Object<'p, 'o> {
    cx: Cx<'p>,
    index: usize,
    out: &'o mut Vec<u8>,
}

/// A key of an object: the index of the field it names.
struct Key<'p>(&'p MessagePlan);

/// One field's JSON value (`null` included).
struct Field<'p, 'o> {
    cx: Cx<'p>,
    field: &'p FieldPlan,
    out: &'o mut Vec<u8>,
}

/// One value of a field: written with the key of `number` (none inside a
/// packed list), even at its default when `keep_default`.
struct Value<'p, 'o> {
    cx: Cx<'p>,
    kind: &'p ValueKind,
    number: Option<u32>,
    keep_default: bool,
    out: &'o mut Vec<u8>,
}

/// A repeated field's array.
struct List<'p, 'o> {
    cx: Cx<'p>,
    field: &'p FieldPlan,
    packed: bool,
    out: &'o mut Vec<u8>,
}

/// A map field's object: one entry per key.
struct Map<'p, 'o> {
    cx: Cx<'p>,
    field: &'p FieldPlan,
    key: Scalar,
    out: &'o mut Vec<u8>,
}

/// A map key: opens the entry and writes its key field.
struct MapKey<'o> {
    scalar: Scalar,
    number: u32,
    out: &'o mut Vec<u8>,
}

pub(super) fn fallback<E: Error>() -> E {
    E::custom("not taken by the wire codec")
}

impl<'de> DeserializeSeed<'de> for Object<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Object<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let plan = self.cx.plans.message(self.index);
        let (mut seen, mut oneofs) = (0u128, 0u64);
        while let Some(index) = map.next_key_seed(Key(plan))? {
            let Some(index) = index else {
                if self.cx.reject_unknown {
                    return Err(fallback());
                }
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let field = &plan.fields[index];
            let oneof = field.oneof.map_or(0, |oneof| 1u64 << oneof);
            if seen & (1u128 << index) != 0 || oneofs & oneof != 0 {
                return Err(fallback());
            }
            seen |= 1u128 << index;
            oneofs |= oneof;
            map.next_value_seed(Field { cx: self.cx, field, out: &mut *self.out })?;
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<usize>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for Key<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: Error>(self, key: &str) -> Result<Option<usize>, E> {
        Ok(self.0.field_named(key))
    }
}

impl<'de> DeserializeSeed<'de> for Field<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for Field<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a value for field {}", self.field.descriptor.name())
    }

    fn visit_none<E: Error>(self) -> Result<(), E> {
        match &self.field.value {
            // prost-reflect reads it as a `NullValue`, not as unset.
            ValueKind::WellKnown(message) if message.full_name() == "google.protobuf.Value" => {
                Err(fallback())
            }
            _ => Ok(()),
        }
    }

    fn visit_unit<E: Error>(self) -> Result<(), E> {
        self.visit_none()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        let Self { cx, field, out } = self;
        match field.shape {
            Shape::List { packed } => deserializer.deserialize_seq(List { cx, field, packed, out }),
            Shape::Map { key } => deserializer.deserialize_map(Map { cx, field, key, out }),
            Shape::Single { presence } => {
                let number = Some(field.number);
                Value { cx, kind: &field.value, number, keep_default: presence, out }
                    .deserialize(deserializer)
            }
        }
    }
}

impl<'de> DeserializeSeed<'de> for Value<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if matches!(self.kind, ValueKind::Scalar(Scalar::String | Scalar::Bytes)) {
            return deserializer.deserialize_str(self);
        }
        let Self { cx, kind, number, keep_default, out } = self;
        let value = match kind {
            ValueKind::Scalar(scalar) => (*scalar, deserializer.deserialize_any(NumberOf(*scalar))?),
            ValueKind::Enum(enumeration) => {
                (Scalar::Int32, Number::I32(deserializer.deserialize_any(EnumOf(enumeration))?))
            }
            ValueKind::Message(index) => {
                let span = write::open(out, number.ok_or_else(fallback)?);
                Object { cx, index: *index, out: &mut *out }.deserialize(deserializer)?;
                write::close(out, span);
                return Ok(());
            }
            ValueKind::WellKnown(message) => {
                let options = DeserializeOptions::new();
                let read = DynamicMessage::deserialize_with_options(message.clone(), deserializer, &options)?;
                let span = write::open(out, number.ok_or_else(fallback)?);
                prost::Message::encode_raw(&read, out);
                write::close(out, span);
                return Ok(());
            }
        };
        let (scalar, value) = value;
        if !keep_default && value.is_default() {
            return Ok(());
        }
        if let Some(number) = number {
            encode_key(number, scalar.wire_type(), out);
        }
        match write::number(out, scalar, value) {
            true => Ok(()),
            false => Err(fallback()),
        }
    }
}

/// Strings and bytes (base64) arrive as JSON strings.
impl Visitor<'_> for Value<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: Error>(self, text: &str) -> Result<(), E> {
        let number = self.number.ok_or_else(fallback)?;
        let out = self.out;
        let mark = out.len();
        if !matches!(self.kind, ValueKind::Scalar(Scalar::Bytes)) {
            if self.keep_default || !text.is_empty() {
                write::string(out, number, text.as_bytes());
            }
            return Ok(());
        }
        let span = write::open(out, number);
        let content = out.len();
        if let Err(error) = STANDARD.decode_vec(text, out) {
            out.truncate(content);
            match error {
                base64::DecodeError::InvalidByte(_, b'-' | b'_') => {
                    URL_SAFE.decode_vec(text, out).map_err(|_| fallback::<E>())?
                }
                _ => return Err(fallback()),
            }
        }
        if !self.keep_default && write::is_empty(out, span) {
            out.truncate(mark);
        } else {
            write::close(out, span);
        }
        Ok(())
    }
}

/// prost-reflect's base64 engines: padding optional, trailing bits allowed.
const BASE64: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_allow_trailing_bits(true)
    .with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, BASE64);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, BASE64);

impl<'de> Visitor<'de> for List<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Self { cx, field, packed, out } = self;
        let kind = &field.value;
        if !(packed && kind.is_packable()) {
            let number = Some(field.number);
            while seq
                .next_element_seed(Value { cx, kind, number, keep_default: true, out: &mut *out })?
                .is_some()
            {}
            return Ok(());
        }
        let mark = out.len();
        let span = write::open(out, field.number);
        while seq
            .next_element_seed(Value { cx, kind, number: None, keep_default: true, out: &mut *out })?
            .is_some()
        {}
        if write::is_empty(out, span) {
            out.truncate(mark);
        } else {
            write::close(out, span);
        }
        Ok(())
    }
}

impl<'de> Visitor<'de> for Map<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Self { cx, field, key, out } = self;
        let number = field.number;
        while let Some(span) = map.next_key_seed(MapKey { scalar: key, number, out: &mut *out })? {
            let value = Value { cx, kind: &field.value, number: Some(2), keep_default: true, out: &mut *out };
            map.next_value_seed(value)?;
            write::close(out, span);
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for MapKey<'_> {
    type Value = write::Span;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<write::Span, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for MapKey<'_> {
    type Value = write::Span;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map key")
    }

    fn visit_str<E: Error>(self, text: &str) -> Result<write::Span, E> {
        use Scalar as S;
        let parsed = match self.scalar {
            S::String => None,
            S::Int32 | S::Sint32 | S::Sfixed32 => text.parse().ok().map(Number::I32),
            S::Int64 | S::Sint64 | S::Sfixed64 => text.parse().ok().map(Number::I64),
            S::Uint32 | S::Fixed32 => text.parse().ok().map(Number::U32),
            S::Uint64 | S::Fixed64 => text.parse().ok().map(Number::U64),
            S::Bool => text.parse().ok().map(Number::Bool),
            S::Double | S::Float | S::Bytes => return Err(fallback()),
        };
        let out = self.out;
        let span = write::open(out, self.number);
        match parsed {
            None if self.scalar == S::String => {
                write::string(out, 1, text.as_bytes());
            }
            None => return Err(fallback()),
            Some(key) => {
                encode_key(1, self.scalar.wire_type(), out);
                if !write::number(out, self.scalar, key) {
                    return Err(fallback());
                }
            }
        }
        Ok(span)
    }
}
