//! Which route a request would meet, and why, without calling anything:
//! the router's decision for a request line (`GET /v1/shelves/1?x=1`), the
//! other templates that match its path and why they lost, what each path
//! variable binds, what each query parameter fills (or why it is ignored),
//! the body rule, the policies and the upstream. For `protogate routes
//! --explain` and the admin listener's `GET /explain`.
//!
//! It reads a runtime and decides as [`router::decide`] does; it serves
//! nothing and never runs on the request path.

use std::fmt;

use http::{Method, Request};
use percent_encoding::percent_decode_str;
use prost_reflect::{Kind, MessageDescriptor};
use serde::Serialize;

use crate::{
    http_rule::PathTemplate,
    policy::{Authenticator, PolicyChain},
    router::{self, Decision, RouterBuilder, normalize_path},
    runtime::{RouteSummary, Runtime},
};

/// A request line that cannot be explained.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {line:?} as a request: {reason} (write `METHOD /path?query`, e.g. `GET /v1/shelves/1`)")]
pub struct ExplainError {
    line: String,
    reason: String,
}

/// What the gateway would do with one request.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// The request, as given.
    pub request: String,
    /// `transcoded`, `pass-through`, `not found` or `method not allowed (allowed: GET)`.
    pub decision: String,
    /// The route that takes it.
    pub route: Option<RouteSummary>,
    /// Every template whose path matches, and its verdict.
    pub considered: Vec<Considered>,
    /// What each path variable binds.
    pub variables: Vec<Bound>,
    /// What each query parameter does.
    pub query: Vec<Bound>,
    /// What the body fills.
    pub body: Option<String>,
    /// The policies the request meets, in order.
    pub policies: Vec<String>,
    /// The upstream it would go to.
    pub upstream: Option<String>,
}

/// A template that was considered.
#[derive(Debug, Clone, Serialize)]
pub struct Considered {
    /// `GET /v1/shelves/{shelf}`.
    pub route: String,
    /// `matches`, or why it lost.
    pub verdict: String,
}

/// A value of the request and what becomes of it.
#[derive(Debug, Clone, Serialize)]
pub struct Bound {
    /// The variable or parameter.
    pub name: String,
    /// Its value in the request.
    pub value: String,
    /// The field it fills, or why it is ignored.
    pub outcome: String,
}

/// Explains `line` (`METHOD /path?query`) against `runtime`.
pub fn explain(runtime: &Runtime, line: &str) -> Result<Explanation, ExplainError> {
    let failed = |reason: String| ExplainError { line: line.to_owned(), reason };
    let mut words = line.split_whitespace();
    let (Some(method), Some(target), None) = (words.next(), words.next(), words.next()) else {
        return Err(failed("expected a method and a path".to_owned()));
    };
    let request =
        Request::builder().method(method).uri(target).body(()).map_err(|e| failed(e.to_string()))?;
    let (head, ()) = request.into_parts();
    let path = head.uri.path();
    let mut explanation = Explanation {
        request: line.to_owned(),
        decision: String::new(),
        route: None,
        considered: considered(runtime.routes(), &head.method, path),
        variables: Vec::new(),
        query: Vec::new(),
        body: None,
        policies: Vec::new(),
        upstream: None,
    };
    let summary_of = |id: &str| runtime.routes().iter().find(|route| route_id(route) == id).cloned();
    match router::decide(&head, runtime.tables()) {
        Decision::Transcoded { route, captures } => {
            explanation.decision = "transcoded".to_owned();
            let summary = summary_of(route.id);
            let input = route.value.target.method().input();
            if let Some(summary) = &summary
                && let Ok(template) = PathTemplate::parse(&summary.template)
            {
                explanation.variables = template
                    .variables()
                    .iter()
                    .zip(&captures)
                    .map(|(variable, value)| Bound {
                        name: variable.field_path.join("."),
                        value: value.clone(),
                        outcome: format!("sets {}.{}", input.full_name(), variable.field_path.join(".")),
                    })
                    .collect();
                explanation.query = query_outcomes(&input, &template, &summary.body, head.uri.query());
                explanation.body = Some(match summary.body.as_str() {
                    "" => "none: a body sent is not read".to_owned(),
                    "*" => format!("the whole body is {} (JSON)", input.full_name()),
                    field => format!("the body is the field {}.{field} (JSON)", input.full_name()),
                });
            }
            explanation.policies = policies_of(&route.value.policies);
            explanation.upstream = summary.as_ref().map(|summary| summary.upstream.clone());
            explanation.route = summary;
        }
        Decision::Proxied { route, path } => {
            explanation.decision = match path {
                Some(path) => format!("pass-through, forwarded as {path}"),
                None => "pass-through".to_owned(),
            };
            explanation.policies = policies_of(&route.value.policies);
            explanation.route = runtime.routes().iter().find(|r| r.template == route.id.as_ref()).cloned();
            explanation.upstream = explanation.route.as_ref().map(|route| route.upstream.clone());
        }
        Decision::MethodNotAllowed { allow } => {
            let allow: Vec<&str> = allow.iter().map(Method::as_str).collect();
            explanation.decision = format!("method not allowed (405; allowed: {})", allow.join(", "));
        }
        Decision::NotFound => explanation.decision = "not found (404: no route matches)".to_owned(),
        Decision::NativeGrpc(_)
        | Decision::MethodNotServed
        | Decision::Preflight { .. }
        | Decision::WebSocket { .. } => {
            explanation.decision =
                "not a plain REST request (a gRPC call, a preflight or a WebSocket)".to_owned();
        }
    }
    Ok(explanation)
}

/// The router's id of a transcoded route: `GET /v1/shelves/{shelf}`.
fn route_id(route: &RouteSummary) -> String {
    format!("{} {}", route.method, route.template)
}

/// Every transcoded template whose path matches `path`, with its verdict.
fn considered(routes: &[RouteSummary], method: &Method, path: &str) -> Vec<Considered> {
    let Some(path) = normalize_path(path) else { return Vec::new() };
    let mut matching = Vec::new();
    for route in routes {
        let (Ok(route_method), Ok(template)) =
            (Method::from_bytes(route.method.as_bytes()), PathTemplate::parse(&route.template))
        else {
            continue;
        };
        let mut alone = RouterBuilder::new();
        if alone.insert(route_method.clone(), &template, ()).is_err() {
            continue;
        }
        let verdict = match alone.build().lookup(method, &path) {
            Ok(_) => "matches",
            Err(router::RouteError::MethodNotAllowed { .. }) => "the path matches, the method does not",
            Err(router::RouteError::NotFound) => continue,
        };
        matching.push((route_id(route), verdict, template));
    }
    // The router's winner among the templates that match both.
    let mut together = RouterBuilder::new();
    for (id, verdict, template) in &matching {
        if *verdict == "matches"
            && let Ok(method) = Method::from_bytes(id.split(' ').next().unwrap_or_default().as_bytes())
        {
            let _ = together.insert(method, template, id.clone());
        }
    }
    let built = together.build();
    let winner = built.lookup(method, &path).ok().map(|found| found.value.clone());
    matching
        .into_iter()
        .map(|(id, verdict, _)| {
            let verdict = match verdict {
                "matches" if Some(&id) == winner.as_ref() => "matches: chosen".to_owned(),
                "matches" => "matches, but a more specific template wins (literal > * > **)".to_owned(),
                other => other.to_owned(),
            };
            Considered { route: id, verdict }
        })
        .collect()
}

/// What each query parameter of `query` does for a binding.
fn query_outcomes(
    input: &MessageDescriptor,
    template: &PathTemplate,
    body: &str,
    query: Option<&str>,
) -> Vec<Bound> {
    let Some(query) = query else { return Vec::new() };
    let bound: Vec<String> =
        template.variables().iter().map(|variable| variable.field_path.join(".")).collect();
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode =
                |text: &str| percent_decode_str(&text.replace('+', " ")).decode_utf8_lossy().into_owned();
            let (name, value) = (decode(key), decode(value));
            let outcome = if body == "*" {
                "ignored: the body fills the whole message".to_owned()
            } else {
                match field_path(input, &name) {
                    None => "ignored: it names no field".to_owned(),
                    Some(path) if bound.contains(&path) => format!("ignored: the path sets {path}"),
                    Some(path)
                        if path == body || path.starts_with(&format!("{body}.")) && !body.is_empty() =>
                    {
                        format!("ignored where the body sets {path}")
                    }
                    Some(path) => format!("fills {}.{path} (unless the body set it)", input.full_name()),
                }
            };
            Bound { name, value, outcome }
        })
        .collect()
}

/// The proto field path a dotted query key names (JSON or proto names;
/// `name[key]` names a map), or `None`.
fn field_path(input: &MessageDescriptor, key: &str) -> Option<String> {
    let key = key.split('[').next().unwrap_or(key);
    let mut message = input.clone();
    let mut path = Vec::new();
    let mut names = key.split('.').peekable();
    while let Some(name) = names.next() {
        let field = message.get_field_by_json_name(name).or_else(|| message.get_field_by_name(name))?;
        path.push(field.name().to_owned());
        if names.peek().is_some() {
            match field.kind() {
                Kind::Message(nested) => message = nested,
                _ => return None,
            }
        }
    }
    Some(path.join("."))
}

/// The policies of a chain, in the order they run.
fn policies_of(chain: &PolicyChain) -> Vec<String> {
    let mut out = Vec::new();
    if chain.cors.is_some() {
        out.push("cors".to_owned());
    }
    out.extend(chain.request_limits.iter().map(|limit| format!("rate limit {limit:?}")));
    let authenticators: Vec<String> = chain
        .authenticators
        .iter()
        .map(|authenticator| match &authenticator.policy {
            Authenticator::Jwt(jwt) => format!("jwt ({})", jwt.source().describe()),
            Authenticator::ApiKey(key) => format!("api key ({})", key.source().describe()),
            Authenticator::Mtls(_) => "mtls (a verified client certificate)".to_owned(),
        })
        .collect();
    if !authenticators.is_empty() {
        out.push(format!("authentication, one of: {}", authenticators.join("; ")));
    }
    out.extend(chain.principal_limits.iter().map(|limit| format!("rate limit {limit:?}")));
    out
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "request:   {}", self.request)?;
        writeln!(f, "decision:  {}", self.decision)?;
        if let Some(route) = &self.route {
            writeln!(f, "route:     {} {} -> {}", route.method, route.template, route.target)?;
        }
        for considered in &self.considered {
            writeln!(f, "  considered {}: {}", considered.route, considered.verdict)?;
        }
        for (title, values) in [("variable", &self.variables), ("query", &self.query)] {
            for bound in values {
                writeln!(f, "{title:<9}  {}={:?}: {}", bound.name, bound.value, bound.outcome)?;
            }
        }
        if let Some(body) = &self.body {
            writeln!(f, "body:      {body}")?;
        }
        for policy in &self.policies {
            writeln!(f, "policy:    {policy}")?;
        }
        if let Some(upstream) = &self.upstream {
            writeln!(f, "upstream:  {upstream} (nothing was called)")?;
        }
        Ok(())
    }
}
