//! Dotted field paths (`book.author_info.first_name`) resolved once, at
//! compile time, against a message descriptor, so that nothing on the
//! request path looks a field up by name. Also the one lookup of a field
//! by the name a client wrote ([`field_named`]), for what can only be
//! resolved per request (query keys, JSON body keys).

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};

/// A resolved chain of fields, outermost first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    fields: Vec<FieldDescriptor>,
}

/// A field path that does not resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field path {path:?} of {message}: {reason}")]
pub struct FieldPathError {
    /// The path as written.
    pub path: String,
    /// The message it was resolved against.
    pub message: String,
    /// What is wrong.
    pub reason: String,
}

impl FieldPath {
    /// Resolves `path` (proto field names, dot-separated) against `message`.
    /// Every field but the last must be a singular message field.
    pub fn resolve(message: &MessageDescriptor, path: &str) -> Result<Self, FieldPathError> {
        let error = |reason: String| FieldPathError {
            path: path.to_owned(),
            message: message.full_name().to_owned(),
            reason,
        };
        let mut fields: Vec<FieldDescriptor> = Vec::new();
        let mut current = message.clone();
        for name in path.split('.') {
            if let Some(parent) = fields.last() {
                current = match parent.kind() {
                    Kind::Message(inner) if !parent.is_list() && !parent.is_map() => inner,
                    _ => {
                        return Err(error(format!(
                            "{:?} is {}, not a singular message field, so it has no field {name:?}",
                            parent.name(),
                            describe(parent)
                        )));
                    }
                };
            }
            if name.is_empty() {
                return Err(error("empty field name".to_owned()));
            }
            let field = current.get_field_by_name(name).ok_or_else(|| {
                let hint = did_you_mean(&current, name)
                    .map(|near| format!(" (did you mean {near:?}?)"))
                    .unwrap_or_default();
                error(format!("{} has no field {name:?}{hint}", current.full_name()))
            })?;
            fields.push(field);
        }
        Ok(Self { fields })
    }

    /// The last field of the path.
    pub fn leaf(&self) -> &FieldDescriptor {
        &self.fields[self.fields.len() - 1]
    }

    /// Every field of the path, the leaf last.
    pub fn fields(&self) -> &[FieldDescriptor] {
        &self.fields
    }

    /// The fields before the leaf (the messages to walk through).
    pub fn parents(&self) -> &[FieldDescriptor] {
        &self.fields[..self.fields.len() - 1]
    }
}

/// What kind of field `field` is, for error messages.
fn describe(field: &FieldDescriptor) -> &'static str {
    if field.is_map() {
        "a map field"
    } else if field.is_list() {
        "a repeated field"
    } else {
        "a scalar field"
    }
}

/// The field of `message` a client named `name`: by JSON name first, then
/// by proto name. Proto3 JSON parsing accepts both, and this is the order
/// prost-reflect's own JSON reader uses, so query keys, body keys and the
/// update mask all agree with the body as it was read.
pub(crate) fn field_named(message: &MessageDescriptor, name: &str) -> Option<FieldDescriptor> {
    message.get_field_by_json_name(name).or_else(|| message.get_field_by_name(name))
}

/// The field of `message` whose name is closest to `name`, when one is close.
fn did_you_mean(message: &MessageDescriptor, name: &str) -> Option<String> {
    let fields: Vec<FieldDescriptor> = message.fields().collect();
    crate::suggest::closest(name, fields.iter().map(FieldDescriptor::name)).map(str::to_owned)
}
