//! A JWT policy's config problems, each reported with its place.

use std::path::Path;

use protogate::compile::{CompileErrors, Place, jwt_settings};

use super::jwt::{KEYS, parse_config};

fn compile_errors(yaml: &str) -> String {
    let mut errors = CompileErrors::default();
    let settings = jwt_settings(
        &parse_config(yaml),
        Path::new(KEYS),
        &Place::root().key("policies").key("users-jwt").key("jwt"),
        &mut errors,
    );
    assert!(settings.is_none(), "{yaml} compiled");
    errors.to_string()
}

#[test]
fn config_problems_are_reported_with_their_place() {
    let text = compile_errors(
        "{ public_key_file: rsa.pub, algorithms: [RS256, none, HS256, XS999], forward_claims: { sub: authorization } }",
    );
    for expected in [
        "policies.users-jwt.jwt.algorithms[1]: unsigned tokens (alg none) are never accepted",
        "policies.users-jwt.jwt.algorithms[2]: HS256 needs secret_file or secret_env; this policy has public keys",
        "policies.users-jwt.jwt.algorithms[3]: unknown algorithm \"XS999\"",
        "policies.users-jwt.jwt.audiences: required",
        "policies.users-jwt.jwt.forward_claims.sub: \"authorization\" is a header the gateway or the protocol owns",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    // As the configuration reference lists them: hop-by-hop and content-* too.
    let text = compile_errors(
        "{ public_key_file: rsa.pub, forward_claims: { sub: keep-alive, iss: content-encoding, aud: x-forwarded-proto } }",
    );
    for owned in ["keep-alive", "content-encoding", "x-forwarded-proto"] {
        assert!(text.contains(&format!("{owned:?} is a header the gateway or the protocol owns")), "{text}");
    }
    let text = compile_errors("{ secret_env: CARGO_MANIFEST_DIR, audiences: [], algorithms: [RS256] }");
    assert!(text.contains("algorithms[0]: RS256 needs a public key"), "{text}");
    let text = compile_errors("{ secret_env: PROTOGATE_TEST_NO_SUCH_VARIABLE, audiences: [] }");
    assert!(text.contains("policies.users-jwt.jwt.secret_env: the environment variable"), "{text}");
    let text = compile_errors("{ public_key_file: rsa.pub, secret_file: s, audiences: [] }");
    assert!(text.contains("policies.users-jwt.jwt: needs exactly one key source"), "{text}");
    let text = compile_errors("{ public_key_file: rsa.key.missing, audiences: [] }");
    assert!(text.contains("policies.users-jwt.jwt.public_key_file: cannot read"), "{text}");
    let text = compile_errors("{ public_key_file: ec.pub, audiences: [], algorithms: [RS256] }");
    assert!(
        text.contains("public_key_file: no key can verify any of the accepted algorithms (RS256)"),
        "{text}"
    );
    let text = compile_errors("{ jwks: { url: ftp://x/jwks }, audiences: [], header: x-a, query: b }");
    assert!(text.contains("policies.users-jwt.jwt.jwks.url: \"ftp://x/jwks\" is not an http"), "{text}");
    assert!(
        text.contains("policies.users-jwt.jwt: takes the credential from one place; header and query"),
        "{text}"
    );
}

#[test]
fn a_short_secret_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("short");
    std::fs::write(&secret, "short\n").unwrap();
    let text = compile_errors(&format!("{{ secret_file: {}, audiences: [] }}", secret.display()));
    assert!(
        text.contains("secret_file: the secret is 5 bytes long; an HS secret must be at least 32 bytes"),
        "{text}"
    );
}
