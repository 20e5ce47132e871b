//! Whether a transcoded call may be sent twice, decided once per binding
//! when routes are compiled: the method's `idempotency_level` option
//! (`NO_SIDE_EFFECTS` or `IDEMPOTENT`) when it says so, else the binding's
//! HTTP verb (GET, HEAD, OPTIONS, PUT and DELETE are idempotent).

use http::Method;
use prost_reflect::MethodDescriptor;

use crate::upstream::is_idempotent_method;

/// `google.protobuf.MethodOptions.idempotency_level`.
const IDEMPOTENCY_LEVEL: u32 = 34;
/// `NO_SIDE_EFFECTS` and `IDEMPOTENT` of `MethodOptions.IdempotencyLevel`.
const IDEMPOTENT_LEVELS: [i32; 2] = [1, 2];

/// Whether calling `method` through a binding with `verb` is idempotent.
pub fn is_idempotent(method: &MethodDescriptor, verb: &Method) -> bool {
    let options = method.options();
    let level = options.get_field_by_number(IDEMPOTENCY_LEVEL).and_then(|value| value.as_enum_number());
    level.is_some_and(|level| IDEMPOTENT_LEVELS.contains(&level)) || is_idempotent_method(verb)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROTO: &str = r#"
        syntax = "proto3";
        package t;
        message M {}
        service S {
          rpc Plain(M) returns (M);
          rpc Pure(M) returns (M) { option idempotency_level = NO_SIDE_EFFECTS; }
          rpc Idem(M) returns (M) { option idempotency_level = IDEMPOTENT; }
          rpc Unknown(M) returns (M) { option idempotency_level = IDEMPOTENCY_UNKNOWN; }
        }
    "#;

    #[test]
    fn the_option_wins_else_the_verb_decides() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t.proto"), PROTO).unwrap();
        let files = protox::compile(["t.proto"], [dir.path()]).unwrap();
        let pool = prost_reflect::DescriptorPool::from_file_descriptor_set(files).unwrap();
        let service = pool.get_service_by_name("t.S").unwrap();
        let method = |name: &str| service.methods().find(|m| m.name() == name).unwrap();
        for name in ["Pure", "Idem"] {
            assert!(is_idempotent(&method(name), &Method::POST), "{name}");
        }
        for name in ["Plain", "Unknown"] {
            assert!(!is_idempotent(&method(name), &Method::POST), "{name}");
            assert!(!is_idempotent(&method(name), &Method::PATCH), "{name}");
            assert!(is_idempotent(&method(name), &Method::GET), "{name}");
            assert!(is_idempotent(&method(name), &Method::DELETE), "{name}");
        }
    }
}
