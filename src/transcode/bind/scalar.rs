//! Text to field values: the string forms of scalars, enums and well-known
//! types that path variables and query parameters carry.
//!
//! Integers are decimal, bools are `true`/`false`, bytes are base64
//! (standard or URL-safe, padded or not), enums are names (case-sensitive)
//! or numbers, floats accept `NaN` and `Infinity`; Timestamp, Duration and
//! FieldMask go through prost-reflect's own JSON reading of their string
//! form, and wrappers take the form of the scalar they wrap.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use bytes::Bytes;
use prost_reflect::{DynamicMessage, Kind, MapKey, MessageDescriptor, Value};
use serde::de::value::{Error as ValueError, StrDeserializer};

use super::BindError;

const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// The longest value quoted back in an error message.
const QUOTED_MAX: usize = 64;

/// Whether `message` is a well-known type (`google.protobuf.*`): a leaf for
/// binding purposes, never walked into.
pub(super) fn is_well_known(message: &MessageDescriptor) -> bool {
    message.package_name() == "google.protobuf"
}

/// Whether a message-typed leaf can be set from text.
pub(super) fn has_text_form(message: &MessageDescriptor) -> bool {
    matches!(
        message.full_name(),
        "google.protobuf.Timestamp" | "google.protobuf.Duration" | "google.protobuf.FieldMask"
    ) || wrapped_kind(message).is_some()
}

/// Converts `text` to a value of `kind` for the field named `field` (as the
/// client wrote it, for the error message).
pub(super) fn parse_value(kind: &Kind, text: &str, field: &str) -> Result<Value, BindError> {
    parse(kind, text).map_err(|reason| invalid(field, text, kind, &reason))
}

/// Converts `text` to a map key of `kind`.
pub(super) fn parse_map_key(kind: &Kind, text: &str, field: &str) -> Result<MapKey, BindError> {
    parse(kind, text)
        .ok()
        .and_then(Value::into_map_key)
        .ok_or_else(|| invalid(field, text, kind, "not a valid map key"))
}

/// The 400 for a value that does not fit its field.
pub(super) fn invalid(field: &str, text: &str, kind: &Kind, reason: &str) -> BindError {
    BindError {
        message: format!(
            "invalid value {:?} for field {field:?} ({}): {reason}",
            quoted(text),
            kind_name(kind)
        ),
    }
}

/// The name of a kind as a .proto file writes it.
pub(super) fn kind_name(kind: &Kind) -> &str {
    match kind {
        Kind::Double => "double",
        Kind::Float => "float",
        Kind::Int32 => "int32",
        Kind::Int64 => "int64",
        Kind::Uint32 => "uint32",
        Kind::Uint64 => "uint64",
        Kind::Sint32 => "sint32",
        Kind::Sint64 => "sint64",
        Kind::Fixed32 => "fixed32",
        Kind::Fixed64 => "fixed64",
        Kind::Sfixed32 => "sfixed32",
        Kind::Sfixed64 => "sfixed64",
        Kind::Bool => "bool",
        Kind::String => "string",
        Kind::Bytes => "bytes",
        Kind::Message(message) => message.full_name(),
        Kind::Enum(enumeration) => enumeration.full_name(),
    }
}

/// At most [`QUOTED_MAX`] bytes of `text`, cut at a character boundary.
fn quoted(text: &str) -> &str {
    let mut end = text.len().min(QUOTED_MAX);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn parse(kind: &Kind, text: &str) -> Result<Value, String> {
    let number = |e: std::num::ParseIntError| e.to_string();
    Ok(match kind {
        Kind::Double => Value::F64(parse_float(text)?),
        Kind::Float => {
            let wide = parse_float(text)?;
            // Narrowing is the point: out-of-range values are refused below.
            let narrow = wide as f32;
            if narrow.is_infinite() && wide.is_finite() {
                return Err("out of range for a float".to_owned());
            }
            Value::F32(narrow)
        }
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(text.parse().map_err(number)?),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(text.parse().map_err(number)?),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(text.parse().map_err(number)?),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(text.parse().map_err(number)?),
        Kind::Bool => match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err("expected true or false".to_owned()),
        },
        Kind::String => Value::String(text.to_owned()),
        Kind::Bytes => Value::Bytes(parse_base64(text)?),
        Kind::Enum(enumeration) => match enumeration.get_value_by_name(text) {
            Some(value) => Value::EnumNumber(value.number()),
            None => Value::EnumNumber(
                text.parse().map_err(|_| "not a value name or number of the enum".to_owned())?,
            ),
        },
        Kind::Message(message) => Value::Message(parse_message(message, text)?),
    })
}

/// A double; `NaN`, `Infinity` and `-Infinity` included, as in proto3 JSON.
fn parse_float(text: &str) -> Result<f64, String> {
    match text {
        "NaN" => Ok(f64::NAN),
        "Infinity" => Ok(f64::INFINITY),
        "-Infinity" => Ok(f64::NEG_INFINITY),
        _ => {
            let value: f64 = text.parse().map_err(|e: std::num::ParseFloatError| e.to_string())?;
            // Rust also reads "inf" and "nan" in any case; proto3 JSON does not.
            if value.is_finite() { Ok(value) } else { Err("not a finite number".to_owned()) }
        }
    }
}

/// Base64 in either alphabet, padded or not.
fn parse_base64(text: &str) -> Result<Bytes, String> {
    let engine = if text.contains(['-', '_']) { &URL_SAFE } else { &STANDARD };
    engine.decode(text).map(Bytes::from).map_err(|e| format!("not base64: {e}"))
}

/// A well-known type from its string form.
fn parse_message(message: &MessageDescriptor, text: &str) -> Result<DynamicMessage, String> {
    if let Some(kind) = wrapped_kind(message) {
        let mut wrapper = DynamicMessage::new(message.clone());
        let field = message.get_field(1).ok_or("wrapper without a value field")?;
        wrapper.try_set_field(&field, parse(&kind, text)?).map_err(|e| e.to_string())?;
        return Ok(wrapper);
    }
    if !has_text_form(message) {
        return Err("a message field cannot be set from text".to_owned());
    }
    DynamicMessage::deserialize(message.clone(), StrDeserializer::<ValueError>::new(text))
        .map_err(|e| e.to_string())
}

/// The kind a `google.protobuf.*Value` wrapper wraps.
fn wrapped_kind(message: &MessageDescriptor) -> Option<Kind> {
    match message.full_name() {
        "google.protobuf.DoubleValue"
        | "google.protobuf.FloatValue"
        | "google.protobuf.Int64Value"
        | "google.protobuf.UInt64Value"
        | "google.protobuf.Int32Value"
        | "google.protobuf.UInt32Value"
        | "google.protobuf.BoolValue"
        | "google.protobuf.StringValue"
        | "google.protobuf.BytesValue" => message.get_field(1).map(|field| field.kind()),
        _ => None,
    }
}
