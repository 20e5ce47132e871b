//! The query string: every kind of field, the string forms, keys, and refusals.

use bytes::Bytes;
use serde_json::json;

use super::{binder_with, client_error, kitchen, kitchen_query};
use crate::transcode::bind::BindOptions;

fn error(query: &str) -> String {
    kitchen_query(query).unwrap_err()
}

#[test]
fn every_scalar_kind() {
    let query =
        "id=x&i32=-5&i64=-9007199254740993&u64=18446744073709551615&s32=-3&f64=7&dbl=1.5&flt=2.5&flag=true";
    assert_eq!(
        kitchen_query(query).unwrap(),
        json!({"id": "x", "i32": -5, "i64": "-9007199254740993", "u64": "18446744073709551615", "s32": -3,
               "f64": "7", "dbl": 1.5, "flt": 2.5, "flag": true})
    );
}

#[test]
fn non_finite_floats() {
    assert_eq!(kitchen_query("dbl=NaN&flt=-Infinity").unwrap(), json!({"dbl": "NaN", "flt": "-Infinity"}));
    assert_eq!(kitchen_query("dbl=Infinity").unwrap(), json!({"dbl": "Infinity"}));
    assert!(error("dbl=inf").contains("\"dbl\""));
    assert!(error("flt=1e39").contains("out of range"));
}

#[test]
fn values_that_do_not_fit_name_field_and_value() {
    for (query, field, value) in [
        ("flag=true1", "flag", "true1"),
        ("flag=True", "flag", "True"),
        ("i32=2147483648", "i32", "2147483648"),
        ("u64=-1", "u64", "-1"),
        ("i64=abc", "i64", "abc"),
        ("color=red", "color", "red"),
        ("blob=***", "blob", "***"),
        ("ts=yesterday", "ts", "yesterday"),
        ("ttl=1.5", "ttl", "1.5"),
        ("wrapped=x", "wrapped", "x"),
    ] {
        let message = error(query);
        assert!(
            message.contains(&format!("{field:?}")) && message.contains(&format!("{value:?}")),
            "{message}"
        );
    }
}

#[test]
fn enums_by_name_or_number() {
    assert_eq!(
        kitchen_query("color=RED&colors=2&colors=BLUE").unwrap(),
        json!({"color": "RED", "colors": ["GREEN", "BLUE"]})
    );
    assert_eq!(kitchen_query("color=7").unwrap(), json!({"color": 7}));
}

#[test]
fn repeated_keys_append_in_order() {
    assert_eq!(
        kitchen_query("tags=b&tags=a&numbers=1&numbers=-2").unwrap(),
        json!({"tags": ["b", "a"], "numbers": ["1", "-2"]})
    );
}

#[test]
fn last_value_wins_for_a_singular_field() {
    assert_eq!(kitchen_query("id=a&id=b").unwrap(), json!({"id": "b"}));
}

#[test]
fn map_entries() {
    assert_eq!(
        kitchen_query("labels[a]=x&labels[b%20c]=y&codes[7]=seven").unwrap(),
        json!({"labels": {"a": "x", "b c": "y"}, "codes": {"7": "seven"}})
    );
    assert!(error("codes[x]=1").contains("\"x\""));
    assert!(error("labels=x").contains("labels[key]=value"));
    assert!(error("id[a]=x").contains("not a map"));
}

#[test]
fn bytes_in_both_base64_alphabets() {
    let expected = json!({"blob": "+/8="});
    assert_eq!(kitchen_query("blob=%2B%2F8%3D").unwrap(), expected);
    assert_eq!(kitchen_query("blob=%2B%2F8").unwrap(), expected);
    assert_eq!(kitchen_query("blob=-_8").unwrap(), expected);
    assert_eq!(kitchen_query("blob=-_8=").unwrap(), expected);
}

#[test]
fn well_known_types_from_their_string_forms() {
    let query = "ts=2017-01-15T01:30:15.5%2B01:00&ttl=1.5s&mask=fooBar,baz.quxQuux&wrapped=-5&nameValue=hi";
    assert_eq!(
        kitchen_query(query).unwrap(),
        json!({"ts": "2017-01-15T00:30:15.500Z", "ttl": "1.500s", "mask": "fooBar,baz.quxQuux",
               "wrapped": "-5", "nameValue": "hi"})
    );
}

#[test]
fn proto_and_json_names_at_each_level() {
    let expected = json!({"nested": {"firstName": "Leo", "child": {"count": "2"}}, "nameValue": "v"});
    assert_eq!(kitchen_query("nested.first_name=Leo&nested.child.count=2&name_value=v").unwrap(), expected);
    assert_eq!(kitchen_query("nested.firstName=Leo&nested.child.count=2&nameValue=v").unwrap(), expected);
}

#[test]
fn plus_is_a_space_unless_told_otherwise() {
    assert_eq!(kitchen_query("id=a+b&tags=%2B").unwrap(), json!({"id": "a b", "tags": ["+"]}));
    let options = BindOptions { query_plus_is_literal: true, ..BindOptions::default() };
    let bound = binder_with(&kitchen(), &[], "", options)
        .bind(&[], Some("id=a+b&blob=+/8="), &Bytes::new(), None)
        .unwrap();
    assert_eq!(super::json(&bound), json!({"id": "a+b", "blob": "+/8="}));
    assert!(error("blob=+/8=").contains("\"blob\""));
}

#[test]
fn dropped_pairs() {
    assert_eq!(kitchen_query("flag&=v&id=1&&=").unwrap(), json!({"id": "1"}));
    assert_eq!(kitchen_query("").unwrap(), json!({}));
}

#[test]
fn unknown_keys_ignored_or_refused() {
    assert_eq!(kitchen_query("nope=1&id.sub=2&id=x").unwrap(), json!({"id": "x"}));
    let options = BindOptions { reject_unknown_query_parameters: true, ..BindOptions::default() };
    let strict = binder_with(&kitchen(), &[], "", options);
    for query in ["nope=1", "nested.nope=1", "id.sub=2"] {
        let message = client_error(strict.bind(&[], Some(query), &Bytes::new(), None).unwrap_err());
        assert!(message.contains("unknown query parameter"), "{message}");
    }
    // Dropped pairs are not unknown parameters.
    assert!(strict.bind(&[], Some("flag&=v"), &Bytes::new(), None).is_ok());
}

#[test]
fn repeated_and_plain_messages_are_refused() {
    assert!(error("items.first_name=x").contains("\"items\" is a repeated message field"));
    assert!(error("items=x").contains("\"items\" is a repeated message field"));
    assert!(error("nested=x").contains("cannot be set from text"));
    assert!(error("labels.a=x").contains("map field"));
}

#[test]
fn bad_encodings_and_deep_keys_are_refused() {
    assert!(error("id=%FF").contains("UTF-8"));
    let deep = format!("nested{}.count=1", ".child".repeat(40));
    assert!(error(&deep).contains("too deep"));
}
