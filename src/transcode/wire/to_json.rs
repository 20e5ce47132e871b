//! The protobuf wire straight to JSON, without building a message: each
//! message's fields are indexed in one pass over its bytes (number, wire
//! type, where the value lies), then written in field-number order with
//! prost-reflect's rules (the last value of a singular field wins; packed
//! and unpacked lists alike; map entries with their missing key or value
//! at its default; unknown fields skipped; defaults written or left out as
//! the route asks). A well-known type's bytes are decoded and serialized
//! by prost-reflect itself.
//!
//! What it does not take on stops it with [`Fallback`], and the renderer
//! decodes a `DynamicMessage` instead (whose result, or error, is the
//! answer): anything malformed, a wire type that does not fit its field,
//! groups, a singular message field sent twice (the wire merges it), two
//! members of one oneof, a map key sent twice, nesting deeper than
//! [`MAX_DEPTH`].

use prost::encoding::WireType;
use prost_reflect::{DynamicMessage, MessageDescriptor, SerializeOptions};

use super::Fallback;
use super::json_value::{self, Raw};
use super::plan::{FieldPlan, Plans, Scalar, Shape, ValueKind};
use super::scan::{Found, entry, read_bits, same_key, scan, sort_by_field};
use crate::transcode::render::RenderOptions;

/// The deepest nesting rendered here (prost's decoder stops at 100).
const MAX_DEPTH: usize = 64;

/// Renders the wire bytes of message 0 of `plans` as JSON into `out`.
pub(crate) fn render(
    plans: &Plans,
    bytes: &[u8],
    options: &RenderOptions,
    serialize: &SerializeOptions,
    out: &mut Vec<u8>,
) -> Result<(), Fallback> {
    let mut renderer = Renderer { plans, options, serialize, found: Vec::with_capacity(32) };
    renderer.message(0, bytes, out, 0)
}

struct Renderer<'p> {
    plans: &'p Plans,
    options: &'p RenderOptions,
    serialize: &'p SerializeOptions,
    /// The values found in the messages being rendered, innermost last.
    found: Vec<Found>,
}

/// The JSON object being written: whether a member was written yet.
struct Members {
    first: bool,
}

impl Renderer<'_> {
    fn message(
        &mut self,
        index: usize,
        bytes: &[u8],
        out: &mut Vec<u8>,
        depth: usize,
    ) -> Result<(), Fallback> {
        if depth > MAX_DEPTH {
            return Err(Fallback);
        }
        let plans = self.plans;
        let plan = plans.message(index);
        let base = self.found.len();
        scan(plan, bytes, &mut self.found)?;
        sort_by_field(&mut self.found[base..]);
        out.push(b'{');
        let mut members = Members { first: true };
        let (mut cursor, mut oneofs) = (base, 0u64);
        for (index, field) in plan.fields.iter().enumerate() {
            let start = cursor;
            while self.found.get(cursor).is_some_and(|f| f.field == index) {
                cursor += 1;
            }
            if let Some(oneof) = field.oneof.filter(|_| cursor > start) {
                if oneofs & (1 << oneof) != 0 {
                    return Err(Fallback);
                }
                oneofs |= 1 << oneof;
            }
            self.field(field, start..cursor, bytes, out, &mut members, depth)?;
        }
        self.found.truncate(base);
        out.push(b'}');
        Ok(())
    }

    /// Writes one field whose values are `self.found[found]`.
    fn field(
        &mut self,
        field: &FieldPlan,
        found: std::ops::Range<usize>,
        bytes: &[u8],
        out: &mut Vec<u8>,
        members: &mut Members,
        depth: usize,
    ) -> Result<(), Fallback> {
        let omit = self.options.omit_defaults;
        let numbers = self.options.enums_as_numbers;
        let key = match self.options.use_proto_names {
            true => &field.proto_key,
            false => &field.json_key,
        };
        let Some(last) = found.clone().last().map(|at| self.found[at]) else {
            let empty: &[u8] = match field.shape {
                Shape::Single { presence: true } => return Ok(()),
                _ if omit => return Ok(()),
                Shape::List { .. } => b"[]",
                Shape::Map { .. } => b"{}",
                Shape::Single { .. } => {
                    members.key(out, key);
                    return json_value::write_default(out, &field.value, numbers);
                }
            };
            members.key(out, key);
            out.extend_from_slice(empty);
            return Ok(());
        };
        match field.shape {
            Shape::Single { presence } => match &field.value {
                ValueKind::Message(_) | ValueKind::WellKnown(_) if found.len() > 1 => Err(Fallback),
                value @ (ValueKind::Message(_) | ValueKind::WellKnown(_)) => {
                    members.key(out, key);
                    self.value(value, &bytes[last.start..last.end], out, depth)
                }
                value => {
                    let raw = last.raw(bytes);
                    if omit && !presence && json_value::is_default(value, raw) {
                        return Ok(());
                    }
                    members.key(out, key);
                    json_value::write(out, value, raw, numbers)
                }
            },
            Shape::List { .. } => {
                let (mark, was_first) = (out.len(), members.first);
                members.key(out, key);
                out.push(b'[');
                let mut first = true;
                for at in found {
                    let found = self.found[at];
                    self.list_values(field, found, bytes, out, &mut first, depth)?;
                }
                out.push(b']');
                // Empty packed runs make an empty list, which is a default.
                if first && omit {
                    out.truncate(mark);
                    members.first = was_first;
                }
                Ok(())
            }
            Shape::Map { key: key_scalar } => {
                members.key(out, key);
                self.map(field, key_scalar, found, bytes, out, depth)
            }
        }
    }

    /// Writes the elements one found value of a list holds (several when packed).
    fn list_values(
        &mut self,
        field: &FieldPlan,
        found: Found,
        bytes: &[u8],
        out: &mut Vec<u8>,
        first: &mut bool,
        depth: usize,
    ) -> Result<(), Fallback> {
        let mut comma = |out: &mut Vec<u8>| {
            if !std::mem::take(first) {
                out.push(b',');
            }
        };
        let content = &bytes[found.start..found.end];
        let packed = found.wire_type == WireType::LengthDelimited && field.value.is_packable();
        if !packed {
            comma(out);
            return match &field.value {
                value @ (ValueKind::Message(_) | ValueKind::WellKnown(_)) => {
                    self.value(value, content, out, depth)
                }
                value => json_value::write(out, value, found.raw(bytes), self.options.enums_as_numbers),
            };
        }
        let mut rest = content;
        while !rest.is_empty() {
            let bits = read_bits(field.value.wire_type(), &mut rest)?;
            comma(out);
            json_value::write(out, &field.value, Raw::Bits(bits), self.options.enums_as_numbers)?;
        }
        Ok(())
    }

    /// Writes a map field's entries; a key sent twice falls back.
    fn map(
        &mut self,
        field: &FieldPlan,
        key: Scalar,
        found: std::ops::Range<usize>,
        bytes: &[u8],
        out: &mut Vec<u8>,
        depth: usize,
    ) -> Result<(), Fallback> {
        out.push(b'{');
        for at in found.clone() {
            let this = entry(key, &field.value, &bytes[self.found[at].start..self.found[at].end])?;
            let sent_before = (found.start..at).any(|before| {
                let other = &bytes[self.found[before].start..self.found[before].end];
                entry(key, &field.value, other).is_ok_and(|other| same_key(key, other.key, &this.key))
            });
            if sent_before {
                return Err(Fallback);
            }
            if at > found.start {
                out.push(b',');
            }
            match this.key {
                Some(raw) => json_value::write_key(out, key, raw)?,
                None if key == Scalar::String => out.extend_from_slice(b"\"\""),
                None => json_value::write_key(out, key, Raw::Bits(0))?,
            }
            out.push(b':');
            match (&field.value, this.value) {
                (value @ (ValueKind::Message(_) | ValueKind::WellKnown(_)), raw) => {
                    let content = match raw {
                        Some(Raw::Bytes(content)) => content,
                        _ => &[],
                    };
                    self.value(value, content, out, depth)?;
                }
                (value, Some(raw)) => json_value::write(out, value, raw, self.options.enums_as_numbers)?,
                (value, None) => json_value::write_default(out, value, self.options.enums_as_numbers)?,
            }
        }
        out.push(b'}');
        Ok(())
    }

    /// Writes one message value: planned, or a well-known type through prost-reflect.
    fn value(
        &mut self,
        kind: &ValueKind,
        content: &[u8],
        out: &mut Vec<u8>,
        depth: usize,
    ) -> Result<(), Fallback> {
        match kind {
            ValueKind::Message(index) => self.message(*index, content, out, depth + 1),
            ValueKind::WellKnown(message) => well_known(message, content, self.serialize, out, depth),
            _ => Err(Fallback),
        }
    }
}

impl Members {
    fn key(&mut self, out: &mut Vec<u8>, key: &[u8]) {
        if !std::mem::take(&mut self.first) {
            out.push(b',');
        }
        out.extend_from_slice(key);
    }
}

/// A well-known type's bytes, decoded and serialized by prost-reflect. The
/// recursive ones (Struct, Value, ListValue) nest at most one level per two
/// bytes; they fall back when that could pass the depth limit.
fn well_known(
    message: &MessageDescriptor,
    content: &[u8],
    serialize: &SerializeOptions,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), Fallback> {
    let recursive = matches!(message.name(), "Struct" | "Value" | "ListValue");
    if depth + 1 + if recursive { content.len() / 2 } else { 0 } > MAX_DEPTH {
        return Err(Fallback);
    }
    let decoded = DynamicMessage::decode(message.clone(), content).map_err(|_| Fallback)?;
    let mut serializer = serde_json::Serializer::new(out);
    decoded.serialize_with_options(&mut serializer, serialize).map_err(|_| Fallback)
}
