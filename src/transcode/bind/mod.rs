//! Request binding: the request message built from the path variables, the
//! query string and the body, following the order and choices of
//! tests/data/query_binding.json (body first, then path variables, then the
//! query for leaves still unset; a field bound by the path cannot be changed
//! by the body or the query).
//!
//! A [`RequestBinder`] is compiled once per binding; [`RequestBinder::bind`]
//! runs per request and reports anything that does not fit as a
//! [`BindError`] naming the field and the value (a 400 INVALID_ARGUMENT,
//! before the backend is called).
//!
//! The steps run as body, query, path: the query fills only leaves the body
//! left unset, and the path variables are applied last so that they win
//! over both, whatever the body and the query said.

mod body;
mod enums;
mod field_mask;
mod query;
mod scalar;

use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, Value};

use super::field_path::FieldPath;
use crate::http_rule::BodySelector;

/// Switches of request binding, per gateway and per route.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BindOptions {
    /// Reject JSON body fields the message does not have (default: ignore them).
    pub reject_unknown_fields: bool,
    /// Reject query parameters that name no field (default: ignore them).
    pub reject_unknown_query_parameters: bool,
    /// Keep `+` in query values literal instead of reading it as a space.
    pub query_plus_is_literal: bool,
}

/// The request side of one binding, compiled.
#[derive(Debug, Clone)]
pub struct RequestBinder {
    input: MessageDescriptor,
    /// The path variables' fields, with their dotted names for errors.
    variables: Vec<(FieldPath, String)>,
    body: Body,
    update_mask: Option<UpdateMask>,
    options: BindOptions,
}

/// What the body fills, and how it is read.
#[derive(Debug, Clone)]
enum Body {
    /// No body is read.
    None,
    /// JSON read as `message`: the whole input (`at` is `None`) or the message field at `at`.
    Json { at: Option<FieldPath>, message: MessageDescriptor },
    /// Raw bytes as a `google.api.HttpBody`, whole input or field.
    Raw { at: Option<FieldPath>, message: MessageDescriptor },
    /// JSON read as the value of a non-message field (scalar, enum, repeated, map).
    Value(FieldPath),
}

/// The top-level `google.protobuf.FieldMask` filled from the body's keys.
#[derive(Debug, Clone)]
struct UpdateMask {
    field: FieldDescriptor,
    paths: FieldDescriptor,
    /// The message the body is read as; paths are relative to it.
    body_message: MessageDescriptor,
}

/// A binding that cannot be compiled against its input message (a load-time error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);

/// Request input that does not fit the message: a 400 INVALID_ARGUMENT.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BindError {
    /// The human-readable message, naming the field and the value.
    pub message: String,
}

impl RequestBinder {
    /// Compiles the binding of `input`: `variables` are the field paths of
    /// the template's variables (in template order, as in
    /// [`crate::http_rule::Variable::field_path`]); `body` says what the body fills;
    /// `fill_update_mask` asks for the grpc-gateway PATCH behaviour (an empty
    /// `google.protobuf.FieldMask` field filled from the JSON keys sent).
    pub fn compile(
        input: &MessageDescriptor,
        variables: &[Vec<String>],
        body: &BodySelector,
        fill_update_mask: bool,
        options: BindOptions,
    ) -> Result<Self, PlanError> {
        let variables = variables
            .iter()
            .map(|names| compile_variable(input, &names.join(".")))
            .collect::<Result<_, _>>()?;
        let body = compile_body(input, body)?;
        let update_mask = match &body {
            Body::Json { at: Some(_), message } if fill_update_mask => find_update_mask(input, message),
            _ => None,
        };
        Ok(Self { input: input.clone(), variables, body, update_mask, options })
    }

    /// The input message type.
    pub fn input(&self) -> &MessageDescriptor {
        &self.input
    }

    /// Builds the request message. `captures` are the router's captures
    /// (same order as the variables given to [`RequestBinder::compile`]);
    /// `query` is the raw query string without `?`; `content_type` is the
    /// request's, used when the body fills a `google.api.HttpBody`.
    pub fn bind(
        &self,
        captures: &[String],
        query: Option<&str>,
        body: &[u8],
        content_type: Option<&str>,
    ) -> Result<DynamicMessage, BindError> {
        if captures.len() != self.variables.len() {
            return Err(BindError {
                message: format!("{} path captures for {} variables", captures.len(), self.variables.len()),
            });
        }
        let reject_unknown = self.options.reject_unknown_fields;
        let mut message = DynamicMessage::new(self.input.clone());
        match &self.body {
            Body::None => {}
            Body::Json { at, message: read_as } if !body.is_empty() => {
                place(&mut message, at.as_ref(), body::read_json(read_as, body, reject_unknown)?)?;
            }
            Body::Json { .. } => {}
            Body::Raw { at, message: read_as } => {
                place(&mut message, at.as_ref(), body::http_body(read_as, body, content_type)?)?;
            }
            Body::Value(at) => {
                if let Some(value) = body_value(at, body, reject_unknown)? {
                    set_at(&mut message, at, value)?;
                }
            }
        }
        let whole_body = matches!(&self.body, Body::Json { at: None, .. } | Body::Raw { at: None, .. });
        if let (false, Some(query)) = (whole_body, query) {
            query::merge_unset(&mut message, query::query_message(&self.input, query, &self.options)?)?;
        }
        for ((path, name), capture) in self.variables.iter().zip(captures) {
            set_at(&mut message, path, scalar::parse_value(&path.leaf().kind(), capture, name)?)?;
        }
        if let Some(mask) = &self.update_mask {
            mask.fill(&mut message, body)?;
        }
        Ok(message)
    }
}

impl UpdateMask {
    /// Fills the mask from the body's keys when binding left it empty.
    fn fill(&self, message: &mut DynamicMessage, body: &[u8]) -> Result<(), BindError> {
        let empty = match message.get_field(&self.field).as_ref() {
            Value::Message(mask) => mask.get_field(&self.paths).as_list().is_none_or(<[Value]>::is_empty),
            _ => true,
        };
        if !empty || body.is_empty() {
            return Ok(());
        }
        let paths = field_mask::body_paths(&self.body_message, body)?;
        if paths.is_empty() {
            return Ok(());
        }
        let Kind::Message(mask_type) = self.field.kind() else { return Ok(()) };
        let mut mask = DynamicMessage::new(mask_type);
        let paths = Value::List(paths.into_iter().map(Value::String).collect());
        mask.try_set_field(&self.paths, paths).map_err(internal)?;
        message.try_set_field(&self.field, Value::Message(mask)).map_err(internal)
    }
}

/// A path variable's field: singular, and a scalar, an enum or a message with a text form.
fn compile_variable(input: &MessageDescriptor, dotted: &str) -> Result<(FieldPath, String), PlanError> {
    let path = FieldPath::resolve(input, dotted).map_err(|e| PlanError(format!("path variable: {e}")))?;
    let leaf = path.leaf();
    let fits = match leaf.kind() {
        Kind::Message(message) => scalar::has_text_form(&message),
        _ => true,
    };
    if leaf.is_list() || leaf.is_map() || !fits {
        return Err(PlanError(format!(
            "path variable {dotted:?} of {}: a variable binds a singular scalar, enum or well-known type field",
            input.full_name()
        )));
    }
    Ok((path, dotted.to_owned()))
}

fn compile_body(input: &MessageDescriptor, body: &BodySelector) -> Result<Body, PlanError> {
    let (at, leaf) = match body {
        BodySelector::None => return Ok(Body::None),
        BodySelector::Whole => (None, Kind::Message(input.clone())),
        BodySelector::Field(dotted) => {
            let path = FieldPath::resolve(input, dotted).map_err(|e| PlanError(format!("body: {e}")))?;
            let kind = path.leaf().kind();
            (Some(path), kind)
        }
    };
    match (leaf, at) {
        (Kind::Message(message), at)
            if at.as_ref().is_none_or(|p| !p.leaf().is_list() && !p.leaf().is_map()) =>
        {
            if message.full_name() == body::HTTP_BODY {
                Ok(Body::Raw { at, message })
            } else {
                Ok(Body::Json { at, message })
            }
        }
        (_, Some(path)) => Ok(Body::Value(path)),
        (_, None) => Err(PlanError("body: the input is not a message".to_owned())),
    }
}

fn find_update_mask(input: &MessageDescriptor, body_message: &MessageDescriptor) -> Option<UpdateMask> {
    input.fields().find_map(|field| match field.kind() {
        Kind::Message(mask) if !field.is_list() && mask.full_name() == "google.protobuf.FieldMask" => {
            let paths = mask.get_field(1)?;
            Some(UpdateMask { field, paths, body_message: body_message.clone() })
        }
        _ => None,
    })
}

/// The value a non-empty body gives a non-message field.
fn body_value(at: &FieldPath, body: &[u8], reject_unknown: bool) -> Result<Option<Value>, BindError> {
    if body.is_empty() {
        return Ok(None);
    }
    body::read_field_value(at.leaf(), body, reject_unknown)
}

/// Puts a message read from the body in its place: the whole request, or a field.
fn place(
    message: &mut DynamicMessage,
    at: Option<&FieldPath>,
    read: DynamicMessage,
) -> Result<(), BindError> {
    match at {
        None => *message = read,
        Some(path) => set_at(message, path, Value::Message(read))?,
    }
    Ok(())
}

/// Sets the field at `path`, creating the messages on the way.
fn set_at(message: &mut DynamicMessage, path: &FieldPath, value: Value) -> Result<(), BindError> {
    let mut current = message;
    for field in path.parents() {
        current = match current.get_field_mut(field) {
            Value::Message(inner) => inner,
            _ => return Err(internal(format!("{} is not a message field", field.name()))),
        };
    }
    current.try_set_field(path.leaf(), value).map_err(internal)
}

fn internal(error: impl std::fmt::Display) -> BindError {
    BindError { message: error.to_string() }
}
