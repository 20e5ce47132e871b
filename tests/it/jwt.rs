//! The JWT policy on real request heads, with real keys (tests/data/keys):
//! the attack suite (every forged, stale, misplaced or misdirected token is
//! a 401), scopes and claims (403), claims forwarded, spoofed headers
//! removed, a query credential cut out of the URI.

use std::path::Path;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use http::{Request, request::Parts};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode, jwk::Jwk};
use protogate::{
    compile::{CompileErrors, Place, jwt_settings},
    config::JwtConfig,
    error::GatewayError,
    policy::auth::{AuthError, JwtPolicy},
};
use serde_json::{Value, json};

pub const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/keys");
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-test-only";

pub fn key_file(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(KEYS).join(name)).unwrap()
}

pub fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// Claims a policy with `issuer: https://id.example` and `audiences: [api]` accepts.
pub fn claims(extra: Value) -> Value {
    let mut claims = json!({"sub": "user-1", "iss": "https://id.example", "aud": "api", "exp": now() + 600});
    if let (Some(claims), Value::Object(extra)) = (claims.as_object_mut(), extra) {
        claims.extend(extra);
    }
    claims
}

pub fn encoding_key(alg: Algorithm, file: &str) -> EncodingKey {
    match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => EncodingKey::from_secret(SECRET),
        Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(&key_file(file)).unwrap(),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(&key_file(file)).unwrap(),
        _ => EncodingKey::from_rsa_pem(&key_file(file)).unwrap(),
    }
}

pub fn sign(alg: Algorithm, file: &str, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    encode(&header, claims, &encoding_key(alg, file)).unwrap()
}

/// The public JWK of a private key file, with `kid`.
pub fn jwk(alg: Algorithm, file: &str, kid: &str) -> Value {
    let mut jwk = Jwk::from_encoding_key(&encoding_key(alg, file), alg).unwrap();
    jwk.common.key_id = Some(kid.to_owned());
    serde_json::to_value(jwk).unwrap()
}

pub fn parse_config(yaml: &str) -> JwtConfig {
    serde_saphyr::from_str(yaml).unwrap()
}

pub async fn policy(yaml: &str) -> JwtPolicy {
    let mut errors = CompileErrors::default();
    let settings = jwt_settings(
        &parse_config(yaml),
        Path::new(KEYS),
        &Place::root().key("policies").key("t").key("jwt"),
        &mut errors,
    )
    .unwrap_or_else(|| panic!("{errors}"));
    JwtPolicy::new(settings).await.unwrap()
}

pub fn request(uri: &str, headers: &[(&str, &str)]) -> Parts {
    let mut builder = Request::builder().uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap().into_parts().0
}

pub fn bearer(token: &str) -> Parts {
    request("/v1/things?a=1", &[("authorization", &format!("Bearer {token}"))])
}

const RSA: &str = "{ public_key_file: rsa.pub, issuer: https://id.example, audiences: [api] }";

fn assert_invalid(result: Result<protogate::policy::auth::Principal, AuthError>, case: &str) {
    match result {
        Err(error @ AuthError::Invalid(..)) => {
            let response = GatewayError::from(error);
            assert_eq!(response.status(), 401, "{case}");
            assert_eq!(response.headers()["www-authenticate"], r#"Bearer error="invalid_token""#, "{case}");
        }
        other => panic!("{case}: expected Invalid, got {other:?}"),
    }
}

#[tokio::test]
async fn forged_stale_and_misdirected_tokens_are_refused() {
    let policy = policy(RSA).await;
    let header = |json: Value| URL_SAFE_NO_PAD.encode(json.to_string());
    let good = sign(Algorithm::RS256, "rsa.key", None, &claims(json!({})));
    let pieces: Vec<&str> = good.split('.').collect();
    let (good_header, good_signature) = (pieces[0], pieces[2]);

    let unsigned = format!("{}.{}.", header(json!({"alg": "none", "typ": "JWT"})), header(claims(json!({}))));
    let rsa_public_pem = key_file("rsa.pub");
    let confused = encode(
        &Header::new(Algorithm::HS256),
        &claims(json!({})),
        &EncodingKey::from_secret(&rsa_public_pem),
    )
    .unwrap();
    let tampered = format!("{good_header}.{}.{good_signature}", header(claims(json!({"sub": "admin"}))));
    let other_key = sign(Algorithm::RS256, "rsa2.key", None, &claims(json!({})));
    // A key embedded in the token's own header is not a key the policy trusts.
    let mut embedded = Header::new(Algorithm::RS256);
    embedded.jwk = Some(serde_json::from_value(jwk(Algorithm::RS256, "rsa2.key", "attacker")).unwrap());
    let embedded =
        encode(&embedded, &claims(json!({})), &encoding_key(Algorithm::RS256, "rsa2.key")).unwrap();

    let cases = [
        ("alg none", unsigned),
        ("HS256 signed with the RSA public key", confused),
        ("tampered payload", tampered),
        ("signed by another key", other_key),
        ("embedded jwk", embedded),
        ("expired", sign(Algorithm::RS256, "rsa.key", None, &claims(json!({"exp": now() - 3600})))),
        ("not yet valid", sign(Algorithm::RS256, "rsa.key", None, &claims(json!({"nbf": now() + 3600})))),
        (
            "wrong iss",
            sign(Algorithm::RS256, "rsa.key", None, &claims(json!({"iss": "https://evil.example"}))),
        ),
        ("wrong aud", sign(Algorithm::RS256, "rsa.key", None, &claims(json!({"aud": "other-api"})))),
        ("no exp", {
            let mut claims = claims(json!({}));
            claims.as_object_mut().unwrap().remove("exp");
            sign(Algorithm::RS256, "rsa.key", None, &claims)
        }),
        ("not a JWT", "not.a.jwt".to_owned()),
        ("garbage", "%%%".to_owned()),
    ];
    for (case, token) in cases {
        assert_invalid(policy.authenticate(&mut bearer(&token)).await, case);
    }
    // Within the leeway (60s by default), a just-expired token still passes.
    let just_expired = sign(Algorithm::RS256, "rsa.key", None, &claims(json!({"exp": now() - 5})));
    policy.authenticate(&mut bearer(&just_expired)).await.unwrap();
}

#[tokio::test]
async fn an_algorithm_outside_the_pinned_list_is_refused() {
    let policy = policy("{ public_key_file: rsa.pub, audiences: [api], algorithms: [PS256] }").await;
    let rs256 = sign(Algorithm::RS256, "rsa.key", None, &claims(json!({})));
    assert_invalid(policy.authenticate(&mut bearer(&rs256)).await, "RS256 when only PS256 is accepted");
    let ps256 = sign(Algorithm::PS256, "rsa.key", None, &claims(json!({})));
    policy.authenticate(&mut bearer(&ps256)).await.unwrap();
}

#[tokio::test]
async fn an_unknown_kid_is_refused_by_a_jwks_file() {
    let dir = tempfile::tempdir().unwrap();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, json!({"keys": [jwk(Algorithm::RS256, "rsa.key", "k1")]}).to_string()).unwrap();
    let policy = policy(&format!("{{ jwks: {{ file: {} }}, audiences: [api] }}", jwks.display())).await;
    let known = sign(Algorithm::RS256, "rsa.key", Some("k1"), &claims(json!({})));
    policy.authenticate(&mut bearer(&known)).await.unwrap();
    let unknown = sign(Algorithm::RS256, "rsa2.key", Some("k2"), &claims(json!({})));
    assert_invalid(policy.authenticate(&mut bearer(&unknown)).await, "unknown kid");
    // A known kid does not make another key's signature good.
    let stolen_kid = sign(Algorithm::RS256, "rsa2.key", Some("k1"), &claims(json!({})));
    assert_invalid(policy.authenticate(&mut bearer(&stolen_kid)).await, "another key under a known kid");
}

#[tokio::test]
async fn valid_tokens_of_every_key_kind_are_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, [SECRET, b"\n"].concat()).unwrap();
    let cases = [
        (Algorithm::RS256, "rsa.key", "public_key_file: rsa.pub".to_owned()),
        (Algorithm::PS384, "rsa.key", "public_key_file: rsa.pub".to_owned()),
        (Algorithm::ES256, "ec.key", "public_key_file: ec.pub".to_owned()),
        (Algorithm::EdDSA, "ed.key", "public_key_file: ed.pub".to_owned()),
        (Algorithm::HS256, "", format!("secret_file: {}", secret.display())),
        (Algorithm::HS512, "", format!("secret_file: {}", secret.display())),
    ];
    for (alg, key, source) in cases {
        let policy = policy(&format!("{{ {source}, issuer: https://id.example, audiences: [api] }}")).await;
        let token = sign(alg, key, None, &claims(json!({})));
        let principal =
            policy.authenticate(&mut bearer(&token)).await.unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        assert_eq!(principal.subject.as_deref(), Some("user-1"), "{alg:?}");
        assert_eq!(principal.claims["aud"], "api");
        // The cached path answers the same.
        let again = policy.authenticate(&mut bearer(&token)).await.unwrap();
        assert_eq!(again, principal);
    }
    // An inline PEM works as the file does.
    let pem = String::from_utf8(key_file("ec.pub")).unwrap();
    let yaml = format!(
        "audiences: []\npublic_key: |\n{}",
        pem.lines().map(|l| format!("  {l}\n")).collect::<String>()
    );
    let policy = policy(&yaml).await;
    let token = sign(Algorithm::ES256, "ec.key", None, &claims(json!({"aud": "anything"})));
    policy.authenticate(&mut bearer(&token)).await.unwrap();
}

#[tokio::test]
async fn missing_scopes_and_claims_are_forbidden() {
    let policy = policy(
        "{ public_key_file: rsa.pub, audiences: [api], scopes: [books.read], claims: { tenant: acme } }",
    )
    .await;
    let cases = [
        ("no scope", json!({"tenant": "acme"})),
        ("other scope", json!({"scope": "books.write", "tenant": "acme"})),
        ("other tenant", json!({"scope": "books.read", "tenant": "umbrella"})),
        ("no tenant", json!({"scp": ["books.read"]})),
    ];
    for (case, extra) in cases {
        let token = sign(Algorithm::RS256, "rsa.key", None, &claims(extra));
        match policy.authenticate(&mut bearer(&token)).await {
            Err(error @ AuthError::Forbidden(_)) => {
                assert_eq!(GatewayError::from(error).status(), 403, "{case}")
            }
            other => panic!("{case}: expected Forbidden, got {other:?}"),
        }
    }
    let token =
        sign(Algorithm::RS256, "rsa.key", None, &claims(json!({"scope": "x books.read", "tenant": "acme"})));
    policy.authenticate(&mut bearer(&token)).await.unwrap();
}

#[tokio::test]
async fn a_token_in_the_wrong_place_is_missing() {
    let token = sign(Algorithm::RS256, "rsa.key", None, &claims(json!({})));
    let header_policy = policy(RSA).await;
    let mut parts = request(&format!("/v1/things?access_token={token}"), &[]);
    match header_policy.authenticate(&mut parts).await {
        Err(error @ AuthError::Missing(..)) => {
            let response = GatewayError::from(error);
            assert_eq!(response.status(), 401);
            assert_eq!(response.headers()["www-authenticate"], "Bearer");
        }
        other => panic!("expected Missing, got {other:?}"),
    }
    let basic =
        header_policy.authenticate(&mut request("/", &[("authorization", "Basic dXNlcjpwdw==")])).await;
    assert!(matches!(basic, Err(AuthError::Missing(..))), "{basic:?}");

    let query_policy = policy("{ public_key_file: rsa.pub, audiences: [api], query: access_token }").await;
    let result = query_policy.authenticate(&mut bearer(&token)).await;
    assert!(matches!(result, Err(AuthError::Missing(..))), "{result:?}");
}

#[tokio::test]
async fn a_query_token_is_cut_out_of_the_uri_even_when_refused() {
    let policy = policy("{ public_key_file: rsa.pub, audiences: [api], query: access_token }").await;
    let token = sign(Algorithm::RS256, "rsa.key", None, &claims(json!({})));
    let mut parts = request(&format!("/v1/things?a=1&access_token={token}&b=2"), &[]);
    policy.authenticate(&mut parts).await.unwrap();
    assert_eq!(parts.uri.to_string(), "/v1/things?a=1&b=2");

    let mut parts = request("/v1/things?access_token=forged", &[]);
    assert_invalid(policy.authenticate(&mut parts).await, "forged query token");
    assert_eq!(parts.uri.to_string(), "/v1/things");

    let mut twice = request(&format!("/v1/things?access_token={token}&access_token={token}"), &[]);
    assert_invalid(policy.authenticate(&mut twice).await, "two query tokens");
    assert_eq!(twice.uri.to_string(), "/v1/things");
}

#[tokio::test]
async fn claims_are_forwarded_and_spoofed_headers_removed() {
    let policy = policy(
        "{ public_key_file: rsa.pub, audiences: [api], forward_claims: { sub: x-user-id, tenant: x-tenant } }",
    )
    .await;
    assert_eq!(policy.forwarded_headers(), ["x-user-id", "x-tenant"]);
    let token = sign(Algorithm::RS256, "rsa.key", None, &claims(json!({})));
    let mut parts = request(
        "/v1/things",
        &[
            ("authorization", &format!("Bearer {token}")),
            ("x-user-id", "admin"),
            ("grpc-metadata-x-user-id", "admin"),
            ("x-tenant", "acme"),
            ("grpc-metadata-x-tenant", "acme"),
        ],
    );
    policy.authenticate(&mut parts).await.unwrap();
    assert_eq!(parts.headers["x-user-id"], "user-1");
    assert_eq!(parts.headers.get_all("x-user-id").iter().count(), 1);
    // The token has no tenant: the client's value is gone, not kept.
    assert!(parts.headers.get("x-tenant").is_none());
    assert!(parts.headers.get("grpc-metadata-x-user-id").is_none());
    assert!(parts.headers.get("grpc-metadata-x-tenant").is_none());
    // The token goes on by default.
    assert_eq!(parts.headers["authorization"], format!("Bearer {token}"));
}

#[tokio::test]
async fn the_token_can_be_stripped_or_read_from_a_cookie() {
    let token = sign(Algorithm::RS256, "rsa.key", None, &claims(json!({})));
    let stripping = policy("{ public_key_file: rsa.pub, audiences: [api], forward_token: false }").await;
    let mut parts = bearer(&token);
    stripping.authenticate(&mut parts).await.unwrap();
    assert!(parts.headers.get("authorization").is_none());

    let cookie =
        policy("{ public_key_file: rsa.pub, audiences: [api], cookie: session, forward_token: false }").await;
    let mut parts = request("/", &[("cookie", &format!("theme=dark; session={token}; lang=en"))]);
    cookie.authenticate(&mut parts).await.unwrap();
    assert_eq!(parts.headers["cookie"], "theme=dark; lang=en");

    let header = policy("{ public_key_file: rsa.pub, audiences: [api], header: x-token }").await;
    let mut parts = request("/", &[("x-token", &token)]);
    header.authenticate(&mut parts).await.unwrap();
    assert_eq!(parts.headers["x-token"], token.as_str());
}

#[tokio::test]
async fn a_cached_token_is_refused_once_past_its_exp_and_leeway() {
    let policy = policy("{ public_key_file: rsa.pub, audiences: [api], leeway: 0s }").await;
    let exp = now() + 1;
    let token = sign(Algorithm::RS256, "rsa.key", None, &claims(json!({ "exp": exp })));
    // Verified, then answered from the cache.
    policy.authenticate(&mut bearer(&token)).await.unwrap();
    policy.authenticate(&mut bearer(&token)).await.unwrap();
    // Waiting for the wall clock to pass `exp` (whole seconds), bounded.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while now() <= exp {
        assert!(std::time::Instant::now() < deadline, "the clock did not pass exp within 10s");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_invalid(policy.authenticate(&mut bearer(&token)).await, "a cached token past exp");
}
