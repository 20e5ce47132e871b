//! The OpenAPI 3.1 document of the transcoded routes, generated once per
//! compile from what the compiler built: each binding's method and path
//! template, its parameters and body (a client stream's as NDJSON or a
//! JSON array of messages), its reply (server streams as NDJSON, SSE and a
//! JSON array, each with its error frame), the JSON switches of
//! its route, the error shape, the security schemes and rate-limit headers
//! of its policies, and the .proto comments (sets built with source info)
//! as descriptions.
//!
//! It describes; it serves nothing and knows no listener.

mod breaking;
mod parameters;
mod schemas;

use std::collections::BTreeMap;

use http::{Method, StatusCode};
use prost_reflect::MethodDescriptor;
use serde_json::{Map, Value, json};

pub use breaking::changed_fields;
pub use schemas::JsonStyle;

use crate::{
    http_rule::{BodySelector, PathTemplate},
    policy::{Authenticator, PolicyChain, auth::CredentialSource},
};
use parameters::{leaf, path_of, path_parameters, query_parameters};
use schemas::{Components, comment};

const HTTP_BODY: &str = "google.api.HttpBody";
const STANDARD_METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch", "trace"];
/// The path item extension holding operations of custom methods (`SEARCH`).
pub const CUSTOM_METHODS: &str = "x-protogate-custom-methods";

/// One binding, as the document describes it.
#[derive(Debug, Clone)]
pub struct Operation {
    /// The HTTP method.
    pub http_method: Method,
    /// The path template.
    pub template: PathTemplate,
    /// The gRPC method called.
    pub method: MethodDescriptor,
    /// What the body fills.
    pub body: BodySelector,
    /// The reply field rendered, or `None` for the whole reply.
    pub response_body: Option<String>,
    /// The route's JSON switches that change the schemas.
    pub style: JsonStyle,
    /// The status of a success.
    pub success_status: StatusCode,
    /// Who may call it and whether it is rate limited, from the route's policies.
    pub access: Access,
}

/// What a route's policies ask of a caller, for the document.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// Alternatives, by security scheme name; empty when anyone may call.
    pub schemes: Vec<(String, Value)>,
    /// Whether the route answers with rate-limit headers.
    pub rate_limited: bool,
}

impl Access {
    /// What `chain` asks.
    pub fn of(chain: &PolicyChain) -> Self {
        let schemes = chain
            .authenticators
            .iter()
            .map(|authenticator| match &authenticator.policy {
                Authenticator::Jwt(jwt) => credential_scheme(jwt.source(), "jwt"),
                Authenticator::ApiKey(key) => credential_scheme(key.source(), "api_key"),
                Authenticator::Mtls(_) => ("mtls".to_owned(), json!({ "type": "mutualTLS" })),
            })
            .collect();
        Self { schemes, rate_limited: !chain.request_limits.is_empty() || !chain.principal_limits.is_empty() }
    }
}

fn credential_scheme(source: &CredentialSource, kind: &str) -> (String, Value) {
    let (place, name) = match source {
        CredentialSource::Bearer => {
            let mut scheme = json!({ "type": "http", "scheme": "bearer" });
            if kind == "jwt" {
                scheme["bearerFormat"] = json!("JWT");
            }
            return (format!("{kind}_bearer"), scheme);
        }
        CredentialSource::Header(name) => ("header", name.as_str()),
        CredentialSource::Query(name) => ("query", name.as_str()),
        CredentialSource::Cookie(name) => ("cookie", name.as_str()),
    };
    let id: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    (format!("{kind}_{place}_{id}"), json!({ "type": "apiKey", "in": place, "name": name }))
}

/// The document of `operations`, as JSON.
pub fn document(operations: &[Operation]) -> Value {
    let mut components = Components::default();
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let mut security_schemes = Map::new();
    let mut ids: BTreeMap<String, usize> = BTreeMap::new();
    for operation in operations {
        let seen = ids.entry(operation.method.full_name().to_owned()).or_default();
        let id = match *seen {
            0 => operation.method.full_name().to_owned(),
            n => format!("{}_{n}", operation.method.full_name()),
        };
        *seen += 1;
        for (name, scheme) in &operation.access.schemes {
            security_schemes.insert(name.clone(), scheme.clone());
        }
        let described = describe(operation, id, &mut components);
        let item = paths.entry(path_of(&operation.template)).or_default();
        let method = operation.http_method.as_str().to_ascii_lowercase();
        if STANDARD_METHODS.contains(&method.as_str()) {
            item.insert(method, described);
        } else {
            // OpenAPI 3.1 has no place for a custom method (3.2's
            // additionalOperations): an extension keeps it, by its name.
            let custom = item.entry(CUSTOM_METHODS).or_insert_with(|| json!({}));
            custom[operation.http_method.as_str()] = described;
        }
    }
    let mut schemas: Map<String, Value> = components.into_schemas().into_iter().collect();
    schemas.insert("protogate.Error".into(), error_schema());
    schemas.insert(
        "protogate.ErrorFrame".into(),
        json!({
            "type": "object",
            "description": "The last frame of a stream that failed after its first message.",
            "properties": { "error": { "$ref": "#/components/schemas/protogate.Error" } },
            "required": ["error"],
        }),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "protogate",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The REST routes of the gateway, generated from the loaded descriptors.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": security_schemes,
            "headers": headers(),
            "responses": {
                "Error": {
                    "description": "A refusal or a failed call: the gRPC code, a message and the details.",
                    "headers": { "X-Request-Id": { "$ref": "#/components/headers/X-Request-Id" } },
                    "content": { "application/json": { "schema": { "$ref": "#/components/schemas/protogate.Error" } } },
                },
            },
        },
    })
}

fn describe(operation: &Operation, id: String, components: &mut Components) -> Value {
    let method = &operation.method;
    let (input, style) = (method.input(), operation.style);
    let mut parameters = path_parameters(&operation.template, &input, style, components);
    let bound: Vec<Vec<String>> =
        operation.template.variables().iter().map(|v| v.field_path.clone()).collect();
    parameters.extend(query_parameters(&input, &bound, &operation.body, style, components));
    let mut described = json!({
        "operationId": id,
        "summary": method.name(),
        "tags": [method.parent_service().full_name()],
        "parameters": parameters,
        "responses": responses(operation, components),
    });
    let mut description = comment(&method.parent_service().parent_file(), method.path()).unwrap_or_default();
    description.push_str(&format!(
        "{}Calls `{}`.",
        if description.is_empty() { "" } else { "\n\n" },
        method.full_name()
    ));
    described["description"] = Value::String(description);
    if let Some(body) = request_body(operation, components) {
        described["requestBody"] = body;
    }
    if !operation.access.schemes.is_empty() {
        let alternatives: Vec<Value> =
            operation.access.schemes.iter().map(|(name, _)| json!({ name.clone(): [] })).collect();
        described["security"] = Value::Array(alternatives);
    }
    described
}

fn request_body(operation: &Operation, components: &mut Components) -> Option<Value> {
    let input = operation.method.input();
    let schema = match &operation.body {
        BodySelector::None => return None,
        BodySelector::Whole if input.full_name() == HTTP_BODY => {
            return Some(
                json!({ "content": { "*/*": { "schema": { "type": "string", "format": "binary" } } } }),
            );
        }
        BodySelector::Whole => components.message(&input, operation.style),
        BodySelector::Field(name) => match leaf(&input, std::slice::from_ref(name)) {
            Some(field) => components.field(&field, operation.style),
            None => json!({}),
        },
    };
    if operation.method.is_client_streaming() {
        return Some(json!({
            "description": "A stream of request messages, each sent to the backend as it is whole.",
            "content": {
                "application/x-ndjson": { "schema": schema },
                "application/json": { "schema": { "type": "array", "items": schema } },
            },
        }));
    }
    Some(json!({ "content": { "application/json": { "schema": schema } } }))
}

fn responses(operation: &Operation, components: &mut Components) -> Value {
    let method = &operation.method;
    let error = json!({ "$ref": "#/components/responses/Error" });
    let mut headers = json!({ "X-Request-Id": { "$ref": "#/components/headers/X-Request-Id" } });
    if operation.access.rate_limited {
        for name in ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"] {
            headers[name] = json!({ "$ref": format!("#/components/headers/{name}") });
        }
    }
    let output = method.output();
    let item = match &operation.response_body {
        Some(name) => match leaf(&output, std::slice::from_ref(name)) {
            Some(field) => components.field(&field, operation.style),
            None => json!({}),
        },
        None if output.full_name() == HTTP_BODY => json!({ "type": "string", "format": "binary" }),
        None => components.message(&output, operation.style),
    };
    let frame = json!({ "$ref": "#/components/schemas/protogate.ErrorFrame" });
    let content = if output.full_name() == HTTP_BODY && operation.response_body.is_none() {
        json!({ "*/*": { "schema": item } })
    } else if method.is_server_streaming() {
        json!({
            "application/x-ndjson": { "schema": {
                "description": "One JSON object per line: {\"result\": message}, the last may be an error frame.",
                "oneOf": [
                    { "type": "object", "properties": { "result": item }, "required": ["result"] },
                    frame,
                ],
            } },
            "text/event-stream": { "schema": {
                "type": "string",
                "description": "Server-sent events: `message` events carry a message, an `error` event the error.",
            } },
            "application/json": { "schema": {
                "type": "array",
                "description": "One JSON array of the messages; the last element may be an error frame.",
                "items": { "anyOf": [item, frame] },
            } },
        })
    } else {
        json!({ "application/json": { "schema": item } })
    };
    let status = operation.success_status;
    let mut success = json!({
        "description": status.canonical_reason().unwrap_or("Success"),
        "headers": headers,
    });
    if status != StatusCode::NO_CONTENT {
        success["content"] = content;
    }
    // A backend may choose another 2xx (`x-http-code` reply metadata).
    let mut chosen = success.clone();
    chosen["description"] = json!("A success status the backend chose (its `x-http-code` reply metadata).");
    json!({ status.as_str(): success, "2XX": chosen, "default": error })
}

fn error_schema() -> Value {
    json!({
        "type": "object",
        "description": "Every error the gateway answers with (a refusal, or a failed call).",
        "properties": {
            "code": { "type": "integer", "description": "The gRPC status code." },
            "message": { "type": "string" },
            "details": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": { "@type": { "type": "string" } },
                    "required": ["@type"],
                    "additionalProperties": true,
                },
            },
        },
        "required": ["code", "message"],
    })
}

fn headers() -> Value {
    let number = |description: &str| json!({ "description": description, "schema": { "type": "integer" } });
    json!({
        "X-Request-Id": {
            "description": "The request's id: the client's, or one the gateway made.",
            "schema": { "type": "string" },
        },
        "RateLimit-Limit": number("The requests the tightest limit allows per window."),
        "RateLimit-Remaining": number("The requests left in the window."),
        "RateLimit-Reset": number("Seconds until the window resets."),
    })
}
