//! Dotted field paths (`book.author_info.first_name`) resolved once, at
//! compile time, against a message descriptor, so that nothing on the
//! request path looks a field up by name.

use prost_reflect::{FieldDescriptor, MessageDescriptor};

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
        todo!("{} {path}", message.full_name())
    }

    /// The fields, outermost first.
    pub fn fields(&self) -> &[FieldDescriptor] {
        &self.fields
    }

    /// The last field of the path.
    pub fn leaf(&self) -> &FieldDescriptor {
        &self.fields[self.fields.len() - 1]
    }
}
