//! JSON Schemas of protobuf messages as the gateway renders and reads them
//! (the proto3 JSON mapping): 64-bit integers as strings, enums as names (or
//! numbers), bytes as base64, maps as objects, repeated fields as arrays,
//! the well-known types as their JSON forms, oneofs as `oneOf`, field names
//! as their `json_name` (or proto names). Each message is one component,
//! named by its full name (with a suffix for the JSON switches that change
//! it), referenced from fields and operations.

use std::collections::BTreeMap;

use prost_reflect::{EnumDescriptor, FieldDescriptor, FileDescriptor, Kind, MessageDescriptor};
use serde_json::{Value, json};

/// The JSON switches that change a message's schema.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct JsonStyle {
    /// Field names as in the .proto file, not lowerCamelCase.
    pub use_proto_names: bool,
    /// Enums as numbers, not names.
    pub enums_as_numbers: bool,
}

impl JsonStyle {
    fn suffix(self) -> &'static str {
        match (self.use_proto_names, self.enums_as_numbers) {
            (false, false) => "",
            (true, false) => ".proto_names",
            (false, true) => ".enum_numbers",
            (true, true) => ".proto_names.enum_numbers",
        }
    }
}

/// The components collected while operations reference messages.
#[derive(Debug, Default)]
pub(super) struct Components {
    schemas: BTreeMap<String, Value>,
}

impl Components {
    /// A `$ref` to the schema of `message` in `style`, adding it (and what
    /// it references) to the components on first use.
    pub(super) fn message(&mut self, message: &MessageDescriptor, style: JsonStyle) -> Value {
        if let Some(known) = well_known(message) {
            return known;
        }
        let name = format!("{}{}", message.full_name(), style.suffix());
        if !self.schemas.contains_key(&name) {
            // Placed first, so that a recursive message refers to itself.
            self.schemas.insert(name.clone(), Value::Null);
            let schema = self.object(message, style);
            self.schemas.insert(name.clone(), schema);
        }
        json!({ "$ref": format!("#/components/schemas/{name}") })
    }

    /// The schema of one field's value (repeated and map included).
    pub(super) fn field(&mut self, field: &FieldDescriptor, style: JsonStyle) -> Value {
        if field.is_map()
            && let Kind::Message(entry) = field.kind()
        {
            let value = entry.map_entry_value_field();
            return json!({ "type": "object", "additionalProperties": self.single(&value, style) });
        }
        let single = self.single(field, style);
        if field.is_list() { json!({ "type": "array", "items": single }) } else { single }
    }

    /// The schema of one value of `field`'s type.
    pub(super) fn single(&mut self, field: &FieldDescriptor, style: JsonStyle) -> Value {
        match field.kind() {
            Kind::Message(message) => self.message(&message, style),
            Kind::Enum(enumeration) => enum_schema(&enumeration, style),
            scalar => scalar_schema(&scalar),
        }
    }

    fn object(&mut self, message: &MessageDescriptor, style: JsonStyle) -> Value {
        let mut properties = serde_json::Map::new();
        for field in message.fields() {
            let mut schema = self.field(&field, style);
            if let Some(comment) = comment(&field.parent_message().parent_file(), field.path()) {
                schema = described(schema, comment);
            }
            properties.insert(json_name(&field, style).to_owned(), schema);
        }
        let mut schema = json!({ "type": "object", "properties": properties });
        if let Some(comment) = comment(&message.parent_file(), message.path()) {
            schema["description"] = Value::String(comment);
        }
        let exclusive: Vec<Value> = message
            .oneofs()
            .filter(|oneof| !oneof.is_synthetic())
            .map(|oneof| {
                let names: Vec<String> =
                    oneof.fields().map(|field| json_name(&field, style).to_owned()).collect();
                let each: Vec<Value> = names.iter().map(|name| json!({ "required": [name] })).collect();
                let mut choices = each.clone();
                choices.push(json!({ "not": { "anyOf": each } }));
                json!({ "oneOf": choices })
            })
            .collect();
        match exclusive.len() {
            0 => {}
            1 => schema["oneOf"] = exclusive[0]["oneOf"].clone(),
            _ => schema["allOf"] = Value::Array(exclusive),
        }
        schema
    }

    /// The collected schemas, by component name.
    pub(super) fn into_schemas(self) -> BTreeMap<String, Value> {
        self.schemas
    }
}

/// The leading comment of the definition at `path` in `file`, when the
/// file was built with source info.
pub(super) fn comment(file: &FileDescriptor, path: &[i32]) -> Option<String> {
    let info = file.file_descriptor_proto().source_code_info.as_ref()?;
    let location = info.location.iter().find(|location| location.path == path)?;
    let text = location.leading_comments.as_deref()?.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// `schema` with `description`; a `$ref` is wrapped, since its siblings
/// would be ignored by older readers.
fn described(schema: Value, description: String) -> Value {
    if schema.get("$ref").is_some() {
        json!({ "allOf": [schema], "description": description })
    } else {
        let mut schema = schema;
        schema["description"] = Value::String(description);
        schema
    }
}

/// The JSON name of `field` in `style`.
pub(super) fn json_name(field: &FieldDescriptor, style: JsonStyle) -> &str {
    if style.use_proto_names { field.name() } else { field.json_name() }
}

fn enum_schema(enumeration: &EnumDescriptor, style: JsonStyle) -> Value {
    if enumeration.full_name() == "google.protobuf.NullValue" {
        return json!({ "type": "null" });
    }
    if style.enums_as_numbers {
        let numbers: Vec<i32> = enumeration.values().map(|value| value.number()).collect();
        json!({ "type": "integer", "format": "int32", "enum": numbers })
    } else {
        let names: Vec<String> = enumeration.values().map(|value| value.name().to_owned()).collect();
        json!({ "type": "string", "enum": names })
    }
}

fn scalar_schema(kind: &Kind) -> Value {
    match kind {
        Kind::Double => json!({ "type": "number", "format": "double" }),
        Kind::Float => json!({ "type": "number", "format": "float" }),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => json!({ "type": "integer", "format": "int32" }),
        Kind::Uint32 | Kind::Fixed32 => json!({ "type": "integer", "format": "uint32", "minimum": 0 }),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            json!({ "type": "string", "format": "int64", "pattern": "^-?[0-9]+$" })
        }
        Kind::Uint64 | Kind::Fixed64 => {
            json!({ "type": "string", "format": "uint64", "pattern": "^[0-9]+$" })
        }
        Kind::Bool => json!({ "type": "boolean" }),
        Kind::String => json!({ "type": "string" }),
        Kind::Bytes => json!({ "type": "string", "format": "byte", "contentEncoding": "base64" }),
        Kind::Message(_) | Kind::Enum(_) => json!({}),
    }
}

/// The JSON form of a well-known type, inline (no component).
fn well_known(message: &MessageDescriptor) -> Option<Value> {
    let wrapped = |kind: Kind| scalar_schema(&kind);
    Some(match message.full_name() {
        "google.protobuf.Timestamp" => json!({ "type": "string", "format": "date-time" }),
        "google.protobuf.Duration" => {
            json!({ "type": "string", "pattern": "^-?[0-9]+(\\.[0-9]{1,9})?s$", "examples": ["1.5s"] })
        }
        "google.protobuf.FieldMask" => {
            json!({ "type": "string", "description": "field paths, comma-separated" })
        }
        "google.protobuf.Struct" => json!({ "type": "object", "additionalProperties": true }),
        "google.protobuf.Value" => json!({}),
        "google.protobuf.ListValue" => json!({ "type": "array" }),
        "google.protobuf.Empty" => json!({ "type": "object", "additionalProperties": false }),
        "google.protobuf.Any" => json!({
            "type": "object",
            "properties": { "@type": { "type": "string" } },
            "required": ["@type"],
            "additionalProperties": true,
        }),
        "google.protobuf.DoubleValue" => wrapped(Kind::Double),
        "google.protobuf.FloatValue" => wrapped(Kind::Float),
        "google.protobuf.Int64Value" => wrapped(Kind::Int64),
        "google.protobuf.UInt64Value" => wrapped(Kind::Uint64),
        "google.protobuf.Int32Value" => wrapped(Kind::Int32),
        "google.protobuf.UInt32Value" => wrapped(Kind::Uint32),
        "google.protobuf.BoolValue" => wrapped(Kind::Bool),
        "google.protobuf.StringValue" => wrapped(Kind::String),
        "google.protobuf.BytesValue" => wrapped(Kind::Bytes),
        _ => return None,
    })
}
