//! What one encoded `FileDescriptorProto` defines, as far as the wire and
//! the JSON mapping care, so that two teams' copies of a file can be told
//! the same or apart.
//!
//! A shape is the file's definitions in declaration order, each a name
//! (`field google.api.HttpRule.get`) and what it is (`2 optional string
//! json=get oneof=pattern`): the package and syntax, messages with their
//! fields (number, label, type, JSON name, oneof, packed, default) and
//! oneofs, enums and their values, extensions, services and methods (types,
//! streaming, the `google.api.http` rule). File options such as `go_package`,
//! source info, `deprecated` and the order of the encoding are left out.

use std::collections::HashMap;

use prost::Message;
use prost_types::{
    DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorProto,
    field_descriptor_proto::Type,
};

use super::raw::{fields, length_delimited_payload};
use crate::proto::google::api::HttpRule;

const FILE_SERVICE: u32 = 6;
const SERVICE_METHOD: u32 = 2;
const METHOD_OPTIONS: u32 = 4;
/// The field number of the `google.api.http` extension of `MethodOptions`.
const HTTP_EXTENSION: u32 = 72_295_728;

/// How two shapes of one file compare.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Agreement {
    /// They define the same things alike.
    Same,
    /// They agree on what both define; the first defines more (this, first).
    FirstIsFuller(Difference),
    /// They agree on what both define; the second defines more (this, first).
    SecondIsFuller(Difference),
    /// They disagree: the first definition that differs.
    Differs(Difference),
}

/// One definition as each copy has it (`None`: not defined there).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Difference {
    /// The definition (`field google.api.HttpRule.get`).
    pub(super) name: String,
    /// What the first copy makes of it.
    pub(super) first: Option<String>,
    /// What the second copy makes of it.
    pub(super) second: Option<String>,
}

/// The definitions of one file, in declaration order.
#[derive(Debug)]
pub(super) struct FileShape {
    entries: Vec<(String, String)>,
}

impl FileShape {
    /// The shape of an encoded `FileDescriptorProto`.
    pub(super) fn of(file: &[u8]) -> Result<Self, String> {
        let proto = FileDescriptorProto::decode(file).map_err(|e| e.to_string())?;
        let mut entries = Vec::new();
        let package = proto.package();
        entries.push(("package".to_owned(), package.to_owned()));
        let syntax = if proto.syntax().is_empty() { "proto2" } else { proto.syntax() };
        entries.push(("syntax".to_owned(), syntax.to_owned()));
        for message in &proto.message_type {
            add_message(&mut entries, package, message);
        }
        for enumeration in &proto.enum_type {
            add_enum(&mut entries, package, enumeration);
        }
        for extension in &proto.extension {
            add_field(&mut entries, "extension", package, extension, &[]);
        }
        let rules = http_rules(file)?;
        for (s, service) in proto.service.iter().enumerate() {
            let service_name = qualified(package, service.name());
            entries.push((format!("service {service_name}"), String::new()));
            for (m, method) in service.method.iter().enumerate() {
                let http = rules.get(&(s, m)).map_or_else(String::new, |rule| format!(" http={rule:?}"));
                let what = format!(
                    "{}{} -> {}{}{http}",
                    if method.client_streaming() { "stream " } else { "" },
                    method.input_type(),
                    if method.server_streaming() { "stream " } else { "" },
                    method.output_type(),
                );
                entries.push((format!("method {service_name}.{}", method.name()), what));
            }
        }
        Ok(Self { entries })
    }

    /// Compares `self` (the first copy) with `other` (the second).
    pub(super) fn compare(&self, other: &Self) -> Agreement {
        let theirs = by_name(other);
        let ours = by_name(self);
        let mut only_first = None;
        for (name, what) in &self.entries {
            match theirs.get(name.as_str()) {
                Some(their) if their != what => {
                    return Agreement::Differs(Difference {
                        name: name.clone(),
                        first: Some(what.clone()),
                        second: Some((*their).to_owned()),
                    });
                }
                Some(_) => {}
                None => {
                    only_first = only_first.or_else(|| {
                        Some(Difference { name: name.clone(), first: Some(what.clone()), second: None })
                    });
                }
            }
        }
        let only_second =
            other.entries.iter().find(|(name, _)| !ours.contains_key(name.as_str())).map(|(name, what)| {
                Difference { name: name.clone(), first: None, second: Some(what.clone()) }
            });
        match (only_first, only_second) {
            (None, None) => Agreement::Same,
            (Some(first), None) => Agreement::FirstIsFuller(first),
            (None, Some(second)) => Agreement::SecondIsFuller(second),
            (Some(first), Some(_)) => Agreement::Differs(first),
        }
    }
}

fn by_name(shape: &FileShape) -> HashMap<&str, &str> {
    shape.entries.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

fn qualified(scope: &str, name: &str) -> String {
    if scope.is_empty() { name.to_owned() } else { format!("{scope}.{name}") }
}

fn add_message(entries: &mut Vec<(String, String)>, scope: &str, message: &DescriptorProto) {
    let name = qualified(scope, message.name());
    let map_entry = message.options.as_ref().is_some_and(|o| o.map_entry());
    entries.push((format!("message {name}"), if map_entry { "map entry".into() } else { String::new() }));
    let oneofs: Vec<&str> = message.oneof_decl.iter().map(|o| o.name()).collect();
    for field in &message.field {
        add_field(entries, "field", &name, field, &oneofs);
    }
    for extension in &message.extension {
        add_field(entries, "extension", &name, extension, &oneofs);
    }
    for nested in &message.nested_type {
        add_message(entries, &name, nested);
    }
    for enumeration in &message.enum_type {
        add_enum(entries, &name, enumeration);
    }
}

fn add_field(
    entries: &mut Vec<(String, String)>,
    kind: &str,
    scope: &str,
    field: &FieldDescriptorProto,
    oneofs: &[&str],
) {
    let label = field.label().as_str_name().trim_start_matches("LABEL_").to_lowercase();
    let mut what = format!("{} {label} ", field.number());
    match field.r#type() {
        Type::Message | Type::Enum | Type::Group => what.push_str(field.type_name()),
        other => what.push_str(&other.as_str_name().trim_start_matches("TYPE_").to_lowercase()),
    }
    if field.extendee.is_some() {
        what.push_str(&format!(" extends {}", field.extendee()));
    }
    what.push_str(&format!(" json={}", field.json_name.clone().unwrap_or_else(|| json_name(field.name()))));
    if let Some(oneof) = field.oneof_index.and_then(|i| usize::try_from(i).ok()).and_then(|i| oneofs.get(i)) {
        what.push_str(&format!(" oneof={oneof}"));
    }
    if field.proto3_optional() {
        what.push_str(" optional");
    }
    if let Some(packed) = field.options.as_ref().and_then(|o| o.packed) {
        what.push_str(&format!(" packed={packed}"));
    }
    if let Some(default) = &field.default_value {
        what.push_str(&format!(" default={default}"));
    }
    entries.push((format!("{kind} {scope}.{}", field.name()), what));
}

fn add_enum(entries: &mut Vec<(String, String)>, scope: &str, enumeration: &EnumDescriptorProto) {
    let name = qualified(scope, enumeration.name());
    entries.push((format!("enum {name}"), String::new()));
    for value in &enumeration.value {
        entries.push((format!("enum value {name}.{}", value.name()), value.number().to_string()));
    }
}

/// protoc's JSON name: underscores dropped, the letter after each upper-cased.
fn json_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The `google.api.http` rule of each method, by (service, method) index,
/// read from the wire since prost-types drops extensions.
fn http_rules(file: &[u8]) -> Result<HashMap<(usize, usize), HttpRule>, String> {
    let mut rules = HashMap::new();
    let services = fields(file)?.into_iter().filter(|(tag, _)| *tag == FILE_SERVICE);
    for (s, (_, service)) in services.enumerate() {
        let methods = fields(length_delimited_payload(service)?)?;
        for (m, (_, method)) in methods.into_iter().filter(|(tag, _)| *tag == SERVICE_METHOD).enumerate() {
            for (_, options) in
                fields(length_delimited_payload(method)?)?.into_iter().filter(|(t, _)| *t == METHOD_OPTIONS)
            {
                for (_, rule) in fields(length_delimited_payload(options)?)?
                    .into_iter()
                    .filter(|(t, _)| *t == HTTP_EXTENSION)
                {
                    let rule =
                        HttpRule::decode(length_delimited_payload(rule)?).map_err(|e| e.to_string())?;
                    rules.insert((s, m), rule);
                }
            }
        }
    }
    Ok(rules)
}
