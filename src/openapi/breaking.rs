//! The fields a new document changes under its clients: for every message
//! schema both documents have, each field the old one has that the new one
//! removes or gives another JSON type. Comments aside; new fields and new
//! messages break nothing.

use serde_json::Value;

/// One line per field removed or retyped, from the `before` document to
/// `after` (both encoded); nothing when either cannot be read.
pub fn changed_fields(before: &[u8], after: &[u8]) -> Vec<String> {
    let (Ok(before), Ok(after)) =
        (serde_json::from_slice::<Value>(before), serde_json::from_slice::<Value>(after))
    else {
        return Vec::new();
    };
    let schemas =
        |document: &Value| document["components"]["schemas"].as_object().cloned().unwrap_or_default();
    let (old, new) = (schemas(&before), schemas(&after));
    let mut changes = Vec::new();
    for (message, old_schema) in &old {
        let Some(new_schema) = new.get(message) else { continue };
        let Some(old_fields) = old_schema["properties"].as_object() else { continue };
        for (field, old_type) in old_fields {
            match new_schema["properties"].get(field) {
                None => changes.push(format!("field {message}.{field} is removed")),
                Some(new_type) if type_of(old_type) != type_of(new_type) => changes.push(format!(
                    "field {message}.{field} changes type: {} → {}",
                    type_of(old_type),
                    type_of(new_type)
                )),
                Some(_) => {}
            }
        }
    }
    changes
}

/// A field's JSON type in a few words: `string (int64)`, `array of
/// demo.v1.Book`, `object of string`.
fn type_of(schema: &Value) -> String {
    if let Some(reference) = schema["$ref"].as_str() {
        return reference.rsplit('/').next().unwrap_or(reference).to_owned();
    }
    if let Some([inner]) = schema["allOf"].as_array().map(Vec::as_slice) {
        return type_of(inner);
    }
    match schema["type"].as_str() {
        Some("array") => format!("array of {}", type_of(&schema["items"])),
        Some("object") if schema["additionalProperties"].is_object() => {
            format!("object of {}", type_of(&schema["additionalProperties"]))
        }
        Some(kind) => match schema["format"].as_str() {
            Some(format) => format!("{kind} ({format})"),
            None => kind.to_owned(),
        },
        None => "any".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(properties: Value) -> Vec<u8> {
        let schema =
            serde_json::json!({ "components": { "schemas": { "x.Book": { "properties": properties } } } });
        serde_json::to_vec(&schema).unwrap()
    }

    #[test]
    fn a_retyped_or_removed_field_is_a_change_and_a_new_one_is_not() {
        let before = document(serde_json::json!({
            "id": { "type": "string", "format": "int64" },
            "title": { "type": "string" },
            "tags": { "type": "array", "items": { "type": "string" } },
        }));
        let after = document(serde_json::json!({
            "id": { "type": "integer", "format": "int32", "description": "now a number" },
            "tags": { "type": "array", "items": { "type": "string" } },
            "added": { "type": "boolean" },
        }));
        assert_eq!(
            changed_fields(&before, &after),
            [
                "field x.Book.id changes type: string (int64) → integer (int32)",
                "field x.Book.title is removed"
            ]
        );
        assert!(changed_fields(&before, &before).is_empty());
    }
}
