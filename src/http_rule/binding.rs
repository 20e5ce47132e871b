//! A method's `google.api.http` rule read out of its options and turned into
//! [`Binding`]s: the primary pattern and every `additional_bindings` entry.

use http::Method;
use prost_reflect::{ExtensionDescriptor, MethodDescriptor, Value};

use super::template::{PathTemplate, TemplateError};
use crate::proto::google::api::{HttpRule, http_rule::Pattern};

/// What the HTTP request body fills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodySelector {
    /// No body is read (`body` empty in the rule).
    None,
    /// The whole request message (`body: "*"`).
    Whole,
    /// One field of the request message, by dotted proto field path.
    Field(String),
}

/// One way to reach a method over HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The HTTP method.
    pub method: Method,
    /// The parsed path template.
    pub template: PathTemplate,
    /// What the body fills.
    pub body: BodySelector,
    /// The reply field rendered as the response, when not the whole reply.
    pub response_body: Option<String>,
}

/// A rule that cannot become bindings; names the method and, for templates,
/// the position in the template.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpRuleError {
    /// The rule's path template does not parse.
    #[error("{method}: {source}")]
    Template {
        /// The method's full name.
        method: String,
        /// The parse error, with its position.
        #[source]
        source: TemplateError,
    },
    /// The rule sets no pattern (no get/put/post/delete/patch/custom).
    #[error("{method}: google.api.http rule has no pattern (get, put, post, delete, patch or custom)")]
    NoPattern {
        /// The method's full name.
        method: String,
    },
    /// A `custom` pattern whose kind is not an HTTP method token.
    #[error("{method}: custom pattern kind {kind:?} is not a valid HTTP method")]
    BadCustomKind {
        /// The method's full name.
        method: String,
        /// The kind as written.
        kind: String,
    },
    /// An entry of `additional_bindings` has bindings of its own.
    #[error("{method}: additional_bindings must not contain additional_bindings")]
    NestedAdditionalBindings {
        /// The method's full name.
        method: String,
    },
    /// The option could not be read as an HttpRule.
    #[error("{method}: cannot read the google.api.http option: {reason}")]
    Unreadable {
        /// The method's full name.
        method: String,
        /// Why.
        reason: String,
    },
}

/// The bindings of `method`'s `google.api.http` option (`http_option` is the
/// extension's descriptor in the same pool); empty when it has none.
pub fn bindings_of(
    method: &MethodDescriptor,
    http_option: &ExtensionDescriptor,
) -> Result<Vec<Binding>, HttpRuleError> {
    let options = method.options();
    if !options.has_extension(http_option) {
        return Ok(Vec::new());
    }
    let name = method.full_name();
    let rule = match options.get_extension(http_option).as_ref() {
        Value::Message(rule) => rule
            .transcode_to::<HttpRule>()
            .map_err(|e| HttpRuleError::Unreadable { method: name.to_owned(), reason: e.to_string() })?,
        other => {
            return Err(HttpRuleError::Unreadable {
                method: name.to_owned(),
                reason: format!("expected a message, found {other:?}"),
            });
        }
    };
    let mut bindings = vec![binding_of_rule(name, &rule)?];
    for extra in &rule.additional_bindings {
        if !extra.additional_bindings.is_empty() {
            return Err(HttpRuleError::NestedAdditionalBindings { method: name.to_owned() });
        }
        bindings.push(binding_of_rule(name, extra)?);
    }
    Ok(bindings)
}

/// The binding given to a method without an annotation when the gateway is
/// asked to expose those (as grpc-gateway's option does):
/// `POST /<package>.<Service>/<Method>` with the whole message as the body.
pub fn unannotated_binding(method: &MethodDescriptor) -> Result<Binding, HttpRuleError> {
    let text = format!("/{}/{}", method.parent_service().full_name(), method.name());
    let template = PathTemplate::parse(&text)
        .map_err(|source| HttpRuleError::Template { method: method.full_name().to_owned(), source })?;
    Ok(Binding { method: Method::POST, template, body: BodySelector::Whole, response_body: None })
}

fn binding_of_rule(name: &str, rule: &HttpRule) -> Result<Binding, HttpRuleError> {
    let (method, path) = match &rule.pattern {
        Some(Pattern::Get(path)) => (Method::GET, path.as_str()),
        Some(Pattern::Put(path)) => (Method::PUT, path.as_str()),
        Some(Pattern::Post(path)) => (Method::POST, path.as_str()),
        Some(Pattern::Delete(path)) => (Method::DELETE, path.as_str()),
        Some(Pattern::Patch(path)) => (Method::PATCH, path.as_str()),
        Some(Pattern::Custom(custom)) => {
            let method = Method::from_bytes(custom.kind.as_bytes()).map_err(|_| {
                HttpRuleError::BadCustomKind { method: name.to_owned(), kind: custom.kind.clone() }
            })?;
            (method, custom.path.as_str())
        }
        None => return Err(HttpRuleError::NoPattern { method: name.to_owned() }),
    };
    let template = PathTemplate::parse(path)
        .map_err(|source| HttpRuleError::Template { method: name.to_owned(), source })?;
    let body = match rule.body.as_str() {
        "" => BodySelector::None,
        "*" => BodySelector::Whole,
        field => BodySelector::Field(field.to_owned()),
    };
    let response_body = Some(rule.response_body.clone()).filter(|field| !field.is_empty());
    Ok(Binding { method, template, body, response_body })
}
