//! Path normalisation ([`protogate::router::normalize_path`]) is
//! idempotent, and what it returns has no empty, `.` or `..` segment.

use proptest::prelude::*;
use protogate::router::normalize_path;

use super::reference::canonical;

/// Paths built from the shapes normalisation cares about, and any text.
fn path() -> impl Strategy<Value = String> {
    let segment = prop::sample::select(
        &[
            "a", "", ".", "..", "%2e", "%2E%2e", ".%2E", "...", "%2F", "%zz", "%", "%41", "é", "a;b", "..;x",
            "~", "%7e",
        ][..],
    );
    prop_oneof![
        prop::collection::vec(segment, 0..8).prop_map(|segments| format!("/{}", segments.join("/"))),
        "/\\PC{0,24}",
    ]
}

proptest! {
    #![proptest_config(super::config())]

    #[test]
    fn normalising_twice_changes_nothing(path in path()) {
        if let Some(once) = normalize_path(&path) {
            let twice = normalize_path(&once);
            prop_assert_eq!(twice.as_deref(), Some(&*once), "{}", path);
            let body = once.strip_prefix('/').unwrap_or_else(|| panic!("{once} is not absolute"));
            let segments: Vec<&str> = body.strip_suffix('/').unwrap_or(body).split('/').collect();
            for segment in segments.iter().filter(|_| !body.is_empty()) {
                prop_assert!(!segment.is_empty(), "an empty segment in {} (from {})", once, path);
                let form = canonical(segment);
                prop_assert!(form.as_deref() != Some(".") && form.as_deref() != Some(".."), "a dot segment in {} (from {})", once, path);
            }
        } else {
            prop_assert!(path.contains('%'), "only an invalid escape is refused: {}", path);
        }
    }
}
