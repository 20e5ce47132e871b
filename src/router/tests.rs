//! Router tests: every vector of `tests/data/path_match.json` here, the
//! rules one by one in [`rules`].

use std::collections::BTreeMap;

use http::Method;
use serde_json::Value;

use super::{RouteError, Router, RouterBuilder};
use crate::http_rule::PathTemplate;

mod rules;

const VECTORS: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/path_match.json"));

fn parse(text: &str) -> PathTemplate {
    PathTemplate::parse(text).unwrap_or_else(|e| panic!("{e}"))
}

/// A router over `(method, template)` pairs whose values are the templates.
fn router(routes: &[(&str, &str)]) -> Router<PathTemplate> {
    let mut builder = RouterBuilder::new();
    for &(method, text) in routes {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let template = parse(text);
        if builder.insert(method, &template, template.clone()).is_err() {
            panic!("conflict on {text}");
        }
    }
    builder.build()
}

fn get(templates: &[&str]) -> Router<PathTemplate> {
    router(&templates.iter().map(|t| ("GET", *t)).collect::<Vec<_>>())
}

/// The winning template and its bindings (field path joined with `.`).
type Found = (String, BTreeMap<String, String>);

fn lookup(router: &Router<PathTemplate>, method: &str, path: &str) -> Result<Found, RouteError> {
    let method = Method::from_bytes(method.as_bytes()).expect("method");
    let found = router.lookup(&method, path)?;
    let variables = found.value.variables();
    assert_eq!(variables.len(), found.captures.len(), "one capture per variable");
    let bind = variables.iter().map(|v| v.field_path.join(".")).zip(found.captures).collect();
    Ok((found.value.as_str().to_owned(), bind))
}

/// `lookup` under GET, for a route that must match.
fn bound(router: &Router<PathTemplate>, path: &str) -> Found {
    lookup(router, "GET", path).unwrap_or_else(|e| panic!("GET {path}: {e:?}"))
}

fn binds(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|&(k, v)| (k.to_owned(), v.to_owned())).collect()
}

#[test]
fn conformance_vectors() {
    let vectors: Value = serde_json::from_str(VECTORS).expect("path_match.json parses");
    let cases = vectors["cases"].as_array().expect("cases");
    assert!(!cases.is_empty());
    for case in cases {
        let request = case["request"].as_str().expect("request");
        let (method, target) = request.split_once(' ').expect("METHOD /path");
        let path = target.split_once('?').map_or(target, |(path, _query)| path);
        let templates: Vec<&str> = case["templates"]
            .as_array()
            .expect("templates")
            .iter()
            .map(|t| t.as_str().expect("text"))
            .collect();
        let result = lookup(&get(&templates), method, path);
        match (case["match"].as_str(), case["status"].as_u64()) {
            (Some(expected), _) => {
                let (template, bind) = result.unwrap_or_else(|e| panic!("{request}: {e:?}"));
                assert_eq!(template, expected, "{request}");
                let expected: BTreeMap<String, String> = case["bind"]
                    .as_object()
                    .expect("bind")
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().expect("capture").to_owned()))
                    .collect();
                assert_eq!(bind, expected, "{request}");
            }
            (None, Some(405)) => {
                let allow: Vec<Method> = case["allow"]
                    .as_array()
                    .expect("allow")
                    .iter()
                    .map(|m| Method::from_bytes(m.as_str().expect("method").as_bytes()).expect("method"))
                    .collect();
                assert_eq!(result, Err(RouteError::MethodNotAllowed { allow }), "{request}");
            }
            (None, _) => assert_eq!(result, Err(RouteError::NotFound), "{request}"),
        }
    }
}
