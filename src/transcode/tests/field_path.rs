//! FieldPath resolution and its refusals.

use super::{kitchen, test_message};
use crate::transcode::field_path::FieldPath;

#[test]
fn resolves_nested_proto_names() {
    let path = FieldPath::resolve(&test_message("Request"), "book.author_info.first_name").unwrap();
    let parents: Vec<&str> = path.parents().iter().map(|f| f.name()).collect();
    assert_eq!(parents, ["book", "author_info"]);
    assert_eq!(path.leaf().name(), "first_name");
}

#[test]
fn json_names_are_not_field_path_names() {
    let error = FieldPath::resolve(&test_message("Request"), "book.authorInfo").unwrap_err();
    assert!(error.reason.contains("no field \"authorInfo\""), "{error}");
}

#[test]
fn unknown_field_suggests_a_near_name() {
    let error = FieldPath::resolve(&test_message("Request"), "book.titel").unwrap_err();
    assert_eq!(error.path, "book.titel");
    assert_eq!(error.message, "binding.test.Request");
    assert!(error.reason.contains("did you mean \"title\"?"), "{error}");
    let error = FieldPath::resolve(&test_message("Request"), "zzzzzz").unwrap_err();
    assert!(!error.reason.contains("did you mean"), "{error}");
}

#[test]
fn only_singular_messages_can_be_walked_through() {
    for (path, kind) in [("items.first_name", "repeated"), ("labels.a", "map"), ("id.x", "scalar")] {
        let error = FieldPath::resolve(&kitchen(), path).unwrap_err();
        assert!(error.reason.contains(kind), "{path}: {error}");
    }
}

#[test]
fn empty_names_are_refused() {
    for path in ["", "nested.", ".id", "nested..child"] {
        let error = FieldPath::resolve(&kitchen(), path).unwrap_err();
        assert!(error.reason.contains("empty"), "{path}: {error}");
    }
}
