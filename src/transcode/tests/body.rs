//! The body: JSON into the message or a field, unknown fields and enum
//! names, raw HttpBody, and the update mask filled from the body's keys.

use prost_reflect::{DynamicMessage, Value};
use serde_json::json;

use bytes::Bytes;

use super::{
    binder, binder_with, body_selector, bytes, client_error, demo_message, json, kitchen, test_message,
};
use crate::transcode::bind::{BindFailure, BindOptions, InputLimits, RequestBinder};

const STRICT: BindOptions = BindOptions {
    reject_unknown_fields: true,
    reject_unknown_query_parameters: false,
    query_plus_is_literal: false,
    limits: InputLimits::DEFAULT,
};

fn bind_body(body_field: &str, body: &str) -> Result<serde_json::Value, String> {
    binder(&kitchen(), &[], body_field)
        .bind(&[], None, &bytes(body), None)
        .map(|m| json(&m))
        .map_err(client_error)
}

#[test]
fn unknown_fields_ignored_or_refused() {
    let body = br#"{"id": "x", "nope": {"deep": [1]}, "nested": {"other": 1}}"#;
    let lenient = binder(&kitchen(), &[], "*").bind(&[], None, &bytes(body), None).unwrap();
    assert_eq!(json(&lenient), json!({"id": "x", "nested": {}}));
    let error = client_error(
        binder_with(&kitchen(), &[], "*", STRICT).bind(&[], None, &bytes(body), None).unwrap_err(),
    );
    assert!(error.contains("invalid JSON body") && error.contains("nope"), "{error}");
}

#[test]
fn unknown_enum_names_are_refused_in_both_modes() {
    for body in [
        r#"{"nope": 1, "color": "Red"}"#,
        r#"{"nope": 1, "colors": ["RED", "Purple"]}"#,
        r#"{"nope": 1, "items": [{"child": {"x": 1}}], "nested": {"child": {}}, "labels": {"a": "b"}, "color": "red"}"#,
    ] {
        assert!(bind_body("*", body).is_err(), "{body}");
        let strict = binder_with(&kitchen(), &[], "*", STRICT).bind(&[], None, &bytes(body), None);
        assert!(strict.is_err(), "{body}");
    }
    assert_eq!(
        bind_body("*", r#"{"nope": 1, "colors": ["RED", 2]}"#).unwrap(),
        json!({"colors": ["RED", "GREEN"]})
    );
}

#[test]
fn bad_json_is_a_400() {
    for body in ["{", "{} x", "[]", "  \n", r#"{"i64": "x"}"#, r#"{"id": 1}"#] {
        let error = bind_body("*", body);
        assert!(error.is_err_and(|e| e.starts_with("invalid JSON body")), "{body}");
    }
}

#[test]
fn a_named_message_field() {
    let body = r#"{"firstName": "a", "child": {"count": "3"}}"#;
    assert_eq!(
        bind_body("nested", body).unwrap(),
        json!({"nested": {"firstName": "a", "child": {"count": "3"}}})
    );
    assert_eq!(
        bind_body("nested.child", r#"{"count": 4}"#).unwrap(),
        json!({"nested": {"child": {"count": "4"}}})
    );
    assert_eq!(bind_body("ts", r#""2020-01-01T00:00:00Z""#).unwrap(), json!({"ts": "2020-01-01T00:00:00Z"}));
    assert_eq!(bind_body("nested", "").unwrap(), json!({}), "an empty body leaves the field unset");
}

#[test]
fn a_named_non_message_field() {
    assert_eq!(bind_body("i64", "42").unwrap(), json!({"i64": "42"}));
    assert_eq!(bind_body("i64", r#""-42""#).unwrap(), json!({"i64": "-42"}));
    assert_eq!(bind_body("color", r#""GREEN""#).unwrap(), json!({"color": "GREEN"}));
    assert_eq!(bind_body("tags", r#"["a", "b"]"#).unwrap(), json!({"tags": ["a", "b"]}));
    assert_eq!(bind_body("labels", r#"{"k": "v"}"#).unwrap(), json!({"labels": {"k": "v"}}));
    assert_eq!(bind_body("nested.first_name", r#""n""#).unwrap(), json!({"nested": {"firstName": "n"}}));
    assert_eq!(
        bind_body("items", r#"[{"firstName": "a"}, {}]"#).unwrap(),
        json!({"items": [{"firstName": "a"}, {}]})
    );
    assert!(bind_body("color", r#""Green""#).is_err());
    // One JSON value only: nothing can reach the sibling fields.
    assert!(bind_body("nested.first_name", r#""n", "count": "5""#).is_err());
    assert!(bind_body("i64", "  ").is_err());
}

#[test]
fn query_fills_only_what_the_body_left_unset() {
    let binder = binder(&kitchen(), &[], "nested");
    let bound = binder
        .bind(&[], Some("nested.first_name=q&nested.count=2&id=i"), &bytes(r#"{"firstName": "b"}"#), None)
        .unwrap();
    assert_eq!(json(&bound), json!({"id": "i", "nested": {"firstName": "b", "count": "2"}}));
    let whole = super::binder(&kitchen(), &[], "*");
    assert_eq!(
        json(&whole.bind(&[], Some("id=q"), &bytes("{}"), None).unwrap()),
        json!({}),
        "no query with body '*'"
    );
}

#[test]
fn raw_http_body() {
    let http_body = super::demo_pool().get_message_by_name("google.api.HttpBody").unwrap();
    let data = [0xff_u8, 0, b'{'];
    let bound =
        binder(&http_body, &[], "*").bind(&[], Some("data=x"), &bytes(data), Some("image/png")).unwrap();
    assert_eq!(bound.get_field_by_name("content_type").unwrap().as_str(), Some("image/png"));
    assert_eq!(
        bound.get_field_by_name("data").unwrap().as_bytes().unwrap().as_ref(),
        data,
        "the query is not used"
    );

    let bound = binder(&test_message("Upload"), &[], "payload")
        .bind(&[], Some("name=n"), &bytes("  "), None)
        .unwrap();
    assert_eq!(json(&bound), json!({"name": "n", "payload": {"data": "ICA="}}));
}

fn mask_paths(message: &DynamicMessage, field: &str) -> Vec<String> {
    let mask = message.get_field_by_name(field).unwrap();
    let paths = mask.as_message().unwrap().get_field_by_name("paths").unwrap();
    paths.as_list().unwrap().iter().filter_map(Value::as_str).map(str::to_owned).collect()
}

#[test]
fn update_mask_from_the_body_keys() {
    let variables = vec![vec!["id".to_owned()]];
    let options = BindOptions::default();
    let binder =
        RequestBinder::compile(&kitchen(), &variables, &body_selector("nested"), true, options).unwrap();
    let body = br#"{"firstName": "a", "child": {"count": "1", "child": {}}, "nope": 1, "first_name": "b"}"#;
    let body = bytes(body);
    let bound = binder.bind(&["k".to_owned()], None, &body, None).unwrap();
    assert_eq!(mask_paths(&bound, "mask"), ["first_name", "child.count", "child.child"]);

    let bound = binder.bind(&["k".to_owned()], Some("mask=count"), &body, None).unwrap();
    assert_eq!(mask_paths(&bound, "mask"), ["count"], "a mask the request set is kept");
    assert!(
        mask_paths(&binder.bind(&["k".to_owned()], None, &Bytes::new(), None).unwrap(), "mask").is_empty()
    );

    let update = demo_message("UpdateBookRequest");
    let variables = vec![vec!["shelf".to_owned()], vec!["book".to_owned(), "id".to_owned()]];
    let binder = RequestBinder::compile(&update, &variables, &body_selector("book"), true, options).unwrap();
    let body = br#"{"title": "t", "published": "2020-01-01T00:00:00Z", "tags": ["a"], "genre": null}"#;
    let body = bytes(body);
    let bound = binder.bind(&["1".to_owned(), "2".to_owned()], None, &body, None).unwrap();
    assert_eq!(mask_paths(&bound, "update_mask"), ["title", "published", "tags", "genre"]);

    let off = RequestBinder::compile(&update, &variables, &body_selector("book"), false, options).unwrap();
    assert!(
        mask_paths(&off.bind(&["1".to_owned(), "2".to_owned()], None, &body, None).unwrap(), "update_mask")
            .is_empty()
    );
}

#[test]
fn a_type_error_names_the_field_path() {
    let cases = [
        ("*", r#"{"id": 5}"#, "field \"id\": invalid type: integer `5`"),
        ("*", r#"{"nested": {"firstName": 5}}"#, "field \"nested.firstName\":"),
        ("*", r#"{"tags": ["a", "b", 3]}"#, "field \"tags[2]\":"),
        ("*", r#"{"items": [{}, {"child": {"count": "x"}}]}"#, "field \"items[1].child.count\":"),
        ("*", r#"{"nope": 1, "colors": ["RED", "Purple"]}"#, "field \"colors[1]\":"),
        ("nested", r#"{"child": {"firstName": []}}"#, "field \"child.firstName\":"),
        ("tags", r#"["a", 1]"#, "field \"tags[1]\":"),
    ];
    for (body_field, body, expected) in cases {
        let error = bind_body(body_field, body).unwrap_err();
        assert!(error.starts_with("invalid JSON body: ") && error.contains(expected), "{body}: {error}");
    }
    let strict = binder_with(&kitchen(), &[], "*", STRICT).bind(&[], None, &bytes(r#"{"id": 5}"#), None);
    let Err(failure) = strict else { panic!("a type error was accepted") };
    assert!(client_error(failure).contains("field \"id\""), "strict reading names it too");
    // Errors outside any field say so without a path.
    assert_eq!(bind_body("*", "[]").unwrap_err().find("field"), None);
}

#[test]
fn query_parameters_on_a_whole_body_binding_are_refused_when_asked() {
    let strict = BindOptions { reject_unknown_query_parameters: true, ..BindOptions::default() };
    let body = bytes(r#"{"id": "x"}"#);
    let refused = binder_with(&kitchen(), &[], "*", strict).bind(&[], Some("a=1&tags=t"), &body, None);
    let Err(failure) = refused else { panic!("a query parameter with body: \"*\" was accepted") };
    let error = client_error(failure);
    assert!(error.contains("query parameter \"a\"") && error.contains("body: \"*\""), "{error}");
    // An empty query, or one of empty pairs, is no parameter.
    for query in ["", "&"] {
        let bound = binder_with(&kitchen(), &[], "*", strict).bind(&[], Some(query), &body, None);
        assert_eq!(json(&bound.unwrap()), json!({"id": "x"}), "{query:?}");
    }
    // By default they are ignored (and logged at debug level).
    let bound = binder(&kitchen(), &[], "*").bind(&[], Some("a=1&tags=t"), &body, None).unwrap();
    assert_eq!(json(&bound), json!({"id": "x"}));
}

#[test]
fn a_body_that_is_not_json_is_unsupported_media() {
    let body = bytes(r#"{"id": "x"}"#);
    for (content_type, accepted) in [
        (None, true),
        (Some("application/json"), true),
        (Some("Application/JSON; charset=utf-8"), true),
        (Some("application/merge-patch+json"), true),
        (Some("text/plain"), false),
        (Some("application/x-www-form-urlencoded"), false),
        (Some("application/jsonx"), false),
    ] {
        for body_field in ["*", "nested", "tags"] {
            let body = if body_field == "tags" { bytes(r#"["a"]"#) } else { body.clone() };
            let bound = binder(&kitchen(), &[], body_field).bind(&[], None, &body, content_type);
            match bound {
                Ok(_) => assert!(accepted, "{content_type:?} {body_field}"),
                Err(failure @ BindFailure::Invalid(_)) => panic!("{content_type:?} {body_field}: {failure}"),
                Err(failure) => {
                    let message = failure.to_string();
                    assert!(!accepted, "{content_type:?} {body_field}: {message}");
                    let sent = content_type.unwrap_or_default();
                    assert!(message.starts_with("unsupported Content-Type"), "{message}");
                    assert!(message.contains(sent) && message.contains("application/json"), "{message}");
                }
            }
        }
    }
    // No body, no type to check.
    let empty = binder(&kitchen(), &[], "*").bind(&[], None, &Bytes::new(), Some("text/plain"));
    assert!(empty.is_ok());
}
