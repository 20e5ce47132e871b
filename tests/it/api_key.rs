//! The API-key policy on real request heads: the right key names its
//! consumer, a wrong or missing one is a 401, a key in the query string is
//! cut out of the URI, the consumer header cannot be spoofed; the config
//! checks; and `protogate hash-key`. End to end, the consumer's header
//! reaches a gRPC backend (as metadata) and an HTTP backend.

use std::process::Command;

use protogate::{
    compile::{CompileErrors, Place, api_key_settings},
    config::ApiKeyConfig,
    error::GatewayError,
    policy::auth::{ApiKeyPolicy, AuthError, hash_key},
};

use super::jwt::request;
use crate::support::gateway::{DEMO_AND_LEGACY, Harness, json_of};

fn policy(extra: &str) -> ApiKeyPolicy {
    let yaml = format!(
        "{{ keys: [{{ consumer: acme, sha256: {} }}, {{ consumer: globex, sha256: {} }}]{extra} }}",
        hash_key("acme-secret-key"),
        hash_key("globex-secret-key"),
    );
    let config: ApiKeyConfig = serde_saphyr::from_str(&yaml).unwrap();
    let mut errors = CompileErrors::default();
    let settings = api_key_settings(
        &config,
        &Place::root().key("policies").key("partner-key").key("api_key"),
        &mut errors,
    )
    .unwrap_or_else(|| panic!("{errors}"));
    ApiKeyPolicy::new(settings).unwrap()
}

#[test]
fn the_right_key_names_its_consumer() {
    let policy = policy(", consumer_header: x-consumer");
    assert_eq!(policy.forwarded_headers(), ["x-consumer"]);
    let mut parts = request(
        "/partner/orders",
        &[("x-api-key", "globex-secret-key"), ("x-consumer", "acme"), ("grpc-metadata-x-consumer", "acme")],
    );
    let principal = policy.authenticate(&mut parts).unwrap();
    assert_eq!(principal.consumer.as_deref(), Some("globex"));
    assert_eq!(parts.headers["x-consumer"], "globex");
    assert_eq!(parts.headers.get_all("x-consumer").iter().count(), 1);
    assert!(parts.headers.get("grpc-metadata-x-consumer").is_none());
    // The key itself does not go on by default.
    assert!(parts.headers.get("x-api-key").is_none());
}

#[tokio::test]
async fn the_consumer_header_reaches_both_kinds_of_backend() {
    let yaml = format!(
        "{DEMO_AND_LEGACY}policies:\n  partners: {{ api_key: {{ consumer_header: x-consumer, keys: [{{ consumer: acme, sha256: {} }}] }} }}\n\
         routes:\n  - grpc: {{ service: demo.v1.Echo, upstream: demo }}\n    policies: [partners]\n\
         \x20 - http: {{ prefix: /legacy/, upstream: legacy }}\n    policies: [partners]\n",
        hash_key("acme-secret-key")
    );
    let gateway = Harness::with_echo_backend(&yaml).await;
    let send = |path: &str| {
        gateway
            .client
            .get(gateway.url(path))
            .header("x-api-key", "acme-secret-key")
            .header("x-consumer", "spoofed")
            .header("grpc-metadata-x-consumer", "spoofed")
            .send()
    };
    let (status, body) = json_of(send("/v1/metadata").await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["received"]["x-consumer"], "acme", "{body}");
    let (status, echoed) = json_of(send("/legacy/whoami").await.unwrap()).await;
    assert_eq!(status, 200, "{echoed}");
    assert_eq!(echoed["headers"]["x-consumer"], serde_json::json!(["acme"]), "{echoed}");
    assert!(echoed["headers"].get("x-api-key").is_none(), "the key itself does not go on: {echoed}");
}

#[test]
fn a_wrong_or_missing_key_is_a_401() {
    let policy = policy("");
    for key in ["acme-secret-keY", "", "globex"] {
        let result = policy.authenticate(&mut request("/", &[("x-api-key", key)]));
        assert!(matches!(result, Err(AuthError::Invalid(..))), "{key:?}: {result:?}");
    }
    let missing = policy.authenticate(&mut request("/", &[("authorization", "Bearer acme-secret-key")]));
    let Err(error @ AuthError::Missing(..)) = missing else { panic!("{missing:?}") };
    let response = GatewayError::from(error);
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "ApiKey");
}

#[test]
fn a_key_in_the_query_is_cut_out_of_the_uri() {
    let policy = policy(", query: api_key, forward_key: true");
    let mut parts = request("/partner/orders?page=2&api_key=acme-secret-key", &[]);
    assert_eq!(policy.authenticate(&mut parts).unwrap().consumer.as_deref(), Some("acme"));
    assert_eq!(parts.uri.to_string(), "/partner/orders?page=2");
    let mut parts = request("/partner/orders?api_key=wrong&page=2", &[]);
    assert!(policy.authenticate(&mut parts).is_err());
    assert_eq!(parts.uri.to_string(), "/partner/orders?page=2");
    // Percent-escapes are decoded, and `+` is a plus.
    let plus = ApiKeyPolicy::new(
        api_key_settings(
            &serde_saphyr::from_str(&format!(
                "{{ query: k, keys: [{{ consumer: c, sha256: {} }}] }}",
                hash_key("a+b/c=")
            ))
            .unwrap(),
            &Place::root().key("p"),
            &mut CompileErrors::default(),
        )
        .unwrap(),
    )
    .unwrap();
    plus.authenticate(&mut request("/?k=a+b%2Fc%3D", &[])).unwrap();
}

#[test]
fn config_problems_are_reported_with_their_place() {
    let yaml = format!(
        "{{ header: x-key, query: key, consumer_header: x-forwarded-for, keys: [{{ consumer: a, sha256: nothex }}, {{ consumer: a, sha256: {h} }}, {{ consumer: b, sha256: {h} }}] }}",
        h = hash_key("k")
    );
    let config: ApiKeyConfig = serde_saphyr::from_str(&yaml).unwrap();
    let mut errors = CompileErrors::default();
    assert!(
        api_key_settings(
            &config,
            &Place::root().key("policies").key("partner-key").key("api_key"),
            &mut errors
        )
        .is_none()
    );
    let text = errors.to_string();
    for expected in [
        "policies.partner-key.api_key: takes the credential from one place; header and query are set",
        "policies.partner-key.api_key.keys[0].sha256: is not a SHA-256 (64 hex digits); `protogate hash-key <KEY>`",
        "policies.partner-key.api_key.keys[2].sha256: the same key is already given to \"a\"",
        "policies.partner-key.api_key.consumer_header: \"x-forwarded-for\" is a header the gateway or the protocol owns",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[test]
fn hash_key_prints_the_sha256_of_a_key() {
    let output = Command::new(env!("CARGO_BIN_EXE_protogate")).args(["hash-key", "abc"]).output().unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}
