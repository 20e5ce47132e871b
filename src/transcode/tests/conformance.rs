//! Every case of tests/data/query_binding.json. The router is not used: a
//! tiny scan of the rule's `{name}` / `{name=...}` variables takes the
//! request segments at the same positions (the vectors only use
//! single-segment variables).

use percent_encoding::percent_decode_str;
use serde_json::Value as Json;

use super::{binder, json, test_message};

const VECTORS: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/query_binding.json"));
const VERBS: [&str; 5] = ["get", "put", "post", "patch", "delete"];

/// The variables of a template and the segment index each one takes.
fn variables(template: &str) -> Vec<(usize, String)> {
    let segments = template.trim_start_matches('/').split('/');
    segments
        .enumerate()
        .filter_map(|(index, segment)| {
            let inner = segment.strip_prefix('{')?.strip_suffix('}')?;
            Some((index, inner.split('=').next()?.to_owned()))
        })
        .collect()
}

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
    let variables = variables(template);
    let names: Vec<&str> = variables.iter().map(|(_, name)| name.as_str()).collect();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let captures: Vec<String> = variables
        .iter()
        .map(|(index, _)| percent_decode_str(segments[*index]).decode_utf8().unwrap().into_owned())
        .collect();
    let body = case["body"].as_str().unwrap_or("");
    let binder = binder(&input, &names, rule["body"].as_str().unwrap_or(""));
    let content_type = Some("application/json");
    binder.bind(&captures, query, body.as_bytes(), content_type).map(|m| json(&m)).map_err(|e| e.message)
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
