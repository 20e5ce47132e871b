//! Writing protobuf wire bytes into one growing buffer: keys, scalars, and
//! length-delimited spans whose length is patched once their content is
//! written (one byte reserved; a longer length moves the content up).

use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint};
use prost_reflect::Value;

use super::plan::{Scalar, ValueKind};

/// A length-delimited span opened by [`open`]: where its length byte is.
#[derive(Debug, Clone, Copy)]
pub(super) struct Span(usize);

/// Writes the key of field `number` and opens its length-delimited content.
pub(super) fn open(out: &mut Vec<u8>, number: u32) -> Span {
    encode_key(number, WireType::LengthDelimited, out);
    open_bare(out)
}

/// Opens length-delimited content without a key (a packed list's is written by [`open`]).
pub(super) fn open_bare(out: &mut Vec<u8>) -> Span {
    out.push(0);
    Span(out.len() - 1)
}

/// Closes `span`: its length is what was written since it opened.
pub(super) fn close(out: &mut Vec<u8>, span: Span) {
    let start = span.0 + 1;
    let len = out.len() - start;
    if len < 0x80 {
        out[span.0] = len as u8;
        return;
    }
    let width = encoded_len_varint(len as u64);
    out.resize(out.len() + width - 1, 0);
    out.copy_within(start..start + len, span.0 + width);
    let mut at = &mut out[span.0..span.0 + width];
    encode_varint(len as u64, &mut at);
}

/// Whether `span` is still empty (nothing written since it opened).
pub(super) fn is_empty(out: &[u8], span: Span) -> bool {
    out.len() == span.0 + 1
}

/// A scalar read from JSON, before it is written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Number {
    I32(i32),
    I64(i64),
    U32(u32),
    U64(u64),
    F32(f32),
    F64(f64),
    Bool(bool),
}

impl Number {
    /// Whether it is the proto3 default (0, false; -0.0 counts, as prost-reflect compares).
    pub(super) fn is_default(self) -> bool {
        match self {
            Self::I32(v) => v == 0,
            Self::I64(v) => v == 0,
            Self::U32(v) => v == 0,
            Self::U64(v) => v == 0,
            Self::F32(v) => v == 0.0,
            Self::F64(v) => v == 0.0,
            Self::Bool(v) => !v,
        }
    }
}

/// Writes one numeric value of `scalar` (no key); `false` when `value`
/// is not of that scalar (nothing written).
#[must_use]
pub(super) fn number(out: &mut Vec<u8>, scalar: Scalar, value: Number) -> bool {
    use Number as N;
    use Scalar as S;
    match (scalar, value) {
        (S::Int32, N::I32(v)) => encode_varint(i64::from(v) as u64, out),
        (S::Sint32, N::I32(v)) => encode_varint(u64::from(((v << 1) ^ (v >> 31)) as u32), out),
        (S::Sfixed32, N::I32(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (S::Int64, N::I64(v)) => encode_varint(v as u64, out),
        (S::Sint64, N::I64(v)) => encode_varint(((v << 1) ^ (v >> 63)) as u64, out),
        (S::Sfixed64, N::I64(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (S::Uint32, N::U32(v)) => encode_varint(u64::from(v), out),
        (S::Fixed32, N::U32(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (S::Uint64, N::U64(v)) => encode_varint(v, out),
        (S::Fixed64, N::U64(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (S::Float, N::F32(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (S::Double, N::F64(v)) => out.extend_from_slice(&v.to_le_bytes()),
        (S::Bool, N::Bool(v)) => encode_varint(u64::from(v), out),
        _ => return false,
    }
    true
}

/// Writes field `number` holding `value` (a path variable's), even when it
/// is the default, so that it replaces what the body said. `false` for a
/// value this writer does not take (a message: the caller keeps the
/// `DynamicMessage` path).
pub(super) fn field_value(out: &mut Vec<u8>, field: u32, kind: &ValueKind, value: &Value) -> bool {
    let scalar = match kind {
        ValueKind::Scalar(scalar) => *scalar,
        ValueKind::Enum(_) => Scalar::Int32,
        ValueKind::Message(_) | ValueKind::WellKnown(_) => return false,
    };
    let number = match value {
        Value::String(text) => return string(out, field, text.as_bytes()),
        Value::Bytes(bytes) => return string(out, field, bytes),
        Value::Bool(v) => Number::Bool(*v),
        Value::I32(v) | Value::EnumNumber(v) => Number::I32(*v),
        Value::I64(v) => Number::I64(*v),
        Value::U32(v) => Number::U32(*v),
        Value::U64(v) => Number::U64(*v),
        Value::F32(v) => Number::F32(*v),
        Value::F64(v) => Number::F64(*v),
        Value::Message(_) | Value::List(_) | Value::Map(_) => return false,
    };
    let mark = out.len();
    encode_key(field, scalar.wire_type(), out);
    if !self::number(out, scalar, number) {
        out.truncate(mark);
        return false;
    }
    true
}

/// Writes a string or bytes field.
pub(super) fn string(out: &mut Vec<u8>, field: u32, bytes: &[u8]) -> bool {
    encode_key(field, WireType::LengthDelimited, out);
    encode_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_span_moves_its_content_up() {
        for len in [0usize, 1, 127, 128, 300, 20_000] {
            let mut out = vec![0xAA];
            let span = open(&mut out, 3);
            out.extend(std::iter::repeat_n(7u8, len));
            close(&mut out, span);
            let mut expected = vec![0xAA, 0x1A];
            encode_varint(len as u64, &mut expected);
            expected.extend(std::iter::repeat_n(7u8, len));
            assert_eq!(out, expected, "content of {len} bytes");
        }
    }
}
