//! Reading protobuf wire bytes field by field, without decoding them into
//! types (which would lose what the types do not know, such as options).

use prost::{
    bytes::Buf,
    encoding::{DecodeContext, WireType, decode_key, decode_varint, skip_field},
};

/// Splits an encoded message into its top-level fields: the tag and the
/// whole encoding of each field (key included).
pub(super) fn fields(message: &[u8]) -> Result<Vec<(u32, &[u8])>, String> {
    let mut rest = message;
    let mut out = Vec::new();
    while rest.has_remaining() {
        let before = rest;
        let (tag, wire_type) = decode_key(&mut rest).map_err(|e| e.to_string())?;
        skip_field(wire_type, tag, &mut rest, DecodeContext::default()).map_err(|e| e.to_string())?;
        let used = before.len() - rest.len();
        out.push((tag, &before[..used]));
    }
    Ok(out)
}

/// The payload of a length-delimited field given with its key.
pub(super) fn length_delimited_payload(mut field: &[u8]) -> Result<&[u8], String> {
    let (_, wire_type) = decode_key(&mut field).map_err(|e| e.to_string())?;
    if wire_type != WireType::LengthDelimited {
        return Err(format!("expected a length-delimited field, found {wire_type:?}"));
    }
    let len = decode_varint(&mut field).map_err(|e| e.to_string())?;
    usize::try_from(len).ok().and_then(|len| field.get(..len)).ok_or_else(|| "truncated field".to_owned())
}
