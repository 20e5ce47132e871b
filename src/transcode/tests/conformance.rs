//! Every case of tests/data/query_binding.json, end to end through the
//! real pieces: the rule's template is parsed by [`PathTemplate::parse`],
//! the request path goes through the [`Router`](crate::router::Router) for
//! its captures, and the binder is compiled from the template's variables.

use http::Method;
use serde_json::Value as Json;

use super::{body_selector, bytes, client_error, json, test_message};
use crate::http_rule::PathTemplate;
use crate::router::RouterBuilder;
use crate::transcode::bind::{BindOptions, RequestBinder};

const VECTORS: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/query_binding.json"));
const VERBS: [&str; 5] = ["get", "put", "post", "patch", "delete"];

fn run(case: &Json) -> Result<Json, String> {
    let rule = &case["rule"];
    let (verb, template) =
        VERBS.iter().find_map(|verb| Some((*verb, rule[*verb].as_str()?))).ok_or("rule without a verb")?;
    let (method, target) = case["request"].as_str().and_then(|r| r.split_once(' ')).ok_or("bad request")?;
    assert_eq!(method.to_ascii_lowercase(), verb, "request method matches the rule");
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    // The vectors whose templates bind `{shelf}` use a message where shelf is a scalar.
    let input = test_message(if template.contains("{shelf}") { "BookRequest" } else { "Request" });
    // Only binding may fail: the template, the route and the binder are the vector's premises.
    let template = PathTemplate::parse(template).unwrap();
    let method = Method::from_bytes(verb.to_ascii_uppercase().as_bytes()).unwrap();
    let mut router = RouterBuilder::new();
    router.insert(method.clone(), &template, ()).unwrap();
    let captures = router.build().lookup(&method, path).unwrap().captures;
    let variables: Vec<Vec<String>> = template.variables().iter().map(|v| v.field_path.clone()).collect();
    let body_field = body_selector(rule["body"].as_str().unwrap_or(""));
    let binder =
        RequestBinder::compile(&input, &variables, &body_field, false, BindOptions::default()).unwrap();
    let body = bytes(case["body"].as_str().unwrap_or(""));
    let content_type = Some("application/json");
    binder.bind(&captures, query, &body, content_type).map(|m| json(&m)).map_err(client_error)
}

#[test]
fn every_vector_binds_as_listed() {
    let vectors: Json = serde_json::from_str(VECTORS).unwrap();
    let cases = vectors["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 16);
    for case in cases {
        let request = &case["request"];
        match (run(case), case.get("error")) {
            (Ok(message), None) => assert_eq!(message, case["message"], "{request}"),
            (Err(error), Some(status)) => {
                assert_eq!(status, 400, "{request}");
                assert!(!error.is_empty());
            }
            (outcome, expected) => panic!("{request}: got {outcome:?}, expected {expected:?}"),
        }
    }
}

#[test]
fn errors_name_the_field_and_the_value() {
    let vectors: Json = serde_json::from_str(VECTORS).unwrap();
    let errors: Vec<String> = vectors["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|case| case.get("error").is_some())
        .map(|case| run(case).unwrap_err())
        .collect();
    assert!(
        errors[0].contains("\"book.id\"") && errors[0].contains("\"abc\"") && errors[0].contains("int64"),
        "{}",
        errors[0]
    );
    assert!(errors[1].contains("\"Female\"") && errors[1].contains("gender"), "{}", errors[1]);
    assert!(errors[2].contains("whitespace"), "{}", errors[2]);
}
