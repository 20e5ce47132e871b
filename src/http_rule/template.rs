//! The path-template grammar of `google.api.http` (see google/api/http.proto):
//!
//! ```text
//! Template = "/" Segments [ Verb ] ;   (or the root template "/")
//! Segments = Segment { "/" Segment } ;
//! Segment  = "*" | "**" | LITERAL | Variable ;
//! Variable = "{" FieldPath [ "=" Segments ] "}" ;
//! FieldPath = IDENT { "." IDENT } ;
//! Verb     = ":" LITERAL ;
//! ```
//!
//! Only literals may follow `**`, in the template or inside a variable.
//! Parsing happens once, at compile time; the router and the binder work on
//! the parsed [`PathTemplate`].
//!
//! Choices beyond http.proto:
//!
//! - `IDENT` is `[A-Za-z_][A-Za-z0-9_]*`; a field path may be bound by at
//!   most one variable of a template.
//! - A `LITERAL` is one or more characters other than `/ { } * : ? #`,
//!   spaces and control characters; a `%` must start a valid `%XX` triplet.
//!   `:` is kept for the verb, so a literal never contains one. `.` and `..`
//!   are refused (requests resolve them, so they could never match).
//!   Literals are stored as written; the router compares them in a canonical
//!   form.

/// One segment of a parsed template, with variables flattened away: a
/// variable `{name=shelves/*}` contributes the segments `shelves` and `*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    /// A literal segment, matched exactly (after percent-decoding unreserved characters).
    Literal(String),
    /// `*`: exactly one segment.
    Single,
    /// `**`: zero or more segments.
    Multi,
}

/// A variable of the template: the request field it binds, and the segments it spans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    /// The field path, split at dots: `{book.id}` is `["book", "id"]`.
    pub field_path: Vec<String>,
    /// The first segment (index into [`PathTemplate::segments`]) the variable spans.
    pub start: usize,
    /// One past the last segment the variable spans.
    pub end: usize,
}

/// A parsed path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTemplate {
    text: String,
    segments: Vec<Segment>,
    verb: Option<String>,
    variables: Vec<Variable>,
}

/// A template that does not follow the grammar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid path template {template:?} at position {position}: {reason}")]
pub struct TemplateError {
    /// The template as written.
    pub template: String,
    /// The byte offset at which the problem was found.
    pub position: usize,
    /// What is wrong there.
    pub reason: String,
}

impl PathTemplate {
    /// Parses a template.
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        parser::parse(text)
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The segments, variables flattened (see [`Segment`]).
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The custom verb after the last `:`, if any.
    pub fn verb(&self) -> Option<&str> {
        self.verb.as_deref()
    }

    /// The variables in the order they appear.
    pub fn variables(&self) -> &[Variable] {
        &self.variables
    }
}

impl std::fmt::Display for PathTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

mod parser;
#[cfg(test)]
mod tests;
