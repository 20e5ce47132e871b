//! Request binding: the request message built from the path variables, the
//! query string and the body, following the order and choices of
//! tests/data/query_binding.json (body first, then path variables, then the
//! query for leaves still unset; a field bound by the path cannot be changed
//! by the body or the query).
//!
//! A [`RequestBinder`] is compiled once per binding; [`RequestBinder::bind`]
//! runs per request and reports anything that does not fit as a
//! [`BindError`] naming the field and the value (a 400 INVALID_ARGUMENT,
//! before the backend is called), and a binding that does not fit its own
//! message as [`BindFailure::Internal`] (a 500).
//!
//! Everything that depends only on the descriptors (field paths, how each
//! path variable reads its text, which parts of the body can hold an enum,
//! the HttpBody fields) is resolved in [`RequestBinder::compile`].
//!
//! The steps run as body, query, path: the query fills only leaves the body
//! left unset, and the path variables are applied last so that they win
//! over both, whatever the body and the query said.

mod body;
mod error;
mod plan;
mod prescan;
mod query;
mod scalar;
mod walk;
mod wire;

use bytes::Bytes;
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, Value};

use self::error::internal;
pub use self::error::{BindError, BindFailure, PlanError};
use self::plan::BodyPlan;
use self::scalar::TextForm;
use super::HttpBodyFields;
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
    /// Bounds on what one request may make the binder parse.
    pub limits: InputLimits,
}

/// Bounds on the input of one request, each refusal a 400 naming its
/// `limits.*` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputLimits {
    /// The deepest nesting of a JSON body (objects and arrays).
    pub max_json_depth: usize,
    /// The most query parameters.
    pub max_query_params: usize,
    /// The longest query parameter name or value, in bytes as sent.
    pub max_query_value_bytes: usize,
}

impl InputLimits {
    /// The defaults: 64 levels, 256 parameters, 8 KiB.
    pub const DEFAULT: Self =
        Self { max_json_depth: 64, max_query_params: 256, max_query_value_bytes: 8 << 10 };
}

impl Default for InputLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The request side of one binding, compiled.
#[derive(Debug, Clone)]
pub struct RequestBinder {
    input: MessageDescriptor,
    variables: Vec<Variable>,
    body: Body,
    update_mask: Option<UpdateMask>,
    options: BindOptions,
    /// The wire path, when the binding can take it (see [`wire`]).
    wire: Option<wire::WireBinding>,
}

/// One path variable: its field, how its text is read, and its dotted name for errors.
#[derive(Debug, Clone)]
struct Variable {
    path: FieldPath,
    form: TextForm,
    name: String,
}

/// What the body fills, and how it is read.
#[derive(Debug, Clone)]
enum Body {
    /// No body is read.
    None,
    /// JSON read as the message `plan` is rooted at: the whole input (`at`
    /// is `None`) or the message field at `at`.
    Json { at: Option<FieldPath>, plan: BodyPlan },
    /// Raw bytes as a `google.api.HttpBody`, whole input or field.
    Raw { at: Option<FieldPath>, message: MessageDescriptor, fields: HttpBodyFields },
    /// JSON read as the value of a non-message field (scalar, enum,
    /// repeated, map); `parent` plans the message holding it.
    Value { at: FieldPath, parent: BodyPlan },
}

/// The top-level `google.protobuf.FieldMask` filled from the body's keys.
#[derive(Debug, Clone)]
struct UpdateMask {
    field: FieldDescriptor,
    paths: FieldDescriptor,
    /// The FieldMask message type.
    mask: MessageDescriptor,
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
            Body::Json { at: Some(_), .. } if fill_update_mask => find_update_mask(input),
            _ => None,
        };
        let mut binder = Self { input: input.clone(), variables, body, update_mask, options, wire: None };
        binder.wire = wire::WireBinding::compile(&binder);
        Ok(binder)
    }

    /// Builds the request message. `captures` are the router's captures
    /// (same order as the variables given to [`RequestBinder::compile`]);
    /// `query` is the raw query string without `?`; `content_type` is the
    /// request's, used when the body fills a `google.api.HttpBody` (whose
    /// `data` then shares `body`'s bytes). Input that does not fit is a
    /// [`BindFailure::Invalid`]; captures that do not match the variables,
    /// or a value the compiled binding cannot place, a [`BindFailure::Internal`].
    pub fn bind(
        &self,
        captures: &[String],
        query: Option<&str>,
        body: &Bytes,
        content_type: Option<&str>,
    ) -> Result<DynamicMessage, BindFailure> {
        if captures.len() != self.variables.len() {
            return Err(internal(format!(
                "{} path captures for {} variables",
                captures.len(),
                self.variables.len()
            )));
        }
        let reject_unknown = self.options.reject_unknown_fields;
        if matches!(self.body, Body::Json { .. } | Body::Value { .. }) && !body.is_empty() {
            check_json_type(content_type)?;
        }
        let mut message = DynamicMessage::new(self.input.clone());
        // The update-mask paths, when reading the body collected them.
        let mut mask_paths = None;
        match &self.body {
            Body::None => {}
            Body::Json { at, plan } if !body.is_empty() => {
                prescan::check(body, &self.options.limits)?;
                let read = body::read_json(plan, body, reject_unknown, self.update_mask.is_some())?;
                mask_paths = read.paths;
                place(&mut message, at.as_ref(), read.message)?;
            }
            Body::Json { .. } => {}
            Body::Raw { at, message: read_as, fields } => {
                place(&mut message, at.as_ref(), body::http_body(read_as, fields, body, content_type)?)?;
            }
            Body::Value { at, parent } if !body.is_empty() => {
                prescan::check(body, &self.options.limits)?;
                if let Some(value) = body::read_field_value(parent, at.leaf(), body, reject_unknown)? {
                    set_at(&mut message, at, value)?;
                }
            }
            Body::Value { .. } => {}
        }
        let whole_body = matches!(&self.body, Body::Json { at: None, .. } | Body::Raw { at: None, .. });
        match query {
            Some(query) if whole_body => self.no_query_parameters(query)?,
            Some(query) => {
                query::merge_unset(&mut message, query::query_message(&self.input, query, &self.options)?)?
            }
            None => {}
        }
        for (variable, capture) in self.variables.iter().zip(captures) {
            let value = scalar::parse_value(&variable.form, capture, &variable.name)?;
            set_at(&mut message, &variable.path, value)?;
        }
        if let (Some(mask), Body::Json { plan, .. }) = (&self.update_mask, &self.body) {
            mask.fill(&mut message, plan, body, mask_paths)?;
        }
        Ok(message)
    }
}

impl RequestBinder {
    /// With `body: "*"` no field is left for the query: a parameter is
    /// refused when unknown parameters are, else logged at debug level.
    fn no_query_parameters(&self, query: &str) -> Result<(), BindError> {
        let Some(key) = query::first_key(query) else { return Ok(()) };
        if self.options.reject_unknown_query_parameters {
            return Err(BindError::new(format!(
                "query parameter {key:?}: the body fills the whole message (body: \"*\"), so no field takes query parameters"
            )));
        }
        tracing::debug!(
            message = self.input.full_name(),
            parameter = key,
            "query ignored: the body fills the whole message"
        );
        Ok(())
    }
}

/// Refuses a body whose `Content-Type` is not JSON (`application/json`, or
/// `application/<anything>+json`, with any parameters); a body without one
/// is read as JSON.
fn check_json_type(content_type: Option<&str>) -> Result<(), BindFailure> {
    let Some(content_type) = content_type else { return Ok(()) };
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let is_json = essence == "application/json"
        || essence.strip_prefix("application/").is_some_and(|subtype| subtype.ends_with("+json"));
    if is_json {
        return Ok(());
    }
    Err(BindFailure::UnsupportedMediaType(format!(
        "unsupported Content-Type {content_type:?}: this route reads a JSON body (send Content-Type: application/json)"
    )))
}

impl UpdateMask {
    /// Fills the mask from the body's keys (`paths` if reading the body
    /// collected them) when binding left it empty.
    fn fill(
        &self,
        message: &mut DynamicMessage,
        plan: &BodyPlan,
        body: &[u8],
        paths: Option<Vec<String>>,
    ) -> Result<(), BindFailure> {
        let empty = match message.get_field(&self.field).as_ref() {
            Value::Message(mask) => mask.get_field(&self.paths).as_list().is_none_or(<[Value]>::is_empty),
            _ => true,
        };
        if !empty || body.is_empty() {
            return Ok(());
        }
        let paths = match paths {
            Some(paths) => paths,
            None => walk::walk(plan.root(), body, false, true)?,
        };
        if paths.is_empty() {
            return Ok(());
        }
        let mut mask = DynamicMessage::new(self.mask.clone());
        let paths = Value::List(paths.into_iter().map(Value::String).collect());
        mask.try_set_field(&self.paths, paths).map_err(internal)?;
        message.try_set_field(&self.field, Value::Message(mask)).map_err(internal)
    }
}

/// A path variable's field: singular, and a scalar, an enum or a message with a text form.
fn compile_variable(input: &MessageDescriptor, dotted: &str) -> Result<Variable, PlanError> {
    let path = FieldPath::resolve(input, dotted).map_err(|e| PlanError(format!("path variable: {e}")))?;
    let leaf = path.leaf();
    let form = TextForm::of(leaf.kind()).filter(|_| !leaf.is_list() && !leaf.is_map());
    let Some(form) = form else {
        return Err(PlanError(format!(
            "path variable {dotted:?} of {}: a variable binds a singular scalar, enum or well-known type field",
            input.full_name()
        )));
    };
    Ok(Variable { path, form, name: dotted.to_owned() })
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
            if message.full_name() != super::HTTP_BODY {
                return Ok(Body::Json { at, plan: BodyPlan::compile(&message) });
            }
            let fields = HttpBodyFields::of(&message).ok_or_else(|| {
                PlanError(format!("body: {} without a string field 1 and a bytes field 2", super::HTTP_BODY))
            })?;
            Ok(Body::Raw { at, message, fields })
        }
        (_, Some(path)) => {
            let parent = BodyPlan::compile(path.leaf().parent_message());
            Ok(Body::Value { at: path, parent })
        }
        (_, None) => Err(PlanError("body: the input is not a message".to_owned())),
    }
}

fn find_update_mask(input: &MessageDescriptor) -> Option<UpdateMask> {
    input.fields().find_map(|field| match field.kind() {
        Kind::Message(mask) if !field.is_list() && mask.full_name() == "google.protobuf.FieldMask" => {
            let paths = mask.get_field(1).filter(|p| p.is_list() && p.kind() == Kind::String)?;
            Some(UpdateMask { field, paths, mask })
        }
        _ => None,
    })
}

/// Puts a message read from the body in its place: the whole request, or a field.
fn place(
    message: &mut DynamicMessage,
    at: Option<&FieldPath>,
    read: DynamicMessage,
) -> Result<(), BindFailure> {
    match at {
        None => *message = read,
        Some(path) => set_at(message, path, Value::Message(read))?,
    }
    Ok(())
}

/// Sets the field at `path`, creating the messages on the way.
fn set_at(message: &mut DynamicMessage, path: &FieldPath, value: Value) -> Result<(), BindFailure> {
    let mut current = message;
    for field in path.parents() {
        current = match current.get_field_mut(field) {
            Value::Message(inner) => inner,
            _ => return Err(internal(format!("{} is not a message field", field.full_name()))),
        };
    }
    current.try_set_field(path.leaf(), value).map_err(internal)
}
