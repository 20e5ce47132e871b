//! Reading a message's wire bytes without decoding it: its fields indexed
//! (field, wire type, where each value lies), with the checks prost's
//! decoder makes (keys, varints, lengths, wire types that fit the field),
//! and map entries split into their key and value.

use prost::encoding::{WireType, decode_key, decode_varint};

use super::Fallback;
use super::json_value::{self, Raw};
use super::plan::{MessagePlan, Scalar, Shape, ValueKind};

/// One field value found in a message's bytes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Found {
    pub(super) field: usize,
    pub(super) wire_type: WireType,
    /// The varint or fixed-width bits; the content's bounds for a length-delimited value.
    pub(super) bits: u64,
    pub(super) start: usize,
    pub(super) end: usize,
}

impl Found {
    pub(super) fn raw<'b>(&self, bytes: &'b [u8]) -> Raw<'b> {
        match self.wire_type {
            WireType::LengthDelimited => Raw::Bytes(&bytes[self.start..self.end]),
            _ => Raw::Bits(self.bits),
        }
    }
}

/// Indexes the fields of one message's bytes into `found`.
pub(super) fn scan(plan: &MessagePlan, bytes: &[u8], found: &mut Vec<Found>) -> Result<(), Fallback> {
    let mut rest = bytes;
    while !rest.is_empty() {
        let (number, wire_type) = decode_key(&mut rest).map_err(|_| Fallback)?;
        let (bits, start) = match wire_type {
            WireType::LengthDelimited => {
                let len =
                    usize::try_from(decode_varint(&mut rest).map_err(|_| Fallback)?).map_err(|_| Fallback)?;
                if len > rest.len() {
                    return Err(Fallback);
                }
                let start = bytes.len() - rest.len();
                rest = &rest[len..];
                (len as u64, start)
            }
            wire_type => (read_bits(wire_type, &mut rest)?, 0),
        };
        let Some(field) = plan.field_numbered(number) else { continue };
        let expected = plan.fields[field].value.wire_type();
        let fits = wire_type == expected
            || matches!(plan.fields[field].shape, Shape::List { .. })
                && wire_type == WireType::LengthDelimited
                && plan.fields[field].value.is_packable();
        let fits = match plan.fields[field].shape {
            Shape::Map { .. } => wire_type == WireType::LengthDelimited,
            _ => fits,
        };
        if !fits {
            return Err(Fallback);
        }
        let end = match wire_type {
            WireType::LengthDelimited => start + bits as usize,
            _ => 0,
        };
        found.push(Found { field, wire_type, bits, start, end });
    }
    Ok(())
}

/// Reads one varint or fixed-width value.
pub(super) fn read_bits(wire_type: WireType, rest: &mut &[u8]) -> Result<u64, Fallback> {
    let width = match wire_type {
        WireType::Varint => return decode_varint(rest).map_err(|_| Fallback),
        WireType::ThirtyTwoBit => 4,
        WireType::SixtyFourBit => 8,
        _ => return Err(Fallback),
    };
    if rest.len() < width {
        return Err(Fallback);
    }
    let mut le = [0u8; 8];
    le[..width].copy_from_slice(&rest[..width]);
    *rest = &rest[width..];
    Ok(u64::from_le_bytes(le))
}

/// Stable order by field index (already so when the sender wrote fields in order).
pub(super) fn sort_by_field(found: &mut [Found]) {
    if found.is_sorted_by_key(|f| f.field) {
        return;
    }
    if found.len() > 64 {
        found.sort_by_key(|f| f.field);
        return;
    }
    for i in 1..found.len() {
        let mut j = i;
        while j > 0 && found[j - 1].field > found[j].field {
            found.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// One map entry's key and value (the last of each), as found.
pub(super) struct Entry<'b> {
    pub(super) key: Option<Raw<'b>>,
    pub(super) value: Option<Raw<'b>>,
}

pub(super) fn entry<'b>(key: Scalar, value: &ValueKind, bytes: &'b [u8]) -> Result<Entry<'b>, Fallback> {
    let mut rest = bytes;
    let mut entry = Entry { key: None, value: None };
    while !rest.is_empty() {
        let (number, wire_type) = decode_key(&mut rest).map_err(|_| Fallback)?;
        let raw = match wire_type {
            WireType::LengthDelimited => {
                let len =
                    usize::try_from(decode_varint(&mut rest).map_err(|_| Fallback)?).map_err(|_| Fallback)?;
                if len > rest.len() {
                    return Err(Fallback);
                }
                let (content, after) = rest.split_at(len);
                rest = after;
                Raw::Bytes(content)
            }
            wire_type => Raw::Bits(read_bits(wire_type, &mut rest)?),
        };
        match number {
            1 if wire_type == key.wire_type() => entry.key = Some(raw),
            2 if wire_type == value.wire_type() => {
                let message = matches!(value, ValueKind::Message(_) | ValueKind::WellKnown(_));
                if message && entry.value.is_some() {
                    return Err(Fallback);
                }
                entry.value = Some(raw);
            }
            1 | 2 => return Err(Fallback),
            _ => {}
        }
    }
    Ok(entry)
}

/// Whether two map keys are the same key.
pub(super) fn same_key(scalar: Scalar, a: Option<Raw<'_>>, b: &Option<Raw<'_>>) -> bool {
    key_identity(scalar, a) == key_identity(scalar, *b)
}

/// A map key as a value to compare: a number, or the bytes of a string.
fn key_identity<'b>(scalar: Scalar, raw: Option<Raw<'b>>) -> (i128, &'b [u8]) {
    match raw {
        None => (0, &[]),
        Some(Raw::Bits(bits)) => (json_value::key_value(scalar, bits), &[]),
        Some(Raw::Bytes(bytes)) => (0, bytes),
    }
}
