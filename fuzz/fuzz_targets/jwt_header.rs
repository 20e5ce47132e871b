//! A JWT policy (HMAC secret; HS256, RS256 and ES256 accepted) on any
//! `Authorization` header: the bearer parsing, the token's header (`alg`,
//! `kid`, `crit`), key selection and verification. Never a panic; never a
//! token accepted that the secret did not sign (the fuzzer cannot forge
//! HMAC-SHA256, so an accepted token is one of the seeds).
#![no_main]

use std::{sync::OnceLock, time::Duration};

use http::{HeaderValue, Request};
use jsonwebtoken::Algorithm;
use libfuzzer_sys::fuzz_target;
use protogate::policy::auth::{AuthError, CredentialSource, JwtPolicy, JwtSettings, KeySet, KeySource};

/// The secret the seeds' valid tokens are signed with.
const SECRET: &[u8] = b"protogate-fuzz-secret-0123456789abcdef";

fn policy() -> &'static JwtPolicy {
    static POLICY: OnceLock<JwtPolicy> = OnceLock::new();
    POLICY.get_or_init(|| {
        let algorithms = vec![Algorithm::HS256, Algorithm::RS256, Algorithm::ES256];
        let keys = KeySet::from_secret(SECRET, &algorithms).expect("a long enough secret");
        let settings = JwtSettings {
            algorithms,
            keys: KeySource::Static(keys),
            issuer: None,
            audiences: vec![],
            leeway: Duration::from_secs(0),
            require_exp: false,
            scopes: vec![],
            claims: vec![],
            source: CredentialSource::Bearer,
            forward_claims: vec![],
            forward_token: false,
            // No cache: every input goes through parsing and verification.
            cache_entries: 0,
            cache_ttl: Duration::from_secs(1),
        };
        protogate_fuzz::runtime().block_on(JwtPolicy::new(settings)).expect("the policy builds")
    })
}

fuzz_target!(|authorization: &[u8]| {
    let Ok(value) = HeaderValue::from_bytes(authorization) else { return };
    let (mut parts, ()) = Request::builder().uri("/x").body(()).expect("a request").into_parts();
    parts.headers.insert(http::header::AUTHORIZATION, value);
    let result = protogate_fuzz::runtime().block_on(policy().authenticate(&mut parts));
    match result {
        Ok(_) | Err(AuthError::Missing(..) | AuthError::Invalid(..)) => {}
        Err(other) => panic!("{authorization:?}: unexpected refusal {other:?}"),
    }
});
