//! A binding's path and its parameters: the OpenAPI path of a template
//! (a variable spanning several segments, `{name=shelves/*/books/*}`, is
//! one parameter whose description and pattern say what it holds), the path
//! parameters with their field's type (named by the field path joined by
//! `_`), and the query parameters: the leaves
//! of the request message that neither the path nor the body fills, as
//! dotted JSON names (the gateway takes proto names too).

use prost_reflect::{FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Value, json};

use super::schemas::{Components, JsonStyle, comment, json_name};
use crate::http_rule::{BodySelector, PathTemplate, Segment};

/// How deep query parameters follow nested messages.
const MAX_QUERY_DEPTH: usize = 3;

/// The OpenAPI path of `template`: `/v1/{name}:publish`.
pub(super) fn path_of(template: &PathTemplate) -> String {
    let segments = template.segments();
    let mut parts = Vec::new();
    let mut index = 0;
    while index < segments.len() {
        match template.variables().iter().find(|variable| variable.start == index) {
            Some(variable) => {
                parts.push(format!("{{{}}}", parameter_name(&variable.field_path)));
                index = variable.end.max(index + 1);
            }
            None => {
                parts.push(match &segments[index] {
                    Segment::Literal(literal) => literal.clone(),
                    Segment::Single => "*".to_owned(),
                    Segment::Multi => "**".to_owned(),
                });
                index += 1;
            }
        }
    }
    let mut path = format!("/{}", parts.join("/"));
    if let Some(verb) = template.verb() {
        path.push(':');
        path.push_str(verb);
    }
    path
}

/// The path parameters of `template`, typed by the fields they fill.
pub(super) fn path_parameters(
    template: &PathTemplate,
    input: &MessageDescriptor,
    style: JsonStyle,
    components: &mut Components,
) -> Vec<Value> {
    let segments = template.segments();
    template
        .variables()
        .iter()
        .map(|variable| {
            let name = parameter_name(&variable.field_path);
            let spanned = &segments[variable.start..variable.end];
            let mut schema = match leaf(input, &variable.field_path) {
                Some(field) => components.single(&field, style),
                None => json!({ "type": "string" }),
            };
            let mut parameter = json!({ "name": name, "in": "path", "required": true });
            if variable.field_path.len() > 1 {
                let field = variable.field_path.join(".");
                parameter["description"] = Value::String(format!("The field `{field}`."));
            }
            if !matches!(spanned, [Segment::Single]) {
                let shape: Vec<&str> = spanned
                    .iter()
                    .map(|segment| match segment {
                        Segment::Literal(literal) => literal.as_str(),
                        Segment::Single => "*",
                        Segment::Multi => "**",
                    })
                    .collect();
                schema = json!({ "type": "string", "pattern": pattern_of(spanned) });
                parameter["description"] = Value::String(format!(
                    "{}{} path segments of the form `{}`, slashes included",
                    parameter["description"].as_str().map(|field| format!("{field} ")).unwrap_or_default(),
                    if spanned.contains(&Segment::Multi) { "One or more" } else { "Several" },
                    shape.join("/")
                ));
            }
            parameter["schema"] = schema;
            parameter
        })
        .collect()
}

/// The query parameters of a binding: the leaves of `input` that the path
/// (`bound`, field paths) and the body leave unset.
pub(super) fn query_parameters(
    input: &MessageDescriptor,
    bound: &[Vec<String>],
    body: &BodySelector,
    style: JsonStyle,
    components: &mut Components,
) -> Vec<Value> {
    let mut out = Vec::new();
    if *body == BodySelector::Whole {
        return out;
    }
    let mut pending: Vec<(MessageDescriptor, Vec<String>, Vec<String>)> =
        vec![(input.clone(), vec![], vec![])];
    while let Some((message, proto_path, json_path)) = pending.pop() {
        for field in message.fields() {
            let mut proto = proto_path.clone();
            proto.push(field.name().to_owned());
            let top_is_body =
                matches!(body, BodySelector::Field(name) if proto.len() == 1 && *name == proto[0]);
            if top_is_body || bound.contains(&proto) || field.is_map() {
                continue;
            }
            let mut json = json_path.clone();
            json.push(json_name(&field, style).to_owned());
            match field.kind() {
                Kind::Message(nested) if !is_scalar_like(&nested) => {
                    if !field.is_list() && proto.len() < MAX_QUERY_DEPTH {
                        pending.push((nested, proto, json));
                    }
                }
                _ => {
                    let mut parameter = json!({
                        "name": json.join("."),
                        "in": "query",
                        "schema": components.field(&field, style),
                    });
                    if field.is_list() {
                        parameter["explode"] = Value::Bool(true);
                    }
                    if let Some(comment) = comment(&field.parent_message().parent_file(), field.path()) {
                        parameter["description"] = Value::String(comment);
                    }
                    out.push(parameter);
                }
            }
        }
    }
    out
}

/// The name of a path parameter: its field path joined by `_`
/// (`book_id` for `{book.id}`), since tools read `{book.id}` as an
/// attribute lookup.
fn parameter_name(field_path: &[String]) -> String {
    field_path.join("_")
}

/// The field at `path` under `message`.
pub(super) fn leaf(message: &MessageDescriptor, path: &[String]) -> Option<FieldDescriptor> {
    let (last, parents) = path.split_last()?;
    let mut message = message.clone();
    for name in parents {
        match message.get_field_by_name(name)?.kind() {
            Kind::Message(nested) => message = nested,
            _ => return None,
        }
    }
    message.get_field_by_name(last)
}

/// A well-known type whose JSON form is a string, number or boolean.
fn is_scalar_like(message: &MessageDescriptor) -> bool {
    let name = message.full_name();
    name.ends_with("Value") && !matches!(name, "google.protobuf.Value" | "google.protobuf.ListValue")
        || matches!(
            name,
            "google.protobuf.Timestamp" | "google.protobuf.Duration" | "google.protobuf.FieldMask"
        )
}

/// A regular expression for the segments a variable spans.
fn pattern_of(spanned: &[Segment]) -> String {
    let parts: Vec<String> = spanned
        .iter()
        .map(|segment| match segment {
            Segment::Literal(literal) => escape(literal),
            Segment::Single => "[^/]+".to_owned(),
            Segment::Multi => ".*".to_owned(),
        })
        .collect();
    format!("^{}$", parts.join("/"))
}

fn escape(literal: &str) -> String {
    let mut out = String::with_capacity(literal.len());
    for c in literal.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variable_over_several_segments_is_one_parameter_with_its_pattern() {
        let template = PathTemplate::parse("/v1/{name=shelves/*/books/*}:publish").unwrap();
        assert_eq!(path_of(&template), "/v1/{name}:publish");
        let variable = &template.variables()[0];
        let spanned = &template.segments()[variable.start..variable.end];
        assert_eq!(pattern_of(spanned), "^shelves/[^/]+/books/[^/]+$");
    }

    #[test]
    fn literals_and_field_paths_are_kept_and_regex_characters_escaped() {
        let template = PathTemplate::parse("/v1/shelves/{shelf}/books/{book.id}").unwrap();
        assert_eq!(path_of(&template), "/v1/shelves/{shelf}/books/{book_id}");
        assert_eq!(escape("a.b+c"), "a\\.b\\+c");
    }
}
