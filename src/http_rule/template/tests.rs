//! Tests of the template grammar: every vector of `tests/data/templates.json`,
//! then the positions and reasons of the errors.

use serde_json::Value;

use super::{PathTemplate, Segment};

const VECTORS: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/templates.json"));

fn show(segment: &Segment) -> String {
    match segment {
        Segment::Literal(text) => text.clone(),
        Segment::Single => "*".to_owned(),
        Segment::Multi => "**".to_owned(),
    }
}

fn strings(value: &Value) -> Vec<String> {
    value.as_array().expect("array").iter().map(|v| v.as_str().expect("string").to_owned()).collect()
}

#[test]
fn conformance_vectors() {
    let vectors: Value = serde_json::from_str(VECTORS).expect("templates.json parses");
    let valid = vectors["valid"].as_array().expect("valid");
    let invalid = vectors["invalid"].as_array().expect("invalid");
    assert!(!valid.is_empty() && !invalid.is_empty());
    for case in valid {
        let text = case["template"].as_str().expect("template");
        let template = PathTemplate::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(template.as_str(), text);
        let segments: Vec<String> = template.segments().iter().map(show).collect();
        assert_eq!(segments, strings(&case["segments"]), "{text}");
        assert_eq!(template.verb(), case["verb"].as_str(), "{text}");
        let vars: Vec<(String, Vec<String>)> = template
            .variables()
            .iter()
            .map(|v| (v.field_path.join("."), template.segments()[v.start..v.end].iter().map(show).collect()))
            .collect();
        let expected: Vec<(String, Vec<String>)> = case["vars"]
            .as_array()
            .expect("vars")
            .iter()
            .map(|v| (v["field"].as_str().expect("field").to_owned(), strings(&v["segments"])))
            .collect();
        assert_eq!(vars, expected, "{text}");
    }
    for case in invalid {
        let text = case["template"].as_str().expect("template");
        let error = PathTemplate::parse(text).expect_err(text);
        assert_eq!(error.template, text);
        assert!(error.position <= text.len(), "{error}");
        let why = case["why"].as_str().expect("why");
        assert!(error.reason.replace('\'', "").contains(why), "{error} is not {why:?}");
    }
}

/// `(template, position, reason)` for each kind of error.
#[test]
fn errors_carry_position_and_reason() {
    let cases = [
        ("", 0, "empty template"),
        ("a", 0, "no leading slash"),
        (":verb", 0, "no leading slash"),
        ("{x}", 0, "no leading slash"),
        ("//", 1, "empty segment"),
        ("/a//b", 3, "empty segment"),
        ("/a/", 2, "trailing slash"),
        ("/{}", 1, "empty variable"),
        ("/:verb", 1, "a verb needs a segment before it"),
        ("/*:", 2, "empty verb"),
        ("/a/{", 3, "unterminated variable"),
        ("/a/{var", 3, "unterminated variable"),
        ("/a/{var=b/*", 3, "unterminated variable"),
        ("/a/{var=b/", 3, "unterminated variable"),
        ("/{var=a/{nested=b}}", 8, "nested variable"),
        ("/{var=a{b}}", 7, "nested variable"),
        ("/a{x}", 2, "a variable must be a whole segment"),
        ("/{x}a", 4, "a variable must be a whole segment"),
        ("/a/**/*", 6, "only literals may follow '**'"),
        ("/a/**/**", 6, "only literals may follow '**'"),
        ("/{x=**}/{y}", 8, "only literals may follow '**'"),
        ("/a/{x=**/*}", 9, "only literals may follow '**'"),
        ("/a/{x}/{x}", 7, "field path 'x' is bound twice"),
        ("/{a.b}/{a.b=c/*}", 7, "field path 'a.b' is bound twice"),
        ("/a*", 2, "'*' and '**' must be whole segments"),
        ("/***", 3, "'*' and '**' must be whole segments"),
        ("/a}", 2, "unmatched '}'"),
        ("/{x}}", 4, "unmatched '}'"),
        ("/a:b/c", 4, "the verb must end the template"),
        ("/a:b:c", 4, "the verb must end the template"),
        ("/{x=a:b}", 5, "a verb may only end the template"),
        ("/{x=}", 4, "empty segment"),
        ("/{1x}", 2, "a field name cannot start with a digit"),
        ("/{a..b}", 4, "expected a field name"),
        ("/{a-b}", 3, "invalid character in field path"),
        ("/a%2", 2, "invalid percent-encoding"),
        ("/a%zz", 2, "invalid percent-encoding"),
        ("/a b", 2, "spaces and control characters are not allowed"),
        ("/a?b", 2, "'?' and '#' cannot appear in a path"),
    ];
    for (text, position, reason) in cases {
        let error = PathTemplate::parse(text).expect_err(text);
        assert_eq!((error.position, error.reason.as_str()), (position, reason), "{text}");
    }
}

#[test]
fn accepted_shapes() {
    let t = PathTemplate::parse("/v1/{book.name=shelves/*/books/*}:publish").expect("parses");
    assert_eq!(t.verb(), Some("publish"));
    assert_eq!(t.variables()[0].field_path, ["book", "name"]);
    assert_eq!((t.variables()[0].start, t.variables()[0].end), (1, 5));

    let t = PathTemplate::parse("/a/**/b/c:x").expect("literals after **");
    assert_eq!(t.segments().len(), 4);
    let t = PathTemplate::parse("/{_a1}/{b=**}/c").expect("underscore ident, literal after ** variable");
    assert_eq!(t.variables().len(), 2);
    assert!(PathTemplate::parse("/**/{x=lit}").is_ok(), "an all-literal variable may follow **");
    assert!(PathTemplate::parse("/caf%C3%A9/café/a=b,c@d").is_ok(), "encoded, non-ASCII and sub-delims");
    assert!(PathTemplate::parse("/{a}/{a.b}").is_ok(), "distinct field paths");
    assert_eq!(PathTemplate::parse("/").expect("root").segments(), []);
}

#[test]
fn dot_segments_are_refused() {
    for text in ["/.", "/a/..", "/%2E", "/.%2e/b", "/{x=a/./b}"] {
        let error = PathTemplate::parse(text).expect_err(text);
        assert!(error.reason.contains("'.' and '..'"), "{text}: {error}");
    }
    for text in ["/...", "/.a", "/a.", "/%2E%2E%2E", "/v1.2"] {
        assert!(PathTemplate::parse(text).is_ok(), "{text}");
    }
}
