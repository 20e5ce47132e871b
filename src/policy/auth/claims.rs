//! What a verified token's claims must hold (scopes, required values) and
//! how a claim travels to the backend as a header value.

use http::HeaderValue;
use serde_json::{Map, Value};

/// The scopes a token carries: the space-separated `scope` claim (RFC
/// 8693), or the `scp` claim as an array or a space-separated string.
fn scopes(claims: &Map<String, Value>) -> Vec<&str> {
    let mut found = Vec::new();
    for name in ["scope", "scp"] {
        match claims.get(name) {
            Some(Value::String(text)) => found.extend(text.split_ascii_whitespace()),
            Some(Value::Array(items)) => found.extend(items.iter().filter_map(Value::as_str)),
            _ => {}
        }
    }
    found
}

/// The first required scope the token lacks.
pub(super) fn missing_scope<'a>(claims: &Map<String, Value>, required: &'a [String]) -> Option<&'a str> {
    if required.is_empty() {
        return None;
    }
    let held = scopes(claims);
    required.iter().map(String::as_str).find(|scope| !held.contains(scope))
}

/// Whether `value` matches the configured text: a string equal to it, a
/// number or boolean written as it, or an array with such an element.
fn matches(value: &Value, expected: &str) -> bool {
    match value {
        Value::String(text) => text == expected,
        Value::Number(number) => number.to_string() == expected,
        Value::Bool(flag) => flag.to_string() == expected,
        Value::Array(items) => items.iter().any(|item| !item.is_array() && matches(item, expected)),
        Value::Null | Value::Object(_) => false,
    }
}

/// The first required claim the token lacks or holds with another value.
pub(super) fn mismatched_claim<'a>(
    claims: &Map<String, Value>,
    required: &'a [(String, String)],
) -> Option<&'a str> {
    required
        .iter()
        .find(|(name, expected)| !claims.get(name).is_some_and(|value| matches(value, expected)))
        .map(|(name, _)| name.as_str())
}

/// A claim as a header value: a string as it is, anything else as JSON;
/// `None` when absent or not valid in a header (control characters).
pub(super) fn header_value(claims: &Map<String, Value>, name: &str) -> Option<HeaderValue> {
    match claims.get(name)? {
        Value::Null => None,
        Value::String(text) => HeaderValue::from_str(text).ok(),
        other => HeaderValue::from_str(&other.to_string()).ok(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claims(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn scopes_come_from_scope_or_scp() {
        let required = ["read".to_owned(), "write".to_owned()];
        assert_eq!(missing_scope(&claims(json!({"scope": "read write"})), &required), None);
        assert_eq!(missing_scope(&claims(json!({"scp": ["write", "read"]})), &required), None);
        assert_eq!(missing_scope(&claims(json!({"scope": "read"})), &required), Some("write"));
        assert_eq!(missing_scope(&claims(json!({})), &[]), None);
    }

    #[test]
    fn required_claims_match_values_and_array_members() {
        let required = [("tenant".to_owned(), "acme".to_owned()), ("level".to_owned(), "3".to_owned())];
        assert_eq!(mismatched_claim(&claims(json!({"tenant": ["x", "acme"], "level": 3})), &required), None);
        assert_eq!(
            mismatched_claim(&claims(json!({"tenant": "other", "level": 3})), &required),
            Some("tenant")
        );
        assert_eq!(mismatched_claim(&claims(json!({"tenant": "acme"})), &required), Some("level"));
    }

    #[test]
    fn claims_become_header_values() {
        let map = claims(json!({"sub": "u1", "n": 5, "roles": ["a"], "bad": "a\nb", "none": null}));
        assert_eq!(header_value(&map, "sub").unwrap(), "u1");
        assert_eq!(header_value(&map, "n").unwrap(), "5");
        assert_eq!(header_value(&map, "roles").unwrap(), r#"["a"]"#);
        assert!(header_value(&map, "bad").is_none());
        assert!(header_value(&map, "none").is_none());
        assert!(header_value(&map, "missing").is_none());
    }
}
