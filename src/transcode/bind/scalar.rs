//! Text to field values: the string forms of scalars, enums and well-known
//! types that path variables and query parameters carry.
//!
//! Integers are decimal, bools are `true`/`false`, bytes are base64
//! (standard or URL-safe, padded or not), enums are names (case-sensitive)
//! or numbers, floats accept `NaN` and `Infinity`; Timestamp, Duration and
//! FieldMask go through prost-reflect's own JSON reading of their string
//! form, and wrappers take the form of the scalar they wrap.
//!
//! Which of these a leaf takes is a [`TextForm`], resolved once: when the
//! binding is compiled for path variables, per parameter for the query
//! (whose keys can only be resolved per request).

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use bytes::Bytes;
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, Value};
use serde::de::value::{Error as ValueError, StrDeserializer};

use super::error::{BindError, BindFailure, internal};

const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// The longest value quoted back in an error message.
const QUOTED_MAX: usize = 64;

/// How a leaf's value is read from text.
#[derive(Debug, Clone)]
pub(super) enum TextForm {
    /// A scalar or an enum, read as its kind.
    Plain(Kind),
    /// A `google.protobuf.*Value` wrapper: its `value` field, read as that field's kind.
    Wrapper(FieldDescriptor),
    /// Timestamp, Duration or FieldMask: their proto3 JSON string form.
    Json(MessageDescriptor),
}

impl TextForm {
    /// The text form of a leaf of `kind`; `None` for a message that has none.
    pub(super) fn of(kind: Kind) -> Option<Self> {
        let Kind::Message(message) = kind else { return Some(Self::Plain(kind)) };
        match message.full_name().strip_prefix("google.protobuf.")? {
            "Timestamp" | "Duration" | "FieldMask" => Some(Self::Json(message)),
            "DoubleValue" | "FloatValue" | "Int64Value" | "UInt64Value" | "Int32Value" | "UInt32Value"
            | "BoolValue" | "StringValue" | "BytesValue" => message.get_field(1).map(Self::Wrapper),
            _ => None,
        }
    }

    /// The type's name as a .proto file writes it, for error messages.
    fn type_name(&self) -> &str {
        match self {
            Self::Plain(kind) => kind_name(kind),
            Self::Wrapper(field) => field.parent_message().full_name(),
            Self::Json(message) => message.full_name(),
        }
    }
}

/// Whether `message` is a well-known type (`google.protobuf.*`): a leaf for
/// binding purposes, never walked into. (Asked at compile time, and per
/// request only where the query names a message field.)
pub(super) fn is_well_known(message: &MessageDescriptor) -> bool {
    message.package_name() == "google.protobuf"
}

/// Converts `text` to a value of the leaf `form` for the field named `field`
/// (as the client wrote it, for the error message).
pub(super) fn parse_value(form: &TextForm, text: &str, field: &str) -> Result<Value, BindFailure> {
    let invalid = |reason: String| BindFailure::Invalid(invalid(field, text, form.type_name(), &reason));
    match form {
        TextForm::Plain(kind) => parse(kind, text).map_err(invalid),
        TextForm::Wrapper(value_field) => {
            let value = parse(&value_field.kind(), text).map_err(invalid)?;
            let mut wrapper = DynamicMessage::new(value_field.parent_message().clone());
            wrapper.try_set_field(value_field, value).map_err(internal)?;
            Ok(Value::Message(wrapper))
        }
        TextForm::Json(message) => {
            DynamicMessage::deserialize(message.clone(), StrDeserializer::<ValueError>::new(text))
                .map(Value::Message)
                .map_err(|e| invalid(e.to_string()))
        }
    }
}

/// Converts `text` to a value of `kind`, resolving its text form first
/// (the query's leaves, known only per request).
pub(super) fn parse_kind(kind: Kind, text: &str, field: &str) -> Result<Value, BindFailure> {
    match TextForm::of(kind.clone()) {
        Some(form) => parse_value(&form, text, field),
        None => Err(invalid(field, text, kind_name(&kind), "a message field cannot be set from text").into()),
    }
}

/// Converts `text` to a map key of `kind`.
pub(super) fn parse_map_key(kind: &Kind, text: &str, field: &str) -> Result<MapKey, BindError> {
    parse(kind, text)
        .ok()
        .and_then(Value::into_map_key)
        .ok_or_else(|| invalid(field, text, kind_name(kind), "not a valid map key"))
}

/// The 400 for a value that does not fit its field of type `type_name`.
pub(super) fn invalid(field: &str, text: &str, type_name: &str, reason: &str) -> BindError {
    BindError::new(format!("invalid value {:?} for field {field:?} ({type_name}): {reason}", quoted(text)))
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
        // Messages are read through their [`TextForm`], never as a plain kind.
        Kind::Message(message) => return Err(format!("{} cannot be set from text", message.full_name())),
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
