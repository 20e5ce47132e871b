//! Response rendering: options, response_body of every shape, HttpBody.

use prost_reflect::{DynamicMessage, Value};
use serde_json::json;

use super::{binder, demo_pool, kitchen, test_message};
use crate::transcode::render::{RenderOptions, RenderedBody, ResponseRenderer};

fn sample() -> DynamicMessage {
    let query =
        "id=x&i64=42&dbl=NaN&color=RED&colors=GREEN&tags=a&labels[k]=v&codes[7]=seven&nested.first_name=Leo";
    binder(&kitchen(), &[], "").bind(&[], Some(query), &bytes::Bytes::new(), None).unwrap()
}

fn render(message: &DynamicMessage, response_body: Option<&str>, options: RenderOptions) -> RenderedBody {
    let renderer = ResponseRenderer::compile(
        &prost_reflect::ReflectMessage::descriptor(message),
        response_body,
        options,
    );
    renderer.unwrap().render(message).unwrap()
}

fn render_json(
    message: &DynamicMessage,
    response_body: Option<&str>,
    options: RenderOptions,
) -> serde_json::Value {
    let rendered = render(message, response_body, options);
    assert_eq!(rendered.content_type, "application/json");
    serde_json::from_slice(&rendered.body).unwrap()
}

#[test]
fn defaults_are_emitted_by_default() {
    let rendered = render_json(&DynamicMessage::new(kitchen()), None, RenderOptions::default());
    assert_eq!(rendered["i64"], "0");
    assert_eq!(rendered["u64"], "0");
    assert_eq!(rendered["color"], "COLOR_UNSPECIFIED");
    assert_eq!(rendered["tags"], json!([]));
    assert_eq!(rendered["labels"], json!({}));
    assert_eq!(rendered["nameValue"], serde_json::Value::Null, "unset messages are left out");
    assert!(rendered.get("nested").is_none() && rendered.get("maybe").is_none());
}

#[test]
fn all_default_replies_render_as_an_empty_object() {
    let omit = RenderOptions { omit_defaults: true, ..RenderOptions::default() };
    assert_eq!(render_json(&DynamicMessage::new(kitchen()), None, omit), json!({}));
    let empty = demo_pool().get_message_by_name("google.protobuf.Empty").unwrap();
    let rendered = render(&DynamicMessage::new(empty), None, RenderOptions::default());
    assert_eq!(rendered.body.as_ref(), b"{}");
}

#[test]
fn names_and_enum_options() {
    let options = RenderOptions { use_proto_names: true, omit_defaults: true, enums_as_numbers: true };
    assert_eq!(
        render_json(&sample(), None, options),
        json!({"id": "x", "i64": "42", "dbl": "NaN", "color": 1, "colors": [2], "tags": ["a"],
               "labels": {"k": "v"}, "codes": {"7": "seven"}, "nested": {"first_name": "Leo"}})
    );
    let camel =
        render_json(&sample(), None, RenderOptions { omit_defaults: true, ..RenderOptions::default() });
    assert_eq!(camel["nested"], json!({"firstName": "Leo"}));
    assert_eq!(camel["color"], "RED");
}

#[test]
fn response_body_of_every_shape() {
    let message = sample();
    let cases = [
        ("nested", json!({"firstName": "Leo", "count": "0"})),
        ("nested.first_name", json!("Leo")),
        ("nested.child", json!({"firstName": "", "count": "0"})),
        ("nested.child.first_name", json!("")),
        ("i64", json!("42")),
        ("dbl", json!("NaN")),
        ("color", json!("RED")),
        ("colors", json!(["GREEN"])),
        ("tags", json!(["a"])),
        ("numbers", json!([])),
        ("labels", json!({"k": "v"})),
        ("codes", json!({"7": "seven"})),
        ("ts", json!("1970-01-01T00:00:00Z")),
        ("flt", json!(0.0)),
    ];
    for (field, expected) in cases {
        assert_eq!(render_json(&message, Some(field), RenderOptions::default()), expected, "{field}");
    }
    let numbers = RenderOptions { enums_as_numbers: true, ..RenderOptions::default() };
    assert_eq!(render_json(&message, Some("colors"), numbers), json!([2]));
}

#[test]
fn response_body_must_resolve() {
    let error =
        ResponseRenderer::compile(&kitchen(), Some("nested.nope"), RenderOptions::default()).unwrap_err();
    assert!(error.0.contains("response_body") && error.0.contains("nope"), "{error}");
}

#[test]
fn http_body_replies_are_raw() {
    let http_body = demo_pool().get_message_by_name("google.api.HttpBody").unwrap();
    let mut reply = DynamicMessage::new(http_body.clone());
    reply.set_field_by_name("data", Value::Bytes(bytes::Bytes::from_static(b"<svg/>")));
    let rendered = render(&reply, None, RenderOptions::default());
    assert_eq!(
        (rendered.content_type.to_str().unwrap(), rendered.body.as_ref()),
        ("application/octet-stream", &b"<svg/>"[..])
    );

    reply.set_field_by_name("content_type", Value::String("image/svg+xml".to_owned()));
    let mut upload = DynamicMessage::new(test_message("Upload"));
    upload.set_field_by_name("payload", Value::Message(reply));
    let rendered = render(&upload, Some("payload"), RenderOptions::default());
    assert_eq!(
        (rendered.content_type.to_str().unwrap(), rendered.body.as_ref()),
        ("image/svg+xml", &b"<svg/>"[..])
    );

    let whole = render(&upload, None, RenderOptions::default());
    assert_eq!(whole.content_type, "application/json", "an HttpBody inside a reply is JSON");

    let mut reply = DynamicMessage::new(http_body);
    reply.set_field_by_name("content_type", Value::String("text/plain\nx: y".to_owned()));
    let rendered = render(&reply, None, RenderOptions::default());
    assert_eq!(rendered.content_type, "application/octet-stream", "an invalid content type is not sent");
}
