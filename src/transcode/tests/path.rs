//! Path variables: every kind of leaf, compile-time refusals, and "path wins".

use serde_json::json;

use bytes::Bytes;

use super::{binder, body_selector, bytes, client_error, json, kitchen};
use crate::transcode::bind::BindFailure;
use crate::transcode::bind::{BindOptions, RequestBinder};

fn captures(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

#[test]
fn every_kind_of_leaf() {
    let variables = [
        "id",
        "i32",
        "i64",
        "u64",
        "s32",
        "f64",
        "dbl",
        "flt",
        "flag",
        "blob",
        "color",
        "ts",
        "ttl",
        "wrapped",
        "name_value",
        "maybe",
        "nested.first_name",
        "nested.child.count",
    ];
    let values = [
        "a+b",
        "-1",
        "-2",
        "3",
        "-4",
        "5",
        "0.5",
        "NaN",
        "true",
        "-_8",
        "BLUE",
        "2020-01-01T00:00:00Z",
        "2s",
        "9",
        "s",
        "m",
        "Leo",
        "7",
    ];
    let bound =
        binder(&kitchen(), &variables, "").bind(&captures(&values), None, &Bytes::new(), None).unwrap();
    assert_eq!(
        json(&bound),
        json!({"id": "a+b", "i32": -1, "i64": "-2", "u64": "3", "s32": -4, "f64": "5", "dbl": 0.5, "flt": "NaN",
               "flag": true, "blob": "+/8=", "color": "BLUE", "ts": "2020-01-01T00:00:00Z", "ttl": "2s",
               "wrapped": "9", "nameValue": "s", "maybe": "m",
               "nested": {"firstName": "Leo", "child": {"count": "7"}}})
    );
}

#[test]
fn a_bad_capture_names_field_and_value() {
    let binder = binder(&kitchen(), &["nested.child.count"], "");
    let message = client_error(binder.bind(&captures(&["many"]), None, &Bytes::new(), None).unwrap_err());
    assert!(
        message.contains("\"nested.child.count\"")
            && message.contains("\"many\"")
            && message.contains("int64")
    );
    assert!(
        matches!(binder.bind(&[], None, &Bytes::new(), None), Err(BindFailure::Internal(_))),
        "captures that do not match the variables are the gateway's bug"
    );
}

#[test]
fn variables_that_cannot_bind_are_refused_at_compile_time() {
    for variable in ["tags", "labels", "nested", "items", "nope", "nested.nope"] {
        let variables = vec![variable.split('.').map(str::to_owned).collect()];
        let result =
            RequestBinder::compile(&kitchen(), &variables, &body_selector(""), false, BindOptions::default());
        let error = result.unwrap_err();
        assert!(error.0.contains("path variable"), "{variable}: {error}");
    }
}

#[test]
fn path_wins_over_body_and_query() {
    let whole = binder(&kitchen(), &["id", "i64"], "*");
    let body = br#"{"id": "from body", "i64": "5", "i32": 1}"#;
    let bound = whole.bind(&captures(&["from path", "0"]), Some("id=q"), &bytes(body), None).unwrap();
    // The path's i64 is 0, the default: it still replaces the body's 5.
    assert_eq!(json(&bound), json!({"id": "from path", "i32": 1}));

    let nested = binder(&kitchen(), &["nested.first_name"], "nested");
    let body = br#"{"firstName": "body", "count": "2"}"#;
    let query = "nested.first_name=query&nested.child.count=3&id=q";
    let bound = nested.bind(&captures(&["path"]), Some(query), &bytes(body), None).unwrap();
    assert_eq!(
        json(&bound),
        json!({"id": "q", "nested": {"firstName": "path", "count": "2", "child": {"count": "3"}}})
    );
}
