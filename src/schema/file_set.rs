//! Merging encoded `FileDescriptorSet`s file by file, working on the wire
//! bytes so that no option is lost on the way.
//!
//! A `FileDescriptorSet` is `repeated FileDescriptorProto file = 1`; each
//! file is kept as its encoded bytes and named by its field 1 (`name`). Two
//! copies of a file are one file when their bytes are the same or, failing
//! that, when their [`FileShape`]s are (every team's protoc writes its own
//! copy of google/api/http.proto, with its own file options). For the files
//! the gateway builds in (`google/api/*`, `google/protobuf/*`,
//! `google/rpc/*`) copies that agree on what both define are one file too,
//! and the fuller copy is kept.

use std::collections::HashMap;

use prost::encoding::{WireType, encode_key, encode_varint};

use super::{
    SchemaError,
    file_shape::{Agreement, Difference, FileShape},
    raw::{fields, length_delimited_payload},
};

const SET_FILE: u32 = 1;
const FILE_NAME: u32 = 1;

/// The packages whose files another copy may extend (a newer googleapis).
const BUILT_IN_PREFIXES: &[&str] = &["google/api/", "google/protobuf/", "google/rpc/"];

/// One kept file and the source that brought the kept copy.
#[derive(Debug)]
struct Kept {
    bytes: Vec<u8>,
    source: String,
}

/// What to do with a copy that really disagrees with the one kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnConflict {
    Refuse,
    KeepFirst,
}

/// The files collected so far, in the order they were first seen.
#[derive(Debug, Default)]
pub(super) struct MergedFiles {
    files: Vec<Kept>,
    by_name: HashMap<String, usize>,
}

impl MergedFiles {
    /// Adds the files of one encoded set; `source` names it in errors.
    pub(super) fn add(&mut self, source: &str, set: &[u8]) -> Result<(), SchemaError> {
        self.add_with(source, set, OnConflict::Refuse)
    }

    /// Adds the gateway's own files: a copy a source brought that
    /// disagrees with one of them is kept, without an error.
    pub(super) fn add_built_in(&mut self, source: &str, set: &[u8]) -> Result<(), SchemaError> {
        self.add_with(source, set, OnConflict::KeepFirst)
    }

    fn add_with(&mut self, source: &str, set: &[u8], on_conflict: OnConflict) -> Result<(), SchemaError> {
        let malformed = |message: String| SchemaError::Malformed { source_name: source.to_owned(), message };
        for (tag, field) in fields(set).map_err(malformed)? {
            if tag != SET_FILE {
                continue;
            }
            let file = length_delimited_payload(field).map_err(malformed)?;
            let name = file_name(file).map_err(malformed)?;
            let Some(&index) = self.by_name.get(&name) else {
                self.by_name.insert(name, self.files.len());
                self.files.push(Kept { bytes: file.to_vec(), source: source.to_owned() });
                continue;
            };
            let kept = &mut self.files[index];
            if kept.bytes == file {
                continue;
            }
            let first = FileShape::of(&kept.bytes)
                .map_err(|m| SchemaError::Malformed { source_name: kept.source.clone(), message: m })?;
            let second = FileShape::of(file).map_err(malformed)?;
            let built_in = BUILT_IN_PREFIXES.iter().any(|prefix| name.starts_with(prefix));
            let difference = match first.compare(&second) {
                Agreement::Same => continue,
                Agreement::FirstIsFuller(_) if built_in => continue,
                Agreement::SecondIsFuller(_) if built_in => {
                    *kept = Kept { bytes: file.to_vec(), source: source.to_owned() };
                    continue;
                }
                Agreement::FirstIsFuller(d) | Agreement::SecondIsFuller(d) | Agreement::Differs(d) => d,
            };
            if on_conflict == OnConflict::KeepFirst {
                continue;
            }
            return Err(SchemaError::Conflict {
                definition: describe(&difference, &kept.source, source),
                file: name,
                first: kept.source.clone(),
                second: source.to_owned(),
            });
        }
        Ok(())
    }

    /// The merged set, encoded.
    pub(super) fn encode(&self) -> Vec<u8> {
        encode_set(self.files.iter().map(|file| file.bytes.as_slice()))
    }
}

/// A `FileDescriptorSet` of encoded `files`, in the order given.
pub(super) fn encode_set<'a>(files: impl Iterator<Item = &'a [u8]> + Clone) -> Vec<u8> {
    let mut out = Vec::with_capacity(files.clone().map(|file| file.len() + 8).sum());
    for file in files {
        encode_key(SET_FILE, WireType::LengthDelimited, &mut out);
        encode_varint(file.len() as u64, &mut out);
        out.extend_from_slice(file);
    }
    out
}

/// `field x.Y.z is `1 optional string json=z` in A and `2 ...` in B`, or
/// `message x.Z is defined in A only`.
fn describe(difference: &Difference, first: &str, second: &str) -> String {
    let name = &difference.name;
    match (&difference.first, &difference.second) {
        (Some(a), Some(b)) => format!("{name} is `{a}` in {first} and `{b}` in {second}"),
        (Some(_), None) => format!("{name} is defined in {first} only"),
        (None, _) => format!("{name} is defined in {second} only"),
    }
}

pub(super) fn file_name(file: &[u8]) -> Result<String, String> {
    let (_, field) = fields(file)?
        .into_iter()
        .find(|(tag, _)| *tag == FILE_NAME)
        .ok_or_else(|| "a file has no name".to_owned())?;
    String::from_utf8(length_delimited_payload(field)?.to_vec())
        .map_err(|_| "a file name is not UTF-8".to_owned())
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
        assert_eq!(
            error.to_string(),
            "x.proto differs between first.pb and second.pb: package is `x` in first.pb and `other` in second.pb"
        );
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let mut merged = MergedFiles::default();
        for bytes in [&b"\x0a\xff\xff\xff"[..], b"\x0a\x05ab", b"\xff"] {
            assert!(matches!(merged.add("junk", bytes), Err(SchemaError::Malformed { .. })));
        }
    }
}
