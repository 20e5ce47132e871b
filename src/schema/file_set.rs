//! Merging encoded `FileDescriptorSet`s file by file, working on the wire
//! bytes so that no option is lost on the way.
//!
//! A `FileDescriptorSet` is `repeated FileDescriptorProto file = 1`; each
//! file is kept as its encoded bytes and named by its field 1 (`name`). Two
//! versions of a file are the same when their fields other than
//! `source_code_info` (field 9) are byte for byte the same.

use std::collections::HashMap;

use prost::{
    bytes::Buf,
    encoding::{DecodeContext, WireType, decode_key, decode_varint, encode_key, encode_varint, skip_field},
};

use super::SchemaError;

const SET_FILE: u32 = 1;
const FILE_NAME: u32 = 1;
const FILE_SOURCE_CODE_INFO: u32 = 9;

/// The files collected so far, in the order they were first seen.
#[derive(Debug, Default)]
pub(super) struct MergedFiles {
    files: Vec<Vec<u8>>,
    by_name: HashMap<String, (usize, String)>,
}

impl MergedFiles {
    /// Adds the files of one encoded set; `source` names it in errors.
    pub(super) fn add(&mut self, source: &str, set: &[u8]) -> Result<(), SchemaError> {
        let malformed = |message: String| SchemaError::Malformed { source_name: source.to_owned(), message };
        for (tag, field) in fields(set).map_err(malformed)? {
            if tag != SET_FILE {
                continue;
            }
            let file = length_delimited_payload(field).map_err(malformed)?;
            let name = file_name(file).map_err(malformed)?;
            match self.by_name.get(&name) {
                Some((index, first)) => {
                    if !same_file(&self.files[*index], file).map_err(malformed)? {
                        return Err(SchemaError::Conflict {
                            file: name,
                            first: first.clone(),
                            second: source.to_owned(),
                        });
                    }
                }
                None => {
                    self.by_name.insert(name, (self.files.len(), source.to_owned()));
                    self.files.push(file.to_vec());
                }
            }
        }
        Ok(())
    }

    /// The merged set, encoded.
    pub(super) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.files.iter().map(|f| f.len() + 8).sum());
        for file in &self.files {
            encode_key(SET_FILE, WireType::LengthDelimited, &mut out);
            encode_varint(file.len() as u64, &mut out);
            out.extend_from_slice(file);
        }
        out
    }
}

/// Splits an encoded message into its top-level fields: the tag and the
/// whole encoding of each field (key included).
fn fields(message: &[u8]) -> Result<Vec<(u32, &[u8])>, String> {
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
fn length_delimited_payload(mut field: &[u8]) -> Result<&[u8], String> {
    let (_, wire_type) = decode_key(&mut field).map_err(|e| e.to_string())?;
    if wire_type != WireType::LengthDelimited {
        return Err(format!("expected a length-delimited field, found {wire_type:?}"));
    }
    let len = decode_varint(&mut field).map_err(|e| e.to_string())?;
    usize::try_from(len).ok().and_then(|len| field.get(..len)).ok_or_else(|| "truncated field".to_owned())
}

fn file_name(file: &[u8]) -> Result<String, String> {
    let (_, field) = fields(file)?
        .into_iter()
        .find(|(tag, _)| *tag == FILE_NAME)
        .ok_or_else(|| "a file has no name".to_owned())?;
    String::from_utf8(length_delimited_payload(field)?.to_vec())
        .map_err(|_| "a file name is not UTF-8".to_owned())
}

fn same_file(a: &[u8], b: &[u8]) -> Result<bool, String> {
    if a == b {
        return Ok(true);
    }
    let meaningful = |file| -> Result<Vec<(u32, &[u8])>, String> {
        Ok(fields(file)?.into_iter().filter(|(tag, _)| *tag != FILE_SOURCE_CODE_INFO).collect())
    };
    Ok(meaningful(a)? == meaningful(b)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;
    use prost_types::{FileDescriptorProto, FileDescriptorSet, SourceCodeInfo};

    fn set_of(files: Vec<FileDescriptorProto>) -> Vec<u8> {
        FileDescriptorSet { file: files }.encode_to_vec()
    }

    fn file(name: &str, package: &str) -> FileDescriptorProto {
        FileDescriptorProto { name: Some(name.into()), package: Some(package.into()), ..Default::default() }
    }

    #[test]
    fn identical_files_from_two_sources_merge_once() {
        let mut merged = MergedFiles::default();
        merged.add("a", &set_of(vec![file("x.proto", "x")])).unwrap();
        merged.add("b", &set_of(vec![file("x.proto", "x"), file("y.proto", "y")])).unwrap();
        let decoded = FileDescriptorSet::decode(merged.encode().as_slice()).unwrap();
        let names: Vec<_> = decoded.file.iter().map(|f| f.name()).collect();
        assert_eq!(names, ["x.proto", "y.proto"]);
    }

    #[test]
    fn source_info_alone_does_not_make_files_differ() {
        let mut with_info = file("x.proto", "x");
        with_info.source_code_info = Some(SourceCodeInfo { location: vec![Default::default()] });
        let mut merged = MergedFiles::default();
        merged.add("a", &set_of(vec![file("x.proto", "x")])).unwrap();
        merged.add("b", &set_of(vec![with_info])).unwrap();
    }

    #[test]
    fn different_versions_of_a_file_are_a_conflict_naming_both_sources() {
        let mut merged = MergedFiles::default();
        merged.add("first.pb", &set_of(vec![file("x.proto", "x")])).unwrap();
        let error = merged.add("second.pb", &set_of(vec![file("x.proto", "other")])).unwrap_err();
        assert_eq!(error.to_string(), "x.proto differs between first.pb and second.pb");
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let mut merged = MergedFiles::default();
        for bytes in [&b"\x0a\xff\xff\xff"[..], b"\x0a\x05ab", b"\xff"] {
            assert!(matches!(merged.add("junk", bytes), Err(SchemaError::Malformed { .. })));
        }
    }
}
