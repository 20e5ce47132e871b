//! The wire codec: request JSON written straight as protobuf wire bytes,
//! and reply wire bytes written straight as JSON, with no `DynamicMessage`
//! in between. Both follow [`Plans`], compiled once per message type when a
//! route is compiled (the route's JSON switches are applied per call from
//! its options; names are escaped once in the plan).
//!
//! The codec is a fast path in front of the `DynamicMessage` path, never a
//! second implementation of its errors: whatever it does not take on, or
//! finds wrong, stops it with [`Fallback`], and the caller runs the
//! `DynamicMessage` path on the same input. So an error (status and
//! message, field path included, limits as today) always comes from that
//! path, and the codec has only to agree with it on what it accepts; the
//! property test in `tests.rs` checks that on random messages of a schema
//! with every field kind.
//!
//! Kept on the `DynamicMessage` path by the binder (src/transcode/bind/):
//! bodies bound to a non-message field, `google.api.HttpBody` bodies, the
//! update mask (it needs the message's keys), a body field together with a
//! query string (the query fills only what the body left unset), and path
//! variables that bind a message (a well-known type: merging it on the
//! wire would not replace it). By the renderer (src/transcode/render.rs):
//! `response_body` and `google.api.HttpBody` replies, and server streams
//! (src/transcode/stream/ renders `DynamicMessage`s). And by both, for the
//! trees [`Plans::compile`] refuses (proto2, extensions, `NullValue`
//! fields, a well-known root).

mod from_json;
mod json_number;
mod json_value;
mod plan;
mod scan;
mod to_json;
mod write;

#[cfg(test)]
mod tests;

use prost_reflect::{FieldDescriptor, Kind, Value};

pub(crate) use from_json::message as json_to_wire;
pub(crate) use plan::Plans;
pub(crate) use to_json::render as wire_to_json;

/// The wire codec does not take this input on: use the `DynamicMessage` path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fallback;

/// Writes `write`'s bytes as the content of the message field at `path`
/// (outermost first), each level length-delimited.
pub(crate) fn within(
    out: &mut Vec<u8>,
    path: &[FieldDescriptor],
    write: impl FnOnce(&mut Vec<u8>) -> Result<(), Fallback>,
) -> Result<(), Fallback> {
    let Some((outer, inner)) = path.split_first() else { return write(out) };
    let span = self::write::open(out, outer.number());
    within(out, inner, write)?;
    self::write::close(out, span);
    Ok(())
}

/// Writes `value` as the field `leaf` inside the messages `parents`, even
/// at its default, so that it wins over what was written before it (the
/// wire keeps the last value of a singular field and merges messages).
/// Only a scalar or enum leaf; `Err` for anything else.
pub(crate) fn append_field(
    out: &mut Vec<u8>,
    parents: &[FieldDescriptor],
    leaf: &FieldDescriptor,
    value: &Value,
) -> Result<(), Fallback> {
    let kind = plan::leaf_kind(leaf).ok_or(Fallback)?;
    within(out, parents, |out| match write::field_value(out, leaf.number(), &kind, value) {
        true => Ok(()),
        false => Err(Fallback),
    })
}

/// Whether [`append_field`] takes a value of `leaf`.
pub(crate) fn can_append(leaf: &FieldDescriptor) -> bool {
    !leaf.is_list() && !leaf.is_map() && !matches!(leaf.kind(), Kind::Message(_))
}
