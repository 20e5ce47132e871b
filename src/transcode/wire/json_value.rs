//! One scalar or enum value, read from its wire form and written as proto3
//! JSON the way prost-reflect's serializer writes it (serde_json's number
//! and string formatting, 64-bit integers quoted, non-finite floats as
//! strings, bytes in padded standard base64, enums by name unless asked
//! for numbers or the number has no name).

use base64::Engine as _;
use base64::prelude::BASE64_STANDARD;
use prost_reflect::EnumDescriptor;
use serde::Serialize;

use super::Fallback;
use super::plan::{Scalar, ValueKind};

/// A value as the wire holds it: the bits of a varint or fixed-width
/// number, or the bytes of a length-delimited one.
#[derive(Debug, Clone, Copy)]
pub(super) enum Raw<'b> {
    Bits(u64),
    Bytes(&'b [u8]),
}

/// Writes `value` with serde_json's formatting.
pub(super) fn json<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result<(), Fallback> {
    serde_json::to_writer(out, value).map_err(|_| Fallback)
}

/// Writes one value of `kind` (not a message).
pub(super) fn write(
    out: &mut Vec<u8>,
    kind: &ValueKind,
    raw: Raw<'_>,
    enums_as_numbers: bool,
) -> Result<(), Fallback> {
    match (kind, raw) {
        (ValueKind::Enum(enumeration), Raw::Bits(bits)) => {
            write_enum(out, enumeration, bits as i32, enums_as_numbers)
        }
        (ValueKind::Scalar(Scalar::String), Raw::Bytes(bytes)) => {
            json(out, std::str::from_utf8(bytes).map_err(|_| Fallback)?)
        }
        (ValueKind::Scalar(Scalar::Bytes), Raw::Bytes(bytes)) => {
            write_base64(out, bytes);
            Ok(())
        }
        (ValueKind::Scalar(scalar), Raw::Bits(bits)) => write_number(out, *scalar, bits),
        _ => Err(Fallback),
    }
}

/// Whether `raw` is the default of `kind` (what an implicit-presence
/// field leaves out when defaults are omitted).
pub(super) fn is_default(kind: &ValueKind, raw: Raw<'_>) -> bool {
    match (kind, raw) {
        (ValueKind::Enum(enumeration), Raw::Bits(bits)) => {
            bits as i32 == enumeration.default_value().number()
        }
        (ValueKind::Scalar(Scalar::Float), Raw::Bits(bits)) => f32::from_bits(bits as u32) == 0.0,
        (ValueKind::Scalar(Scalar::Double), Raw::Bits(bits)) => f64::from_bits(bits) == 0.0,
        (ValueKind::Scalar(scalar), Raw::Bits(bits)) => key_value(*scalar, bits) == 0,
        (ValueKind::Message(_) | ValueKind::WellKnown(_), Raw::Bits(_)) => false,
        (_, Raw::Bytes(bytes)) => bytes.is_empty(),
    }
}

/// Writes the default of `kind`, for a field absent from the wire.
pub(super) fn write_default(
    out: &mut Vec<u8>,
    kind: &ValueKind,
    enums_as_numbers: bool,
) -> Result<(), Fallback> {
    match kind {
        ValueKind::Enum(enumeration) => {
            write_enum(out, enumeration, enumeration.default_value().number(), enums_as_numbers)
        }
        ValueKind::Scalar(Scalar::String | Scalar::Bytes) => write(out, kind, Raw::Bytes(&[]), false),
        ValueKind::Scalar(scalar) => write_number(out, *scalar, 0),
        ValueKind::Message(_) | ValueKind::WellKnown(_) => Err(Fallback),
    }
}

/// A map key as JSON writes it: always a string.
pub(super) fn write_key(out: &mut Vec<u8>, scalar: Scalar, raw: Raw<'_>) -> Result<(), Fallback> {
    match (scalar, raw) {
        (Scalar::String, Raw::Bytes(bytes)) => json(out, std::str::from_utf8(bytes).map_err(|_| Fallback)?),
        (Scalar::Bool, Raw::Bits(bits)) => {
            out.extend_from_slice(if bits != 0 { b"\"true\"" } else { b"\"false\"" });
            Ok(())
        }
        (scalar, Raw::Bits(bits)) if scalar.wire_type() != prost::encoding::WireType::LengthDelimited => {
            out.push(b'"');
            json(out, &key_value(scalar, bits))?;
            out.push(b'"');
            Ok(())
        }
        _ => Err(Fallback),
    }
}

/// An integer scalar's value, widened (for map keys and default checks).
pub(super) fn key_value(scalar: Scalar, bits: u64) -> i128 {
    match scalar {
        Scalar::Int32 | Scalar::Sfixed32 => i128::from(bits as i32),
        Scalar::Sint32 => i128::from(zigzag32(bits)),
        Scalar::Uint32 | Scalar::Fixed32 => i128::from(bits as u32),
        Scalar::Int64 | Scalar::Sfixed64 => i128::from(bits as i64),
        Scalar::Sint64 => i128::from(zigzag64(bits)),
        Scalar::Bool => i128::from(bits != 0),
        _ => i128::from(bits),
    }
}

fn zigzag32(bits: u64) -> i32 {
    let n = bits as u32;
    ((n >> 1) as i32) ^ (-((n & 1) as i32))
}

fn zigzag64(bits: u64) -> i64 {
    ((bits >> 1) as i64) ^ (-((bits & 1) as i64))
}

fn write_number(out: &mut Vec<u8>, scalar: Scalar, bits: u64) -> Result<(), Fallback> {
    match scalar {
        Scalar::Float => write_float(out, f64::from(f32::from_bits(bits as u32)), |out| {
            json(out, &f32::from_bits(bits as u32))
        }),
        Scalar::Double => write_float(out, f64::from_bits(bits), |out| json(out, &f64::from_bits(bits))),
        Scalar::Bool => json(out, &(bits != 0)),
        scalar if scalar.is_64_bit_integer() => {
            out.push(b'"');
            json(out, &key_value(scalar, bits))?;
            out.push(b'"');
            Ok(())
        }
        scalar => json(out, &key_value(scalar, bits)),
    }
}

/// A float: finite ones by `finite`, the others as the strings proto3 JSON names them.
fn write_float(
    out: &mut Vec<u8>,
    value: f64,
    finite: impl FnOnce(&mut Vec<u8>) -> Result<(), Fallback>,
) -> Result<(), Fallback> {
    if value.is_finite() {
        return finite(out);
    }
    let text: &[u8] = if value.is_nan() {
        b"\"NaN\""
    } else if value > 0.0 {
        b"\"Infinity\""
    } else {
        b"\"-Infinity\""
    };
    out.extend_from_slice(text);
    Ok(())
}

fn write_enum(
    out: &mut Vec<u8>,
    enumeration: &EnumDescriptor,
    number: i32,
    as_number: bool,
) -> Result<(), Fallback> {
    match enumeration.get_value(number).filter(|_| !as_number) {
        Some(value) => json(out, value.name()),
        None => json(out, &number),
    }
}

fn write_base64(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    let start = out.len();
    let len = base64::encoded_len(bytes.len(), true).unwrap_or(0);
    out.resize(start + len, 0);
    let written = BASE64_STANDARD.encode_slice(bytes, &mut out[start..]).unwrap_or(0);
    out.truncate(start + written);
    out.push(b'"');
}
